/**
 * Sends the model choices kept in the user's settings to the server: at start, and when
 * the settings change. The server decides: a stored name it refuses (no longer listed,
 * another backend) is said once and otherwise ignored.
 */
import { TwinClient, TwinHttpError } from './api';
import { choicesToSend, IRoles, refusedNotice, Role, ROLES } from './modelChoice';

export interface ISyncResult {
  /** a role now uses another model: the status bar should ask again */
  changed: boolean;
  /** what the tooltip should say ('' when all went well) */
  notice: string;
}

/** POST each role's stored choice not sent yet (one request per role, so that a refusal
 * names its role and does not stop the other); `sent` records what was tried. */
export async function syncStoredModels(
  client: TwinClient,
  stored: { completionModel?: unknown; chatModel?: unknown },
  sent: IRoles<string>
): Promise<ISyncResult> {
  const choices = choicesToSend(stored, sent);
  const notices: string[] = [];
  let changed = false;
  for (const role of ROLES as Role[]) {
    const name = choices[role];
    if (name === undefined) {
      continue;
    }
    try {
      await client.pickModels({ [role]: name });
      sent[role] = name ?? '';
      changed = true;
    } catch (err) {
      if (err instanceof TwinHttpError && err.status === 400) {
        sent[role] = name ?? ''; // refused: not asked again until the setting changes
      }
      notices.push(refusedNotice(role, name ?? 'server default', (err as Error).message ?? String(err)));
    }
  }
  return { changed, notice: notices.join('\n') };
}
