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
import {
  buildCompleteBody,
  cellsFromShared,
  IStreamResult,
  LatestRequest,
  typedAlong
} from './protocol';

/** State of one streamed suggestion, read by `stream(token)`. */
class Suggestion {
  text = '';
  done = false;
  error: string | null = null;
  private _wake: (() => void) | null = null;
  private _changed = false;

  update(text: string, done = false): void {
    this.text = text;
    this.done = this.done || done;
    this._changed = true;
    const wake = this._wake;
    this._wake = null;
    wake?.();
  }

  async next(): Promise<void> {
    if (this._changed || this.done) {
      this._changed = false;
      return;
    }
    await new Promise<void>(resolve => (this._wake = resolve));
    this._changed = false;
  }
}

export interface IProviderCallbacks {
  /** A completion finished (seconds, as measured by the server and the browser). */
  onLatency?(latency: number | null, roundTrip: number): void;
  /** A completion failed (backend down, ...). */
  onError?(message: string): void;
}

/**
 * Ghost-text completions from jupyter_twin through JupyterLab's inline completer.
 * `fetch()` answers at once with an empty incomplete item; `stream(token)` then yields
 * the whole text so far while the server streams it.
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

  private _latest = new LatestRequest();
  private _suggestions = new Map<string, Suggestion>();
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
    if (!(panel instanceof NotebookPanel) || !panel.content.model) {
      return { items: [] };
    }
    const notebook = panel.content;
    const index = notebook.activeCellIndex;
    const shared = notebook.model!.sharedModel.cells;
    if (index < 0 || index >= shared.length) {
      return { items: [] };
    }
    const cells = cellsFromShared(shared as any);
    if (cells[index].cell_type !== 'code') {
      return { items: [] };
    }
    // the request's text is the editor's latest state
    cells[index].source = request.text;
    const editorId = panel.id;
    // a newer request aborts the older one; the server cancels it on the backend too
    for (const [token, suggestion] of this._suggestions) {
      if (token.startsWith(editorId + ':')) {
        suggestion.update(suggestion.text, true);
        this._suggestions.delete(token);
      }
    }
    const { signal } = this._latest.start(editorId);
    const token = `${editorId}:${++this._serial}`;
    const suggestion = new Suggestion();
    this._suggestions.set(token, suggestion);

    let stamp = 0;
    for (const c of cells) {
      stamp = Math.max(stamp, c.execution_count ?? 0);
    }
    const facts = await this._facts.get(panel.sessionContext, stamp, request.text).catch(() => null);
    if (signal.aborted) {
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
    const cell = shared[index];
    const onChange = () => {
      const now = cell.getSource();
      if (now !== request.text && !typedAlong(request.text, request.offset, now, suggestion.text)) {
        this._latest.abort(editorId);
      }
    };
    cell.changed.connect(onChange);
    const started = performance.now();
    void this._client
      .complete(body, raw => suggestion.update(raw), signal)
      .then((result: IStreamResult) => {
        cell.changed.disconnect(onChange);
        this._latest.done(editorId, signal);
        if (result.error) {
          suggestion.error = result.error;
          this._callbacks.onError?.(result.error);
        } else if (!result.cancelled) {
          this._callbacks.onLatency?.(
            result.latency,
            (performance.now() - started) / 1000
          );
        }
        suggestion.update(result.text ?? (result.cancelled ? '' : result.raw), true);
      });
    return {
      items: [{ insertText: '', isIncomplete: true, token }]
    };
  }

  async *stream(
    token: string
  ): AsyncGenerator<{ response: IInlineCompletionItem }, undefined, unknown> {
    const suggestion = this._suggestions.get(token);
    if (!suggestion) {
      return;
    }
    try {
      for (;;) {
        await suggestion.next();
        const done = suggestion.done;
        yield {
          response: {
            insertText: suggestion.text,
            isIncomplete: !done,
            token
          }
        };
        if (done) {
          break;
        }
      }
    } finally {
      if (this._suggestions.get(token) === suggestion) {
        this._suggestions.delete(token);
      }
    }
  }

  dispose(): void {
    this._latest.abortAll();
  }
}
