import { ISessionContext } from '@jupyterlab/apputils';
import { Kernel, KernelMessage } from '@jupyterlab/services';

import { IKernelFact } from './protocol';

/**
 * Python run silently in the kernel: lists the user's names with cheap facts (type,
 * module, shape, dtype, columns, len, signature, first doc line, small values).
 * Returns a str whose repr is the JSON itself, so user_expressions hands it over as is.
 */
const FACTS_CODE = `
def __jupyter_twin_facts(limit=60):
    import inspect as _i, json as _j, types as _t
    _ip = get_ipython()
    _hidden = _ip.user_ns_hidden
    _out = []
    for _n, _v in list(_ip.user_ns.items()):
        if _n.startswith('_') or _n in _hidden or _n in ('In', 'Out', 'exit', 'quit', 'get_ipython'):
            continue
        try:
            if isinstance(_v, _t.ModuleType):
                _f = {'name': _n, 'type': 'module', 'module': _v.__name__}
            else:
                _c = type(_v)
                _f = {'name': _n, 'type': _c.__name__}
                _m = getattr(_c, '__module__', '') or ''
                if _m and _m != 'builtins':
                    _f['module'] = _m.split('.')[0]
                _s = getattr(_v, 'shape', None)
                if isinstance(_s, tuple) and all(isinstance(_x, int) for _x in _s):
                    _f['shape'] = list(_s)
                _d = getattr(_v, 'dtype', None)
                if _d is not None and not callable(_d):
                    _f['dtype'] = str(_d)
                _cols = getattr(_v, 'dtypes', None)
                if _f.get('type') == 'DataFrame' and _cols is not None:
                    _f['columns'] = {str(_k): str(_w) for _k, _w in list(_cols.items())[:30]}
                if isinstance(_v, (bool, int, float, complex)) or (isinstance(_v, str) and len(_v) <= 60):
                    _f['value'] = repr(_v)[:80]
                elif isinstance(_v, (list, tuple, dict, set, frozenset, str, bytes)):
                    _f['len'] = len(_v)
                if _i.isfunction(_v) or _i.isclass(_v) or _i.isbuiltin(_v):
                    try:
                        _f['signature'] = str(_i.signature(_v))[:200]
                    except (TypeError, ValueError):
                        pass
                    _doc = _i.getdoc(_v)
                    if _doc:
                        _f['doc'] = _doc.strip().splitlines()[0][:160]
            _out.append(_f)
        except Exception:
            continue
        if len(_out) >= limit:
            break
    return type('_TwinJSON', (str,), {'__repr__': str.__str__})(_j.dumps(_out))
`;

const EXPRESSION = '__jupyter_twin_facts()';

interface ICacheEntry {
  stamp: string;
  facts: IKernelFact[] | null;
}

/** Gathers kernel facts at most once per execution (keyed by kernel id + execution count). */
export class KernelFactsCache {
  private _cache = new Map<string, ICacheEntry>();
  private _pending = new Map<string, Promise<IKernelFact[] | null>>();
  enabled = true;
  timeoutMs = 600;

  async get(
    sessionContext: ISessionContext | undefined,
    executionStamp: number
  ): Promise<IKernelFact[] | null> {
    if (!this.enabled || !sessionContext) {
      return null;
    }
    const kernel = sessionContext.session?.kernel;
    if (!kernel || kernel.isDisposed) {
      return null;
    }
    const language = (await Private.language(kernel)) ?? '';
    if (language.toLowerCase() !== 'python') {
      return null;
    }
    const stamp = `${kernel.id}:${executionStamp}`;
    const cached = this._cache.get(kernel.id);
    if (cached && cached.stamp === stamp) {
      return cached.facts;
    }
    if (kernel.status !== 'idle') {
      // never queue behind a running cell: the last facts are good enough
      return cached?.facts ?? null;
    }
    const pending = this._pending.get(stamp);
    if (pending) {
      return pending;
    }
    const promise = this._gather(kernel).then(facts => {
      this._pending.delete(stamp);
      if (facts !== undefined) {
        this._cache.set(kernel.id, { stamp, facts });
        return facts;
      }
      return cached?.facts ?? null;
    });
    this._pending.set(stamp, promise);
    return promise;
  }

  private async _gather(
    kernel: Kernel.IKernelConnection
  ): Promise<IKernelFact[] | null | undefined> {
    try {
      const future = kernel.requestExecute(
        {
          code: FACTS_CODE,
          silent: true,
          store_history: false,
          allow_stdin: false,
          stop_on_error: false,
          user_expressions: { twin: EXPRESSION }
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
      const content = reply.content as any;
      const value = content?.user_expressions?.twin;
      if (!value || value.status !== 'ok') {
        return null;
      }
      const text = value.data?.['text/plain'];
      const facts = JSON.parse(typeof text === 'string' ? text : '[]');
      return Array.isArray(facts) ? (facts as IKernelFact[]) : null;
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
