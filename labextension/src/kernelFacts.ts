import { ISessionContext } from '@jupyterlab/apputils';
import { Kernel, KernelMessage } from '@jupyterlab/services';

import { IKernelFact } from './wire';

/**
 * Kernel facts come from ONE collector, jupyter_twin/kernel/facts.py, evaluated as a
 * user expression (nothing is defined in the user's namespace, nothing runs as a cell).
 * It reads no user object's properties, `__getattr__`, `repr` or `len`, sends no string
 * value and no value of a name that looks like a secret, and describes only the names
 * given here: the ones the cell uses. A kernel where jupyter_twin cannot be imported
 * answers with an error, and then no facts are sent at all.
 */
export const FACTS_MODULE = 'jupyter_twin.kernel.facts';

/** At most this many names per request (facts.py takes no more either). */
export const MAX_NAMES = 64;
/** Of the cell's text, this much is scanned for names (facts.py reads as much). */
export const MAX_CODE_CHARS = 20000;

const DOTTED = /^[\p{L}_][\p{L}\p{N}_]*(?:\.[\p{L}_][\p{L}\p{N}_]*){0,7}$/u;
const PYTHON_KEYWORDS = new Set(
  (
    'False None True and as assert async await break class continue def del elif else ' +
    'except finally for from global if import in is lambda nonlocal not or pass raise ' +
    'return try while with yield match case type _'
  ).split(' ')
);

/**
 * Dotted names the code uses, in order of first appearance, outside strings and
 * comments: the names facts are asked for. One linear pass (no regex backtracking on
 * hostile cells); incomplete code is fine.
 */
export function usedNames(code: string): string[] {
  const text = code.slice(0, MAX_CODE_CHARS);
  const seen = new Set<string>();
  const isStart = (ch: string) => /[\p{L}_]/u.test(ch);
  const isPart = (ch: string) => /[\p{L}\p{N}_]/u.test(ch);
  let i = 0;
  let previous = ''; // the last character that was not a space
  while (i < text.length && seen.size < MAX_NAMES) {
    const ch = text[i];
    if (ch === '#') {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl;
      continue;
    }
    if (ch === '"' || ch === "'") {
      const triple = text.startsWith(ch.repeat(3), i);
      const quote = triple ? ch.repeat(3) : ch;
      let j = i + quote.length;
      while (j < text.length) {
        if (text[j] === '\\') {
          j += 2;
          continue;
        }
        if (!triple && text[j] === '\n') {
          break;
        }
        if (text.startsWith(quote, j)) {
          j += quote.length;
          break;
        }
        j++;
      }
      i = j;
      previous = ch;
      continue;
    }
    if (isPart(ch)) {
      // a run of word characters: a name unless it is an attribute (after a dot) or a
      // number (1e5, 0x1f); then its `.name` parts; a string prefix (f"", rb'') is none
      let j = i;
      while (j < text.length && isPart(text[j])) {
        j++;
      }
      const word = text.slice(i, j);
      if (!isStart(ch) || previous === '.' || text[j] === '"' || text[j] === "'") {
        previous = text[j - 1];
        i = j;
        continue;
      }
      const parts = [word];
      while (text[j] === '.' && j + 1 < text.length && isStart(text[j + 1])) {
        let k = j + 1;
        while (k < text.length && isPart(text[k])) {
          k++;
        }
        parts.push(text.slice(j + 1, k));
        j = k;
      }
      const dotted = parts.slice(0, 8).join('.');
      if (!PYTHON_KEYWORDS.has(parts[0]) && DOTTED.test(dotted)) {
        seen.add(dotted);
      }
      previous = text[j - 1];
      i = j;
      continue;
    }
    if (!/\s/.test(ch)) {
      previous = ch;
    }
    i++;
  }
  return [...seen];
}

/** The user expression that asks facts.py about `names` (a JSON list is a Python list). */
export function factsExpression(names: string[]): string {
  const safe = names.filter(n => DOTTED.test(n)).slice(0, MAX_NAMES);
  return `__import__('${FACTS_MODULE}', fromlist=['facts_json']).facts_json(names=${JSON.stringify(safe)})`;
}

