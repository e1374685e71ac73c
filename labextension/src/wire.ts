/**
 * The wire types of the server's HTTP API (jupyter_twin/server/handlers.py): request
 * bodies, the lines of an NDJSON answer, and the result a stream ends in.
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

/** POST /jupyter-twin/complete and /warm. */
export interface ICompleteBody {
  cells: ICellData[];
  index: number;
  /** Code points into the active cell; one out of range is the server's 400. */
  cursor: number;
  editor_id: string;
  kernel_facts?: IKernelFact[];
}

/**
 * A task's name, as GET /jupyter-twin/tasks serves it (tasks.py is the one list: the
 * buttons and commands are built from what the server serves, see tasks.ts).
 */
export type TaskName = string;

/** A turn of an earlier conversation (the ask task). */
export interface IChatTurn {
  role: 'user' | 'assistant';
  content: string;
}

/** POST /jupyter-twin/task. */
export interface ITaskBody {
  task: TaskName;
  cells: ICellData[];
  index: number;
  instruction?: string;
  question?: string;
  error?: string;
  history?: IChatTurn[];
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

/** A result with nothing in it but `part`: a stream that was cancelled, failed, or never started. */
export function streamResult(part: Partial<IStreamResult> = {}): IStreamResult {
  return {
    raw: '',
    text: null,
    kind: null,
    latency: null,
    cancelled: false,
    error: null,
    errorType: null,
    ...part
  };
}
