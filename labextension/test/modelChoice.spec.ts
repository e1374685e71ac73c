import {
  choicesToSend,
  defaultBody,
  modelLabel,
  modelTooltip,
  pickBody,
  refusedNotice,
  shortModel
} from '../src/modelChoice';

const DEMO = 'qwen2.5-coder-0.5b-instruct-q4_k_m.gguf';

describe('modelLabel', () => {
  it('one model for both roles: backend · model, as before', () => {
    const roles = {
      complete: { backend: 'embedded', model: DEMO },
      chat: { backend: 'embedded', model: DEMO }
    };
    expect(modelLabel('embedded', DEMO, roles)).toBe('embedded · qwen2.5-coder-0.5b-instruct-q4_k_m');
    expect(modelLabel('ollama', 'codestral')).toBe('ollama · codestral');
    expect(modelLabel('ollama', null)).toBe('ollama · no model');
  });

  it('two models on one backend: the backend once, each role short', () => {
    const roles = {
      complete: { backend: 'embedded', model: 'a.gguf' },
      chat: { backend: 'embedded', model: 'models/b.gguf' }
    };
    expect(modelLabel('embedded', 'b.gguf', roles)).toBe('embedded · complete: a · chat: b');
  });

  it('two long names are cut to 24 characters with the ellipsis', () => {
    const roles = {
      complete: { backend: 'embedded', model: 'qwen2.5-coder-1.5b-instruct-q4_k_m.gguf' },
      chat: { backend: 'embedded', model: DEMO }
    };
    expect(modelLabel('embedded', DEMO, roles)).toBe(
      'embedded · complete: qwen2.5-coder-1.5b-inst… · chat: qwen2.5-coder-0.5b-inst…'
    );
    expect(modelTooltip('embedded', DEMO, roles)).toContain('qwen2.5-coder-1.5b-instruct-q4_k_m.gguf');
  });

  it('two backends: each role names its own', () => {
    const roles = {
      complete: { backend: 'ollama', model: 'qwen2.5-coder:1.5b' },
      chat: { backend: 'openai', model: 'codestral' }
    };
    expect(modelLabel('ollama', 'qwen2.5-coder:1.5b', roles)).toBe(
      'complete: ollama qwen2.5-coder:1.5b · chat: openai codestral'
    );
  });
});

describe('modelTooltip', () => {
  it('full names, per role when they differ', () => {
    const roles = {
      complete: { backend: 'embedded', model: 'a.gguf' },
      chat: { backend: 'embedded', model: 'b.gguf' }
    };
    expect(modelTooltip('embedded', 'b.gguf', roles)).toBe(
      'completion: embedded backend, model a.gguf; chat: embedded backend, model b.gguf'
    );
    expect(modelTooltip('embedded', DEMO)).toBe(`embedded backend, model ${DEMO}`);
  });
});

describe('pickBody', () => {
  it('names one role; an empty name sends nothing', () => {
    expect(pickBody('complete', ' a.gguf ')).toEqual({ complete: 'a.gguf' });
    expect(pickBody('chat', 'codestral')).toEqual({ chat: 'codestral' });
    expect(pickBody('chat', '  ')).toBeNull();
  });
});

it('defaultBody sends the role as null', () => {
  expect(defaultBody('chat')).toEqual({ chat: null });
});

describe('choicesToSend', () => {
  it('sends each stored name once; empty and non-string settings are the server’s choice', () => {
    expect(choicesToSend({ completionModel: '', chatModel: '' }, {})).toEqual({});
    expect(choicesToSend({ completionModel: 'a.gguf', chatModel: 3 }, {})).toEqual({
      complete: 'a.gguf'
    });
    expect(choicesToSend({ completionModel: 'a.gguf', chatModel: 'b' }, { complete: 'a.gguf' })).toEqual({
      chat: 'b'
    });
    // a changed setting is sent again
    expect(choicesToSend({ completionModel: 'c.gguf' }, { complete: 'a.gguf' })).toEqual({
      complete: 'c.gguf'
    });
  });

  it('a setting cleared after a name was sent goes back to the server default (null), once', () => {
    expect(choicesToSend({ completionModel: '', chatModel: 'b' }, { complete: 'a.gguf', chat: 'b' })).toEqual({
      complete: null
    });
    // '' is what was sent for the default: nothing more to send
    expect(choicesToSend({ completionModel: '' }, { complete: '' })).toEqual({});
    expect(choicesToSend({ completionModel: 7 }, { complete: 'a.gguf' })).toEqual({ complete: null });
  });
});

it('refusedNotice names the role, the name and the server’s reason', () => {
  expect(refusedNotice('complete', 'gone.gguf', "'gone.gguf' is not one of the models")).toBe(
    'the stored completion model "gone.gguf" was not used: \'gone.gguf\' is not one of the models'
  );
});

it('shortModel drops the folder and .gguf', () => {
  expect(shortModel('/m/x.GGUF')).toBe('x');
  expect(shortModel('codestral:latest')).toBe('codestral:latest');
});