/** Facts as the kernel's reply gives them; null when it has none (no jupyter_twin). */
export function factsFromReply(reply: KernelMessage.IExecuteReplyMsg | null | undefined): IKernelFact[] | null {
  const content = reply?.content as any;
  const value = content?.user_expressions?.twin;
  if (!value || value.status !== 'ok') {
    return null;
  }
  const text = value.data?.['text/plain'];
  if (typeof text !== 'string') {
    return null;
  }
  try {
    const facts = JSON.parse(text);
    return Array.isArray(facts) ? (facts as IKernelFact[]) : null;
  } catch {
    return null;
  }
}

interface ICacheEntry {
  key: string;
  facts: IKernelFact[] | null;
}

/**
 * Gathers kernel facts for the names a cell uses, at most once per execution and set
 * of names (keyed by kernel id, execution count and names).
 */
export class KernelFactsCache {
  private _cache = new Map<string, ICacheEntry>();
  private _pending = new Map<string, Promise<IKernelFact[] | null>>();
  enabled = true;
  timeoutMs = 600;

  async get(
    sessionContext: ISessionContext | undefined,
    executionStamp: number,
    code: string
  ): Promise<IKernelFact[] | null> {
    if (!this.enabled || !sessionContext) {
      return null;
    }
    const kernel = sessionContext.session?.kernel;
    if (!kernel || kernel.isDisposed) {
      return null;
    }
    const names = usedNames(code);
    if (!names.length) {
      return null;
    }
    const language = (await Private.language(kernel)) ?? '';
    if (language.toLowerCase() !== 'python') {
      return null;
    }
    const key = `${kernel.id}:${executionStamp}:${names.join(',')}`;
    const cached = this._cache.get(kernel.id);
    if (cached && cached.key === key) {
      return cached.facts;
    }
    const wanted = new Set(names);
    const stale = () => cached?.facts?.filter(f => wanted.has(f.name)) ?? null;
    if (kernel.status !== 'idle') {
      // never queue behind a running cell: the last facts (for these names) will do
      return stale();
    }
    const pending = this._pending.get(key);
    if (pending) {
      return pending;
    }
    const promise = this._gather(kernel, names).then(facts => {
      this._pending.delete(key);
      if (facts !== undefined) {
        this._cache.set(kernel.id, { key, facts });
        return facts;
      }
      return stale();
    });
    this._pending.set(key, promise);
    return promise;
  }

  private async _gather(
    kernel: Kernel.IKernelConnection,
    names: string[]
  ): Promise<IKernelFact[] | null | undefined> {
    try {
      const future = kernel.requestExecute(
        {
          code: '',
          silent: true,
          store_history: false,
          allow_stdin: false,
          stop_on_error: false,
          user_expressions: { twin: factsExpression(names) }
        },
        true
      );
      const reply = (await Promise.race([
        future.done,
        new Promise(resolve => setTimeout(() => resolve(null), this.timeoutMs))
      ])) as KernelMessage.IExecuteReplyMsg | null;
      if (!reply) {
        return undefined; // too slow: try again next time
      }
      return factsFromReply(reply);
    } catch {
      return null;
    }
  }
}

namespace Private {
  const languages = new WeakMap<Kernel.IKernelConnection, string>();

  export async function language(
    kernel: Kernel.IKernelConnection
  ): Promise<string | undefined> {
    const known = languages.get(kernel);
    if (known !== undefined) {
      return known;
    }
    try {
      const info = await Promise.race([
        kernel.info,
        new Promise<undefined>(resolve => setTimeout(() => resolve(undefined), 500))
      ]);
      const name = (info as any)?.language_info?.name;
      if (typeof name === 'string') {
        languages.set(kernel, name);
        return name;
      }
    } catch {
      // unknown
    }
    return undefined;
  }
}
