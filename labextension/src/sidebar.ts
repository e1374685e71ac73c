import { Clipboard, InputDialog, Notification } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';

import { TwinClient } from './api';
import { confirmReplace } from './diffView';
import { fencedCode, renderInert } from './inert';
import { KernelFactsCache } from './kernelFacts';
import { cellIndexById, insertCellBelow, replaceCellSource } from './notebookOps';
import { cellsFromShared, lastExecution } from './cells';
import { buildTaskBody } from './requests';
import { CHAT_TASK, cellActions, INSTRUCTED_TASK, ITaskInfo } from './tasks';
import { IStreamResult, streamResult, TaskName } from './wire';

interface IMessage {
  role: 'user' | 'assistant';
  content: string;
  task: TaskName;
  kind: 'code' | 'markdown';
  cellId: string | null;
  /** Source of the target cell when the task started (for the Replace diff). */
  original?: string;
  state: 'streaming' | 'done' | 'error' | 'stopped';
  error?: string;
  latency?: number | null;
}

/**
 * The jupyter_twin sidebar: chat about the active cell and notebook, one-click actions,
 * results with Insert below / Replace / Copy. History is kept per notebook path.
 */
export class TwinSidebar extends Widget {
  private _history = new Map<string, IMessage[]>();
  private _controller: AbortController | null = null;
  private _messagesNode: HTMLElement;
  private _contextNode: HTMLElement;
  private _actionsNode: HTMLElement;
  /** The served task list (GET /jupyter-twin/tasks), by name. */
  private _tasks = new Map<TaskName, ITaskInfo>();
  private _input: HTMLTextAreaElement;
  private _sendButton: HTMLButtonElement;
  private _panel: NotebookPanel | null = null;
  private _renderTimers = new Map<IMessage, number>();
  private _nodes = new Map<IMessage, HTMLElement>();
  private _requestSerial = 0;

  constructor(
    private _client: TwinClient,
    private _tracker: INotebookTracker,
    private _rendermime: IRenderMimeRegistry,
    private _facts: KernelFactsCache,
    private _onError?: (message: string) => void
  ) {
    super();
    this.id = 'jupyter-twin-sidebar';
    this.addClass('jp-twin-sidebar');
    this.title.caption = 'jupyter_twin assistant';

    const header = document.createElement('div');
    header.className = 'jp-twin-header';
    const title = document.createElement('div');
    title.className = 'jp-twin-title';
    title.textContent = 'jupyter_twin';
    this._contextNode = document.createElement('div');
    this._contextNode.className = 'jp-twin-context';
    header.append(title, this._contextNode);

    // one button per cell action, once the server has said which tasks there are
    this._actionsNode = document.createElement('div');
    this._actionsNode.className = 'jp-twin-actions';
    this._actionsNode.textContent = '…';

    this._messagesNode = document.createElement('div');
    this._messagesNode.className = 'jp-twin-messages';

    const inputRow = document.createElement('div');
    inputRow.className = 'jp-twin-input';
    this._input = document.createElement('textarea');
    this._input.className = 'jp-twin-question';
    this._input.placeholder = 'Ask about the active cell or notebook (Enter sends, Shift+Enter new line)';
    this._input.rows = 3;
    this._input.addEventListener('keydown', event => {
      if (event.key === 'Enter' && !event.shiftKey) {
        event.preventDefault();
        event.stopPropagation();
        this._sendOrStop();
      }
    });
    this._sendButton = document.createElement('button');
    this._sendButton.className = 'jp-mod-styled jp-mod-accept jp-twin-send';
    this._sendButton.textContent = 'Send';
    this._sendButton.addEventListener('click', () => this._sendOrStop());
    const clear = document.createElement('button');
    clear.className = 'jp-mod-styled jp-twin-clear';
    clear.textContent = 'Clear';
    clear.title = 'Clear this notebook’s conversation';
    clear.addEventListener('click', () => {
      this.stop();
      this._history.set(this._key(), []);
      this._renderAll();
    });
    inputRow.append(this._input, this._sendButton, clear);

    this.node.append(header, this._actionsNode, this._messagesNode, inputRow);

    this._tracker.currentChanged.connect(() => this._setPanel(this._tracker.currentWidget));
    this._tracker.activeCellChanged.connect(() => this._updateContext());
    this._setPanel(this._tracker.currentWidget);
  }

