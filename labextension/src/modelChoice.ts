/**
 * The model picker's pure logic: the status bar's label and tooltip for two roles, the
 * body of POST /jupyter-twin/models, and which stored choices to send at start. No DOM
 * here, so Jest runs it in node.
 */

/** The two roles the server serves with a model of their own. */
export type Role = 'complete' | 'chat';
export const ROLES: Role[] = ['complete', 'chat'];

/** The settings keys that keep the user's choice, per role. */
export const SETTING_KEYS: { [R in Role]: 'completionModel' | 'chatModel' } = {
  complete: 'completionModel',
  chat: 'chatModel'
};

/** One role of GET /jupyter-twin/status. */
export interface IRoleStatus {
  backend?: string | null;
  model?: string | null;
  family?: string | null;
  fim?: boolean | null;
  error?: string | null;
}

/** One role of GET/POST /jupyter-twin/models. */
export interface IRoleModels {
  backend: string;
  current: string | null;
  /** the model the server is configured with for this role, before any pick */
  default?: string | null;
  models: string[];
}

export type IRoles<T> = { [R in Role]?: T };

/** A model name as the status bar shows it: no folder, no .gguf. */
export function shortModel(model: string): string {
  const base = model.split('/').pop() ?? model;
  return base.replace(/\.gguf$/i, '');
}

/** A name for a label that holds two of them: short, cut with an ellipsis past `max`. */
export function briefModel(model: string | null | undefined, max = 24): string {
  if (!model) {
    return 'no model';
  }
  const short = shortModel(model);
  return short.length > max ? short.slice(0, max - 1) + '…' : short;
}

/** Both roles on the same backend and model: the picker has nothing to tell apart. */
function sameModel(roles: IRoles<IRoleStatus> | undefined): boolean {
  const complete = roles?.complete;
  const chat = roles?.chat;
  if (!complete || !chat) {
    return true;
  }
  return complete.model === chat.model && complete.backend === chat.backend;
}

/**
 * The status bar's text after "twin: ": "embedded · model" when both roles use one model,
 * "embedded · complete: a · chat: b" when they differ (the backend named once when both
 * roles share it; long names cut: the tooltip has them whole).
 */
export function modelLabel(
  backend: string,
  model: string | null,
  roles?: IRoles<IRoleStatus>
): string {
  if (sameModel(roles)) {
    const name = roles?.complete?.model ?? model;
    return `${backend} · ${name ? shortModel(name) : 'no model'}`;
  }
  const complete = roles!.complete!;
  const chat = roles!.chat!;
  const name = (r: IRoleStatus) => briefModel(r.model);
  if (complete.backend === chat.backend) {
    return `${complete.backend ?? backend} · complete: ${name(complete)} · chat: ${name(chat)}`;
  }
  return `complete: ${complete.backend} ${name(complete)} · chat: ${chat.backend} ${name(chat)}`;
}

/** The tooltip's model part: full names, per role when they differ. */
export function modelTooltip(
  backend: string,
  model: string | null,
  roles?: IRoles<IRoleStatus>
): string {
  if (sameModel(roles)) {
    return `${backend} backend, model ${roles?.complete?.model ?? model}`;
  }
  return ROLES.map(role => {
    const r = roles![role]!;
    return `${role === 'complete' ? 'completion' : 'chat'}: ${r.backend} backend, model ${r.model}`;
  }).join('; ');
}

/** The body of POST /jupyter-twin/models for one pick; null for an empty name. */
export function pickBody(role: Role, name: string): IRoles<string> | null {
  const trimmed = name.trim();
  return trimmed ? { [role]: trimmed } : null;
}

/** The body that sends a role back to the server's configured model ("server default"). */
export function defaultBody(role: Role): IRoles<null> {
  return { [role]: null };
}

/**
 * The stored choices to send to the server: each role whose setting names a model that
 * was not sent already (the server keeps it until it restarts; the settings' changed
 * signal also fires after the picker itself saved and sent a choice). A setting cleared
 * after a name was sent from this page sends null: the server goes back to its default.
 * `sent` holds what was last sent per role, '' for the default.
 */
export function choicesToSend(
  stored: { completionModel?: unknown; chatModel?: unknown },
  sent: IRoles<string>
): IRoles<string | null> {
  const out: IRoles<string | null> = {};
  for (const role of ROLES) {
    const raw = stored[SETTING_KEYS[role]];
    const value = typeof raw === 'string' ? raw.trim() : '';
    if (value && sent[role] !== value) {
      out[role] = value;
    } else if (!value && sent[role]) {
      out[role] = null;
    }
  }
  return out;
}

/** What the tooltip says once about a stored choice the server refused. */
export function refusedNotice(role: Role, name: string, message: string): string {
  const what = role === 'complete' ? 'completion' : 'chat';
  return `the stored ${what} model "${name}" was not used: ${message}`;
}
