import { Notification } from '@jupyterlab/apputils';
import { INotebookTracker, Notebook, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';

import { confirmReplace } from './diffView';
import { checkReplace, planCellAction } from './guards';
import { cellIndexById, insertCellBelow, replaceCellSource } from './notebookOps';
import { cellsFromShared } from './cells';
import { DEFAULT_MAGICS, usesTwinMagic } from './magics';

/** Target the kernel opens to ask the front end to change cells (docs/comm-protocol.md). */
export const FRONTEND_TARGET = 'jupyter_twin';
/** Target on the kernel that receives the live notebook before a magic runs. */
export const NOTEBOOK_TARGET = 'jupyter_twin.notebook';

export interface ICellAction {
  v?: number;
  action: 'insert' | 'replace' | 'hello' | string;
  cell_id?: string | null;
  cell_type?: 'code' | 'markdown' | 'raw';
  source?: string;
  /** For `replace`: the text the cell must still have (nothing is replaced otherwise). */
  original?: string;
  task?: string;
  magics?: string[];
}

export interface ICommOptions {
  /** Push the notebook before a cell with a jupyter_twin magic runs. */
  pushNotebook: () => boolean;
  /** Magics besides jupyter_twin's own (DEFAULT_MAGICS): Settings > magicNames. */
  magics: () => string[];
}

/**
 * Apply one action from the kernel to the notebook that holds `cell_id`.
 * Resolves to what was done (for logs and tests), or null if nothing was done.
 *
 * `insert` adds a new cell (never run). `replace` is never applied on the kernel's word
 * alone (a cell the user ran may be hostile): the user sees the diff and clicks Replace,
 * and only if the message names the text it replaces and the cell still has that text
 * (guards.ts); otherwise a message says why nothing changed.
 */
export async function applyCellAction(
  panel: NotebookPanel,
  data: ICellAction,
  confirm: (before: string, after: string) => Promise<boolean> = confirmReplace
): Promise<string | null> {
  const notebook = panel.content;
  const cells = notebook.model?.sharedModel.cells ?? [];
  const sourceAt = (i: number) => cells[i]?.getSource() ?? '';
  const plan = planCellAction(
    data,
    id => cellIndexById(notebook, id),
    sourceAt,
    notebook.activeCellIndex
  );
  if (plan.kind === 'insert') {
    const id = insertCellBelow(panel, plan.at, plan.cellType, plan.source);
    return id ? `inserted ${plan.cellType} cell ${id}` : null;
  }
  if (plan.kind === 'refuse') {
    Notification.warning(`jupyter_twin: ${plan.reason}.`, { autoClose: 8000 });
    return null;
  }
  if (plan.kind !== 'confirm-replace') {
    return null;
  }
  const cellId = cells[plan.index].id;
  if (!(await confirm(plan.original, plan.proposed))) {
    return null;
  }
  // the notebook may have changed while the dialog was open: look again
  const index = cellIndexById(notebook, cellId);
  const check = checkReplace({
    userClick: true,
    trusted: true,
    current: index >= 0 ? sourceAt(index) : null,
    original: plan.original
  });
  if (!check.ok) {
    Notification.warning(`jupyter_twin: ${check.reason}`, { autoClose: 8000 });
    return null;
  }
  return replaceCellSource(panel, index, plan.proposed) ? `replaced cell ${cellId}` : null;
}

/** Register the `jupyter_twin` comm target on every notebook kernel; push notebooks. */
export function setupComms(tracker: INotebookTracker, options: ICommOptions): void {
  const extraMagics = new Set<string>();
  const registered = new WeakSet<Kernel.IKernelConnection>();

  const register = (panel: NotebookPanel) => {
    const kernel = panel.sessionContext.session?.kernel;
    if (!kernel || registered.has(kernel)) {
      return;
    }
    registered.add(kernel);
    kernel.registerCommTarget(FRONTEND_TARGET, (comm, openMsg: KernelMessage.ICommOpenMsg) => {
      const handle = (data: any) => {
        if (data?.action === 'hello' && Array.isArray(data.magics)) {
          for (const m of data.magics) {
            extraMagics.add(String(m).replace(/^%+/, ''));
          }
          return;
        }
        void applyCellAction(panel, data as ICellAction).then(done => {
          if (done) {
            console.debug(`jupyter_twin: ${done}`);
          }
        });
      };
      handle(openMsg.content.data);
      comm.onMsg = msg => handle(msg.content.data);
    });
  };

  tracker.widgetAdded.connect((_, panel) => {
    panel.sessionContext.kernelChanged.connect(() => register(panel));
    void panel.sessionContext.ready.then(() => register(panel));
    register(panel);
  });
  tracker.forEach(panel => register(panel));

  NotebookActions.executionScheduled.connect((_, args) => {
    if (!options.pushNotebook()) {
      return;
    }
    const { notebook, cell } = args;
    if (cell.model.type !== 'code') {
      return;
    }
    const magics = [...DEFAULT_MAGICS, ...options.magics(), ...extraMagics];
    if (!usesTwinMagic(cell.model.sharedModel.getSource(), magics)) {
      return;
    }
    const panel = findPanel(tracker, notebook);
    if (panel) {
      pushNotebook(panel, cell.model.sharedModel.getId());
    }
  });
}

function findPanel(tracker: INotebookTracker, notebook: Notebook): NotebookPanel | null {
  let found: NotebookPanel | null = null;
  tracker.forEach(panel => {
    if (panel.content === notebook) {
      found = panel;
    }
  });
  return found;
}

/**
 * Send the live notebook to the kernel, synchronously, so that it is on the shell channel
 * before the execute request of the cell about to run.
 */
export function pushNotebook(panel: NotebookPanel, activeCellId: string | null): boolean {
  const kernel = panel.sessionContext.session?.kernel;
  const model = panel.content.model;
  if (!kernel || !model) {
    return false;
  }
  try {
    const comm = kernel.createComm(NOTEBOOK_TARGET);
    comm.open({
      v: 1,
      action: 'notebook',
      path: panel.context.path,
      cells: cellsFromShared(model.sharedModel.cells as any) as any,
      active_cell_id: activeCellId
    });
    comm.close();
    return true;
  } catch (err) {
    console.warn('jupyter_twin: could not push the notebook to the kernel', err);
    return false;
  }
}

