import { NdjsonParser, readNdjson, StreamAccumulator } from '../src/ndjson';

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

describe('NDJSON results', () => {
  it('takes a last line without a newline, and nothing after the final line', async () => {
    const result = await readNdjson(body(['{"delta":"a"}\n{"done":true,"text":"A"}\n{"delta":"b"}\n', '{"error":"late"}']));
    expect(result).toMatchObject({ raw: 'a', text: 'A', error: null, cancelled: false });
    const unterminated = await readNdjson(body(['{"delta":"x"}\n{"done":true}']));
    expect(unterminated.text).toBe('x');
  });

  it('marks a stream cancelled when the reader fails on an abort, and throws other failures', async () => {
    const failing = (error: unknown) =>
      new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new TextEncoder().encode('{"delta":"so far"}\n'));
        },
        pull(c) {
          c.error(error);
        }
      });
    const aborted = await readNdjson(failing(new DOMException('stopped', 'AbortError')));
    expect(aborted).toMatchObject({ raw: 'so far', cancelled: true, error: null, errorType: null });
    await expect(readNdjson(failing(new Error('connection reset')))).rejects.toThrow('connection reset');
  });

  it('keeps what streamed when cancelled', () => {
    const acc = new StreamAccumulator();
    acc.push({ delta: 'part' });
    expect(acc.cancelled()).toEqual({
      raw: 'part',
      text: null,
      kind: null,
      latency: null,
      cancelled: true,
      error: null,
      errorType: null
    });
  });
});
