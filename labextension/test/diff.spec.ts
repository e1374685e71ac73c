import { diffLines, diffStats, splitLines } from '../src/diff';

describe('line diff', () => {
  it('keeps common lines and marks changes', () => {
    const ops = diffLines('a\nb\nc\n', 'a\nB\nc\nd\n');
    expect(ops).toEqual([
      { type: 'same', line: 'a' },
      { type: 'del', line: 'b' },
      { type: 'add', line: 'B' },
      { type: 'same', line: 'c' },
      { type: 'add', line: 'd' }
    ]);
    expect(diffStats(ops)).toEqual({ added: 2, removed: 1 });
  });

  it('handles empty sides and identical texts', () => {
    expect(diffLines('', 'x')).toEqual([{ type: 'add', line: 'x' }]);
    expect(diffLines('x', '')).toEqual([{ type: 'del', line: 'x' }]);
    expect(diffStats(diffLines('same\ntext', 'same\ntext'))).toEqual({ added: 0, removed: 0 });
    expect(splitLines('')).toEqual([]);
  });

  it('reconstructs both sides from the operations', () => {
    const before = 'def f(x):\n    return x+1\n\nprint(f(2))';
    const after = 'def f(x: int) -> int:\n    """Add one."""\n    return x + 1\n\nprint(f(2))';
    const ops = diffLines(before, after);
    expect(ops.filter(o => o.type !== 'add').map(o => o.line).join('\n')).toBe(before);
    expect(ops.filter(o => o.type !== 'del').map(o => o.line).join('\n')).toBe(after);
  });
});
