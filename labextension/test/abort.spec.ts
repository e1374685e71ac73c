import { isAbortError, LatestRequest } from '../src/abort';

describe('one request in flight per editor', () => {
  it('aborts the older request when a newer one starts for the same editor', () => {
    const latest = new LatestRequest();
    const first = latest.start('nb-1');
    const other = latest.start('nb-2');
    expect(first.signal.aborted).toBe(false);
    const second = latest.start('nb-1');
    expect(first.signal.aborted).toBe(true);
    expect(second.signal.aborted).toBe(false);
    expect(other.signal.aborted).toBe(false);
    latest.done('nb-1', first.signal); // stale: ignored
    expect(latest.size).toBe(2);
    latest.done('nb-1', second.signal);
    expect(latest.size).toBe(1);
    latest.abortAll();
    expect(other.signal.aborted).toBe(true);
  });
});

describe('abort bookkeeping', () => {
  it('says whether there was a request to abort, and forgets finished ones', () => {
    const latest = new LatestRequest();
    expect(latest.abort('nb-1')).toBe(false);
    const first = latest.start('nb-1');
    const second = latest.start('nb-2');
    expect(second.serial).toBe(first.serial + 1);
    expect(latest.abort('nb-1')).toBe(true);
    expect(first.signal.aborted).toBe(true);
    expect(latest.abort('nb-1')).toBe(false);
    latest.done('nb-2', second.signal);
    expect(latest.size).toBe(0);
    // a request that ended is not aborted later
    latest.abortAll();
    expect(second.signal.aborted).toBe(false);
  });

  it('tells an abort from another failure', () => {
    expect(isAbortError(new DOMException('stopped', 'AbortError'))).toBe(true);
    expect(isAbortError({ name: 'AbortError' })).toBe(true);
    expect(isAbortError({ code: 20 })).toBe(true);
    expect(isAbortError(new Error('network'))).toBe(false);
    expect(isAbortError(null)).toBe(false);
    expect(isAbortError('AbortError')).toBe(false);
  });
});
