import {
  CompletionHandler,
  IInlineCompletionContext,
  IInlineCompletionItem,
  IInlineCompletionList,
  IInlineCompletionProvider
} from '@jupyterlab/completer';
import { NotebookPanel } from '@jupyterlab/notebook';
import { JSONValue } from '@lumino/coreutils';

import { TwinClient } from './api';
import { KernelFactsCache } from './kernelFacts';
import { LatestRequest } from './abort';
import { cellsFromShared, lastExecution } from './cells';
import { utf16ToCodePoint } from './codePoints';
import { buildCompleteBody } from './requests';
import { ICellData, ICompleteBody, IStreamResult } from './wire';
import {
  contextKey,
  ICacheEntry,
  LiveSuggestion,
  SuggestionView,
  TypedAheadCache,
  typedAlong
} from './suggestionCache';

export interface IProviderCallbacks {
  /** A completion finished (seconds, as measured by the server and the browser). */
  onLatency?(latency: number | null, roundTrip: number): void;
  /** A completion failed (backend down, ...). */
  onError?(message: string): void;
  /** A completion request for this editor went to the server / ended. */
  onRequest?(editorId: string, inFlight: boolean): void;
}

/** The active code cell of a notebook panel, as requests see it. */
interface INotebookState {
  editorId: string;
  cells: ICellData[];
  index: number;
  /** Code points into the active cell's source. */
  cursor: number;
  source: () => string;
}

/** What the ghost text of an editor shows now, from the provider's side. */
export interface IShownSuggestion {
  rest: string;
  /** Still streaming from the server. */
  streaming: boolean;
}

/**
 * Ghost-text completions from jupyter_twin through JupyterLab's inline completer.
 * `fetch()` answers at once: from a suggestion already at hand when the user typed along
 * it (or came back to where it was asked), else with an empty incomplete item while
 * `stream(token)` yields the cleaned text so far as the server streams it.
 */
export class TwinInlineProvider implements IInlineCompletionProvider {
  readonly identifier = 'jupyter-twin';
  readonly name = 'jupyter_twin';
  readonly schema = {
    default: {
      debouncerDelay: 400,
      timeout: 15000,
      enabled: true
    }
  };

  readonly cache = new TypedAheadCache();
  /** Completion requests sent to the server (the typed-ahead cache saves the others). */
  requests = 0;
  private _latest = new LatestRequest();
  private _views = new Map<string, SuggestionView>();
  /** The suggestion being streamed for each editor. */
  private _live = new Map<string, ICacheEntry>();
  private _serial = 0;
  settings: { [key: string]: JSONValue } = {};

  constructor(
    private _client: TwinClient,
    private _facts: KernelFactsCache,
    private _callbacks: IProviderCallbacks = {}
  ) {}

  configure(settings: { [property: string]: JSONValue }): void {
    this.settings = settings;
  }

  async fetch(
    request: CompletionHandler.IRequest,
    context: IInlineCompletionContext
  ): Promise<IInlineCompletionList<IInlineCompletionItem>> {
    const panel = context.widget;
    if (!(panel instanceof NotebookPanel)) {
      return { items: [] };
    }
    const state = notebookState(panel, request.text, request.offset);
    if (!state) {
      return { items: [] };
    }
    const { editorId, cells, index } = state;
    const key = contextKey(cells, index);
    // the items shown so far stop updating (without a last, stale, update)
    for (const [token, view] of this._views) {
      if (view.entry.editorId === editorId) {
        view.end();
        this._views.delete(token);
      }
    }
    const hit = this.cache.lookup(editorId, request.text, request.offset, key);
    if (hit) {
      // typed along a suggestion (or back where one was asked): no request
      return { items: [this._item(new SuggestionView(hit.entry, state.source))] };
    }

    this._dropLive(editorId);
    const { signal } = this._latest.start(editorId);
    const suggestion = new LiveSuggestion();
    const entry = this.cache.add(editorId, request.text, request.offset, key, suggestion);
    this._live.set(editorId, entry);
    const view = new SuggestionView(entry, state.source);
    const item = this._item(view);

    const facts = await this._factsFor(panel, cells, request.text);
    if (signal.aborted) {
      this._drop(entry);
      return { items: [] };
    }
    const body = buildCompleteBody({
      cells,
      index,
      cursor: request.offset,
      editorId,
      kernelFacts: facts
    });
    // the user typed on in a way the suggestion cannot serve: stop the model now,
    // not only when the next (debounced) request comes
    const cell = panel.content.model!.sharedModel.cells[index];
    const onChange = () => {
      const now = cell.getSource();
      if (now !== request.text && !typedAlong(request.text, request.offset, now, suggestion.text)) {
        this._drop(entry);
        this._latest.abort(editorId);
      }
    };
    cell.changed.connect(onChange);
    const started = performance.now();
    this.requests += 1;
    this._callbacks.onRequest?.(editorId, true);
    void this._client
      .complete(body, (raw, _delta, text) => suggestion.update(text ?? raw), signal)
      .then((result: IStreamResult) => {
        cell.changed.disconnect(onChange);
        this._latest.done(editorId, signal);
        if (this._live.get(editorId) === entry) {
          this._live.delete(editorId);
        }
        this._callbacks.onRequest?.(editorId, false);
        if (result.error) {
          this._callbacks.onError?.(result.error);
          suggestion.fail(result.error);
        } else if (result.cancelled) {
          this._drop(entry);
        } else {
          this._callbacks.onLatency?.(result.latency, (performance.now() - started) / 1000);
          suggestion.update(result.text ?? result.raw, true);
        }
        if (suggestion.failed || !suggestion.text) {
          this.cache.remove(entry);
        }
      });
    return { items: [item] };
  }

