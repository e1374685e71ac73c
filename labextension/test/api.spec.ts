/**
 * The client's answers to the server's refusals: errors come back in the result (the
 * ghost text drops its suggestion and the status bar turns red with the message).
 */
const makeRequest = jest.fn();

jest.mock('@jupyterlab/coreutils', () => ({
  URLExt: { join: (...parts: string[]) => parts.map(p => p.replace(/\/$/, '')).join('/') }
}));
jest.mock('@jupyterlab/services', () => ({
  ServerConnection: {
    makeSettings: () => ({ baseUrl: 'http://lab/' }),
    makeRequest: (...args: unknown[]) => makeRequest(...args)
  }
}));

import { TwinClient } from '../src/api';
import { buildCompleteBody } from '../src/requests';

function answer(status: number, data: unknown): Response {
  return {
    ok: status >= 200 && status < 300,
    status,
    statusText: status === 400 ? 'Bad Request' : 'OK',
    body: null,
    json: async () => data
  } as unknown as Response;
}

describe('the client and the server boundary', () => {
  beforeEach(() => makeRequest.mockReset());

  it('sends a bad cursor as it is and hands back the server 400 as an error result', async () => {
    makeRequest.mockResolvedValue(
      answer(400, { message: "'cursor' 99 is out of range (0..5)", error_type: 'HTTP400' })
    );
    const client = new TwinClient();
    const body = buildCompleteBody({
      cells: [{ cell_type: 'code', source: 'x = 1' }],
      index: 0,
      cursor: 99,
      editorId: 'e'
    });
    const seen: string[] = [];
    const result = await client.complete(body, raw => seen.push(raw), new AbortController().signal);
    expect(JSON.parse(makeRequest.mock.calls[0][1].body).cursor).toBe(99);
    expect(result).toEqual({
      raw: '',
      text: null,
      kind: null,
      latency: null,
      cancelled: false,
      error: "'cursor' 99 is out of range (0..5)",
      errorType: 'HTTP400'
    });
    expect(seen).toEqual([]);
    // a warm-up the server refuses is just not started
    expect(await client.warm(body)).toBe(false);
  });

  it('reads the task list', async () => {
    makeRequest.mockResolvedValue(
      answer(200, { tasks: [{ name: 'explain', label: 'Explain', kind: 'markdown', shortcut: 'Alt Shift E' }] })
    );
    const tasks = await new TwinClient().tasks();
    expect(makeRequest.mock.calls[0][0]).toBe('http://lab/jupyter-twin/tasks');
    expect(tasks).toEqual([{ name: 'explain', label: 'Explain', kind: 'markdown', shortcut: 'Alt Shift E' }]);
  });

  it('says a network failure and an abort apart', async () => {
    makeRequest.mockRejectedValue(new TypeError('Failed to fetch'));
    const failed = await new TwinClient().task(
      { task: 'explain', cells: [{ cell_type: 'code', source: '' }], index: 0 },
      () => undefined,
      new AbortController().signal
    );
    expect(failed.errorType).toBe('NetworkError');
    expect(failed.error).toContain('Failed to fetch');
    const controller = new AbortController();
    controller.abort();
    makeRequest.mockRejectedValue(new DOMException('stopped', 'AbortError'));
    const stopped = await new TwinClient().task(
      { task: 'explain', cells: [{ cell_type: 'code', source: '' }], index: 0 },
      () => undefined,
      controller.signal
    );
    expect(stopped).toMatchObject({ cancelled: true, error: null });
  });
});
