import {
  contextKey,
  LiveSuggestion,
  SuggestionView,
  TypedAheadCache,
  typedAlong,
  typedInto
} from '../src/suggestionCache';
import { ICellData } from '../src/wire';

const CELLS: ICellData[] = [
  { cell_type: 'code', source: 'import pandas as pd' },
  { cell_type: 'code', source: 'housing.gro' }
];
const KEY = contextKey(CELLS, 1);

function done(text: string): LiveSuggestion {
  const s = new LiveSuggestion();
  s.update(text, true);
  return s;
}

const tick = () => new Promise(resolve => setTimeout(resolve, 0));

async function collect(view: SuggestionView): Promise<string[]> {
  const seen: string[] = [];
  for await (const update of view.updates()) {
    seen.push(update.text + (update.done ? '|done' : ''));
  }
  return seen;
}

describe('TypedAheadCache', () => {
  it('serves the rest of a suggestion the user types along, with no request', () => {
    const cache = new TypedAheadCache();
    cache.add('nb', 'housing.gro', 11, KEY, done("upby('ocean_proximity')"));
    const hit = cache.lookup('nb', 'housing.groupb', 14, KEY);
    expect(hit?.typed).toBe('upb');
    expect(hit?.rest).toBe("y('ocean_proximity')");
    expect(cache.hits).toBe(1);
  });

  it('serves the same place again, and text after the cursor must be unchanged', () => {
    const cache = new TypedAheadCache();
    cache.add('nb', 'x = f()\ny = 2', 6, KEY, done('a, b'));
    expect(cache.lookup('nb', 'x = f()\ny = 2', 6, KEY)?.rest).toBe('a, b');
    expect(cache.lookup('nb', 'x = f()\ny = 3', 6, KEY)).toBeNull();
    expect(cache.misses).toBe(1);
  });

  it('does not serve what the suggestion does not say, another editor, or other cells', () => {
    const cache = new TypedAheadCache();
    cache.add('nb', 'housing.gro', 11, KEY, done('upby()'));
    expect(cache.lookup('nb', 'housing.grx', 11, KEY)).toBeNull();
    expect(cache.lookup('other', 'housing.gro', 11, KEY)).toBeNull();
    const changed = [{ ...CELLS[0], source: 'import polars as pl' }, CELLS[1]];
    expect(cache.lookup('nb', 'housing.gro', 11, contextKey(changed, 1))).toBeNull();
    // the active cell's own text is not part of the key
    const typed = [CELLS[0], { ...CELLS[1], source: 'housing.grou' }];
    expect(contextKey(typed, 1)).toBe(KEY);
  });

  it('a finished suggestion typed to its end, an empty one or a failed one does not serve', () => {
    const cache = new TypedAheadCache();
    cache.add('nb', 'a = ', 4, KEY, done('1'));
    expect(cache.lookup('nb', 'a = 1', 5, KEY)).toBeNull();
    cache.add('nb', 'b = ', 4, KEY, done(''));
    expect(cache.lookup('nb', 'b = ', 4, KEY)).toBeNull();
    const cut = new LiveSuggestion();
    cut.update('par');
    cut.fail();
    cache.add('nb', 'c = ', 4, KEY, cut);
    expect(cache.lookup('nb', 'c = p', 5, KEY)).toBeNull();
    expect(cache.size).toBe(1); // only the finished '1' is kept
  });

  it('a suggestion still streaming serves even when all of it so far was typed', () => {
    const cache = new TypedAheadCache();
    const live = new LiveSuggestion();
    live.update('upby');
    cache.add('nb', 'housing.gro', 11, KEY, live);
    expect(cache.lookup('nb', 'housing.groupby', 15, KEY)?.rest).toBe('');
  });

  it('prefers the newest place and keeps at most max entries', () => {
    const cache = new TypedAheadCache(2);
    cache.add('nb', 'x', 1, KEY, done('yz_old'));
    cache.add('nb', 'xy', 2, KEY, done('z_new'));
    expect(cache.lookup('nb', 'xy', 2, KEY)?.rest).toBe('z_new');
    cache.add('nb', 'q', 1, KEY, done('r'));
    expect(cache.size).toBe(2);
    expect(cache.lookup('nb', 'x', 1, KEY)).toBeNull();
  });

  it('counts code points for the cursor', () => {
    const cache = new TypedAheadCache();
    cache.add('nb', 's = "😀" + ', 10, KEY, done('t'));
    expect(cache.lookup('nb', 's = "😀" + ', 10, KEY)?.rest).toBe('t');
  });
});

describe('SuggestionView', () => {
  it('streams the rest after what was typed along, read from the live cell', async () => {
    const live = new LiveSuggestion();
    const cache = new TypedAheadCache();
    const entry = cache.add('nb', 'housing.gro', 11, KEY, live);
    let cell = 'housing.gro';
    const view = new SuggestionView(entry, () => cell);
    const seen = collect(view);
    live.update('up');
    await tick();
    cell = 'housing.grou'; // typed along while it streams
    live.update('upby(');
    await tick();
    live.update('upby()', true);
    expect(await seen).toEqual(['up', 'pby(', 'pby()|done']);
  });

  it('updates that come while the item is busy fold into one, the last never lost', async () => {
    const live = new LiveSuggestion();
    const cache = new TypedAheadCache();
    const view = new SuggestionView(cache.add('nb', 'x', 1, KEY, live), () => 'x');
    const seen = collect(view);
    live.update('1');
    live.update('12');
    live.update('123', true);
    expect(await seen).toEqual(['123|done']);
  });

  it('shows nothing once the cell went elsewhere', () => {
    const cache = new TypedAheadCache();
    const entry = cache.add('nb', 'a.b', 3, KEY, done('cd'));
    expect(new SuggestionView(entry, () => 'a.bc').rest()).toBe('d');
    expect(new SuggestionView(entry, () => 'a.bx').rest()).toBe('');
    expect(new SuggestionView(entry, () => 'zz').rest()).toBe('');
  });

  it('end() stops the updates without a last, stale one', async () => {
    const live = new LiveSuggestion();
    const cache = new TypedAheadCache();
    const view = new SuggestionView(cache.add('nb', 'x', 1, KEY, live), () => 'x');
    const seen = collect(view);
    live.update('1');
    await tick();
    view.end();
    live.update('12', true);
    expect(await seen).toEqual(['1']);
    expect(view.ended).toBe(true);
  });

  it('typedInto needs the text inserted at the cursor', () => {
    const entry = { editorId: 'nb', before: 'ab', after: 'yz', context: 0, suggestion: done('') };
    expect(typedInto(entry, 'abcyz')).toBe('c');
    expect(typedInto(entry, 'abyz')).toBe('');
    expect(typedInto(entry, 'acyz')).toBeNull();
    expect(typedInto(entry, 'abz')).toBeNull();
  });
});

describe('typing along a suggestion', () => {
  it('keeps a suggestion the user is typing, drops it otherwise', () => {
    const text = 'x = 1\nprint(x)';
    const offset = 5; // after "x = 1"
    expect(typedAlong(text, offset, 'x = 12\nprint(x)', '2 + 3')).toBe(true);
    expect(typedAlong(text, offset, 'x = 1 \nprint(x)', '2 + 3')).toBe(false);
    expect(typedAlong(text, offset, 'x = \nprint(x)', '2 + 3')).toBe(false);
    expect(typedAlong(text, offset, text, '2')).toBe(false);
    expect(typedAlong('😀', 1, '😀ab', 'abc')).toBe(true);
  });
});