  /** The tasks the server serves: one button per cell action. */
  setTasks(tasks: readonly ITaskInfo[]): void {
    this._tasks = new Map(tasks.map(t => [t.name, t]));
    this._actionsNode.textContent = '';
    for (const task of cellActions(tasks)) {
      const button = document.createElement('button');
      button.className = 'jp-mod-styled jp-twin-action';
      button.dataset.task = task.name;
      button.textContent = task.label;
      button.addEventListener('click', () => void this.runAction(task.name));
      this._actionsNode.appendChild(button);
    }
  }

  /** The task list did not come: say why where the buttons would be. */
  setTasksError(message: string): void {
    this._actionsNode.textContent = '';
    const error = document.createElement('div');
    error.className = 'jp-twin-error';
    error.textContent = `jupyter_twin: no task list from the server (${message})`;
    this._actionsNode.appendChild(error);
  }

  /** A cell action of a button or a command: the instructed task asks for its instruction first. */
  async runAction(task: TaskName): Promise<void> {
    if (task === INSTRUCTED_TASK) {
      await this.promptRefactor();
    } else {
      await this.runTask(task);
    }
  }

  get busy(): boolean {
    return this._controller !== null;
  }

  /** Stop the running request (the server stops the model). */
  stop(): void {
    this._controller?.abort();
  }

  async promptRefactor(): Promise<void> {
    const result = await InputDialog.getText({
      title: 'Refactor the active cell',
      label: 'Instruction (optional)',
      placeholder: 'e.g. use pathlib, add type hints, vectorise the loop'
    });
    if (result.button.accept) {
      await this.runTask(INSTRUCTED_TASK, { instruction: result.value ?? '' });
    }
  }

  /** Run a task on the active cell of the current notebook and show the result here. */
  async runTask(
    task: TaskName,
    options: { instruction?: string; question?: string; panel?: NotebookPanel } = {}
  ): Promise<IStreamResult | null> {
    const panel = options.panel ?? this._tracker.currentWidget;
    if (!panel || !panel.content.model) {
      Notification.warning('jupyter_twin: open a notebook first');
      return null;
    }
    this._setPanel(panel);
    this.stop();
    const notebook = panel.content;
    const index = Math.max(0, notebook.activeCellIndex);
    const shared = notebook.model!.sharedModel.cells;
    if (!shared.length) {
      return null;
    }
    const cells = cellsFromShared(shared as any);
    const key = this._key();
    const history = this._history.get(key) ?? [];
    this._history.set(key, history);
    const chatHistory = history
      .filter(m => m.task === CHAT_TASK && (m.state === 'done' || m.role === 'user'))
      .slice(-10)
      .map(m => ({ role: m.role, content: m.content }));

    const info = this._tasks.get(task);
    const userText =
      task === CHAT_TASK
        ? options.question ?? ''
        : `${info?.label ?? task} cell ${index + 1}` +
          (options.instruction ? `: ${options.instruction}` : '');
    const cellId = shared[index].id;
    const user: IMessage = {
      role: 'user',
      content: userText,
      task,
      kind: 'markdown',
      cellId,
      state: 'done'
    };
    const answer: IMessage = {
      role: 'assistant',
      content: '',
      task,
      kind: info?.kind ?? 'markdown',
      cellId,
      original: shared[index].getSource(),
      state: 'streaming'
    };
    history.push(user, answer);
    this._appendMessage(user);
    this._appendMessage(answer);

    const facts = await this._facts
      .get(panel.sessionContext, lastExecution(cells), cells[index].source)
      .catch(() => null);
    const controller = new AbortController();
    this._controller = controller;
    this._setBusy(true);
    const requestId = `${panel.id}:${++this._requestSerial}`;
    let result: IStreamResult;
    try {
      const body = buildTaskBody({
        task,
        cells,
        index,
        instruction: options.instruction,
        question: options.question,
        history: task === CHAT_TASK ? chatHistory : undefined,
        requestId,
        kernelFacts: facts,
        known: this._tasks.size ? [...this._tasks.keys()] : undefined
      });
      result = await this._client.task(
        body,
        raw => {
          answer.content = raw;
          this._scheduleRender(answer);
        },
        controller.signal
      );
    } catch (err) {
      result = streamResult({
        raw: answer.content,
        error: String((err as Error).message ?? err),
        errorType: 'Error'
      });
    }
    if (this._controller === controller) {
      this._controller = null;
      this._setBusy(false);
    }
    if (result.error) {
      answer.state = 'error';
      answer.error = result.error;
      // the status bar shows it too (a crashed model process turns it red with the reason)
      this._onError?.(result.error);
    } else if (result.cancelled) {
      answer.state = 'stopped';
      answer.content = result.raw;
    } else {
      answer.state = 'done';
      answer.content = result.text ?? result.raw;
      answer.kind = (result.kind as any) ?? answer.kind;
      answer.latency = result.latency;
    }
    this._renderMessage(answer);
    return result;
  }

