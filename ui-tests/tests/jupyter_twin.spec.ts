/**
 * jupyter_twin in a real JupyterLab with the real embedded model (Qwen2.5-Coder-0.5B):
 * no mocked backend anywhere.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import * as path from 'path';

test.use({ autoGoto: true });

interface ICell {
  type: string;
  source: string;
}

async function cells(page: IJupyterLabPageFixture): Promise<ICell[]> {
  return page.evaluate(() => {
    const widget = (window as any).jupyterapp.shell.currentWidget;
    return widget.content.model.sharedModel.cells.map((c: any) => ({
      type: c.cell_type,
      source: c.getSource()
    }));
  });
}

async function command(page: IJupyterLabPageFixture, id: string): Promise<void> {
  // not awaited inside the page: the command waits for the whole answer
  await page.evaluate(cmd => {
    void (window as any).jupyterapp.commands.execute(cmd);
  }, id);
}

const CODE = [
  'def mean(values):',
  '    total = 0',
  '    for i in range(len(values)):',
  '        total = total + values[i]',
  '    return total / len(values)'
].join('\n');

/** Set a cell's source through the model (typing would auto-indent). */
async function setSource(page: IJupyterLabPageFixture, index: number, source: string): Promise<void> {
  await page.evaluate(
    ([i, text]) => {
      const notebook = (window as any).jupyterapp.shell.currentWidget.content;
      notebook.model.sharedModel.cells[i as number].setSource(text as string);
    },
    [index, source]
  );
}

async function notebookWith(page: IJupyterLabPageFixture, source: string): Promise<void> {
  await page.notebook.createNew();
  await setSource(page, 0, source);
  await page.notebook.selectCells(0);
}

