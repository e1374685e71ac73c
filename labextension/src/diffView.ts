import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { diffLines, diffStats } from './diff';

/** A read-only line diff: removed lines red, added lines green. */
export function renderDiff(before: string, after: string): HTMLElement {
  const ops = diffLines(before, after);
  const { added, removed } = diffStats(ops);
  const root = document.createElement('div');
  root.className = 'jp-twin-diff';
  const summary = document.createElement('div');
  summary.className = 'jp-twin-diff-summary';
  summary.textContent =
    added || removed ? `+${added} −${removed} lines` : 'No changes proposed.';
  root.appendChild(summary);
  const pre = document.createElement('pre');
  pre.className = 'jp-twin-diff-body';
  for (const op of ops) {
    const line = document.createElement('div');
    line.className = `jp-twin-diff-line jp-twin-diff-${op.type}`;
    line.dataset.op = op.type;
    const sign = op.type === 'add' ? '+ ' : op.type === 'del' ? '- ' : '  ';
    line.textContent = sign + op.line;
    pre.appendChild(line);
  }
  root.appendChild(pre);
  return root;
}

/** Ask before replacing a cell: shows the diff; resolves true on "Replace". */
export async function confirmReplace(before: string, after: string): Promise<boolean> {
  const body = new Widget({ node: renderDiff(before, after) });
  body.addClass('jp-twin-diff-dialog');
  const result = await showDialog({
    title: 'Replace the cell with this?',
    body,
    buttons: [
      Dialog.cancelButton({ label: 'Cancel' }),
      Dialog.okButton({ label: 'Replace', className: 'jp-twin-replace-confirm' })
    ]
  });
  return result.button.accept;
}
