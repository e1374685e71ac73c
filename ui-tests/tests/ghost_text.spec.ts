/**
 * Ghost text in a real JupyterLab with the real embedded model: cleaned while it streams,
 * partial accept (next word, next line) with no new request, warm-up and prefetch
 * requests. Every ghost text the page shows is recorded by a MutationObserver.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Request } from '@playwright/test';

test.use({ autoGoto: true });

const SETUP = "import pandas as pd\nhousing = pd.read_csv('housing.csv')\nhousing['rooms'] = housing['total_rooms']";

interface ISent {
  endpoint: string;
  body: any;
}

/** Record the page's requests to /jupyter-twin/complete and /jupyter-twin/warm. */
function recordRequests(page: IJupyterLabPageFixture): ISent[] {
  const sent: ISent[] = [];
  page.on('request', (request: Request) => {
    const match = /\/jupyter-twin\/(complete|warm)(\?|$)/.exec(request.url());
    if (match && request.method() === 'POST') {
      sent.push({ endpoint: match[1], body: request.postDataJSON() });
    }
  });
  return sent;
}

/** Every text the ghost-text element shows, from now on, in order. */
async function recordGhosts(page: IJupyterLabPageFixture): Promise<void> {
  await page.evaluate(() => {
    const seen: string[] = ((window as any).__twinGhosts = []);
    const read = () => {
      for (const el of Array.from(document.querySelectorAll('.jp-GhostText'))) {
        // innerText keeps the line breaks (<br>); the hidden-lines marker and the
        // blank lines the completer pads with are not part of the suggestion
        const text = (el as HTMLElement).innerText.replace('⇓', '').replace(/\s+$/, '');
        if (text && seen[seen.length - 1] !== text) {
          seen.push(text);
        }
      }
    };
    new MutationObserver(read).observe(document.body, {
      subtree: true,
      childList: true,
      characterData: true
    });
  });
}

async function ghosts(page: IJupyterLabPageFixture): Promise<string[]> {
  return page.evaluate(() => (window as any).__twinGhosts as string[]);
}

async function source(page: IJupyterLabPageFixture, index: number): Promise<string> {
  return page.evaluate(
    i => (window as any).jupyterapp.shell.currentWidget.content.model.sharedModel.cells[i].getSource(),
    index
  );
}

/** A notebook whose cells have these sources; the last one is active, in edit mode, cursor at its end. */
async function notebookAtEnd(page: IJupyterLabPageFixture, sources: string[]): Promise<void> {
  await page.notebook.createNew();
  for (let i = 1; i < sources.length; i++) {
    await page.notebook.addCell('code', 'x');
  }
  await page.evaluate(texts => {
    const notebook = (window as any).jupyterapp.shell.currentWidget.content;
    texts.forEach((t: string, i: number) => notebook.model.sharedModel.cells[i].setSource(t));
  }, sources);
  const last = sources.length - 1;
  await page.notebook.enterCellEditingMode(last);
  await page.evaluate(i => {
    const notebook = (window as any).jupyterapp.shell.currentWidget.content;
    notebook.activeCellIndex = i;
    const editor = notebook.activeCell.editor;
    editor.focus();
    editor.setCursorPosition(editor.getPositionAt(editor.model.sharedModel.getSource().length));
  }, last);
}

/** Wait until the ghost text is shown and has stopped streaming; its text. */
async function finishedGhost(page: IJupyterLabPageFixture): Promise<string> {
  const ghost = page.locator('.jp-GhostText');
  await expect(ghost).toBeVisible({ timeout: 120000 });
  await expect(page.locator('.jp-GhostText-streamingIndicator')).toHaveCount(0, { timeout: 120000 });
  return ghost.evaluate(el => (el as HTMLElement).innerText.replace('⇓', '').replace(/\s+$/, ''));
}

