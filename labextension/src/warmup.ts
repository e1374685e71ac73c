/**
 * When the front end asks the server to warm up (evaluate the context of the active cell
 * with no generation), so the first suggestion at a new cell is fast. Pure: timers are
 * injectable, tested with Jest.
 *
 * - a code cell became active, or a cell finished executing: after `delay` ms;
 * - the user stopped typing in the active cell: after `idle` ms, unless a completion
 *   was requested since the last keystroke (it evaluated that context already);
 * - never while a completion for the same editor is in flight (a warm-up would only
 *   delay it); several triggers within the delay send one request.
 */

export interface ITimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface IWarmSchedulerOptions {
  /** Send the warm-up for an editor (the caller reads the live notebook then). */
  send(editorId: string): void;
  /** ms after a cell became active or finished executing (default 300). */
  delay?: number;
  /** ms without typing in the active cell (default 2000). */
  idle?: number;
  timers?: ITimers;
}

interface IPending {
  handle: unknown;
  idle: boolean;
}

export class WarmScheduler {
  readonly delay: number;
  readonly idle: number;
  private _send: (editorId: string) => void;
  private _timers: ITimers;
  private _pending = new Map<string, IPending>();
  private _inFlight = new Map<string, number>();
  /** Editors where a completion was requested since the last keystroke. */
  private _requestedSinceTyping = new Set<string>();

  constructor(options: IWarmSchedulerOptions) {
    this._send = options.send;
    this.delay = options.delay ?? 300;
    this.idle = options.idle ?? 2000;
    this._timers = options.timers ?? {
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: handle => clearTimeout(handle as ReturnType<typeof setTimeout>)
    };
  }

  /** A code cell of this editor became active. */
  activated(editorId: string): void {
    this._schedule(editorId, this.delay, false);
  }

  /** A cell of this editor finished executing (the context below it changed). */
  executed(editorId: string): void {
    this._schedule(editorId, this.delay, false);
  }

  /** The user typed in the active cell: warm up once they pause. */
  typed(editorId: string): void {
    this._requestedSinceTyping.delete(editorId);
    const pending = this._pending.get(editorId);
    if (pending && !pending.idle) {
      return; // an activation's warm-up is due sooner; it sees the typing too
    }
    this._schedule(editorId, this.idle, true);
  }

  /** A completion request for this editor started: it evaluates the context itself. */
  requestStarted(editorId: string): void {
    this._inFlight.set(editorId, (this._inFlight.get(editorId) ?? 0) + 1);
    this._requestedSinceTyping.add(editorId);
    this.cancel(editorId);
  }

  requestEnded(editorId: string): void {
    const n = (this._inFlight.get(editorId) ?? 0) - 1;
    if (n > 0) {
      this._inFlight.set(editorId, n);
    } else {
      this._inFlight.delete(editorId);
    }
  }

  inFlight(editorId: string): boolean {
    return this._inFlight.has(editorId);
  }

  isPending(editorId: string): boolean {
    return this._pending.has(editorId);
  }

  cancel(editorId: string): void {
    const pending = this._pending.get(editorId);
    if (pending) {
      this._timers.clearTimeout(pending.handle);
      this._pending.delete(editorId);
    }
  }

  dispose(): void {
    for (const editorId of [...this._pending.keys()]) {
      this.cancel(editorId);
    }
  }

  private _schedule(editorId: string, ms: number, idle: boolean): void {
    this.cancel(editorId);
    const handle = this._timers.setTimeout(() => {
      this._pending.delete(editorId);
      if (this._inFlight.has(editorId)) {
        return;
      }
      if (idle && this._requestedSinceTyping.has(editorId)) {
        return;
      }
      this._send(editorId);
    }, ms);
    this._pending.set(editorId, { handle, idle });
  }
}
