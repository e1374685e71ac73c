/**
 * A small line diff (longest common subsequence) for the Replace preview.
 * Cells are short, so the quadratic table is fine; very long inputs fall back to
 * "all removed, all added" to keep the browser responsive.
 */

export type DiffOp = { type: 'same' | 'add' | 'del'; line: string };

const MAX_CELLS = 4_000_000;

export function splitLines(text: string): string[] {
  if (text === '') {
    return [];
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') {
    lines.pop();
  }
  return lines;
}

export function diffLines(before: string, after: string): DiffOp[] {
  const a = splitLines(before);
  const b = splitLines(after);
  // trim common head and tail
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) {
    start++;
  }
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const head: DiffOp[] = a.slice(0, start).map(line => ({ type: 'same', line }));
  const tail: DiffOp[] = a.slice(endA).map(line => ({ type: 'same', line }));
  const midA = a.slice(start, endA);
  const midB = b.slice(start, endB);
  let middle: DiffOp[];
  if ((midA.length + 1) * (midB.length + 1) > MAX_CELLS) {
    middle = [
      ...midA.map(line => ({ type: 'del' as const, line })),
      ...midB.map(line => ({ type: 'add' as const, line }))
    ];
  } else {
    middle = lcsDiff(midA, midB);
  }
  return [...head, ...middle, ...tail];
}

function lcsDiff(a: string[], b: string[]): DiffOp[] {
  const n = a.length;
  const m = b.length;
  const width = m + 1;
  const table = new Uint32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[i * width + j] =
        a[i] === b[j]
          ? table[(i + 1) * width + j + 1] + 1
          : Math.max(table[(i + 1) * width + j], table[i * width + j + 1]);
    }
  }
  const ops: DiffOp[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      ops.push({ type: 'same', line: a[i] });
      i++;
      j++;
    } else if (table[(i + 1) * width + j] >= table[i * width + j + 1]) {
      ops.push({ type: 'del', line: a[i++] });
    } else {
      ops.push({ type: 'add', line: b[j++] });
    }
  }
  while (i < n) {
    ops.push({ type: 'del', line: a[i++] });
  }
  while (j < m) {
    ops.push({ type: 'add', line: b[j++] });
  }
  return ops;
}

export function diffStats(ops: DiffOp[]): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const op of ops) {
    if (op.type === 'add') {
      added++;
    } else if (op.type === 'del') {
      removed++;
    }
  }
  return { added, removed };
}
