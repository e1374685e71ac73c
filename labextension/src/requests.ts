/**
 * The JSON bodies of POST /jupyter-twin/complete (and /warm) and /jupyter-twin/task.
 * Pure: tested with Jest.
 */
import { errorText } from './cells';
import { CHAT_TASK, ERROR_TASK, INSTRUCTED_TASK, TASK_NAMES } from './tasks';
import { ICellData, ICompleteBody, IKernelFact, ITaskBody, TaskName } from './wire';

function checkIndex(cells: ICellData[], index: number): void {
  if (index < 0 || index >= cells.length) {
    throw new RangeError(`cell index ${index} out of range`);
  }
}

/** The body with the kernel facts, when there are any. */
function withFacts<T extends { kernel_facts?: IKernelFact[] }>(body: T, facts?: IKernelFact[] | null): T {
  if (facts && facts.length) {
    body.kernel_facts = facts;
  }
  return body;
}

/**
 * A completion at `cursor` (code points into the active cell), sent as it is: the server
 * answers 400 to a cursor out of the cell (the one rule for a bad cursor, in cells.py).
 */
export function buildCompleteBody(options: {
  cells: ICellData[];
  index: number;
  /** Offset in the active cell's source, counted in code points. */
  cursor: number;
  editorId: string;
  kernelFacts?: IKernelFact[] | null;
}): ICompleteBody {
  const { cells, index, cursor, editorId } = options;
  checkIndex(cells, index);
  const body: ICompleteBody = { cells, index, cursor, editor_id: editorId };
  return withFacts(body, options.kernelFacts);
}

/** What a task request is built from: the body's own fields, in the front end's names. */
export interface ITaskOptions
  extends Pick<ITaskBody, 'task' | 'cells' | 'index' | 'instruction' | 'question' | 'history'> {
  requestId?: string;
  kernelFacts?: IKernelFact[] | null;
  /** The names the server serves (GET /jupyter-twin/tasks); TASK_NAMES without them. */
  known?: readonly TaskName[];
}

export function buildTaskBody(options: ITaskOptions): ITaskBody {
  const { task, cells, index } = options;
  if (!(options.known ?? TASK_NAMES).includes(task)) {
    throw new Error(`unknown task ${task}`);
  }
  checkIndex(cells, index);
  const body: ITaskBody = { task, cells, index };
  if (task === INSTRUCTED_TASK && options.instruction?.trim()) {
    body.instruction = options.instruction.trim();
  }
  if (task === ERROR_TASK) {
    const error = errorText(cells[index].outputs);
    if (error) {
      body.error = error;
    }
  }
  if (task === CHAT_TASK) {
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
  return withFacts(body, options.kernelFacts);
}
