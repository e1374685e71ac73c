/**
 * The notebook events that ask the server to warm up (see warmup.ts for the rules): a
 * code cell becomes active, a cell finishes executing, the user pauses typing.
 */
import { Cell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';

import { TwinInlineProvider } from './provider';
import { WarmScheduler } from './warmup';

export interface IWarmTriggers {
  scheduler: WarmScheduler;
  dispose(): void;
}

/** Connect the scheduler to the tracker's notebooks. */
export function connectWarmTriggers(
  tracker: INotebookTracker,
  scheduler: WarmScheduler
): IWarmTriggers {
  let typingCell: Cell | null = null;
  const onTyped = () => {
    const panel = tracker.currentWidget;
    if (panel && typingCell && panel.content.activeCell === typingCell) {
      scheduler.typed(panel.id);
    }
  };
  const watchTyping = (cell: Cell | null) => {
    typingCell?.model.contentChanged.disconnect(onTyped);
    typingCell = cell && cell.model.type === 'code' ? cell : null;
    typingCell?.model.contentChanged.connect(onTyped);
  };
  const onActiveCell = (_: unknown, cell: Cell | null) => {
    watchTyping(cell);
    const panel = tracker.currentWidget;
    if (panel && cell && cell.model.type === 'code') {
      scheduler.activated(panel.id);
    }
  };
  const onExecuted = (_: unknown, args: { notebook: unknown }) => {
    const panel = tracker.find(p => p.content === args.notebook);
    if (panel) {
      scheduler.executed(panel.id);
    }
  };
  const onCurrent = (_: unknown, panel: NotebookPanel | null) => {
    const cell = panel?.content.activeCell ?? null;
    onActiveCell(null, cell);
  };
  tracker.activeCellChanged.connect(onActiveCell);
  tracker.currentChanged.connect(onCurrent);
  NotebookActions.executed.connect(onExecuted);
  return {
    scheduler,
    dispose: () => {
      watchTyping(null);
      tracker.activeCellChanged.disconnect(onActiveCell);
      tracker.currentChanged.disconnect(onCurrent);
      NotebookActions.executed.disconnect(onExecuted);
      scheduler.dispose();
    }
  };
}

/**
 * The scheduler's send: warm up the notebook if it is still the current one. `enabled()`
 * is read at each send (ghost text off in the settings: no warm-ups either).
 */
export function warmCurrent(
  tracker: INotebookTracker,
  provider: TwinInlineProvider,
  enabled: () => boolean
): (editorId: string) => void {
  return (editorId: string) => {
    const panel = tracker.currentWidget;
    if (panel && panel.id === editorId && enabled()) {
      void provider.warm(panel);
    }
  };
}
