import * as fs from 'fs';
import * as path from 'path';

import { cellActions, CHAT_TASK, readTaskList, TASK_NAMES, taskCommandId } from '../src/tasks';

/** What GET /jupyter-twin/tasks answers (tasks.py's task_list()). */
const SERVED = {
  tasks: [
    { name: 'explain', label: 'Explain', kind: 'markdown', shortcut: 'Alt Shift E', command: 'explain' },
    { name: 'refactor', label: 'Refactor', kind: 'code', shortcut: 'Alt Shift R', command: 'refactor' },
    { name: 'document', label: 'Document', kind: 'code', shortcut: 'Alt Shift D', command: 'doc' },
    { name: 'ask', label: 'Ask', kind: 'markdown', shortcut: '', command: 'ask' }
  ]
};

describe('the served task list', () => {
  it('reads the list the server serves, in its order', () => {
    const tasks = readTaskList(SERVED);
    expect(tasks.map(t => t.name)).toEqual(['explain', 'refactor', 'document', 'ask']);
    expect(tasks[1]).toEqual({ name: 'refactor', label: 'Refactor', kind: 'code', shortcut: 'Alt Shift R' });
    expect(tasks[3].shortcut).toBe('');
  });

  it('builds one cell action a task but the chat, each with its command', () => {
    const actions = cellActions(readTaskList(SERVED));
    expect(actions.map(t => t.name)).toEqual(['explain', 'refactor', 'document']);
    expect(actions.some(t => t.name === CHAT_TASK)).toBe(false);
    expect(actions.map(t => taskCommandId(t.name))).toEqual([
      'jupyter-twin:explain',
      'jupyter-twin:refactor',
      'jupyter-twin:document'
    ]);
    // a task the server adds gets its button and command with no change here
    const more = readTaskList({ tasks: [...SERVED.tasks, { name: 'optimise', label: 'Optimise', kind: 'code', shortcut: '' }] });
    expect(cellActions(more).map(t => t.name)).toContain('optimise');
  });

  it('drops entries without a name and fills in a label and a kind; refuses an answer without a list', () => {
    const tasks = readTaskList({ tasks: [{ label: 'No name' }, { name: 'x', kind: 'weird' }, null, 'y'] });
    expect(tasks).toEqual([{ name: 'x', label: 'x', kind: 'markdown', shortcut: '' }]);
    expect(() => readTaskList({})).toThrow(/no task list/);
    expect(() => readTaskList(null)).toThrow(/no task list/);
    expect(() => readTaskList({ tasks: 'explain' })).toThrow(/no task list/);
  });

  it('knows the names tasks.py declares, no more and no fewer', () => {
    const source = fs.readFileSync(path.join(__dirname, '..', '..', 'jupyter_twin', 'tasks.py'), 'utf8');
    const block = source.slice(source.indexOf('TASKS: dict[str, Task] = {'));
    const declared = [...block.matchAll(/^ {4}"(\w+)": Task\(/gm)].map(m => m[1]);
    expect(declared.length).toBeGreaterThan(0);
    expect([...TASK_NAMES]).toEqual(declared);
  });
});
