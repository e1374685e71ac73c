import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMime } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';

import { renderDiff } from './diffView';
import { checkReplace } from './guards';
import { cellIndexById, insertCellBelow, replaceCellSource } from './notebookOps';

/** Output the magics display for a proposed change (jupyter_twin.kernel.frontend). */
export const DIFF_MIME = 'application/vnd.jupyter-twin.diff+json';

interface IDiffData {
  v?: number;
  task?: string;
  cell_id?: string | null;
  cell_type?: 'code' | 'markdown';
  original?: string;
  proposed?: string;
  diff?: string;
}

/**
 * Renders the diff with Replace original / Insert below / Discard buttons.
 *
 * The output may have been saved in a notebook someone else wrote, so (guards.ts):
 * an untrusted output shows the diff with no buttons that change cells; Replace needs a
 * real click, acts only on the notebook that shows this output, and only when the cell
 * still has the `original` text the diff shows.
 */
export class DiffRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(private _tracker: INotebookTracker) {
    super();
    this.addClass('jp-twin-diff-output');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = (model.data[DIFF_MIME] ?? {}) as IDiffData;
    const trusted = model.trusted;
    this.node.textContent = '';
    this.node.dataset.trusted = String(trusted);
    const original = typeof data.original === 'string' ? data.original : '';
    const proposed = typeof data.proposed === 'string' ? data.proposed : '';
    this.node.appendChild(renderDiff(original, proposed));
    const buttons = document.createElement('div');
    buttons.className = 'jp-twin-result-actions';
    const status = document.createElement('span');
    status.className = 'jp-twin-note jp-twin-diff-status';
    if (!trusted) {
      // no button that changes a cell: say why (the reason checkReplace gives)
      const check = checkReplace({ userClick: false, trusted: false, current: null, original });
      status.textContent = check.ok ? '' : check.reason;
      buttons.appendChild(status);
      this.node.appendChild(buttons);
      return;
    }
    const add = (label: string, cls: string, act: (event: MouseEvent) => string) => {
      const b = document.createElement('button');
      b.className = `jp-mod-styled jp-twin-button ${cls}`;
      b.textContent = label;
      b.addEventListener('click', event => {
        status.textContent = act(event);
      });
      buttons.appendChild(b);
    };
    add('Replace original', 'jp-twin-replace', event => {
      const target = this._find(data.cell_id);
      const cells = target?.panel.content.model?.sharedModel.cells;
      const check = checkReplace({
        userClick: event.isTrusted,
        trusted,
        current: target && cells ? cells[target.index].getSource() : null,
        original: data.original
      });
      if (!check.ok) {
        return check.reason;
      }
      replaceCellSource(target!.panel, target!.index, proposed);
      return 'Replaced (undo with Ctrl+Z in the cell).';
    });
    add('Insert below', 'jp-twin-insert', event => {
      if (!event.isTrusted) {
        return 'Insert needs a click.';
      }
      const target = this._find(data.cell_id);
      if (!target) {
        return 'The original cell is not in this notebook.';
      }
      insertCellBelow(target.panel, target.index, data.cell_type === 'markdown' ? 'markdown' : 'code', proposed);
      return 'Inserted below.';
    });
    add('Discard', 'jp-twin-discard', () => {
      buttons.querySelectorAll('button').forEach(b => ((b as HTMLButtonElement).disabled = true));
      return 'Discarded.';
    });
    buttons.appendChild(status);
    this.node.appendChild(buttons);
  }

  /** The cell `cellId` in the notebook that shows this output (never another notebook). */
  private _find(cellId: string | null | undefined): { panel: NotebookPanel; index: number } | null {
    const panel = this._tracker.find(p => p.node.contains(this.node));
    if (!panel) {
      return null;
    }
    const index = cellIndexById(panel.content, cellId);
    return index >= 0 ? { panel, index } : null;
  }
}

/**
 * `safe: true` stays: for untrusted outputs the renderer shows the diff as text only (no
 * button changes a cell), which is as inert as JupyterLab's own safe renderers.
 */
export function diffRendererFactory(tracker: INotebookTracker): IRenderMime.IRendererFactory {
  return {
    safe: true,
    mimeTypes: [DIFF_MIME],
    defaultRank: 10,
    createRenderer: () => new DiffRenderer(tracker)
  };
}