  /** The text of the last finished answer (for tests and commands). */
  lastAnswer(): string | null {
    const history = this._history.get(this._key()) ?? [];
    for (let i = history.length - 1; i >= 0; i--) {
      if (history[i].role === 'assistant' && history[i].state === 'done') {
        return history[i].content;
      }
    }
    return null;
  }

  // ------------------------------------------------------------------------------------
  private _sendOrStop(): void {
    if (this.busy) {
      this.stop();
      return;
    }
    const question = this._input.value.trim();
    if (!question) {
      return;
    }
    this._input.value = '';
    void this.runTask(CHAT_TASK, { question });
  }

  private _setBusy(busy: boolean): void {
    this._sendButton.textContent = busy ? 'Stop' : 'Send';
    this._sendButton.classList.toggle('jp-mod-warn', busy);
    this._sendButton.classList.toggle('jp-mod-accept', !busy);
    this.node.classList.toggle('jp-twin-busy', busy);
  }

  private _key(): string {
    return this._panel?.context.path ?? '';
  }

  private _setPanel(panel: NotebookPanel | null): void {
    if (panel === this._panel) {
      this._updateContext();
      return;
    }
    this._panel = panel;
    this._renderAll();
    this._updateContext();
  }

  private _updateContext(): void {
    const panel = this._panel;
    if (!panel) {
      this._contextNode.textContent = 'No notebook';
      return;
    }
    const index = panel.content.activeCellIndex;
    this._contextNode.textContent = `${panel.context.path} · cell ${index + 1}`;
  }

  private _renderAll(): void {
    this._messagesNode.textContent = '';
    this._nodes.clear();
    for (const message of this._history.get(this._key()) ?? []) {
      this._appendMessage(message);
    }
  }

  private _appendMessage(message: IMessage): void {
    const node = document.createElement('div');
    node.className = `jp-twin-message jp-twin-${message.role}`;
    node.dataset.task = message.task;
    this._nodes.set(message, node);
    this._messagesNode.appendChild(node);
    this._renderMessage(message);
  }

  private _scheduleRender(message: IMessage): void {
    if (this._renderTimers.has(message)) {
      return;
    }
    this._renderTimers.set(
      message,
      window.setTimeout(() => {
        this._renderTimers.delete(message);
        this._renderMessage(message);
      }, 120)
    );
  }

