import { WarmScheduler } from '../src/warmup';

describe('WarmScheduler', () => {
  let sent: string[];
  let scheduler: WarmScheduler;

  beforeEach(() => {
    jest.useFakeTimers();
    sent = [];
    scheduler = new WarmScheduler({ send: id => sent.push(id), delay: 300, idle: 2000 });
  });

  afterEach(() => {
    scheduler.dispose();
    jest.useRealTimers();
  });

  it('warms up once after a cell becomes active, debounced', () => {
    scheduler.activated('nb');
    jest.advanceTimersByTime(100);
    scheduler.activated('nb'); // the next cell at once: one warm-up, for the last one
    jest.advanceTimersByTime(299);
    expect(sent).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(sent).toEqual(['nb']);
    jest.advanceTimersByTime(10000);
    expect(sent).toEqual(['nb']);
  });

  it('an execution and the activation it causes send one warm-up', () => {
    scheduler.executed('nb');
    scheduler.activated('nb');
    jest.advanceTimersByTime(300);
    expect(sent).toEqual(['nb']);
  });

  it('never while a completion of the same editor is in flight', () => {
    scheduler.activated('nb');
    scheduler.requestStarted('nb');
    jest.advanceTimersByTime(1000);
    expect(sent).toEqual([]);
    scheduler.executed('nb');
    jest.advanceTimersByTime(1000);
    expect(sent).toEqual([]); // still in flight
    scheduler.requestEnded('nb');
    scheduler.executed('nb');
    jest.advanceTimersByTime(300);
    expect(sent).toEqual(['nb']);
  });

  it('another editor is not held back by this one', () => {
    scheduler.requestStarted('a');
    scheduler.activated('b');
    jest.advanceTimersByTime(300);
    expect(sent).toEqual(['b']);
  });

  it('after idle time without typing, unless a completion was asked since', () => {
    scheduler.typed('nb');
    jest.advanceTimersByTime(1500);
    scheduler.typed('nb'); // still typing: the idle time starts again
    jest.advanceTimersByTime(1999);
    expect(sent).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(sent).toEqual(['nb']);

    // the usual case: the keystroke's completion evaluated the context already
    scheduler.typed('nb');
    jest.advanceTimersByTime(400);
    scheduler.requestStarted('nb');
    scheduler.requestEnded('nb');
    jest.advanceTimersByTime(5000);
    expect(sent).toEqual(['nb']);

    // Enter at a line end (no completion is asked at a line start): warm up in the pause
    scheduler.typed('nb');
    jest.advanceTimersByTime(2000);
    expect(sent).toEqual(['nb', 'nb']);
  });

  it('typing does not postpone an activation warm-up', () => {
    scheduler.activated('nb');
    jest.advanceTimersByTime(100);
    scheduler.typed('nb');
    jest.advanceTimersByTime(200);
    expect(sent).toEqual(['nb']);
  });
});
