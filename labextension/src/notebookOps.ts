import { MarkdownCell } from '@jupyterlab/cells';
import { Notebook, NotebookPanel } from '@jupyterlab/notebook';

import { renderableAsCell } from './inert';

/** Index of the cell with this id in the notebook model, or -1. */
export function cellIndexById(notebook: Notebook, cellId: string | null | undefined): number {
  const cells = notebook.model?.sharedModel.cells ?? [];
  if (!cellId) {
    return -1;
  }
  for (let i = 0; i < cells.length; i++) {
    if (cells[i].id === cellId) {
      return i;
    }
  }
  return -1;
}

/**
 * Insert a cell below `index` (one undoable step of the notebook) and make it active;
 * a markdown cell is rendered unless it holds HTML or an image. Returns the new cell's id.
 */
export function insertCellBelow(
  panel: NotebookPanel,
  index: number,
  cellType: 'code' | 'markdown',
  source: string
): string | null {
  const notebook = panel.content;
  const model = notebook.model;
  if (!model) {
    return null;
  }
  const at = Math.min(Math.max(index + 1, 0), model.sharedModel.cells.length);
  const cell = model.sharedModel.insertCell(at, { cell_type: cellType, source });
  notebook.activeCellIndex = at;
  // model markdown with HTML or images stays unrendered (inert.ts: renderableAsCell)
  if (cellType === 'markdown' && renderableAsCell(source)) {
    const widget = notebook.widgets[at];
    if (widget instanceof MarkdownCell) {
      widget.rendered = true;
    }
  }
  return cell.id;
}

/** Replace a cell's source (one undoable step of the cell's history). */
export function replaceCellSource(panel: NotebookPanel, index: number, source: string): boolean {
  const cells = panel.content.model?.sharedModel.cells;
  if (!cells || index < 0 || index >= cells.length) {
    return false;
  }
  cells[index].setSource(source);
  return true;
}
