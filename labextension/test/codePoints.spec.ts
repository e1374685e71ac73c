import { codePointLength, codePointToUtf16, utf16ToCodePoint } from '../src/codePoints';

describe('offsets', () => {
  it('converts code points to UTF-16 around astral characters', () => {
    const text = 'a😀b€c';
    expect(text.length).toBe(6);
    expect(codePointLength(text)).toBe(5);
    expect(codePointToUtf16(text, 0)).toBe(0);
    expect(codePointToUtf16(text, 1)).toBe(1);
    expect(codePointToUtf16(text, 2)).toBe(3);
    expect(codePointToUtf16(text, 3)).toBe(4);
    expect(codePointToUtf16(text, 5)).toBe(6);
    expect(codePointToUtf16(text, 99)).toBe(6);
    for (let cp = 0; cp <= 5; cp++) {
      expect(utf16ToCodePoint(text, codePointToUtf16(text, cp))).toBe(cp);
    }
  });
});

describe('offsets at the edges', () => {
  it('counts a lone surrogate as one code point and clamps indexes to the text', () => {
    const lone = 'a\ud83d';
    expect(codePointLength(lone)).toBe(2);
    expect(codePointToUtf16(lone, 2)).toBe(2);
    expect(utf16ToCodePoint('a😀', 99)).toBe(2);
    expect(utf16ToCodePoint('', 0)).toBe(0);
    expect(codePointToUtf16('abc', 0)).toBe(0);
  });
});
