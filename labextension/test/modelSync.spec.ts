import { TwinClient, TwinHttpError } from '../src/api';
import { syncStoredModels } from '../src/modelSync';

/** A client whose POST /models accepts the listed names and refuses others (400). */
function client(listed: string[], posted: object[]): TwinClient {
  return {
    pickModels: async (choices: { [role: string]: string }) => {
      posted.push(choices);
      const name = Object.values(choices)[0];
      if (!listed.includes(name)) {
        throw new TwinHttpError(`'${name}' is not one of the models the backend offers`, 400);
      }
      return {};
    }
  } as unknown as TwinClient;
}

describe('syncStoredModels', () => {
  it('sends each stored role once, one request per role', async () => {
    const posted: object[] = [];
    const sent = {};
    const c = client(['a.gguf', 'b.gguf'], posted);
    const first = await syncStoredModels(c, { completionModel: 'a.gguf', chatModel: 'b.gguf' }, sent);
    expect(first).toEqual({ changed: true, notice: '' });
    expect(posted).toEqual([{ complete: 'a.gguf' }, { chat: 'b.gguf' }]);
    const again = await syncStoredModels(c, { completionModel: 'a.gguf', chatModel: 'b.gguf' }, sent);
    expect(again).toEqual({ changed: false, notice: '' });
    expect(posted.length).toBe(2);
  });

  it('a refused name is said once and not sent again; the other role still is', async () => {
    const posted: object[] = [];
    const sent = {};
    const c = client(['b.gguf'], posted);
    const result = await syncStoredModels(c, { completionModel: 'gone.gguf', chatModel: 'b.gguf' }, sent);
    expect(result.changed).toBe(true);
    expect(result.notice).toContain('completion model "gone.gguf" was not used');
    expect(result.notice).toContain('not one of the models');
    expect(posted).toEqual([{ complete: 'gone.gguf' }, { chat: 'b.gguf' }]);
    const again = await syncStoredModels(c, { completionModel: 'gone.gguf', chatModel: 'b.gguf' }, sent);
    expect(again).toEqual({ changed: false, notice: '' });
  });

  it('a cleared setting sends the role back to the server default, once', async () => {
    const posted: object[] = [];
    const sent = { complete: 'a.gguf' };
    const c = {
      pickModels: async (choices: object) => {
        posted.push(choices);
        return {};
      }
    } as unknown as TwinClient;
    expect(await syncStoredModels(c, { completionModel: '' }, sent)).toEqual({ changed: true, notice: '' });
    expect(posted).toEqual([{ complete: null }]);
    expect(sent).toEqual({ complete: '' });
    expect(await syncStoredModels(c, { completionModel: '' }, sent)).toEqual({ changed: false, notice: '' });
    expect(posted.length).toBe(1);
  });

  it('a server that cannot be reached is said, and asked again next time', async () => {
    const sent = {};
    const c = {
      pickModels: async () => {
        throw new Error('Failed to fetch');
      }
    } as unknown as TwinClient;
    const result = await syncStoredModels(c, { completionModel: 'a.gguf' }, sent);
    expect(result).toEqual({ changed: false, notice: expect.stringContaining('Failed to fetch') });
    expect(sent).toEqual({});
  });
});
