import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ICompletionProviderManager } from '@jupyterlab/completer';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { LabIcon } from '@jupyterlab/ui-components';

import { TwinClient } from './api';
import { setupComms } from './comm';
import { diffRendererFactory } from './diffRenderer';
import { KernelFactsCache } from './kernelFacts';
import { addGhostCommands, GhostCommandIDs } from './ghostCommands';
import { SETTING_KEYS } from './modelChoice';
import { TwinInlineProvider } from './provider';
import { connectWarmTriggers, warmCurrent } from './warmTriggers';
import { WarmScheduler } from './warmup';
import { TwinSidebar } from './sidebar';
import { cellActions, ITaskInfo, taskCommandId } from './tasks';
import { TwinStatusItem } from './statusbar';
import { openModelPicker } from './modelPicker';
import { syncStoredModels } from './modelSync';
import { textRendererFactory } from './textRenderer';

const PLUGIN_ID = 'jupyter-twin:plugin';

/** The commands of the cell actions are built from the served task list: taskCommandId(). */
export namespace CommandIDs {
  export const openSidebar = 'jupyter-twin:open-sidebar';
  export const stop = 'jupyter-twin:stop';
  export const refreshStatus = 'jupyter-twin:refresh-status';
  export const pickModels = 'jupyter-twin:pick-models';
}

const twinIcon = new LabIcon({
  name: 'jupyter-twin:icon',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16"><g class="jp-icon3" fill="#616161">' +
    '<circle cx="8" cy="12" r="5" fill-opacity="0.85"/><circle cx="16" cy="12" r="5" fill-opacity="0.55"/></g></svg>'
});

