/**
 * Suggestions the provider has seen, so typing what a suggestion says, accepting part of
 * it, or coming back to the same place needs no new request (pure: tested with Jest).
 *
 * - `LiveSuggestion`: the text of one completion while it streams, then when done;
 * - `TypedAheadCache`: suggestions by place (the text before and after the cursor in the
 *   cell, and a hash of the other cells); a lookup finds one the user typed along;
 * - `SuggestionView`: what one ghost-text item shows of a suggestion: the part after what
 *   the user has typed along since it was asked for.
 */

import { codePointToUtf16 } from './codePoints';
import { ICellData } from './wire';

/** The cleaned text of one completion, growing while the server streams it. */
export class LiveSuggestion {
  text = '';
  done = false;
  /** Cancelled or failed: its text is not a whole suggestion, never serve it again. */
  failed = false;
  error: string | null = null;
  version = 0;
  private _listeners = new Set<() => void>();

  update(text: string, done = false): void {
    this.text = text;
    this.done = this.done || done;
    this.version += 1;
    for (const listener of [...this._listeners]) {
      listener();
    }
  }

  fail(error: string | null = null): void {
    this.failed = true;
    this.error = error;
    this.update(this.text, true);
  }

  /** Call `listener` at each update until the returned function is called. */
  listen(listener: () => void): () => void {
    this._listeners.add(listener);
    return () => this._listeners.delete(listener);
  }
}

/** One place a suggestion was asked for. */
export interface ICacheEntry {
  editorId: string;
  /** The cell's text before and after the request's cursor. */
  before: string;
  after: string;
  /** `contextKey()` of the notebook at the request. */
  context: number;
  suggestion: LiveSuggestion;
}

export interface ICacheHit {
  entry: ICacheEntry;
  /** What the user typed at the entry's cursor since. */
  typed: string;
  /** The suggestion after `typed`: what ghost text shows now. */
  rest: string;
}

/** The cell's text split at a cursor given in code points. */
export function splitAt(text: string, offset: number): [string, string] {
  const at = codePointToUtf16(text, offset);
  return [text.slice(0, at), text.slice(at)];
}

/**
 * What was typed at the entry's cursor to turn its text into `now` (text inserted at the
 * cursor only), or null when `now` is not that.
 */
export function typedInto(entry: Pick<ICacheEntry, 'before' | 'after'>, now: string): string | null {
  if (
    now.length < entry.before.length + entry.after.length ||
    !now.startsWith(entry.before) ||
    !now.endsWith(entry.after)
  ) {
    return null;
  }
  return now.slice(entry.before.length, now.length - entry.after.length);
}

/** The suggestion after `typed`, or null if the user typed something it does not say. */
export function restAfter(suggestion: string, typed: string): string | null {
  return suggestion.startsWith(typed) ? suggestion.slice(typed.length) : null;
}

/**
 * Whether `now` (the cell's text after the user typed) is the request's text with a
 * prefix of the suggestion typed in at the cursor: the suggestion still serves.
 * `offset` is the request's cursor in code points.
 */
export function typedAlong(
  requestText: string,
  offset: number,
  now: string,
  suggestion: string
): boolean {
  const [before, after] = splitAt(requestText, offset);
  const typed = typedInto({ before, after }, now);
  return !!typed && restAfter(suggestion, typed) !== null;
}

/**
 * A cheap hash of every cell but the active one (and its position): a suggestion seen
 * before serves only while the rest of the notebook is what it was.
 */
export function contextKey(cells: readonly ICellData[], index: number): number {
  let hash = 0x811c9dc5 ^ index;
  for (let i = 0; i < cells.length; i++) {
    const text = i === index ? '\u0000' : cells[i].source;
    for (let j = 0; j < text.length; j++) {
      hash = Math.imul(hash ^ text.charCodeAt(j), 0x01000193);
    }
    hash = Math.imul(hash ^ 0x1e, 0x01000193);
  }
  return hash >>> 0;
}

