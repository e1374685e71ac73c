import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMime } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';

import { renderDiff } from './diffView';
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

/** Renders the diff with Replace original / Insert below / Discard buttons. */
export class DiffRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(private _tracker: INotebookTracker) {
    super();
    this.addClass('jp-twin-diff-output');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = (model.data[DIFF_MIME] ?? {}) as IDiffData;
    this.node.textContent = '';
    const original = data.original ?? '';
    const proposed = data.proposed ?? '';
    this.node.appendChild(renderDiff(original, proposed));
    const buttons = document.createElement('div');
    buttons.className = 'jp-twin-result-actions';
    const status = document.createElement('span');
    status.className = 'jp-twin-note';
    const add = (label: string, cls: string, act: () => string) => {
      const b = document.createElement('button');
      b.className = `jp-mod-styled jp-twin-button ${cls}`;
      b.textContent = label;
      b.addEventListener('click', () => {
        status.textContent = act();
      });
      buttons.appendChild(b);
    };
    add('Replace original', 'jp-twin-replace', () => {
      const target = this._find(data.cell_id);
      if (!target) {
        return 'The original cell is gone.';
      }
      replaceCellSource(target.panel, target.index, proposed);
      return 'Replaced (undo with Ctrl+Z in the cell).';
    });
    add('Insert below', 'jp-twin-insert', () => {
      const target = this._find(data.cell_id);
      if (!target) {
        return 'The original cell is gone.';
      }
      insertCellBelow(target.panel, target.index, data.cell_type ?? 'code', proposed);
      return 'Inserted below.';
    });
    add('Discard', 'jp-twin-discard', () => {
      buttons.querySelectorAll('button').forEach(b => ((b as HTMLButtonElement).disabled = true));
      return 'Discarded.';
    });
    buttons.appendChild(status);
    this.node.appendChild(buttons);
  }

  private _find(cellId: string | null | undefined): { panel: NotebookPanel; index: number } | null {
    let found: { panel: NotebookPanel; index: number } | null = null;
    this._tracker.forEach(panel => {
      if (!found) {
        const index = cellIndexById(panel.content, cellId);
        if (index >= 0) {
          found = { panel, index };
        }
      }
    });
    return found;
  }
}

export function diffRendererFactory(tracker: INotebookTracker): IRenderMime.IRendererFactory {
  return {
    safe: true,
    mimeTypes: [DIFF_MIME],
    defaultRank: 10,
    createRenderer: () => new DiffRenderer(tracker)
  };
}
