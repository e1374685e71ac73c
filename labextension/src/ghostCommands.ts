/**
 * Commands on the ghost text beyond JupyterLab's own accept (Tab): accept its next word
 * or its next line, the rest staying on screen with no new request; and, after any
 * accept, a prefetch of the completion at the new cursor.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICompletionProviderManager } from '@jupyterlab/completer';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { CommandRegistry } from '@lumino/commands';

import { nextLine, nextWord } from './partialAccept';
import { TwinInlineProvider } from './provider';

export namespace GhostCommandIDs {
  export const acceptWord = 'jupyter-twin:accept-word';
  export const acceptLine = 'jupyter-twin:accept-line';
}

/** JupyterLab's accept of the whole ghost text (Tab, Alt+End). */
export const INLINE_ACCEPT = 'inline-completer:accept';

/** The part of CodeMirror's EditorView used here (JupyterLab 4's cell editors). */
interface IEditorView {
  dispatch(spec: {
    changes: { from: number; insert: string };
    selection: { anchor: number };
    userEvent?: string;
  }): void;
}

export function addGhostCommands(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  completionManager: ICompletionProviderManager,
  provider: TwinInlineProvider
): void {
  const prefetch = (panel: NotebookPanel) => {
    // a suggestion still streaming goes on past what was accepted: it serves next
    if (!provider.streaming(panel.id)) {
      void provider.warm(panel, true);
    }
  };

  const acceptPart = (take: (text: string) => string) => {
    const panel = tracker.currentWidget;
    const editor = panel?.content.activeCell?.editor;
    if (!panel || !editor) {
      return;
    }
    const shown = provider.shown(panel);
    if (!shown || !shown.rest) {
      return;
    }
    const part = take(shown.rest);
    if (!part) {
      return;
    }
    const inline = completionManager.inline;
    if (part === shown.rest && !shown.streaming && inline) {
      inline.accept(panel.id);
      prefetch(panel);
      return;
    }
    const view = (editor as unknown as { editor?: IEditorView }).editor;
    if (!view || typeof view.dispatch !== 'function') {
      return;
    }
    const from = editor.getOffsetAt(editor.getCursorPosition());
    // one transaction moves the cursor with the text, so the inline completer sees the
    // insert as typed along its suggestion and keeps the rest on screen
    view.dispatch({
      changes: { from, insert: part },
      selection: { anchor: from + part.length },
      userEvent: 'input.complete'
    });
    // the rest at once from the provider's cache (no request); after a line break the
    // completer would not ask by itself (it waits for text on the new line)
    inline?.invoke(panel.id);
  };

  const suggestionShown = () => {
    const panel = tracker.currentWidget;
    return !!panel && !!provider.shown(panel)?.rest;
  };
  app.commands.addCommand(GhostCommandIDs.acceptWord, {
    label: 'Accept Next Word of the Suggestion (jupyter_twin)',
    caption: 'Insert the next word of the ghost text; the rest stays as the suggestion',
    isEnabled: suggestionShown,
    execute: () => acceptPart(nextWord)
  });
  app.commands.addCommand(GhostCommandIDs.acceptLine, {
    label: 'Accept Next Line of the Suggestion (jupyter_twin)',
    caption: 'Insert the next line of the ghost text; the rest stays as the suggestion',
    isEnabled: suggestionShown,
    execute: () => acceptPart(nextLine)
  });

  // JupyterLab reads shortcuts as keydown bubbles up, after CodeMirror, which takes
  // Ctrl+Right (word move) for itself: while ghost text is shown, the two accept
  // commands' bindings (as set in Settings > Keyboard Shortcuts) are read first
  const registry = app.commands.constructor as unknown as typeof CommandRegistry;
  const ours = new Set<string>([GhostCommandIDs.acceptWord, GhostCommandIDs.acceptLine]);
  document.addEventListener(
    'keydown',
    (event: KeyboardEvent) => {
      const target = event.target as Element | null;
      if (event.defaultPrevented || !target?.closest?.('.jp-mod-inline-completer-active')) {
        return;
      }
      const keystroke = registry.keystrokeForKeydownEvent(event);
      for (const binding of app.commands.keyBindings) {
        if (
          ours.has(binding.command) &&
          binding.keys.length === 1 &&
          binding.keys[0] === keystroke &&
          target.closest(binding.selector) &&
          // nothing of ours on screen: the key keeps its usual meaning (word move)
          app.commands.isEnabled(binding.command, binding.args)
        ) {
          event.preventDefault();
          event.stopPropagation();
          void app.commands.execute(binding.command, binding.args);
          return;
        }
      }
    },
    true
  );

  // Tab: the next completion, at the new cursor, is on its way at once
  app.commands.commandExecuted.connect((_, args) => {
    if (args.id !== INLINE_ACCEPT) {
      return;
    }
    const panel = tracker.currentWidget;
    if (panel) {
      prefetch(panel);
    }
  });
}