/** Suggestions by place, newest first on lookup; at most `max` of them. */
export class TypedAheadCache {
  hits = 0;
  misses = 0;
  private _entries: ICacheEntry[] = [];

  constructor(private _max = 32) {}

  get size(): number {
    return this._entries.length;
  }

  add(
    editorId: string,
    text: string,
    offset: number,
    context: number,
    suggestion: LiveSuggestion
  ): ICacheEntry {
    const [before, after] = splitAt(text, offset);
    const entry: ICacheEntry = { editorId, before, after, context, suggestion };
    this._entries.push(entry);
    if (this._entries.length > this._max) {
      this._entries.shift();
    }
    return entry;
  }

  remove(entry: ICacheEntry): void {
    this._entries = this._entries.filter(e => e !== entry);
  }

  /**
   * A suggestion that serves the cell `text` with the cursor at `offset` (code points):
   * one asked for at this place or before it on the same text, of which the user has
   * typed only what it says. A finished suggestion with nothing left does not serve (a
   * new request is due there); one still streaming does.
   */
  lookup(editorId: string, text: string, offset: number, context: number): ICacheHit | null {
    const hit = this.find(editorId, text, offset, context);
    if (hit) {
      this.hits += 1;
    } else {
      this.misses += 1;
    }
    return hit;
  }

  /** `lookup()` without counting a hit or a miss (a look at what is on screen). */
  find(editorId: string, text: string, offset: number, context: number): ICacheHit | null {
    const [before, after] = splitAt(text, offset);
    for (let i = this._entries.length - 1; i >= 0; i--) {
      const entry = this._entries[i];
      const s = entry.suggestion;
      if (s.failed || (s.done && !s.text)) {
        this._entries.splice(i, 1);
        continue;
      }
      if (
        entry.editorId !== editorId ||
        entry.context !== context ||
        entry.after !== after ||
        !before.startsWith(entry.before)
      ) {
        continue;
      }
      const typed = before.slice(entry.before.length);
      const rest = restAfter(s.text, typed);
      if (rest === null || (s.done && !rest)) {
        continue;
      }
      return { entry, typed, rest };
    }
    return null;
  }

  /** Forget the suggestions of an editor (its notebook closed). */
  clear(editorId: string): void {
    this._entries = this._entries.filter(e => e.editorId !== editorId);
  }
}

/** One streamed update of a view. */
export interface IViewUpdate {
  text: string;
  done: boolean;
}

/**
 * What one ghost-text item shows of a suggestion: the part after what the user has typed
 * along since (read from the cell's live text at each update, so typing along while the
 * suggestion streams never shows the typed part twice).
 */
export class SuggestionView {
  private _ended = false;
  private _wake: (() => void) | null = null;
  private _seen: number;

  constructor(
    readonly entry: ICacheEntry,
    private _source: () => string
  ) {
    this._seen = entry.suggestion.version;
  }

  get ended(): boolean {
    return this._ended;
  }

  /** The suggestion after what was typed along ('' once the cell went elsewhere). */
  rest(): string {
    const typed = typedInto(this.entry, this._source());
    return typed === null ? '' : restAfter(this.entry.suggestion.text, typed) ?? '';
  }

  /** Stop the updates without a last one: a newer item took this one's place. */
  end(): void {
    this._ended = true;
    const wake = this._wake;
    this._wake = null;
    wake?.();
  }

  /** The rest at each change of the suggestion, until it is done or the view ended. */
  async *updates(): AsyncGenerator<IViewUpdate, void, unknown> {
    const s = this.entry.suggestion;
    while (!this._ended) {
      if (s.version !== this._seen || s.done) {
        this._seen = s.version;
        // read before the yield: the suggestion may finish while the consumer holds it
        const done = s.done;
        yield { text: this.rest(), done };
        if (done) {
          return;
        }
        continue;
      }
      await new Promise<void>(resolve => {
        const off = s.listen(() => {
          off();
          resolve();
        });
        this._wake = () => {
          off();
          resolve();
        };
      });
      this._wake = null;
    }
  }
}