  private _renderMessage(message: IMessage): void {
    const node = this._nodes.get(message);
    if (!node) {
      return;
    }
    const timer = this._renderTimers.get(message);
    if (timer !== undefined && message.state !== 'streaming') {
      window.clearTimeout(timer);
      this._renderTimers.delete(message);
    }
    node.dataset.state = message.state;
    node.textContent = '';
    if (message.role === 'user') {
      node.textContent = message.content;
      return;
    }
    const body = document.createElement('div');
    body.className = 'jp-twin-answer';
    node.appendChild(body);
    const markdown =
      message.kind === 'code' && message.state !== 'streaming'
        ? fencedCode(message.content.replace(/\n+$/, ''))
        : message.content;
    if (message.content) {
      void this._renderMarkdown(body, markdown || ' ');
    } else if (message.state === 'streaming') {
      body.textContent = '…';
    }
    if (message.state === 'error') {
      const error = document.createElement('div');
      error.className = 'jp-twin-error';
      error.textContent = message.error ?? 'failed';
      node.appendChild(error);
      return;
    }
    if (message.state === 'stopped') {
      const stopped = document.createElement('div');
      stopped.className = 'jp-twin-note';
      stopped.textContent = 'Stopped.';
      node.appendChild(stopped);
    }
    if (message.state !== 'done') {
      return;
    }
    const buttons = document.createElement('div');
    buttons.className = 'jp-twin-result-actions';
    const insert = this._button('Insert below', 'jp-twin-insert', () => this._insert(message));
    buttons.appendChild(insert);
    if (message.kind === 'code') {
      buttons.appendChild(this._button('Replace', 'jp-twin-replace', () => this._replace(message)));
    }
    buttons.appendChild(
      this._button('Copy', 'jp-twin-copy', () => Clipboard.copyToSystem(message.content))
    );
    if (message.latency) {
      const info = document.createElement('span');
      info.className = 'jp-twin-note';
      info.textContent = `${message.latency.toFixed(1)} s`;
      buttons.appendChild(info);
    }
    node.appendChild(buttons);
  }

  /**
   * Answers are model text: rendered inert (inert.ts), not with JupyterLab's default
   * sanitizer, which keeps remote images (they leak without a click) and command-linker
   * buttons (one click runs a JupyterLab command).
   */
  private async _renderMarkdown(host: HTMLElement, text: string): Promise<void> {
    try {
      await renderInert(host, text, this._rendermime.markdownParser);
    } catch {
      host.textContent = text;
    }
  }

  private _button(label: string, cls: string, onClick: () => void): HTMLButtonElement {
    const button = document.createElement('button');
    button.className = `jp-mod-styled jp-twin-button ${cls}`;
    button.textContent = label;
    button.addEventListener('click', onClick);
    return button;
  }

  private _targetPanel(message: IMessage): { panel: NotebookPanel; index: number } | null {
    const panels: NotebookPanel[] = [];
    this._tracker.forEach(p => panels.push(p));
    const ordered = this._panel ? [this._panel, ...panels] : panels;
    for (const panel of ordered) {
      const index = cellIndexById(panel.content, message.cellId);
      if (index >= 0) {
        return { panel, index };
      }
    }
    if (this._panel) {
      return { panel: this._panel, index: this._panel.content.activeCellIndex };
    }
    return null;
  }

  private _insert(message: IMessage): void {
    const target = this._targetPanel(message);
    if (!target) {
      return;
    }
    insertCellBelow(target.panel, target.index, message.kind, message.content);
  }

  private async _replace(message: IMessage): Promise<void> {
    const target = this._targetPanel(message);
    if (!target) {
      return;
    }
    const cell = target.panel.content.model!.sharedModel.cells[target.index];
    if (await confirmReplace(cell.getSource(), message.content)) {
      replaceCellSource(target.panel, target.index, message.content);
    }
  }
}