  async *stream(
    token: string
  ): AsyncGenerator<{ response: IInlineCompletionItem }, undefined, unknown> {
    const view = this._views.get(token);
    if (!view) {
      return;
    }
    try {
      for await (const update of view.updates()) {
        yield {
          response: { insertText: update.text, isIncomplete: !update.done, token }
        };
      }
    } finally {
      if (this._views.get(token) === view) {
        this._views.delete(token);
      }
    }
  }

  /**
   * What the ghost text of this notebook's active cell shows now (the cache's view of
   * it, at the editor's cursor), or null when no suggestion serves there.
   */
  shown(panel: NotebookPanel): IShownSuggestion | null {
    const state = notebookState(panel);
    if (!state) {
      return null;
    }
    const text = state.source();
    const hit = this.cache.find(state.editorId, text, state.cursor, contextKey(state.cells, state.index));
    if (!hit) {
      return null;
    }
    return { rest: hit.rest, streaming: !hit.entry.suggestion.done };
  }

  /** Whether a completion for this editor is streaming from the server now. */
  streaming(editorId: string): boolean {
    return this._live.has(editorId);
  }

  /**
   * Ask the server to warm up for the active cell at its cursor (no generation), or with
   * `prefetch` to generate and cache the completion there. Not while a completion of
   * the same editor is in flight; failures (an older server: 404) are ignored.
   */
  async warm(panel: NotebookPanel, prefetch = false): Promise<boolean> {
    const state = notebookState(panel);
    if (!state || this.streaming(state.editorId)) {
      return false;
    }
    const text = state.source();
    const facts = await this._factsFor(panel, state.cells, text);
    if (this.streaming(state.editorId)) {
      return false;
    }
    let body: ICompleteBody;
    try {
      body = buildCompleteBody({
        cells: state.cells,
        index: state.index,
        cursor: state.cursor,
        editorId: state.editorId,
        kernelFacts: facts
      });
    } catch {
      return false;
    }
    return this._client.warm(body, prefetch);
  }

  dispose(): void {
    this._latest.abortAll();
  }

  /** A suggestion cut short (cancelled, superseded) is not whole: never serve it again. */
  private _drop(entry: ICacheEntry): void {
    if (!entry.suggestion.done) {
      entry.suggestion.fail();
    }
    this.cache.remove(entry);
    if (this._live.get(entry.editorId) === entry) {
      this._live.delete(entry.editorId);
    }
  }

  private _dropLive(editorId: string): void {
    const live = this._live.get(editorId);
    if (live) {
      this._drop(live);
    }
  }

  private _item(view: SuggestionView): IInlineCompletionItem {
    const s = view.entry.suggestion;
    if (s.done) {
      return { insertText: view.rest() };
    }
    const token = `${view.entry.editorId}:${++this._serial}`;
    this._views.set(token, view);
    return { insertText: view.rest(), isIncomplete: true, token };
  }

  private _factsFor(panel: NotebookPanel, cells: ICellData[], code: string) {
    return this._facts.get(panel.sessionContext, lastExecution(cells), code).catch(() => null);
  }
}

/**
 * The notebook's cells with the active cell's `text` (the request's, else the live one)
 * and cursor (code points; else the editor's), or null outside a code cell.
 */
function notebookState(panel: NotebookPanel, text?: string, offset?: number): INotebookState | null {
  const notebook = panel.content;
  const model = notebook.model;
  if (!model) {
    return null;
  }
  const index = notebook.activeCellIndex;
  const shared = model.sharedModel.cells;
  if (index < 0 || index >= shared.length) {
    return null;
  }
  const cells = cellsFromShared(shared as any);
  if (cells[index].cell_type !== 'code') {
    return null;
  }
  const cell = shared[index];
  if (text !== undefined) {
    // the request's text is the editor's latest state
    cells[index].source = text;
  }
  let cursor = offset;
  if (cursor === undefined) {
    const editor = notebook.activeCell?.editor;
    const source = cells[index].source;
    cursor = editor
      ? utf16ToCodePoint(source, editor.getOffsetAt(editor.getCursorPosition()))
      : 0;
  }
  return { editorId: panel.id, cells, index, cursor, source: () => cell.getSource() };
}
