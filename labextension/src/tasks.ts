/**
 * The chat tasks, as the server serves them (GET /jupyter-twin/tasks, from
 * jupyter_twin/tasks.py): the sidebar's buttons and the commands, their labels, result
 * kinds and shortcuts are built from that list. Pure: tested with Jest.
 */
import { TaskName } from './wire';

/** One task of the served list (tasks.py's `Task.public()`). */
export interface ITaskInfo {
  name: TaskName;
  label: string;
  /** What the result is: code (Insert below / Replace) or markdown. */
  kind: 'code' | 'markdown';
  /** JupyterLab keys ("Alt Shift E"), '' for none. */
  shortcut: string;
}

/** The task the sidebar's question box sends: a conversation, not a button. */
export const CHAT_TASK = 'ask';
/** The task whose button and command ask for an instruction first. */
export const INSTRUCTED_TASK = 'refactor';
/** The task that sends the cell's error output with it. */
export const ERROR_TASK = 'fix';

/** The command that runs `task` on the active cell: `jupyter-twin:explain`, ... */
export function taskCommandId(task: TaskName): string {
  return `jupyter-twin:${task}`;
}

/** The tasks of the served list that act on the active cell (all but the chat). */
export function cellActions(tasks: readonly ITaskInfo[]): ITaskInfo[] {
  return tasks.filter(t => t.name !== CHAT_TASK);
}

/**
 * The task list of the server's answer, checked: entries without a name are dropped,
 * a missing label is the name, a kind other than code is markdown. Throws when the
 * answer holds no list.
 */
export function readTaskList(data: unknown): ITaskInfo[] {
  const list = (data as { tasks?: unknown } | null)?.tasks;
  if (!Array.isArray(list)) {
    throw new Error('the server sent no task list');
  }
  const tasks: ITaskInfo[] = [];
  for (const item of list) {
    const name = typeof item?.name === 'string' ? item.name : '';
    if (!name) {
      continue;
    }
    tasks.push({
      name,
      label: typeof item.label === 'string' && item.label ? item.label : name,
      kind: item.kind === 'code' ? 'code' : 'markdown',
      shortcut: typeof item.shortcut === 'string' ? item.shortcut : ''
    });
  }
  return tasks;
}

/**
 * The names of the tasks of jupyter_twin/tasks.py (`TASKS`; test/tasks.spec.ts reads that
 * file and checks that they match), for a task body built without the served list at
 * hand (`buildTaskBody`'s `known`). Nothing on screen is built from it.
 */
export const TASK_NAMES: readonly TaskName[] = ['explain', 'refactor', 'fix', 'document', 'test', 'ask'];
