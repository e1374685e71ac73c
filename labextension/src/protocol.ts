/**
 * Pure logic shared by the front end (no JupyterLab imports: unit-tested with Jest).
 *
 * - code point <-> UTF-16 offsets (JupyterLab's inline completer counts code points);
 * - building the JSON bodies of /jupyter-twin/complete and /jupyter-twin/task;
 * - parsing the NDJSON streams the server answers with;
 * - one-request-in-flight bookkeeping (`LatestRequest`).
 */

/** A notebook cell as the server expects it (nbformat-like). */
export interface ICellData {
  id?: string;
  cell_type: 'code' | 'markdown' | 'raw';
  source: string;
  outputs?: IOutputData[];
  execution_count?: number | null;
}

export type IOutputData = { [key: string]: any };

/** What the kernel tells about one name in the user namespace. */
export interface IKernelFact {
  name: string;
  type: string;
  module?: string;
  shape?: number[];
  len?: number;
  dtype?: string;
  columns?: { [column: string]: string };
  signature?: string;
  doc?: string;
  value?: string;
}

export interface ICompleteBody {
  cells: ICellData[];
  index: number;
  cursor: number;
  editor_id: string;
  kernel_facts?: IKernelFact[];
}

export type TaskName = 'explain' | 'refactor' | 'fix' | 'document' | 'test' | 'ask';

export const TASKS: TaskName[] = [
  'explain',
  'refactor',
  'fix',
  'document',
  'test',
  'ask'
];

export interface ITaskBody {
  task: TaskName;
  cells: ICellData[];
  index: number;
  instruction?: string;
  question?: string;
  error?: string;
  history?: { role: 'user' | 'assistant'; content: string }[];
  request_id?: string;
  kernel_facts?: IKernelFact[];
}

/** Called per streamed delta: raw text so far, the delta, the cleaned text so far (or null). */
export type OnStreamText = (raw: string, delta: string, text: string | null) => void;

/** One line of a stream answer. */
export interface IStreamEvent {
  delta?: string;
  done?: boolean;
  text?: string;
  latency?: number;
  server_latency?: number;
  kind?: 'code' | 'markdown' | null;
  cancelled?: boolean;
  reason?: string;
  error?: string;
  error_type?: string;
}

/** The end of a stream. */
export interface IStreamResult {
  /** Raw text streamed so far. */
  raw: string;
  /** Cleaned text (what to insert), when the stream ended normally. */
  text: string | null;
  kind: 'code' | 'markdown' | null;
  latency: number | null;
  cancelled: boolean;
  error: string | null;
  errorType: string | null;
}

// ---------------------------------------------------------------------------------------
// offsets

/**
 * The UTF-16 index (JavaScript string index) of the code point offset `cp` in `text`.
 * Offsets beyond the end map to `text.length`.
 */
export function codePointToUtf16(text: string, cp: number): number {
  let units = 0;
  let points = 0;
  while (points < cp && units < text.length) {
    const code = text.charCodeAt(units);
    units += code >= 0xd800 && code <= 0xdbff && units + 1 < text.length ? 2 : 1;
    points += 1;
  }
  return units;
}

/** The code point offset of the UTF-16 index `index` in `text`. */
export function utf16ToCodePoint(text: string, index: number): number {
  let units = 0;
  let points = 0;
  const end = Math.min(index, text.length);
  while (units < end) {
    const code = text.charCodeAt(units);
    units += code >= 0xd800 && code <= 0xdbff && units + 1 < text.length ? 2 : 1;
    points += 1;
  }
  return points;
}

/** Length of `text` in code points (what Python's len() gives). */
export function codePointLength(text: string): number {
  return utf16ToCodePoint(text, text.length);
}

// ---------------------------------------------------------------------------------------
// cells

const MAX_OUTPUT_CHARS = 2000;

function joinText(value: unknown): string {
  if (Array.isArray(value)) {
    return value.join('');
  }
  return typeof value === 'string' ? value : '';
}

/**
 * Keep what the model can use from outputs: text streams, errors, text/plain results.
 * Images and HTML are dropped; long texts are cut (their end kept, where errors are).
 */
