/**
 * The model picker (issue 12 point 2) in a real JupyterLab with the real embedded model.
 * The test server's model cache (jupyter_server_test_config.py) holds the demo GGUF file
 * under its own name and under a second one, jupyter-twin-ui-alias.gguf (a symlink: one
 * model process), so the embedded backend lists two models. Picking the alias in the
 * status bar's picker makes the next completion be served by it (GET /status and the
 * model process's own counters say so), and the choice is kept in the user's settings;
 * a stored choice is sent to the server when JupyterLab starts.
 */
import { expect, galata, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { APIRequestContext } from '@playwright/test';

test.use({ autoGoto: true });

const ALIAS = 'jupyter-twin-ui-alias.gguf';
const DEMO = 'qwen2.5-coder-0.5b-instruct-q4_k_m.gguf';
const PLUGIN = 'jupyter-twin:plugin';

async function twinStatus(request: APIRequestContext): Promise<any> {
  const response = await request.get('/jupyter-twin/status');
  expect(response.ok()).toBe(true);
  return response.json();
}

async function stored(page: IJupyterLabPageFixture, key: string): Promise<unknown> {
  return page.evaluate(
    async ([plugin, name]) => {
      const registry = await (window as any).galata.getPlugin('@jupyterlab/apputils-extension:settings');
      const settings = await registry.load(plugin);
      return settings.composite[name];
    },
    [PLUGIN, key]
  );
}

/** Ghost text at the end of a small function: the next completion request. */
async function completeOnce(page: IJupyterLabPageFixture): Promise<void> {
  const prefix = 'def add(a, b):\n    """Return the sum of a and b."""\n    return';
  await page.notebook.createNew();
  await page.evaluate(text => {
    const notebook = (window as any).jupyterapp.shell.currentWidget.content;
    notebook.model.sharedModel.cells[0].setSource(text);
  }, prefix);
  await page.notebook.selectCells(0);
  await page.notebook.enterCellEditingMode(0);
  const answered = page.waitForResponse(
    r => /\/jupyter-twin\/complete/.test(r.url()) && r.request().method() === 'POST',
    { timeout: 120000 }
  );
  const editor = (await page.notebook.getCellInputLocator(0))!.locator('.cm-content');
  await editor.click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type(' a');
  const body = await (await answered).text();
  const events = body
    .split('\n')
    .filter(line => line.trim())
    .map(line => JSON.parse(line));
  expect(events[events.length - 1].done).toBe(true);
  await expect(page.locator('.jp-GhostText')).toBeVisible({ timeout: 60000 });
}

// the server outlives each test: every test leaves both roles on the server's default
test.afterEach(async ({ request }) => {
  await request.post('/jupyter-twin/models', { data: { complete: null, chat: null } });
});

async function setStored(page: IJupyterLabPageFixture, key: string, value: string): Promise<void> {
  await page.evaluate(
    async ([plugin, name, v]) => {
      const registry = await (window as any).galata.getPlugin('@jupyterlab/apputils-extension:settings');
      const settings = await registry.load(plugin);
      await settings.set(name, v);
    },
    [PLUGIN, key, value]
  );
}

/** Pick a model for a role in the status bar's picker; the dialog is left open. */
async function pick(page: IJupyterLabPageFixture, role: string, value: string, said: string) {
  await page.locator('#jupyter-twin-status').click();
  const dialog = page.locator('.jp-twin-model-dialog');
  await expect(dialog).toBeVisible();
  await dialog.locator(`select[data-role="${role}"]`).selectOption(value);
  await expect(dialog.locator('.jp-twin-model-picker-message')).toHaveText(said);
  await dialog.locator('.jp-Dialog-button', { hasText: 'Close' }).click();
  await expect(dialog).toHaveCount(0);
}

test('"server default" in the picker undoes a pick, with no restart', async ({ page, request }) => {
  await expect(page.locator('#jupyter-twin-status')).toHaveAttribute('data-reachable', 'true');
  await pick(page, 'complete', ALIAS, `Completions now use ${ALIAS}.`);
  expect((await twinStatus(request)).roles.complete.model).toBe(ALIAS);
  await expect.poll(() => stored(page, 'completionModel')).toBe(ALIAS);
  await pick(page, 'complete', '', `Completions now use ${DEMO} (the server default).`);
  expect((await twinStatus(request)).roles.complete.model).toBe(DEMO);
  await expect.poll(() => stored(page, 'completionModel')).toBe('');
  await expect(page.locator('#jupyter-twin-status')).not.toContainText('jupyter-twin-ui-alias');
});

test('clearing the stored choice in the settings goes back to the server default', async ({
  page,
  request
}) => {
  await expect(page.locator('#jupyter-twin-status')).toHaveAttribute('data-reachable', 'true');
  await pick(page, 'chat', ALIAS, `Chat now uses ${ALIAS}.`);
  expect((await twinStatus(request)).roles.chat.model).toBe(ALIAS);
  await expect.poll(() => stored(page, 'chatModel')).toBe(ALIAS); // the picker saved it
  await setStored(page, 'chatModel', '');
  await expect.poll(async () => (await twinStatus(request)).roles.chat.model).toBe(DEMO);
  expect((await twinStatus(request)).roles.complete.model).toBe(DEMO);
});

test('pick a completion model in the status bar: the next completion is served by it', async ({
  page,
  request
}) => {
  const item = page.locator('#jupyter-twin-status');
  await expect(item).toHaveAttribute('data-reachable', 'true');
  const before = await twinStatus(request);
  expect(before.roles.complete.model).toBe(DEMO);
  const started = before.server?.backend_stats?.started ?? 0;

  await item.click();
  const dialog = page.locator('.jp-twin-model-dialog');
  await expect(dialog).toBeVisible();
  const select = dialog.locator('select[data-role="complete"]');
  await expect(select.locator('option')).toHaveText([`server default (${DEMO})`, DEMO, ALIAS]);
  await expect(select).toHaveValue(''); // the server's own choice
  await expect(dialog.locator('select[data-role="chat"]')).toHaveValue('');
  await select.selectOption(ALIAS);
  await expect(dialog.locator('.jp-twin-model-picker-message')).toHaveText(
    `Completions now use ${ALIAS}.`
  );
  // both models on the status bar, short; the full names in the tooltip
  await expect(item).toContainText('embedded · complete: jupyter-twin-ui-alias · chat: qwen2.5-coder-0.5b');
  await expect(item).toHaveAttribute('title', new RegExp(`completion: embedded backend, model ${ALIAS.replace(/\./g, '\\.')}`));
  await dialog.locator('.jp-Dialog-button', { hasText: 'Close' }).click();
  await expect(dialog).toHaveCount(0);

  // kept in the user's settings
  await expect.poll(() => stored(page, 'completionModel')).toBe(ALIAS);
  expect(await stored(page, 'chatModel')).toBe('');

  await completeOnce(page);
  const after = await twinStatus(request);
  expect(after.roles.complete.model).toBe(ALIAS);
  expect(after.roles.chat.model).toBe(DEMO);
  expect(after.server.backend_stats.started).toBeGreaterThan(started);
});

test.describe('a stored choice', () => {
  test.use({
    mockSettings: {
      ...galata.DEFAULT_SETTINGS,
      [PLUGIN]: { completionModel: ALIAS, chatModel: 'no-such-model.gguf' }
    }
  });

  test('is sent to the server at start; a name the server refuses is said in the tooltip', async ({
    page,
    request
  }) => {
    const item = page.locator('#jupyter-twin-status');
    await expect(item).toContainText('complete: jupyter-twin-ui-alias');
    await expect(item).toHaveAttribute('title', /the stored chat model "no-such-model\.gguf" was not used/);
    const status = await twinStatus(request);
    expect(status.roles.complete.model).toBe(ALIAS);
    expect(status.roles.chat.model).toBe(DEMO); // the server decides
  });
});
