import { streamResult } from '../src/wire';

describe('stream results', () => {
  it('starts from an empty result and takes what is given', () => {
    expect(streamResult()).toEqual({
      raw: '',
      text: null,
      kind: null,
      latency: null,
      cancelled: false,
      error: null,
      errorType: null
    });
    expect(streamResult({ error: 'down', errorType: 'HTTP400' })).toMatchObject({
      raw: '',
      text: null,
      cancelled: false,
      error: 'down',
      errorType: 'HTTP400'
    });
    // each call is a fresh object
    expect(streamResult()).not.toBe(streamResult());
  });
});