export function slimOutputs(outputs: IOutputData[] | undefined): IOutputData[] {
  const result: IOutputData[] = [];
  for (const out of outputs ?? []) {
    const type = out.output_type;
    if (type === 'stream') {
      result.push({
        output_type: 'stream',
        name: out.name ?? 'stdout',
        text: tail(joinText(out.text))
      });
    } else if (type === 'error') {
      result.push({
        output_type: 'error',
        ename: String(out.ename ?? ''),
        evalue: String(out.evalue ?? ''),
        traceback: (Array.isArray(out.traceback) ? out.traceback : [])
          .map((line: unknown) => stripAnsi(String(line)))
          .slice(-30)
      });
    } else if (type === 'execute_result' || type === 'display_data') {
      const plain = joinText(out.data?.['text/plain']);
      if (plain) {
        result.push({
          output_type: type,
          data: { 'text/plain': tail(plain) },
          metadata: {},
          ...(type === 'execute_result'
            ? { execution_count: out.execution_count ?? null }
            : {})
        });
      }
    }
  }
  return result;
}

function tail(text: string): string {
  return text.length > MAX_OUTPUT_CHARS
    ? '...' + text.slice(text.length - MAX_OUTPUT_CHARS)
    : text;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** The traceback text of a cell's error output, if any (for the Fix task). */
export function errorText(outputs: IOutputData[] | undefined): string | undefined {
  for (const out of outputs ?? []) {
    if (out.output_type === 'error') {
      const tb = Array.isArray(out.traceback) ? out.traceback : [];
      const lines = tb.map((l: unknown) => stripAnsi(String(l)));
      return lines.length
        ? lines.join('\n')
        : `${String(out.ename ?? 'Error')}: ${String(out.evalue ?? '')}`;
    }
  }
  return undefined;
}

/** Anything that looks like a shared-model cell (YCodeCell, YMarkdownCell, ...). */
export interface ISharedCellLike {
  id: string;
  cell_type: string;
  getSource(): string;
  getOutputs?: () => IOutputData[];
  execution_count?: number | null;
}

/** Plain cells from the notebook's shared model (all cells, even those not rendered). */
export function cellsFromShared(cells: readonly ISharedCellLike[]): ICellData[] {
  return cells.map(cell => {
    const type =
      cell.cell_type === 'markdown' || cell.cell_type === 'raw'
        ? cell.cell_type
        : 'code';
    const data: ICellData = { id: cell.id, cell_type: type, source: cell.getSource() };
    if (type === 'code') {
      data.outputs = slimOutputs(cell.getOutputs ? cell.getOutputs() : []);
      data.execution_count = cell.execution_count ?? null;
    }
    return data;
  });
}

// ---------------------------------------------------------------------------------------
// request bodies

export function buildCompleteBody(options: {
  cells: ICellData[];
  index: number;
  /** Offset in the active cell's source, counted in code points. */
  cursor: number;
  editorId: string;
  kernelFacts?: IKernelFact[] | null;
}): ICompleteBody {
  const { cells, index, editorId } = options;
  if (index < 0 || index >= cells.length) {
    throw new RangeError(`cell index ${index} out of range`);
  }
  const length = codePointLength(cells[index].source);
  const cursor = Math.max(0, Math.min(options.cursor, length));
  const body: ICompleteBody = { cells, index, cursor, editor_id: editorId };
  if (options.kernelFacts && options.kernelFacts.length) {
    body.kernel_facts = options.kernelFacts;
  }
  return body;
}

export function buildTaskBody(options: {
  task: TaskName;
  cells: ICellData[];
  index: number;
  instruction?: string;
  question?: string;
  history?: { role: 'user' | 'assistant'; content: string }[];
  requestId?: string;
  kernelFacts?: IKernelFact[] | null;
}): ITaskBody {
  const { task, cells, index } = options;
  if (!TASKS.includes(task)) {
    throw new Error(`unknown task ${task}`);
  }
  if (index < 0 || index >= cells.length) {
    throw new RangeError(`cell index ${index} out of range`);
  }
  const body: ITaskBody = { task, cells, index };
  if (task === 'refactor' && options.instruction?.trim()) {
    body.instruction = options.instruction.trim();
  }
  if (task === 'fix') {
    const error = errorText(cells[index].outputs);
    if (error) {
      body.error = error;
    }
  }
  if (task === 'ask') {
    if (!options.question?.trim()) {
      throw new Error('a question is needed');
    }
    body.question = options.question;
    if (options.history?.length) {
      body.history = options.history.slice(-20);
    }
  }
  if (options.requestId) {
    body.request_id = options.requestId;
  }
  if (options.kernelFacts && options.kernelFacts.length) {
    body.kernel_facts = options.kernelFacts;
  }
  return body;
}

// ---------------------------------------------------------------------------------------
// NDJSON

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
      this.result = {
        raw: this.raw,
        text: typeof event.text === 'string' ? event.text : this.raw,
        kind: event.kind ?? null,
        latency: typeof event.latency === 'number' ? event.latency : null,
        cancelled: false,
        error: null,
        errorType: null
      };
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

  private _end(part: Partial<IStreamResult>): IStreamResult {
    return {
      raw: this.raw,
      text: null,
      kind: null,
      latency: null,
      cancelled: false,
      error: null,
      errorType: null,
      ...part
    };
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
        return { ...acc.finish(), cancelled: true, error: null, errorType: null };
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
      return { ...acc.finish(), cancelled: true, error: null, errorType: null };
    }
    throw err;
  } finally {
    reader.releaseLock?.();
  }
  return acc.finish();
}

