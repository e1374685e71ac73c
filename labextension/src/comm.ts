import { INotebookTracker, Notebook, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';

import { cellIndexById, insertCellBelow, replaceCellSource } from './notebookOps';
import { cellsFromShared, DEFAULT_MAGICS, usesTwinMagic } from './protocol';

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
  task?: string;
  magics?: string[];
}

export interface ICommOptions {
  /** Push the notebook before a cell with a jupyter_twin magic runs. */
  pushNotebook: () => boolean;
  magics: () => string[];
}

/**
 * Apply one action from the kernel to the notebook that holds `cell_id`.
 * Returns what was done (for logs and tests), or null if this notebook is not concerned.
 */
export function applyCellAction(panel: NotebookPanel, data: ICellAction): string | null {
  if (!data || typeof data !== 'object') {
    return null;
  }
  const notebook = panel.content;
  const index = cellIndexById(notebook, data.cell_id ?? null);
  const source = typeof data.source === 'string' ? data.source : '';
  if (data.action === 'insert') {
    if (index < 0 && data.cell_id) {
      return null; // the cell lives in another notebook on the same kernel
    }
    const at = index >= 0 ? index : notebook.activeCellIndex;
    const type = data.cell_type === 'markdown' ? 'markdown' : 'code';
    const id = insertCellBelow(panel, at, type, source);
    return id ? `inserted ${type} cell ${id}` : null;
  }
  if (data.action === 'replace') {
    if (index < 0) {
      return null;
    }
    return replaceCellSource(panel, index, source) ? `replaced cell ${data.cell_id}` : null;
  }
  return null;
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
        const done = applyCellAction(panel, data as ICellAction);
        if (done) {
          console.debug(`jupyter_twin: ${done}`);
        }
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
    const magics = [...options.magics(), ...extraMagics];
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

export { DEFAULT_MAGICS };
