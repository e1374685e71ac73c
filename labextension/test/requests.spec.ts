import { codePointLength } from '../src/codePoints';
import { buildCompleteBody, buildTaskBody } from '../src/requests';

describe('request bodies', () => {
  const cells = [
    { id: 'a', cell_type: 'code' as const, source: 'import pandas as pd\n', outputs: [] },
    { id: 'b', cell_type: 'markdown' as const, source: '# Title' },
    {
      id: 'c',
      cell_type: 'code' as const,
      source: 'df = pd.read_csv("😀.csv")\ndf.',
      outputs: [
        {
          output_type: 'error',
          ename: 'NameError',
          evalue: "name 'x' is not defined",
          traceback: ['\u001b[31mNameError\u001b[0m: x']
        }
      ]
    }
  ];

  it('builds a completion body with the cursor in code points, as given (out of range: the server answers 400)', () => {
    const b = buildCompleteBody({ cells, index: 2, cursor: 1000, editorId: 'nb-1' });
    expect(b.index).toBe(2);
    expect(codePointLength(cells[2].source)).toBeLessThan(1000);
    expect(b.cursor).toBe(1000);
    expect(b.editor_id).toBe('nb-1');
    expect(b.kernel_facts).toBeUndefined();
    const withFacts = buildCompleteBody({
      cells,
      index: 0,
      cursor: 3,
      editorId: 'x',
      kernelFacts: [{ name: 'df', type: 'DataFrame', shape: [3, 2] }]
    });
    expect(withFacts.cursor).toBe(3);
    expect(withFacts.kernel_facts).toHaveLength(1);
    expect(() => buildCompleteBody({ cells, index: 3, cursor: 0, editorId: 'x' })).toThrow(RangeError);
  });

  it('builds task bodies: instruction for refactor, error for fix, question for ask', () => {
    expect(buildTaskBody({ task: 'refactor', cells, index: 2, instruction: '  use pathlib ' }).instruction).toBe(
      'use pathlib'
    );
    expect(buildTaskBody({ task: 'refactor', cells, index: 2, instruction: '   ' }).instruction).toBeUndefined();
    const fix = buildTaskBody({ task: 'fix', cells, index: 2 });
    expect(fix.error).toBe('NameError: x');
    expect(buildTaskBody({ task: 'explain', cells, index: 2 })).toEqual({ task: 'explain', cells, index: 2 });
    expect(() => buildTaskBody({ task: 'ask', cells, index: 0 })).toThrow();
    const ask = buildTaskBody({
      task: 'ask',
      cells,
      index: 0,
      question: 'why?',
      history: [{ role: 'user', content: 'hi' }],
      requestId: 'r1'
    });
    expect(ask.question).toBe('why?');
    expect(ask.history).toHaveLength(1);
    expect(ask.request_id).toBe('r1');
    expect(() => buildTaskBody({ task: 'nope' as any, cells, index: 0 })).toThrow();
  });
});

describe('request bodies: the server decides', () => {
  const cells = [{ id: 'a', cell_type: 'code' as const, source: 'x = 1' }];

  it('sends a cursor out of the cell as it is, for the server to refuse', () => {
    expect(buildCompleteBody({ cells, index: 0, cursor: -1, editorId: 'e' }).cursor).toBe(-1);
    expect(buildCompleteBody({ cells, index: 0, cursor: 6, editorId: 'e' }).cursor).toBe(6);
    expect(buildCompleteBody({ cells, index: 0, cursor: 5, editorId: 'e', kernelFacts: [] }).kernel_facts).toBeUndefined();
  });

  it('refuses a task on a cell that is not there, and keeps the last 20 turns of a chat', () => {
    expect(() => buildTaskBody({ task: 'explain', cells, index: 1 })).toThrow(RangeError);
    const history = Array.from({ length: 25 }, (_, i) => ({ role: 'user' as const, content: String(i) }));
    const ask = buildTaskBody({ task: 'ask', cells, index: 0, question: 'q', history });
    expect(ask.history).toHaveLength(20);
    expect(ask.history![0].content).toBe('5');
    expect(buildTaskBody({ task: 'fix', cells, index: 0 }).error).toBeUndefined();
    expect(buildTaskBody({ task: 'explain', cells, index: 0, instruction: 'ignored' }).instruction).toBeUndefined();
  });
});

describe('task bodies for the served tasks', () => {
  const cells = [{ id: 'a', cell_type: 'code' as const, source: 'x = 1' }];

  it('takes the names the server serves, when given', () => {
    expect(buildTaskBody({ task: 'optimise', cells, index: 0, known: ['explain', 'optimise'] })).toEqual({
      task: 'optimise',
      cells,
      index: 0
    });
    expect(() => buildTaskBody({ task: 'refactor', cells, index: 0, known: ['explain'] })).toThrow(/unknown task/);
  });
});