interface ITwinSettings {
  kernelFacts: boolean;
  statusPollSeconds: number;
  pushNotebookToKernel: boolean;
  magicNames: string[];
  completionModel: string;
  chatModel: string;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'jupyter_twin: ghost-text completion, chat sidebar and cell actions',
  autoStart: true,
  requires: [ICompletionProviderManager, INotebookTracker, IRenderMimeRegistry],
  optional: [ICommandPalette, IStatusBar, ISettingRegistry, ILayoutRestorer, ILabShell],
  activate: (
    app: JupyterFrontEnd,
    completionManager: ICompletionProviderManager,
    tracker: INotebookTracker,
    rendermime: IRenderMimeRegistry,
    palette: ICommandPalette | null,
    statusBar: IStatusBar | null,
    settingRegistry: ISettingRegistry | null,
    restorer: ILayoutRestorer | null
  ) => {
    const settings: ITwinSettings = {
      kernelFacts: true,
      statusPollSeconds: 30,
      pushNotebookToKernel: true,
      magicNames: [],
      completionModel: '',
      chatModel: ''
    };
    // the user's settings, once loaded: where the model picker keeps its choice
    let stored: ISettingRegistry.ISettings | null = null;
    // what was sent to the server per role (a stored choice is sent once)
    const sentModels: { complete?: string; chat?: string } = {};
    const client = new TwinClient(app.serviceManager.serverSettings);
    const facts = new KernelFactsCache();

    // status bar
    // a click opens the model picker; a pick is kept in the settings (sent at start)
    const status = new TwinStatusItem(client, () =>
      app.commands.execute(CommandIDs.pickModels)
    );
    status.id = 'jupyter-twin-status';
    if (statusBar) {
      statusBar.registerStatusItem('jupyter-twin:status', {
        item: status,
        align: 'left',
        rank: 50
      });
    }

    // ghost text; warm-ups of the server when a cell becomes active, runs, or typing pauses
    let warmSend: (editorId: string) => void = () => undefined;
    const scheduler = new WarmScheduler({ send: editorId => warmSend(editorId) });
    const provider = new TwinInlineProvider(client, facts, {
      onLatency: latency => status.setLatency(latency),
      onError: message => status.setError(message),
      onRequest: (editorId, inFlight) =>
        inFlight ? scheduler.requestStarted(editorId) : scheduler.requestEnded(editorId)
    });
    completionManager.registerInlineProvider(provider);
    warmSend = warmCurrent(tracker, provider, () => provider.settings.enabled !== false);
    connectWarmTriggers(tracker, scheduler);
    addGhostCommands(app, tracker, completionManager, provider);

    // sidebar
    const sidebar = new TwinSidebar(client, tracker, rendermime, facts, message =>
      status.setError(message)
    );
    sidebar.title.icon = twinIcon;
    app.shell.add(sidebar, 'right', { rank: 600 });
    restorer?.add(sidebar, 'jupyter-twin-sidebar');

    // magics: comm target and notebook push; diff output renderer
    setupComms(tracker, {
      pushNotebook: () => settings.pushNotebookToKernel,
      magics: () => settings.magicNames
    });
    rendermime.addFactory(diffRendererFactory(tracker), 10);
    // the magics' answers: inert markdown, even in the trusted outputs of a cell the user ran
    rendermime.addFactory(textRendererFactory(), 10);

    // commands
    const hasNotebook = () => tracker.currentWidget !== null;
    // one command per cell action of the served task list (tasks.py), like the sidebar's
    // buttons, the palette, the cell context menu and the default keys
    const addTaskCommands = (tasks: readonly ITaskInfo[]) => {
      let rank = 30;
      app.contextMenu.addItem({ type: 'separator', selector: '.jp-Notebook .jp-Cell', rank: rank++ });
      for (const task of cellActions(tasks)) {
        const command = taskCommandId(task.name);
        app.commands.addCommand(command, {
          label: `${task.label} Cell (jupyter_twin)`,
          caption: `${task.label}: the active cell (the answer is ${task.kind})`,
          icon: twinIcon,
          isEnabled: hasNotebook,
          execute: async () => {
            app.shell.activateById(sidebar.id);
            await sidebar.runAction(task.name);
          }
        });
        palette?.addItem({ command, category: 'jupyter_twin' });
        app.contextMenu.addItem({ command, selector: '.jp-Notebook .jp-Cell', rank: rank++ });
        if (task.shortcut) {
          app.commands.addKeyBinding({ command, keys: [task.shortcut], selector: '.jp-Notebook' });
        }
      }
    };
    const loadTasks = (attempt: number): void => {
      client.tasks().then(
        tasks => {
          sidebar.setTasks(tasks);
          addTaskCommands(tasks);
        },
        err => {
          sidebar.setTasksError(String((err as Error).message ?? err));
          if (attempt < 5) {
            window.setTimeout(() => loadTasks(attempt + 1), 5000);
          }
        }
      );
    };
    loadTasks(1);
    app.commands.addCommand(CommandIDs.openSidebar, {
      label: 'Open jupyter_twin Assistant',
      execute: () => app.shell.activateById(sidebar.id)
    });
    app.commands.addCommand(CommandIDs.stop, {
      label: 'Stop jupyter_twin Answer',
      isEnabled: () => sidebar.busy,
      execute: () => sidebar.stop()
    });
    app.commands.addCommand(CommandIDs.refreshStatus, {
      label: 'Refresh jupyter_twin Status',
      execute: () => status.refresh()
    });
    app.commands.addCommand(CommandIDs.pickModels, {
      label: 'Pick jupyter_twin Completion and Chat Models',
      execute: () =>
        openModelPicker(client, async (role, name) => {
          // what the server now has for the role ('' is its default: the setting cleared)
          sentModels[role] = name ?? '';
          status.setNotice('');
          await status.refresh();
          await stored?.set(SETTING_KEYS[role], name ?? '');
        })
    });

    if (palette) {
      for (const command of [
        CommandIDs.openSidebar,
        CommandIDs.stop,
        CommandIDs.refreshStatus,
        CommandIDs.pickModels,
        GhostCommandIDs.acceptWord,
        GhostCommandIDs.acceptLine
      ]) {
        palette.addItem({ command, category: 'jupyter_twin' });
      }
    }

    // settings
    const apply = (values: Partial<ITwinSettings>) => {
      Object.assign(settings, values);
      facts.enabled = settings.kernelFacts;
      status.poll(settings.statusPollSeconds);
      void syncStoredModels(client, settings, sentModels).then(result => {
        if (result.notice) {
          status.setNotice(result.notice);
        }
        return result.changed ? status.refresh() : undefined;
      });
    };
    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(loaded => {
          stored = loaded;
          apply(loaded.composite as unknown as ITwinSettings);
          loaded.changed.connect(() => apply(loaded.composite as unknown as ITwinSettings));
        })
        .catch(() => apply({}));
    } else {
      apply({});
    }
  }
};

export default plugin;