test.describe('jupyter_twin', () => {
  test('the status bar shows the backend and the model, reachable', async ({ page }) => {
    const item = page.locator('.jp-twin-status');
    await expect(item).toBeVisible();
    await expect(item).toHaveAttribute('data-reachable', 'true');
    await expect(item).toContainText('embedded');
    await expect(item).toContainText('qwen2.5-coder-0.5b');
  });

  test('ghost text appears in a code cell and Tab accepts it', async ({ page }) => {
    const prefix = 'def add(a, b):\n    """Return the sum of a and b."""\n    return';
    await notebookWith(page, prefix);
    await page.notebook.enterCellEditingMode(0);
    const editor = (await page.notebook.getCellInputLocator(0))!.locator('.cm-content');
    await editor.click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type(' a');
    const ghost = page.locator('.jp-GhostText');
    await expect(ghost).toBeVisible({ timeout: 90000 });
    await expect(ghost).not.toHaveText('');
    await expect(ghost).toHaveAttribute('data-provided-by', 'jupyter-twin');
    // wait for the stream to end (the suggestion stops growing), then accept
    await expect(page.locator('.jp-GhostText-streamingIndicator')).toHaveCount(0, { timeout: 90000 });
    const suggestion = ((await ghost.textContent()) ?? '').replace('⇓', '');
    expect(suggestion.trim().length).toBeGreaterThan(0);
    await page.keyboard.press('Tab');
    await expect(ghost).toHaveCount(0);
    const source = (await cells(page))[0].source;
    expect(source.startsWith(prefix + ' a')).toBe(true);
    expect(source).toContain(suggestion.trim().split('\n')[0]);
    expect(source.length).toBeGreaterThan((prefix + ' a').length);
  });

  test('Explain inserts a markdown cell below', async ({ page }) => {
    await notebookWith(page, CODE);
    await command(page, 'jupyter-twin:explain');
    const answer = page.locator('.jp-twin-assistant[data-task="explain"]');
    await expect(answer).toHaveAttribute('data-state', 'done', { timeout: 180000 });
    await expect(answer.locator('.jp-RenderedMarkdown')).not.toBeEmpty();
    await page.screenshot({ path: path.join(__dirname, '..', '..', 'docs', 'screenshot.png') });
    await answer.locator('.jp-twin-insert').click();
    await expect.poll(async () => (await cells(page)).length).toBe(2);
    const all = await cells(page);
    expect(all[0].source).toBe(CODE);
    expect(all[1].type).toBe('markdown');
    expect(all[1].source.trim().length).toBeGreaterThan(20);
  });

  test('Refactor shows a diff and Replace changes the cell (undoable)', async ({ page }) => {
    await notebookWith(page, CODE);
    await command(page, 'jupyter-twin:refactor');
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toBeVisible();
    await dialog.locator('input').fill('use the built-in sum()');
    await dialog.locator('.jp-mod-accept').click();
    const answer = page.locator('.jp-twin-assistant[data-task="refactor"]');
    await expect(answer).toHaveAttribute('data-state', 'done', { timeout: 180000 });
    await answer.locator('.jp-twin-replace').click();
    const diff = page.locator('.jp-Dialog .jp-twin-diff');
    await expect(diff).toBeVisible();
    await expect(diff.locator('[data-op="add"]').first()).toBeVisible();
    await page.locator('.jp-Dialog .jp-twin-replace-confirm').click();
    await expect(page.locator('.jp-Dialog')).toHaveCount(0);
    await expect.poll(async () => (await cells(page))[0].source).not.toBe(CODE);
    const replaced = (await cells(page))[0].source;
    expect(replaced).toContain('def ');
    expect((await cells(page)).length).toBe(1);
    // the notebook's undo (in the cell editor) brings the original back
    await page.notebook.enterCellEditingMode(0);
    await page.keyboard.press('Control+z');
    await expect.poll(async () => (await cells(page))[0].source).toBe(CODE);
  });

  test('%%complete inserts a cell through the comm, %%refactor shows its diff', async ({ page }) => {
    await page.notebook.createNew();
    await page.notebook.setCell(0, 'code', '%load_ext jupyter_twin');
    await page.notebook.runCell(0, true);
    await page.notebook.addCell('code', 'x');
    await setSource(page, 1, '%%complete\ndef is_even(n):\n    """Return True when n is even."""\n');
    await page.notebook.runCell(1, true);
    await expect.poll(async () => (await cells(page)).length, { timeout: 180000 }).toBe(3);
    const afterComplete = await cells(page);
    expect(afterComplete[2].type).toBe('code');
    expect(afterComplete[2].source).toContain('def is_even(n):');
    expect(afterComplete[2].source.length).toBeGreaterThan(
      'def is_even(n):\n    """Return True when n is even."""\n'.length
    );

    await setSource(page, 2, '%%refactor use sum()\n' + CODE);
    await page.notebook.runCell(2, true);
    const output = (await page.notebook.getCellOutputLocator(2))!;
    const rendered = output.locator('.jp-twin-diff-output');
    await expect(rendered).toBeVisible({ timeout: 180000 });
    await rendered.locator('.jp-twin-insert').click();
    await expect.poll(async () => (await cells(page)).length).toBe(4);
    const inserted = (await cells(page))[3];
    expect(inserted.type).toBe('code');
    expect(inserted.source).toContain('def mean');
    expect(inserted.source).not.toContain('%%refactor');
  });
  test('chat streams in the sidebar, Stop stops the model, history is per notebook', async ({ page }) => {
    await notebookWith(page, CODE);
    await command(page, 'jupyter-twin:open-sidebar');
    const input = page.locator('.jp-twin-question');
    await input.fill('What does this function return, and when does it fail?');
    await input.press('Enter');
    const first = page.locator('.jp-twin-assistant').last();
    await expect(first).toHaveAttribute('data-state', 'streaming');
    await expect(first.locator('.jp-RenderedMarkdown')).toBeVisible({ timeout: 120000 });
    await expect(page.locator('.jp-twin-send')).toHaveText('Stop');
    await page.locator('.jp-twin-send').click();
    await expect(first).toHaveAttribute('data-state', 'stopped');
    // the server stopped the generation on the backend
    await expect
      .poll(async () =>
        page.evaluate(async () => {
          const m = await (await fetch('/jupyter-twin/metrics')).json();
          const last = m.recent[m.recent.length - 1];
          return `${m.backend_stats.active} ${last && last.cancelled}`;
        })
      )
      .toBe('0 true');

    await input.fill('Say it in one sentence.');
    await input.press('Enter');
    const second = page.locator('.jp-twin-assistant').last();
    await expect(second).toHaveAttribute('data-state', 'done', { timeout: 180000 });
    await expect(page.locator('.jp-twin-message')).toHaveCount(4);

    // another notebook has its own (empty) conversation; coming back restores this one
    await page.notebook.createNew();
    await expect(page.locator('.jp-twin-message')).toHaveCount(0);
    await page.notebook.activate('Untitled.ipynb');
    await expect(page.locator('.jp-twin-message')).toHaveCount(4);
  });
  test('completion requests carry the kernel facts and all cells', async ({ page }) => {
    await page.notebook.createNew();
    await setSource(
      page,
      0,
      'orders_total = 1234.5\nregions = ["north", "south"]\napi_token = "sk-test-0123456789"\n' +
        'greeting = "hello there"\nunused_count = 7'
    );
    await page.notebook.runCell(0, true);
    await page.notebook.addCell('code', 'x');
    // facts come from jupyter_twin/kernel/facts.py, for the names this cell uses only
    const typed = 'share = orders_total / len(regions)\nheaders = {"a": api_token, "g": greeting}\nprint(orders';
    await setSource(page, 1, typed);
    const request = page.waitForRequest(
      r =>
        r.url().includes('/jupyter-twin/complete') &&
        r.method() === 'POST' &&
        r.postDataJSON()?.cells?.[1]?.source === typed + '_',
      { timeout: 60000 }
    );
    await page.notebook.enterCellEditingMode(1);
    await page.evaluate(() => {
      const notebook = (window as any).jupyterapp.shell.currentWidget.content;
      notebook.activeCellIndex = 1;
      const editor = notebook.activeCell.editor;
      editor.focus();
      editor.setCursorPosition(editor.getPositionAt(editor.model.sharedModel.getSource().length));
    });
    await page.keyboard.type('_');
    const body = (await request).postDataJSON();
    expect(body.index).toBe(1);
    expect(body.cells).toHaveLength(2);
    expect(body.cursor).toBe((typed + '_').length);
    const facts = Object.fromEntries(body.kernel_facts.map((f: any) => [f.name, f]));
    expect(facts.orders_total).toMatchObject({ type: 'float', value: '1234.5' });
    expect(facts.regions).toMatchObject({ type: 'list', len: 2 });
    // no string values, no secrets, no names the cell does not use
    expect(facts.api_token).toEqual({ name: 'api_token', type: 'str', len: 18 });
    expect(facts.greeting).toEqual({ name: 'greeting', type: 'str', len: 11 });
    expect(facts.unused_count).toBeUndefined();
    const sent = JSON.stringify(body.kernel_facts);
    expect(sent).not.toContain('sk-test');
    expect(sent).not.toContain('hello');
  });

  test('Fix sends the error output; Fix, Document and Write tests insert code cells', async ({ page }) => {
    const failing = CODE + '\n\nmean([])';
    await page.notebook.createNew();
    await setSource(page, 0, failing);
    await page.notebook.runCell(0, true);
    await expect((await page.notebook.getCellOutputLocator(0))!).toContainText('ZeroDivisionError');
    await page.notebook.selectCells(0);

    for (const task of ['fix', 'document', 'test']) {
      const request = page.waitForRequest(
        r => r.url().includes('/jupyter-twin/task') && r.method() === 'POST' && r.postDataJSON()?.task === task
      );
      const before = (await cells(page)).length;
      await command(page, `jupyter-twin:${task}`);
      const body = (await request).postDataJSON();
      expect(body.cells[body.index].source).toBe(failing);
      if (task === 'fix') {
        // the cell's error output (the traceback, without ANSI colours) goes with the request
        expect(body.error).toContain('ZeroDivisionError');
        expect(body.error).not.toContain('\u001b[');
      } else {
        expect(body.error).toBeUndefined();
      }
      const answer = page.locator(`.jp-twin-assistant[data-task="${task}"]`).last();
      await expect(answer).toHaveAttribute('data-state', 'done', { timeout: 180000 });
      // a code result offers Insert below, Replace and Copy
      await expect(answer.locator('.jp-twin-replace')).toBeVisible();
      await expect(answer.locator('.jp-twin-copy')).toBeVisible();
      await answer.locator('.jp-twin-insert').click();
      await expect.poll(async () => (await cells(page)).length).toBe(before + 1);
      const all = await cells(page);
      // the result goes in right below the active cell, which keeps its source
      expect(all[0].source).toBe(failing);
      expect(all[1].type).toBe('code');
      expect(all[1].source.trim().length).toBeGreaterThan(0);
      expect(all[1].source).not.toContain('```');
      await page.notebook.selectCells(0);
    }
  });

  test('actions are in the cell context menu and on Alt+Shift+E', async ({ page }) => {
    await notebookWith(page, CODE);
    await (await page.notebook.getCellLocator(0))!.click({ button: 'right' });
    const menu = page.locator('.lm-Menu');
    for (const label of ['Explain Cell', 'Refactor Cell', 'Fix Cell', 'Document Cell', 'Write tests Cell']) {
      await expect(menu.getByText(label, { exact: false }).first()).toBeVisible();
    }
    await page.keyboard.press('Escape');
    await page.notebook.selectCells(0);
    await page.keyboard.press('Alt+Shift+E');
    const answer = page.locator('.jp-twin-assistant[data-task="explain"]');
    await expect(answer).toHaveAttribute('data-state', 'done', { timeout: 180000 });
  });
});
