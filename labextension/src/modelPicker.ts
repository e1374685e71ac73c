/**
 * The model picker opened from the status bar: one <select> per role (completion, chat)
 * with the models that role's backend lists (GET /jupyter-twin/models). Choosing one
 * POSTs it at once; the server's answer, or its error, is shown as text in the dialog.
 * Model names and messages come from the server: text only, never HTML.
 */
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { TwinClient } from './api';
import { defaultBody, IRoleModels, IRoles, pickBody, Role, ROLES } from './modelChoice';

const ROLE_TITLES: { [R in Role]: string } = {
  complete: 'Completion model (ghost text)',
  chat: 'Chat model (sidebar, explain, refactor…)'
};

/** Called after the server accepted a pick (save it, refresh the status bar); `name` is
 * null for "server default" (the setting is cleared). */
export type OnPicked = (role: Role, name: string | null) => Promise<void> | void;

/** The option value of "server default": no model name can be empty. */
const DEFAULT_VALUE = '';

/** The dialog's body: the two lists and a line saying what happened. */
export class ModelPickerBody extends Widget {
  private _message: HTMLElement;
  private _selects = new Map<Role, HTMLSelectElement>();
  /** the last pick's request, so that a test or a caller can wait for it */
  pending: Promise<void> = Promise.resolve();

  constructor(
    private _client: TwinClient,
    private _onPicked: OnPicked
  ) {
    super();
    this.addClass('jp-twin-model-picker');
    this._message = document.createElement('div');
    this._message.className = 'jp-twin-model-picker-message';
    this._message.textContent = 'Asking the server for its models…';
    this.node.append(this._message);
  }

  /** Fill the lists from GET /models; an error is said as text. */
  async load(): Promise<void> {
    let roles: IRoles<IRoleModels>;
    try {
      roles = await this._client.modelRoles();
    } catch (err) {
      this._say(`Could not list the models: ${(err as Error).message ?? err}`, true);
      return;
    }
    for (const role of ROLES) {
      const info = roles[role];
      const row = document.createElement('label');
      row.className = 'jp-twin-model-picker-row';
      row.dataset.role = role;
      const title = document.createElement('span');
      title.className = 'jp-twin-model-picker-title';
      title.textContent = ROLE_TITLES[role] + (info ? ` · ${info.backend}` : '');
      const select = document.createElement('select');
      select.className = 'jp-mod-styled jp-twin-model-select';
      select.dataset.role = role;
      const names = info ? [...new Set([...(info.current ? [info.current] : []), ...info.models])] : [];
      if (info?.default) {
        // the server's own choice, so that a pick can be undone without a restart
        const option = document.createElement('option');
        option.value = DEFAULT_VALUE;
        option.textContent = `server default (${info.default})`;
        option.className = 'jp-twin-model-default';
        select.append(option);
      }
      for (const name of names) {
        const option = document.createElement('option');
        option.value = name;
        option.textContent = name;
        select.append(option);
      }
      select.value =
        info?.default && info.current === info.default ? DEFAULT_VALUE : (info?.current ?? '');
      select.disabled = names.length < 2 && !(info?.default && info.current !== info.default);
      select.addEventListener('change', () => {
        this.pending = this._pick(role, select.value);
      });
      this._selects.set(role, select);
      row.append(title, select);
      this.node.insertBefore(row, this._message);
    }
    this._say(
      ROLES.some(r => (roles[r]?.models.length ?? 0) > 1)
        ? 'A choice is used from the next request on and kept in your settings.'
        : 'The backend lists only one model.'
    );
  }

  private async _pick(role: Role, name: string): Promise<void> {
    const toDefault = name === DEFAULT_VALUE;
    const body = toDefault ? defaultBody(role) : pickBody(role, name);
    if (!body) {
      return;
    }
    this._say(toDefault ? 'Going back to the server default…' : `Switching to ${name}…`);
    try {
      const roles = await this._client.pickModels(body);
      const current = roles[role]?.current ?? name;
      this._say(
        `${role === 'complete' ? 'Completions now use' : 'Chat now uses'} ${current}` +
          (toDefault ? ' (the server default).' : '.')
      );
      await this._onPicked(role, toDefault ? null : current);
    } catch (err) {
      this._say(`Not switched: ${(err as Error).message ?? err}`, true);
    }
  }

  private _say(text: string, error = false): void {
    this._message.textContent = text;
    this._message.classList.toggle('jp-twin-model-picker-error', error);
  }
}

/** Open the picker; resolves when it is closed. */
export async function openModelPicker(client: TwinClient, onPicked: OnPicked): Promise<void> {
  const body = new ModelPickerBody(client, onPicked);
  const dialog = new Dialog({
    title: 'jupyter_twin models',
    body,
    buttons: [Dialog.okButton({ label: 'Close' })]
  });
  dialog.addClass('jp-twin-model-dialog');
  void body.load();
  await dialog.launch();
  await body.pending;
  dialog.dispose();
}
