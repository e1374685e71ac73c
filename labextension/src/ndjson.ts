/**
 * Reading the NDJSON streams the server answers /complete and /task with: one JSON
 * object a line (deltas, then one final line). Pure: tested with Jest.
 */
import { isAbortError } from './abort';
import { IStreamEvent, IStreamResult, OnStreamText, streamResult } from './wire';

/** Splits a byte/text stream into JSON lines; keeps a partial last line for later. */
export class NdjsonParser {
  private _buffer = '';
  private _decoder: TextDecoder | null = null;

  /** Feed a chunk (bytes or text); returns the complete events it finished. */
  feed(chunk: Uint8Array | string): IStreamEvent[] {
    if (typeof chunk === 'string') {
      this._buffer += chunk;
    } else {
      if (!this._decoder) {
        this._decoder = new TextDecoder('utf-8');
      }
      this._buffer += this._decoder.decode(chunk, { stream: true });
    }
    const events: IStreamEvent[] = [];
    let newline = this._buffer.indexOf('\n');
    while (newline >= 0) {
      const line = this._buffer.slice(0, newline).trim();
      this._buffer = this._buffer.slice(newline + 1);
      if (line) {
        events.push(parseLine(line));
      }
      newline = this._buffer.indexOf('\n');
    }
    return events;
  }

  /** The stream ended: whatever is left is the last line. */
  end(): IStreamEvent[] {
    let rest = this._buffer;
    if (this._decoder) {
      rest += this._decoder.decode();
    }
    this._buffer = '';
    rest = rest.trim();
    return rest ? [parseLine(rest)] : [];
  }
}

function parseLine(line: string): IStreamEvent {
  try {
    const value = JSON.parse(line);
    if (value && typeof value === 'object') {
      return value as IStreamEvent;
    }
  } catch {
    // fall through
  }
  return { error: `unreadable line from the server: ${line.slice(0, 80)}` };
}

/**
 * Folds events into a result; calls `onText` with the whole raw text so far and, for a
 * completion, the cleaned text so far (the server's TaskStream.partial()).
 */
export class StreamAccumulator {
  raw = '';
  result: IStreamResult | null = null;

  constructor(private _onText?: OnStreamText) {}

  push(event: IStreamEvent): void {
    if (this.result) {
      return;
    }
    if (typeof event.delta === 'string') {
      this.raw += event.delta;
      this._onText?.(this.raw, event.delta, typeof event.text === 'string' ? event.text : null);
    } else if (event.done) {
      this.result = this._end({
        text: typeof event.text === 'string' ? event.text : this.raw,
        kind: event.kind ?? null,
        latency: typeof event.latency === 'number' ? event.latency : null
      });
    } else if (event.cancelled) {
      this.result = this._end({ cancelled: true });
    } else if (event.error) {
      this.result = this._end({
        error: event.error,
        errorType: event.error_type ?? null
      });
    }
  }

  /** The result, or an "ended early" result if the stream stopped without a final line. */
  finish(): IStreamResult {
    return (
      this.result ??
      this._end({ error: 'the server closed the stream early', errorType: 'StreamEnded' })
    );
  }

  /** The result so far, marked cancelled (the reader stopped on an abort). */
  cancelled(): IStreamResult {
    return { ...this.finish(), cancelled: true, error: null, errorType: null };
  }

  private _end(part: Partial<IStreamResult>): IStreamResult {
    return streamResult({ raw: this.raw, ...part });
  }
}

/** Reads an NDJSON response body to the end. Abort with the fetch's AbortSignal. */
export async function readNdjson(
  body: ReadableStream<Uint8Array>,
  onText?: OnStreamText,
  signal?: AbortSignal
): Promise<IStreamResult> {
  const reader = body.getReader();
  const parser = new NdjsonParser();
  const acc = new StreamAccumulator(onText);
  try {
    for (;;) {
      if (signal?.aborted) {
        await reader.cancel().catch(() => undefined);
        return acc.cancelled();
      }
      const { value, done } = await reader.read();
      if (done) {
        break;
      }
      for (const event of parser.feed(value)) {
        acc.push(event);
      }
    }
    for (const event of parser.end()) {
      acc.push(event);
    }
  } catch (err) {
    if (signal?.aborted || isAbortError(err)) {
      return acc.cancelled();
    }
    throw err;
  } finally {
    reader.releaseLock?.();
  }
  return acc.finish();
}
