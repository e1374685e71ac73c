import {
  buildCompleteBody,
  buildTaskBody,
  cellsFromShared,
  codePointLength,
  codePointToUtf16,
  errorText,
  LatestRequest,
  NdjsonParser,
  readNdjson,
  slimOutputs,
  StreamAccumulator,
  typedAlong,
  usesTwinMagic,
  utf16ToCodePoint
} from '../src/protocol';

function body(lines: string[], splitAt: number[] = []): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(lines.join(''));
  const cuts = [0, ...splitAt, bytes.length];
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i + 1 >= cuts.length) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(cuts[i], cuts[i + 1]));
      i++;
    }
  });
}

describe('offsets', () => {
  it('converts code points to UTF-16 around astral characters', () => {
    const text = 'a😀b€c';
    expect(text.length).toBe(6);
    expect(codePointLength(text)).toBe(5);
    expect(codePointToUtf16(text, 0)).toBe(0);
    expect(codePointToUtf16(text, 1)).toBe(1);
    expect(codePointToUtf16(text, 2)).toBe(3);
    expect(codePointToUtf16(text, 3)).toBe(4);
    expect(codePointToUtf16(text, 5)).toBe(6);
    expect(codePointToUtf16(text, 99)).toBe(6);
    for (let cp = 0; cp <= 5; cp++) {
      expect(utf16ToCodePoint(text, codePointToUtf16(text, cp))).toBe(cp);
    }
  });
});

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

  it('builds a completion body with the cursor in code points, clamped', () => {
    const b = buildCompleteBody({ cells, index: 2, cursor: 1000, editorId: 'nb-1' });
    expect(b.index).toBe(2);
    expect(b.cursor).toBe(codePointLength(cells[2].source));
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

describe('NDJSON stream parsing', () => {
  it('parses lines split anywhere, including inside a multi-byte character', () => {
    const text = '{"delta":"déf"}\n{"delta":" 😀"}\n{"done":true,"text":"déf 😀","latency":0.5}\n';
    const bytes = new TextEncoder().encode(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const parser = new NdjsonParser();
      const events = [...parser.feed(bytes.slice(0, cut)), ...parser.feed(bytes.slice(cut)), ...parser.end()];
      expect(events).toEqual([
        { delta: 'déf' },
        { delta: ' 😀' },
        { done: true, text: 'déf 😀', latency: 0.5 }
      ]);
    }
  });

  it('accumulates the whole text so far and the final cleaned text', async () => {
    const seen: string[] = [];
    const result = await readNdjson(
      body(['{"delta":"def "}\n', '{"delta":"f(x):"}\n', '{"done":true,"text":"def f(x):","kind":"code","latency":1.25}\n'], [5, 20]),
      raw => seen.push(raw)
    );
    expect(seen).toEqual(['def ', 'def f(x):']);
    expect(result).toEqual({
      raw: 'def f(x):',
      text: 'def f(x):',
      kind: 'code',
      latency: 1.25,
      cancelled: false,
      error: null,
      errorType: null
    });
  });

  it('hands on the cleaned text so far of a completion, beside the raw text', async () => {
    const seen: [string, string | null][] = [];
    const result = await readNdjson(
      body([
        '{"delta":"hou","text":""}\n',
        '{"delta":"sing","text":"sing"}\n',
        '{"delta":")"}\n',
        '{"done":true,"text":"sing)"}\n'
      ]),
      (raw, _delta, text) => seen.push([raw, text])
    );
    expect(seen).toEqual([
      ['hou', ''],
      ['housing', 'sing'],
      ['housing)', null]
    ]);
    expect(result.text).toBe('sing)');
  });

  it('reports error chunks, cancellations and streams that end early', async () => {
    const err = await readNdjson(body(['{"delta":"a"}\n', '{"error":"backend down","error_type":"BackendUnavailable"}\n']));
    expect(err.error).toBe('backend down');
    expect(err.errorType).toBe('BackendUnavailable');
    expect(err.raw).toBe('a');
    const cancelled = await readNdjson(body(['{"cancelled":true,"reason":"superseded"}\n']));
    expect(cancelled.cancelled).toBe(true);
    const early = await readNdjson(body(['{"delta":"a"}\n']));
    expect(early.errorType).toBe('StreamEnded');
    const garbage = new StreamAccumulator();
    new NdjsonParser().feed('not json\n').forEach(e => garbage.push(e));
    expect(garbage.finish().error).toMatch(/unreadable/);
  });

  it('stops reading when aborted and cancels the body', async () => {
    const controller = new AbortController();
    let cancelled = false;
    let pulls = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        pulls++;
        c.enqueue(new TextEncoder().encode(`{"delta":"${pulls} "}\n`));
        if (pulls === 3) {
          controller.abort();
        }
      },
      cancel() {
        cancelled = true;
      }
    });
    const result = await readNdjson(stream, undefined, controller.signal);
    expect(result.cancelled).toBe(true);
    expect(cancelled).toBe(true);
    expect(pulls).toBeLessThan(6);
  });
});

describe('one request in flight per editor', () => {
  it('aborts the older request when a newer one starts for the same editor', () => {
    const latest = new LatestRequest();
    const first = latest.start('nb-1');
    const other = latest.start('nb-2');
    expect(first.signal.aborted).toBe(false);
    const second = latest.start('nb-1');
    expect(first.signal.aborted).toBe(true);
    expect(second.signal.aborted).toBe(false);
    expect(other.signal.aborted).toBe(false);
    latest.done('nb-1', first.signal); // stale: ignored
    expect(latest.size).toBe(2);
    latest.done('nb-1', second.signal);
    expect(latest.size).toBe(1);
    latest.abortAll();
    expect(other.signal.aborted).toBe(true);
  });
});

describe('magic detection', () => {
  it('finds jupyter_twin magics at line starts only', () => {
    expect(usesTwinMagic('%%refactor use pathlib\nx = 1')).toBe(true);
    expect(usesTwinMagic('x = 1\n%twin status')).toBe(true);
    expect(usesTwinMagic('  %%explain')).toBe(true);
    expect(usesTwinMagic('%%timeit\nx = 1')).toBe(false);
    expect(usesTwinMagic('%%refactoring')).toBe(false);
    expect(usesTwinMagic('s = "%%refactor"')).toBe(false);
    expect(usesTwinMagic('%%custom', ['custom'])).toBe(true);
  });
});

describe('typing along a suggestion', () => {
  it('keeps a suggestion the user is typing, drops it otherwise', () => {
    const text = 'x = 1\nprint(x)';
    const offset = 5; // after "x = 1"
    expect(typedAlong(text, offset, 'x = 12\nprint(x)', '2 + 3')).toBe(true);
    expect(typedAlong(text, offset, 'x = 1 \nprint(x)', '2 + 3')).toBe(false);
    expect(typedAlong(text, offset, 'x = \nprint(x)', '2 + 3')).toBe(false);
    expect(typedAlong(text, offset, text, '2')).toBe(false);
    expect(typedAlong('😀', 1, '😀ab', 'abc')).toBe(true);
  });
});
