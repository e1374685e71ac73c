import * as fs from 'fs';
import * as path from 'path';

import {
  factsExpression,
  factsFromReply,
  KernelFactsCache,
  MAX_NAMES,
  usedNames
} from '../src/kernelFacts';

describe('usedNames', () => {
  it('lists the dotted names a cell uses, in order, outside strings and comments', () => {
    const code =
      'x = df.groupby("region")["rev  # not a comment\n' +
      "y = np.linalg.norm(arr) # hidden_name\n" +
      "s = f'{secret_inside}' + r\"raw\" + '''\nmulti = line\n''' + token\n" +
      'z = 1e5 + 0x1f + obj.attr.deep + call().method';
    expect(usedNames(code)).toEqual([
      'x',
      'df.groupby',
      'y',
      'np.linalg.norm',
      'arr',
      's',
      'token',
      'z',
      'obj.attr.deep',
      'call'
    ]);
  });

  it('drops keywords and the names after a dot, keeps unicode names', () => {
    expect(usedNames('for i in range(n):\n    if not done: return None\nπ = a.b')).toEqual([
      'i',
      'range',
      'n',
      'done',
      'π',
      'a.b'
    ]);
  });

  it('is bounded and linear on hostile cells', () => {
    const many = Array.from({ length: 500 }, (_, i) => `v${i}`).join(' + ');
    expect(usedNames(many)).toHaveLength(MAX_NAMES);
    const started = Date.now();
    usedNames('"' + '\\'.repeat(2_000_000));
    usedNames('\n'.repeat(2_000_000) + 'x');
    usedNames('a.'.repeat(1_000_000));
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('factsExpression', () => {
  it('asks jupyter_twin.kernel.facts about the names, as a JSON (Python) list', () => {
    expect(factsExpression(['df', 'np.linalg'])).toBe(
      "__import__('jupyter_twin.kernel.facts', fromlist=['facts_json']).facts_json(names=[\"df\",\"np.linalg\"])"
    );
  });

  it('never lets a name become code', () => {
    const expr = factsExpression(['ok', '"]); __import__("os").system("x"); ("', "a'b", 'a b', '1x']);
    expect(expr.endsWith('facts_json(names=["ok"])')).toBe(true);
  });
});

describe('factsFromReply', () => {
  const reply = (twin: any) => ({ content: { status: 'ok', user_expressions: { twin } } }) as any;

  it('reads the JSON facts of an ok reply', () => {
    const facts = [{ name: 'df', type: 'pandas.DataFrame', shape: [3, 2] }];
    expect(factsFromReply(reply({ status: 'ok', data: { 'text/plain': JSON.stringify(facts) } }))).toEqual(facts);
  });

  it('gives no facts when jupyter_twin cannot be imported in the kernel, or on garbage', () => {
    expect(factsFromReply(reply({ status: 'error', ename: 'ModuleNotFoundError' }))).toBeNull();
    expect(factsFromReply(reply({ status: 'ok', data: { 'text/plain': "{'not': json" } }))).toBeNull();
    expect(factsFromReply(reply({ status: 'ok', data: { 'text/plain': '{"a": 1}' } }))).toBeNull();
    expect(factsFromReply(null)).toBeNull();
  });
});

/** A kernel that answers execute requests with the given user-expression result. */
function fakeSession(answer: (expression: string) => any) {
  const requests: any[] = [];
  const kernel = {
    id: 'k1',
    isDisposed: false,
    status: 'idle',
    info: Promise.resolve({ language_info: { name: 'python' } }),
    requestExecute(content: any) {
      requests.push(content);
      const twin = answer(content.user_expressions.twin);
      return { done: Promise.resolve({ content: { status: 'ok', user_expressions: { twin } } }) };
    }
  };
  return { session: { session: { kernel } } as any, requests, kernel };
}

describe('KernelFactsCache', () => {
  const ok = (facts: any[]) => ({ status: 'ok', data: { 'text/plain': JSON.stringify(facts) } });

  it('evaluates facts.py as a user expression for the names the cell uses, and runs no code', async () => {
    const { session, requests } = fakeSession(() => ok([{ name: 'sales', type: 'pandas.DataFrame' }]));
    const cache = new KernelFactsCache();
    const facts = await cache.get(session, 3, 'sales.groupby("region").sum()  # token');
    expect(facts).toEqual([{ name: 'sales', type: 'pandas.DataFrame' }]);
    expect(requests).toHaveLength(1);
    expect(requests[0].code).toBe('');
    expect(requests[0].silent).toBe(true);
    expect(requests[0].store_history).toBe(false);
    expect(requests[0].user_expressions.twin).toBe(factsExpression(['sales.groupby']));
    // the same execution and names: cached; other names: asked again
    await cache.get(session, 3, 'sales.groupby("region").sum()');
    expect(requests).toHaveLength(1);
    await cache.get(session, 3, 'sales.groupby("region").sum() + other');
    expect(requests).toHaveLength(2);
  });

  it('sends no facts when the kernel cannot import jupyter_twin', async () => {
    const { session } = fakeSession(() => ({ status: 'error', ename: 'ModuleNotFoundError', evalue: "No module named 'jupyter_twin'" }));
    expect(await new KernelFactsCache().get(session, 1, 'df.head()')).toBeNull();
  });

  it('asks nothing for a cell without names, a disabled cache or another language', async () => {
    const { session, requests, kernel } = fakeSession(() => ok([]));
    const cache = new KernelFactsCache();
    expect(await cache.get(session, 1, '1 + 2  # just numbers')).toBeNull();
    cache.enabled = false;
    expect(await cache.get(session, 1, 'df')).toBeNull();
    expect(requests).toHaveLength(0);
    const r = fakeSession(() => ok([]));
    (r.kernel as any).info = Promise.resolve({ language_info: { name: 'R' } });
    expect(await new KernelFactsCache().get(r.session, 1, 'df')).toBeNull();
    expect(r.requests).toHaveLength(0);
    expect(kernel.status).toBe('idle');
  });

  it('while the kernel is busy, gives the last facts for the names asked only', async () => {
    const { session, requests, kernel } = fakeSession(() =>
      ok([
        { name: 'a', type: 'int', value: '1' },
        { name: 'b', type: 'int', value: '2' }
      ])
    );
    const cache = new KernelFactsCache();
    await cache.get(session, 1, 'a + b');
    kernel.status = 'busy';
    expect(await cache.get(session, 2, 'a + c')).toEqual([{ name: 'a', type: 'int', value: '1' }]);
    expect(requests).toHaveLength(1);
  });
});

describe('one collector', () => {
  it('the extension carries no Python collector of its own', () => {
    const source = fs.readFileSync(path.join(__dirname, '..', 'src', 'kernelFacts.ts'), 'utf8');
    expect(source).not.toMatch(/def __jupyter_twin_facts|getattr\(|repr\(/);
  });
});
