/**
 * The task buttons and commands come from the server's task list (GET /jupyter-twin/tasks,
 * from jupyter_twin/tasks.py), not from a list of the front end's own. No model runs here.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

test.use({ autoGoto: true });

/** GET /jupyter-twin/tasks (ServerConnection adds a cache-busting query to GETs). */
const TASKS_URL = (url: URL) => url.pathname.endsWith('/jupyter-twin/tasks');

interface ITask {
  name: string;
  label: string;
  kind: string;
  shortcut: string;
}

async function openSidebar(page: IJupyterLabPageFixture): Promise<void> {
  await page.evaluate(() => {
    void (window as any).jupyterapp.commands.execute('jupyter-twin:open-sidebar');
  });
  await expect(page.locator('.jp-twin-sidebar')).toBeVisible();
}

/** The buttons of the sidebar, as [task, label]. */
async function buttons(page: IJupyterLabPageFixture): Promise<string[][]> {
  return page
    .locator('.jp-twin-action')
    .evaluateAll(nodes => nodes.map(n => [(n as HTMLElement).dataset.task ?? '', n.textContent ?? '']));
}

test('the sidebar buttons, commands and keys are those of the served task list', async ({ page }) => {
  const served: ITask[] = await page.evaluate(async () => (await (await fetch('/jupyter-twin/tasks')).json()).tasks);
  const actions = served.filter(t => t.name !== 'ask');
  expect(actions.map(t => t.name)).toEqual(['explain', 'refactor', 'fix', 'document', 'test']);
  await openSidebar(page);
  await expect.poll(() => buttons(page)).toEqual(actions.map(t => [t.name, t.label]));
  const commands = await page.evaluate(
    names =>
      names.map(name => {
        const app = (window as any).jupyterapp;
        const id = `jupyter-twin:${name}`;
        const keys = app.commands.keyBindings.filter((b: any) => b.command === id).map((b: any) => b.keys.join(' '));
        return { has: app.commands.hasCommand(id), label: app.commands.label(id), keys };
      }),
    actions.map(t => t.name)
  );
  expect(commands).toEqual(
    actions.map(t => ({ has: true, label: `${t.label} Cell (jupyter_twin)`, keys: [t.shortcut] }))
  );
  // the chat is the question box, not a button or a command of its own
  expect(await page.evaluate(() => (window as any).jupyterapp.commands.hasCommand('jupyter-twin:ask'))).toBe(false);
});

test('a task the server adds gets its button and command with no change in the front end', async ({ page }) => {
  await page.route(TASKS_URL, async route => {
    const response = await route.fetch();
    const data = await response.json();
    data.tasks.push({ name: 'optimise', label: 'Optimise', kind: 'code', shortcut: '', command: 'optimise' });
    await route.fulfill({ response, json: data });
  });
  await page.reload();
  await page.waitForSelector('.jp-twin-status');
  await openSidebar(page);
  await expect(page.locator('.jp-twin-action[data-task="optimise"]')).toHaveText('Optimise');
  await expect
    .poll(() =>
      page.evaluate(() => (window as any).jupyterapp.commands.label('jupyter-twin:optimise'))
    )
    .toBe('Optimise Cell (jupyter_twin)');
  // its button sends it; the server that does not know it says so in the answer
  await page.notebook.createNew();
  await openSidebar(page);
  const request = page.waitForRequest(r => r.url().includes('/jupyter-twin/task') && r.method() === 'POST');
  await page.locator('.jp-twin-action[data-task="optimise"]').click();
  expect((await request).postDataJSON().task).toBe('optimise');
  const answer = page.locator('.jp-twin-assistant[data-task="optimise"]');
  await expect(answer).toHaveAttribute('data-state', 'error');
  await expect(answer.locator('.jp-twin-error')).toContainText("'task' must be one of");
});

test('without a task list the sidebar says why instead of showing no buttons', async ({ page }) => {
  await page.route(TASKS_URL, route =>
    route.fulfill({ status: 500, contentType: 'application/json', body: JSON.stringify({ message: 'broken' }) })
  );
  await page.reload();
  await page.waitForSelector('.jp-twin-status');
  await openSidebar(page);
  await expect(page.locator('.jp-twin-actions .jp-twin-error')).toContainText('no task list from the server (broken)');
  await expect(page.locator('.jp-twin-action')).toHaveCount(0);
});
