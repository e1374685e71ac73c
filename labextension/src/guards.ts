/**
 * When may a proposed text replace a cell (issue 9, point 3)?
 *
 * A diff output or a kernel `replace` message is data that someone else may have written:
 * an output saved in a downloaded notebook, or code the user ran without reading. So a
 * replace happens only
 *   - after a click by the user (a real, trusted click on the diff's button, or Replace in
 *     the confirmation dialog a `replace` message opens),
 *   - for a diff: only when the output is trusted (produced in this session, or in a
 *     notebook the user trusts), never for an untrusted saved output,
 *   - on a cell of the notebook that shows the output (or holds the kernel), and
 *   - when the cell's current text is what the diff shows as the original; otherwise the
 *     user gets a message and nothing changes.
 * Pure functions, tested in Jest.
 */

/** A cell's text without a leading `%%magic` line (the kernel strips it the same way). */
export function stripCellMagic(source: string): string | null {
  const text = source.replace(/^\s+/, '');
  if (!text.startsWith('%%')) {
    return null;
  }
  const newline = text.indexOf('\n');
  return newline < 0 ? '' : text.slice(newline + 1);
}

function trimEnd(text: string): string {
  return text.replace(/\s+$/, '');
}

/**
 * Is `current` (the cell's text now) the text the diff was made from? Exact up to trailing
 * whitespace; a `%%refactor ...` first line is allowed, as the kernel sends the cell body.
 */
export function sourceMatches(current: string, original: unknown): boolean {
  if (typeof original !== 'string') {
    return false;
  }
  if (trimEnd(current) === trimEnd(original)) {
    return true;
  }
  const body = stripCellMagic(current);
  return body !== null && trimEnd(body) === trimEnd(original);
}

export type ReplaceCheck = { ok: true } | { ok: false; reason: string };

export interface IReplaceRequest {
  /** The click came from the user (Event.isTrusted), not from a script. */
  userClick: boolean;
  /** The output's trust (IMimeModel.trusted); a kernel message counts as trusted. */
  trusted: boolean;
  /** The target cell's current source, or null when it is not in this notebook. */
  current: string | null;
  /** What the diff shows as the original text. */
  original: unknown;
}

/** The one decision for every Replace: the reason is shown to the user when refused. */
export function checkReplace(req: IReplaceRequest): ReplaceCheck {
  if (!req.trusted) {
    return {
      ok: false,
      reason:
        'This diff was saved in the notebook, not made in this session: it cannot change cells. ' +
        'Run the cell again to get a new diff.'
    };
  }
  if (!req.userClick) {
    return { ok: false, reason: 'Replace needs a click.' };
  }
  if (req.current === null) {
    return { ok: false, reason: 'The original cell is not in this notebook: nothing replaced.' };
  }
  if (!sourceMatches(req.current, req.original)) {
    return {
      ok: false,
      reason: 'The cell has changed since this diff was made: nothing replaced.'
    };
  }
  return { ok: true };
}

/** The fields of a kernel action this front end acts on (docs/comm-protocol.md). */
export interface ICellActionData {
  v?: number;
  action?: unknown;
  cell_id?: unknown;
  cell_type?: unknown;
  source?: unknown;
  original?: unknown;
  task?: unknown;
}

export type CellActionPlan =
  | { kind: 'insert'; at: number; cellType: 'code' | 'markdown'; source: string }
  | { kind: 'confirm-replace'; index: number; original: string; proposed: string }
  | { kind: 'refuse'; reason: string }
  | { kind: 'ignore' };

/**
 * What to do with an action from the kernel. `indexOf` finds a cell id in this notebook
 * (-1 if absent), `sourceAt` gives a cell's text, `active` is the active cell's index.
 * A replace is never applied here: it becomes a question to the user (`confirm-replace`),
 * and only if the message says which text it replaces and the cell still has that text.
 */
export function planCellAction(
  data: ICellActionData | null | undefined,
  indexOf: (id: string) => number,
  sourceAt: (index: number) => string,
  active: number
): CellActionPlan {
  if (!data || typeof data !== 'object') {
    return { kind: 'ignore' };
  }
  const id = typeof data.cell_id === 'string' && data.cell_id ? data.cell_id : null;
  const index = id ? indexOf(id) : -1;
  const source = typeof data.source === 'string' ? data.source : '';
  if (data.action === 'insert') {
    if (index < 0 && id) {
      return { kind: 'ignore' }; // the cell lives in another notebook on the same kernel
    }
    return {
      kind: 'insert',
      at: index >= 0 ? index : active,
      cellType: data.cell_type === 'markdown' ? 'markdown' : 'code',
      source
    };
  }
  if (data.action === 'replace') {
    if (index < 0) {
      return { kind: 'ignore' };
    }
    if (typeof data.original !== 'string') {
      return {
        kind: 'refuse',
        reason: 'the kernel asked to replace a cell without saying which text it replaces: nothing replaced'
      };
    }
    if (!sourceMatches(sourceAt(index), data.original)) {
      return {
        kind: 'refuse',
        reason: 'the kernel asked to replace a cell whose text has changed: nothing replaced'
      };
    }
    return { kind: 'confirm-replace', index, original: data.original, proposed: source };
  }
  return { kind: 'ignore' };
}