export function isAbortError(err: unknown): boolean {
  return (
    !!err &&
    typeof err === 'object' &&
    ((err as any).name === 'AbortError' || (err as any).code === 20)
  );
}

// ---------------------------------------------------------------------------------------
// one request in flight

/**
 * Keeps one AbortController per key: starting a request for a key aborts the one
 * before it. The server also cancels by editor id, so the model stops either way.
 */
export class LatestRequest {
  private _controllers = new Map<string, AbortController>();
  private _serial = 0;

  /** Abort the previous request for `key` and return the signal of the new one. */
  start(key: string): { signal: AbortSignal; serial: number } {
    this.abort(key);
    const controller = new AbortController();
    this._controllers.set(key, controller);
    this._serial += 1;
    return { signal: controller.signal, serial: this._serial };
  }

  /** The request with this signal ended: forget it (if it is still the latest). */
  done(key: string, signal: AbortSignal): void {
    const current = this._controllers.get(key);
    if (current && current.signal === signal) {
      this._controllers.delete(key);
    }
  }

  abort(key: string): boolean {
    const current = this._controllers.get(key);
    if (current) {
      this._controllers.delete(key);
      current.abort();
      return true;
    }
    return false;
  }

  abortAll(): void {
    for (const key of [...this._controllers.keys()]) {
      this.abort(key);
    }
  }

  get size(): number {
    return this._controllers.size;
  }
}

/**
 * Whether `now` (the cell's text after the user typed) is the request's text with a
 * prefix of the suggestion typed in at the cursor: the suggestion still serves.
 * `offset` is the request's cursor in code points.
 */
export function typedAlong(
  requestText: string,
  offset: number,
  now: string,
  suggestion: string
): boolean {
  const at = codePointToUtf16(requestText, offset);
  const before = requestText.slice(0, at);
  const after = requestText.slice(at);
  if (now.length < requestText.length || !now.startsWith(before) || !now.endsWith(after)) {
    return false;
  }
  const typed = now.slice(before.length, now.length - after.length);
  return typed.length > 0 && suggestion.startsWith(typed);
}

/** The text a ghost-text suggestion should show, given where the user is now. */
export function remainingSuggestion(
  suggestion: string,
  typedSinceRequest: string
): string | null {
  if (!typedSinceRequest) {
    return suggestion;
  }
  return suggestion.startsWith(typedSinceRequest)
    ? suggestion.slice(typedSinceRequest.length)
    : null;
}

/** Lines of a jupyter_twin magic in a cell (decides whether to push the notebook). */
export const DEFAULT_MAGICS = [
  'twin',
  'complete',
  'explain',
  'refactor',
  'fix',
  'document',
  'tests',
  'test',
  'ask',
  'chat'
];

export function usesTwinMagic(source: string, magics: string[] = DEFAULT_MAGICS): boolean {
  const names = magics.map(m => m.replace(/[^\w-]/g, '')).filter(Boolean);
  if (!names.length) {
    return false;
  }
  const pattern = new RegExp(`^\\s*%{1,2}(?:${names.join('|')})(?![\\w-])`, 'm');
  return pattern.test(source);
}
