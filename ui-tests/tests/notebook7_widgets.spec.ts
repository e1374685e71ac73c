/**
 * Issue 13: the magics' ipywidgets review panel in Notebook 7 with the jupyter-twin
 * JupyterLab extension disabled (`jupyter labextension disable jupyter-twin`, in a config
 * directory of this spec's own), standing in for any front end without our extension:
 *  - `%%refactor` shows the widget diff and buttons;
 *  - Replace original changes the cell (the magic line goes);
 *  - Insert below adds a cell.
 *
 * This spec starts its own Notebook 7 server (the shared JupyterLab server keeps the
 * extension) with the same test configuration and the embedded model.
 */
import { expect, Page, test } from '@playwright/test';
import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const PORT = Number(process.env.TWIN_NB7_PORT || '18766');
const BASE = `http://127.0.0.1:${PORT}`;
const UI_TESTS = path.resolve(__dirname, '..');
const SCREENSHOT = path.resolve(UI_TESTS, '..', 'docs', 'review-panel.png');

const REFACTOR = '%%refactor use a list comprehension\nsquares = []\nfor i in range(12):\n    squares.append(i * i)';
const INSERT = '%%refactor\ntotal = 0\nfor v in [1, 2, 3]:\n    total = total + v';

let server: ChildProcess | undefined;
let root = '';

function notebook(): string {
  const cell = (source: string, id: string) => ({
    cell_type: 'code', execution_count: null, id, metadata: {}, outputs: [], source
  });
  return JSON.stringify({
    cells: [cell('%load_ext jupyter_twin', 'c-load'), cell(REFACTOR, 'c-replace'), cell(INSERT, 'c-insert')],
    metadata: { kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' } },
    nbformat: 4, nbformat_minor: 5
  }, null, 1);
}

async function waitForServer(url: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const res = await fetch(url);
      if (res.ok) {
        return;
      }
    } catch {
      // not up yet
    }
    await new Promise(r => setTimeout(r, 500));
  }
  throw new Error(`Notebook 7 server did not start at ${url}`);
}

test.beforeAll(async () => {
  test.setTimeout(240000);
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'twin-nb7-'));
  const configDir = path.join(root, 'config');
  const notebooks = path.join(root, 'notebooks');
  fs.mkdirSync(configDir);
  fs.mkdirSync(notebooks);
  fs.writeFileSync(path.join(notebooks, 'review.ipynb'), notebook());
  const env = { ...process.env, JUPYTER_CONFIG_DIR: configDir, TWIN_UI_PORT: String(PORT),
                JUPYTERLAB_GALATA_ROOT_DIR: notebooks };
  // the user-level page config of this server only: the other specs keep the extension
  execFileSync('jupyter', ['labextension', 'disable', '--level=user', 'jupyter-twin'], { env, stdio: 'pipe' });
  const run = spawnSync('jupyter', ['labextension', 'list'], { env });
  const listed = `${run.stdout}${run.stderr}`;
  if (!/jupyter-twin\S*\s+v\S+\s+\S*disabled/.test(listed.replace(/\x1b\[[0-9;]*m/g, ''))) {
    throw new Error(`jupyter-twin is not disabled for this server:\n${listed}`);
  }
  server = spawn('jupyter', ['notebook', '--config', path.join(UI_TESTS, 'jupyter_server_test_config.py'), '--no-browser'],
                 { env, cwd: UI_TESTS, stdio: 'ignore', detached: false });
  await waitForServer(`${BASE}/api/status`, 180000);
});

test.afterAll(async () => {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise(r => setTimeout(r, 1000));
  }
  if (root) {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

function cells(page: Page) {
  return page.locator('.jp-Notebook .jp-Cell');
}

/** Run a cell (Ctrl+Enter: Shift+Enter on the last cell would add one); again if the
 * kernel was not ready to take it, until its prompt shows it queued or ran. */
async function runCell(page: Page, index: number): Promise<void> {
  const cell = cells(page).nth(index);
  const prompt = cell.locator('.jp-InputPrompt');
  const before = await prompt.innerText();
  await expect(async () => {
    const now = await prompt.innerText();
    if (now === before || !/\[(\*|\d+)\]/.test(now)) {
      await cell.locator('.jp-InputArea-editor').click();
      await page.keyboard.press('Control+Enter');
    }
    await expect(prompt).not.toHaveText(before, { timeout: 5000 });
  }).toPass({ timeout: 180000, intervals: [1000, 5000] });
}

async function source(page: Page, index: number): Promise<string> {
  return (await cells(page).nth(index).locator('.cm-content').innerText()).replace(/\u00a0/g, ' ');
}

test('the review panel in Notebook 7 without the extension: diff, Replace original, Insert below', async ({ page }) => {
  test.setTimeout(480000);
  await page.goto(`${BASE}/notebooks/review.ipynb`);
  await expect(cells(page)).toHaveCount(3, { timeout: 120000 });
  // the extension is really off here: no jupyter-twin sidebar or status item
  await expect(page.locator('#jp-twin-sidebar, .jp-twin-status')).toHaveCount(0);

  await runCell(page, 0);
  await expect(cells(page).nth(0).locator('.jp-InputPrompt')).toHaveText(/\[1\]/, { timeout: 120000 });

  // 1. %%refactor: the widget panel with the diff; nothing changes before a click
  await runCell(page, 1);
  const panel = cells(page).nth(1).locator('.jp-OutputArea-output .widget-vbox');
  const replace = panel.locator('button', { hasText: 'Replace original' });
  await expect(replace).toBeEnabled({ timeout: 300000 });
  await expect(panel.locator('.widget-html pre').first()).toContainText('proposed');
  await expect(panel.locator('textarea')).toHaveValue(/squares/);
  expect(await source(page, 1)).toContain('%%refactor');
  await expect(cells(page)).toHaveCount(3);
  await panel.screenshot({ path: SCREENSHOT });

  await replace.click();
  await expect.poll(() => source(page, 1), { timeout: 60000 }).not.toContain('%%refactor');
  const replaced = await source(page, 1);
  expect(replaced).toContain('squares');
  await expect(panel.locator('.widget-label', { hasText: 'Replaced this cell' })).toBeVisible();
  await expect(cells(page)).toHaveCount(3);

  // 2. Insert below: a new cell under the magic's cell, the magic's cell unchanged
  await runCell(page, 2);
  const second = cells(page).nth(2).locator('.jp-OutputArea-output .widget-vbox');
  const insert = second.locator('button', { hasText: 'Insert below' });
  await expect(insert).toBeEnabled({ timeout: 300000 });
  await insert.click();
  await expect(cells(page)).toHaveCount(4, { timeout: 60000 });
  expect(await source(page, 2)).toContain('%%refactor');
  expect(await source(page, 3)).toContain('total');
});