test.describe('ghost text', () => {
  test('a half-typed word is never shown again while the suggestion streams; Tab prefetches', async ({
    page
  }) => {
    const sent = recordRequests(page);
    const raws: string[] = [];
    page.on('response', async response => {
      if (/\/jupyter-twin\/complete/.test(response.url())) {
        const body = await response.text().catch(() => '');
        const deltas = body
          .split('\n')
          .filter(line => line.trim())
          .map(line => JSON.parse(line))
          .filter(event => typeof event.delta === 'string');
        raws.push(deltas.map(event => event.delta).join(''));
      }
    });
    const before = "price_per_room = housing['rooms'] / len(";
    await notebookAtEnd(page, [SETUP, before]);
    await recordGhosts(page);
    await page.keyboard.type('hou', { delay: 60 });
    const shown = await finishedGhost(page);
    expect(shown.length).toBeGreaterThan(0);
    const all = await ghosts(page);
    expect(all.length).toBeGreaterThan(0);
    for (const text of all) {
      expect(text.startsWith('hou')).toBe(false);
    }
    // the model itself did write the typed part again (token healing): the server cleaned it
    await expect.poll(() => raws.some(raw => raw.startsWith('hou')), { timeout: 30000 }).toBe(true);

    // Tab accepts; the completion at the new cursor is asked for at once (prefetch)
    const accepted = before + 'hou' + shown;
    await page.keyboard.press('Tab');
    await expect.poll(() => source(page, 1)).toBe(accepted);
    await expect
      .poll(() => sent.filter(s => s.endpoint === 'warm' && s.body.prefetch === true).length, { timeout: 30000 })
      .toBe(1);
    const prefetch = sent.find(s => s.endpoint === 'warm' && s.body.prefetch === true)!.body;
    expect(prefetch.index).toBe(1);
    expect(prefetch.cells[1].source).toBe(accepted);
    expect(prefetch.cursor).toBe([...accepted].length);
    expect(prefetch.editor_id).toBeTruthy();
  });

  test('accept the next word, then the next line: the rest stays, no new request', async ({ page }) => {
    const sent = recordRequests(page);
    const before = "price_per_room = housing['rooms'] / len(";
    await notebookAtEnd(page, [SETUP, before]);
    await page.keyboard.type('hou', { delay: 60 });
    const shown = await finishedGhost(page);
    const word = /^[A-Za-z0-9_]+/.exec(shown)?.[0] ?? '';
    expect(word.length).toBeGreaterThan(0);
    expect(shown.length).toBeGreaterThan(word.length);
    const completes = sent.filter(s => s.endpoint === 'complete').length;

    await page.keyboard.press('Control+ArrowRight');
    await expect.poll(() => source(page, 1)).toBe(before + 'hou' + word);
    const ghost = page.locator('.jp-GhostText');
    await expect
      .poll(() => ghost.evaluate(el => (el as HTMLElement).innerText.replace('⇓', '').replace(/\s+$/, '')))
      .toBe(shown.slice(word.length));
    // past the completer's debounce (400 ms): the rest came from the provider's cache
    await page.waitForTimeout(1500);
    await expect(ghost).toBeVisible();
    expect(sent.filter(s => s.endpoint === 'complete').length).toBe(completes);

    // a multi-line suggestion: the next line goes in, the lines after it stay
    await notebookAtEnd(page, ['for i in range(10):\n    ']);
    await page.evaluate(() => (window as any).jupyterapp.commands.execute('inline-completer:invoke'));
    const block = await finishedGhost(page);
    expect(block).toContain('\n');
    const firstLine = block.slice(0, block.indexOf('\n') + 1);
    const rest = block.slice(firstLine.length);
    const blockCompletes = sent.filter(s => s.endpoint === 'complete').length;
    await page.keyboard.press('Control+ArrowDown');
    await expect.poll(() => source(page, 0)).toBe('for i in range(10):\n    ' + firstLine);
    await expect
      .poll(() => ghost.evaluate(el => (el as HTMLElement).innerText.replace('⇓', '').replace(/\s+$/, '')))
      .toBe(rest.replace(/\s+$/, ''));
    await page.waitForTimeout(1500);
    expect(sent.filter(s => s.endpoint === 'complete').length).toBe(blockCompletes);
  });

  test('typing what the suggestion says shows the rest with no new request', async ({ page }) => {
    const sent = recordRequests(page);
    const before = "price_per_room = housing['rooms'] / len(";
    await notebookAtEnd(page, [SETUP, before]);
    await page.keyboard.type('hou', { delay: 60 });
    const shown = await finishedGhost(page);
    expect(shown.length).toBeGreaterThan(2);
    const completes = sent.filter(s => s.endpoint === 'complete').length;
    await recordGhosts(page);
    await page.keyboard.type(shown.slice(0, 2), { delay: 150 });
    // past the completer's debounce: the provider answered from its cache
    await page.waitForTimeout(1500);
    const ghost = page.locator('.jp-GhostText');
    await expect(ghost).toBeVisible();
    expect(await ghost.evaluate(el => (el as HTMLElement).innerText.replace('⇓', '').replace(/\s+$/, ''))).toBe(
      shown.slice(2)
    );
    expect(sent.filter(s => s.endpoint === 'complete').length).toBe(completes);
    for (const text of await ghosts(page)) {
      expect(shown.endsWith(text)).toBe(true); // never the typed characters again
    }
  });

  test('activating a code cell asks the server to warm up', async ({ page }) => {
    const sent = recordRequests(page);
    await page.notebook.createNew();
    await page.notebook.setCell(0, 'code', SETUP);
    await page.notebook.addCell('code', 'housing.describe()');
    await page.notebook.addCell('markdown', '# Notes');
    await page.waitForTimeout(1000);
    const warmups = () => sent.filter(s => s.endpoint === 'warm' && !s.body.prefetch);
    const already = warmups().length;
    await page.notebook.selectCells(1);
    await expect.poll(() => warmups().length, { timeout: 30000 }).toBeGreaterThan(already);
    const body = warmups()[warmups().length - 1].body;
    expect(body.index).toBe(1);
    expect(body.cells).toHaveLength(3);
    expect(body.cells[1].source).toBe('housing.describe()');
    expect(typeof body.cursor).toBe('number');
    expect(body.prefetch).toBeUndefined();
    // a markdown cell is no place for completions: no warm-up for it
    const count = warmups().length;
    await page.notebook.selectCells(2);
    await page.waitForTimeout(1500);
    expect(warmups().length).toBe(count);
    // a cell that finished running changes the context of the cells below it
    await page.notebook.selectCells(1);
    await expect.poll(() => warmups().length, { timeout: 30000 }).toBeGreaterThan(count);
    const second = warmups().length;
    await page.notebook.selectCells(0);
    await expect.poll(() => warmups().length, { timeout: 30000 }).toBeGreaterThan(second);
    await page.waitForTimeout(1000);
    const activated = warmups().length;
    // run the active cell without moving on: only the end of the execution asks
    await page.evaluate(() => (window as any).jupyterapp.commands.execute('notebook:run-cell'));
    await expect.poll(() => warmups().length, { timeout: 60000 }).toBeGreaterThan(activated);
    expect(warmups()[warmups().length - 1].body.index).toBe(0);
  });
});
