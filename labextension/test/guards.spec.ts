/**
 * Replace needs a click, a trusted output, a cell of this notebook and the cell's text
 * unchanged since the diff (issue 9, point 3); kernel `replace` messages only ask.
 */
import { checkReplace, planCellAction, sourceMatches, stripCellMagic } from '../src/guards';

describe('sourceMatches', () => {
  it('is exact up to trailing whitespace', () => {
    expect(sourceMatches('x = 1', 'x = 1')).toBe(true);
    expect(sourceMatches('x = 1\n', 'x = 1')).toBe(true);
    expect(sourceMatches('x = 2', 'x = 1')).toBe(false);
    expect(sourceMatches(' x = 1', 'x = 1')).toBe(false);
    expect(sourceMatches('x = 1', undefined)).toBe(false);
    expect(sourceMatches('', {} as unknown)).toBe(false);
  });

  it('allows the %%magic line the kernel leaves out of the original', () => {
    expect(sourceMatches('%%refactor use sum()\nx = 1', 'x = 1')).toBe(true);
    expect(sourceMatches('%%twin doc\nx = 1', 'x = 1')).toBe(true);
    expect(sourceMatches('%%refactor\nx = 2', 'x = 1')).toBe(false);
    // only a leading cell magic is skipped, not any first line
    expect(sourceMatches('import os\nx = 1', 'x = 1')).toBe(false);
    expect(stripCellMagic('%%refactor')).toBe('');
    expect(stripCellMagic('x = 1')).toBeNull();
  });
});

describe('checkReplace', () => {
  const ok = { userClick: true, trusted: true, current: 'x = 1', original: 'x = 1' };

  it('allows a click on a trusted diff of the unchanged cell', () => {
    expect(checkReplace(ok)).toEqual({ ok: true });
  });

  it('refuses an untrusted (saved) output, even when its original matches', () => {
    const r = checkReplace({ ...ok, trusted: false });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/saved in the notebook/);
  });

  it('refuses a click made by a script', () => {
    expect(checkReplace({ ...ok, userClick: false }).ok).toBe(false);
  });

  it('refuses a cell that is not in this notebook', () => {
    const r = checkReplace({ ...ok, current: null });
    expect(!r.ok && r.reason).toMatch(/not in this notebook/);
  });

  it('refuses a cell whose text changed since the diff, or a diff without an original', () => {
    const r = checkReplace({ ...ok, current: 'x = 1  # edited' });
    expect(!r.ok && r.reason).toMatch(/has changed/);
    expect(checkReplace({ ...ok, original: undefined }).ok).toBe(false);
  });
});

describe('planCellAction', () => {
  const cells: { [id: string]: [number, string] } = { a: [0, 'x = 1'], b: [1, 'y = 2'] };
  const indexOf = (id: string) => (cells[id] ? cells[id][0] : -1);
  const sourceAt = (i: number) => Object.values(cells).find(c => c[0] === i)![1];
  const plan = (data: any) => planCellAction(data, indexOf, sourceAt, 1);

  it('inserts below the cell, or below the active cell', () => {
    expect(plan({ action: 'insert', cell_id: 'a', cell_type: 'markdown', source: 's' })).toEqual({
      kind: 'insert',
      at: 0,
      cellType: 'markdown',
      source: 's'
    });
    expect(plan({ action: 'insert', source: 's' })).toMatchObject({ kind: 'insert', at: 1, cellType: 'code' });
    expect(plan({ action: 'insert', cell_id: 'elsewhere', source: 's' })).toEqual({ kind: 'ignore' });
  });

  it('never applies a replace: it asks, and only for the unchanged cell', () => {
    expect(plan({ action: 'replace', cell_id: 'a', source: 'x = 10', original: 'x = 1' })).toEqual({
      kind: 'confirm-replace',
      index: 0,
      original: 'x = 1',
      proposed: 'x = 10'
    });
  });

  it('refuses a replace without original, or for a changed cell; ignores other notebooks', () => {
    expect(plan({ action: 'replace', cell_id: 'a', source: 'evil()' }).kind).toBe('refuse');
    expect(plan({ action: 'replace', cell_id: 'a', source: 'evil()', original: 'x = 0' }).kind).toBe('refuse');
    expect(plan({ action: 'replace', cell_id: 'zz', source: 'evil()', original: 'x = 1' }).kind).toBe('ignore');
    expect(plan({ action: 'replace', source: 'evil()', original: 'x = 1' }).kind).toBe('ignore');
  });

  it('ignores junk', () => {
    expect(plan(null)).toEqual({ kind: 'ignore' });
    expect(plan('replace')).toEqual({ kind: 'ignore' });
    expect(plan({ action: 'run', cell_id: 'a' })).toEqual({ kind: 'ignore' });
  });
});
