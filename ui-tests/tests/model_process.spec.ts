/**
 * The model process dies mid-answer (kill -SEGV, as the AMX build of llama.cpp did): the
 * Jupyter server lives, the answer ends with the reason, the status bar turns red with it,
 * and the next question starts a new model process.
 */
import { expect, test } from '@jupyterlab/galata';

test.use({ autoGoto: true });

test('a crash of the model process is a red status bar with the reason, and the next answer works', async ({
  page
}) => {
  await page.notebook.createNew();
  await page.notebook.setCell(
    0,
    'code',
    'def mean(values):\n    total = 0\n    for v in values:\n        total += v\n    return total / len(values)'
  );
  await page.evaluate(() => {
    void (window as any).jupyterapp.commands.execute('jupyter-twin:open-sidebar');
  });
  const input = page.locator('.jp-twin-question');
  await input.fill('Explain this function in detail, line by line, with examples.');
  await input.press('Enter');
  const first = page.locator('.jp-twin-assistant').last();
  await expect(first).toHaveAttribute('data-state', 'streaming', { timeout: 60000 });
  // tokens are arriving from the model process
  await expect
    .poll(
      async () =>
        page.evaluate(async () => {
          const m = await (await fetch('/jupyter-twin/metrics')).json();
          return m.backend_stats ? m.backend_stats.active > 0 && m.backend_stats.tokens > 0 : false;
        }),
      { timeout: 120000 }
    )
    .toBe(true);
  const pid: number = await page.evaluate(async () => {
    const s = await (await fetch('/jupyter-twin/status')).json();
    return s.model_process.pid;
  });
  expect(pid).toBeGreaterThan(0);
  const killed = Date.now();
  process.kill(pid, 'SIGSEGV');

  await expect(first).toHaveAttribute('data-state', 'error', { timeout: 5000 });
  expect(Date.now() - killed).toBeLessThan(5000);
  await expect(first.locator('.jp-twin-error')).toContainText('The model process stopped (signal 11');
  const status = page.locator('#jupyter-twin-status');
  await expect(status).toHaveAttribute('data-reachable', 'false');
  await expect(status).toContainText('signal 11');

  // the server is alive and the next question is answered by a new model process
  await input.fill('Say it in one sentence.');
  await input.press('Enter');
  const second = page.locator('.jp-twin-assistant').last();
  await expect(second).toHaveAttribute('data-state', 'done', { timeout: 180000 });
  const after: number = await page.evaluate(async () => {
    const s = await (await fetch('/jupyter-twin/status')).json();
    return s.model_process.pid;
  });
  expect(after).not.toBe(pid);
});
