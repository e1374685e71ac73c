/**
 * Abort bookkeeping: one request in flight per key (an editor), and telling an abort
 * from a failure. Pure: tested with Jest.
 */

/** Whether `err` is what fetch or a reader throws when its signal aborts. */
export function isAbortError(err: unknown): boolean {
  return (
    !!err &&
    typeof err === 'object' &&
    ((err as any).name === 'AbortError' || (err as any).code === 20)
  );
}

/**
 * Keeps one AbortController per key: starting a request for a key aborts the one
 * before it. The server also cancels by editor id, so the model stops either way.
 */
export class LatestRequest {
  private _controllers = new Map<string, AbortController>();
  private _serial = 0;

  /** Abort the previous request for `key` and return the signal of the new one. */
  start(key: string): { signal: AbortSignal; serial: number } {
    this.abort(key);
    const controller = new AbortController();
    this._controllers.set(key, controller);
    this._serial += 1;
    return { signal: controller.signal, serial: this._serial };
  }

  /** The request with this signal ended: forget it (if it is still the latest). */
  done(key: string, signal: AbortSignal): void {
    const current = this._controllers.get(key);
    if (current && current.signal === signal) {
      this._controllers.delete(key);
    }
  }

  /** Abort the request in flight for `key`; whether there was one. */
  abort(key: string): boolean {
    const current = this._controllers.get(key);
    if (current) {
      this._controllers.delete(key);
      current.abort();
      return true;
    }
    return false;
  }

  abortAll(): void {
    for (const key of [...this._controllers.keys()]) {
      this.abort(key);
    }
  }

  get size(): number {
    return this._controllers.size;
  }
}
