import { cellsFromShared, errorText, lastExecution, slimOutputs, stripAnsi } from '../src/cells';

describe('cells from the shared model', () => {
  it('reads all cells from the shared model, slimming outputs', () => {
    const shared = [
      {
        id: 'x',
        cell_type: 'code',
        getSource: () => 'print(1)',
        execution_count: 4,
        getOutputs: () => [
          { output_type: 'stream', name: 'stdout', text: ['1\n'] },
          { output_type: 'display_data', data: { 'image/png': 'AAAA' } },
          { output_type: 'execute_result', data: { 'text/plain': 'x'.repeat(5000) }, execution_count: 4 }
        ]
      },
      { id: 'y', cell_type: 'markdown', getSource: () => '*hi*' }
    ];
    const cells2 = cellsFromShared(shared);
    expect(cells2[0]).toMatchObject({ id: 'x', cell_type: 'code', source: 'print(1)', execution_count: 4 });
    expect(cells2[0].outputs).toHaveLength(2);
    expect(cells2[0].outputs![0]).toEqual({ output_type: 'stream', name: 'stdout', text: '1\n' });
    expect(cells2[0].outputs![1].data['text/plain'].length).toBeLessThan(2100);
    expect(cells2[1]).toEqual({ id: 'y', cell_type: 'markdown', source: '*hi*' });
    expect(slimOutputs(undefined)).toEqual([]);
    expect(errorText([{ output_type: 'error', ename: 'E', evalue: 'v', traceback: [] }])).toBe('E: v');
  });
});

describe('tracebacks and other outputs', () => {
  const coloured = ['\u001b[0;31mTraceback\u001b[0m (most recent call last)', '\u001b[1;31mZeroDivisionError\u001b[0m: division by zero'];

  it('strips ANSI colours (and cursor codes) from text', () => {
    expect(stripAnsi('\u001b[31mred\u001b[0m plain \u001b[?25lhidden')).toBe('red plain hidden');
    expect(stripAnsi('no codes')).toBe('no codes');
  });

  it('gives the traceback of the first error output, colours removed', () => {
    expect(errorText(undefined)).toBeUndefined();
    expect(errorText([{ output_type: 'stream', name: 'stdout', text: 'x' }])).toBeUndefined();
    const text = errorText([
      { output_type: 'stream', name: 'stdout', text: 'x' },
      { output_type: 'error', ename: 'ZeroDivisionError', evalue: 'division by zero', traceback: coloured },
      { output_type: 'error', ename: 'Other', evalue: '', traceback: ['later'] }
    ]);
    expect(text).toBe('Traceback (most recent call last)\nZeroDivisionError: division by zero');
    expect(errorText([{ output_type: 'error' }])).toBe('Error: ');
  });

  it('keeps the last 30 traceback lines of an error, uncoloured, and the end of long texts', () => {
    const traceback = Array.from({ length: 40 }, (_, i) => `\u001b[32mline ${i}\u001b[0m`);
    const [error] = slimOutputs([{ output_type: 'error', ename: 'E', evalue: 'v', traceback }]);
    expect(error.traceback).toHaveLength(30);
    expect(error.traceback[0]).toBe('line 10');
    expect(error.traceback[29]).toBe('line 39');
    const long = 'a'.repeat(3000) + 'THE END';
    const [stream] = slimOutputs([{ output_type: 'stream', text: long }]);
    expect(stream.name).toBe('stdout');
    expect(stream.text.startsWith('...')).toBe(true);
    expect(stream.text.endsWith('THE END')).toBe(true);
    expect(slimOutputs([{ output_type: 'display_data', data: { 'text/plain': ['a', 'b'] } }])).toEqual([
      { output_type: 'display_data', data: { 'text/plain': 'ab' }, metadata: {} }
    ]);
  });

  it('reads raw cells, unknown cell types as code, and code cells without outputs', () => {
    const cells = cellsFromShared([
      { id: 'r', cell_type: 'raw', getSource: () => 'raw text' },
      { id: 'c', cell_type: 'something', getSource: () => 'x = 1' }
    ]);
    expect(cells[0]).toEqual({ id: 'r', cell_type: 'raw', source: 'raw text' });
    expect(cells[1]).toEqual({ id: 'c', cell_type: 'code', source: 'x = 1', outputs: [], execution_count: null });
  });
});

describe('the notebook\'s last execution', () => {
  it('is the highest execution count of the cells, 0 when none ran', () => {
    expect(lastExecution([])).toBe(0);
    expect(
      lastExecution([
        { cell_type: 'code', source: '', execution_count: 3 },
        { cell_type: 'markdown', source: '' },
        { cell_type: 'code', source: '', execution_count: null },
        { cell_type: 'code', source: '', execution_count: 7 }
      ])
    ).toBe(7);
  });
});
