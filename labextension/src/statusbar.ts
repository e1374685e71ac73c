import { Widget } from '@lumino/widgets';

import { IStatus, TwinClient } from './api';
import { modelLabel, modelTooltip, shortModel } from './modelChoice';

export { shortModel };

/** Status bar item: a reachability dot, backend · model (both models when the completion
 * and chat models differ), last completion latency. */
export class TwinStatusItem extends Widget {
  private _dot: HTMLElement;
  private _label: HTMLElement;
  private _latency: HTMLElement;
  private _timer: number | null = null;
  status: IStatus | null = null;
  lastLatency: number | null = null;
  /** Said in the tooltip until cleared (a stored model choice the server refused). */
  private _notice = '';

  constructor(
    private _client: TwinClient,
    onClick?: () => void
  ) {
    super();
    this.addClass('jp-twin-status');
    this._dot = document.createElement('span');
    this._dot.className = 'jp-twin-dot';
    this._label = document.createElement('span');
    this._label.className = 'jp-twin-status-label';
    this._label.textContent = 'twin: …';
    this._latency = document.createElement('span');
    this._latency.className = 'jp-twin-status-latency';
    this.node.append(this._dot, this._label, this._latency);
    this.node.title = 'jupyter_twin';
    if (onClick) {
      this.node.addEventListener('click', onClick);
    }
  }

  /** Poll the server every `seconds` (0 stops polling). */
  poll(seconds: number): void {
    if (this._timer !== null) {
      window.clearInterval(this._timer);
      this._timer = null;
    }
    void this.refresh();
    if (seconds > 0) {
      this._timer = window.setInterval(() => void this.refresh(), seconds * 1000);
    }
  }

  async refresh(): Promise<void> {
    try {
      this.setStatus(await this._client.status());
    } catch (err) {
      this.setStatus({
        backend: '?',
        model: null,
        reachable: false,
        error: `jupyter_twin server extension: ${(err as Error).message ?? err}`,
        last_latency: {}
      });
    }
  }

  setStatus(status: IStatus): void {
    this.status = status;
    this._label.textContent =
      `twin: ${modelLabel(status.backend, status.model, status.roles)}` +
      (status.reachable ? '' : ' · not reachable');
    this.node.dataset.reachable = String(status.reachable);
    this._dot.classList.toggle('jp-twin-dot-ok', status.reachable);
    this._dot.classList.toggle('jp-twin-dot-down', !status.reachable);
    const latency = status.last_latency?.complete ?? status.server_latency?.complete;
    if (this.lastLatency === null && typeof latency === 'number') {
      this.lastLatency = latency;
    }
    this._showLatency();
    this.node.title =
      (status.reachable
        ? `jupyter_twin: ${modelTooltip(status.backend, status.model, status.roles)}` +
          (status.host ? ` at ${status.host}` : '')
        : `jupyter_twin: backend not reachable — ${status.error ?? 'unknown error'}`) +
      (this._notice ? `\n${this._notice}` : '') +
      '\nClick to pick the completion and chat models.';
  }

  /** A line for the tooltip ('' clears it); shown with the next status. */
  setNotice(text: string): void {
    this._notice = text;
    if (this.status) {
      this.setStatus(this.status);
    }
  }

  setLatency(seconds: number | null): void {
    if (typeof seconds === 'number') {
      this.lastLatency = seconds;
      this._showLatency();
    }
    if (this.status && !this.status.reachable) {
      void this.refresh();
    }
  }

  /** Red, with the reason in the label itself (e.g. "the model process stopped (signal
   * 11 (SIGSEGV))"): a tooltip alone is missed. The next successful status clears it. */
  setError(message: string): void {
    this._dot.classList.remove('jp-twin-dot-ok');
    this._dot.classList.add('jp-twin-dot-down');
    this.node.dataset.reachable = 'false';
    this.node.title = `jupyter_twin: ${message}`;
    const backend = this.status?.backend ?? '?';
    this._label.textContent = `twin: ${backend} · ${shortReason(message)}`;
  }

  private _showLatency(): void {
    this._latency.textContent =
      this.lastLatency === null ? '' : ` · ${Math.round(this.lastLatency * 1000)} ms`;
  }

  dispose(): void {
    if (this._timer !== null) {
      window.clearInterval(this._timer);
    }
    super.dispose();
  }
}

/** The first sentence of an error, short enough for a status bar. */
export function shortReason(message: string, max = 80): string {
  const first = message.split(/;\s|\n/)[0].trim();
  return first.length > max ? first.slice(0, max - 1) + '…' : first;
}

