import { nextLine, nextWord } from '../src/partialAccept';

function words(text: string): string[] {
  const out: string[] = [];
  while (text) {
    const word = nextWord(text);
    expect(word.length).toBeGreaterThan(0);
    out.push(word);
    text = text.slice(word.length);
  }
  return out;
}

describe('nextWord', () => {
  it('takes one identifier, or one run of punctuation, with the spaces before it', () => {
    expect(words("upby('ocean_proximity')")).toEqual(['upby', "('", 'ocean_proximity', "')"]);
    expect(words('x + 12.5')).toEqual(['x', ' +', ' 12', '.', '5']);
    expect(words('größe = 1')).toEqual(['größe', ' =', ' 1']);
  });

  it('at a line end: the line break and the next indentation', () => {
    expect(words('a:\n    return b')).toEqual(['a', ':', '\n    ', 'return', ' b']);
  });

  it('words joined give the text back', () => {
    const text = "df.groupby('a')['b'].agg(['mean', 'max'])\n    .reset_index()";
    expect(words(text).join('')).toBe(text);
  });
});

describe('nextLine', () => {
  it('takes the line with its line break, the rest starts on the next line', () => {
    const text = 'total = 0\n    for x in xs:\n        total += x';
    expect(nextLine(text)).toBe('total = 0\n');
    expect(nextLine('for x in xs:\n        total += x'.slice(0))).toBe('for x in xs:\n');
    expect(nextLine('last')).toBe('last');
  });

  it('empty lines first go with the next line of code', () => {
    expect(nextLine('\n\nprint(x)\nmore')).toBe('\n\nprint(x)\n');
  });
});
