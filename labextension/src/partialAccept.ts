/**
 * How much of the ghost text "accept the next word" and "accept the next line" take
 * (pure: tested with Jest). The rest stays on screen as the suggestion.
 */

const WORD = /^[\p{L}\p{N}_]+/u;
const SPACES = /^[^\S\n]+/;
const PUNCTUATION = /^[^\p{L}\p{N}_\s]+/u;

/**
 * The next word of `text`: the spaces before it, then one identifier or number, or one
 * run of punctuation (`upby('ocean')` gives `upby`, then `('`, then `ocean`, then `')`).
 * At a line end: the line break and the next line's indentation.
 */
export function nextWord(text: string): string {
  if (text.startsWith('\n')) {
    const indent = /^\n[^\S\n]*/.exec(text)![0];
    return indent;
  }
  const spaces = SPACES.exec(text)?.[0] ?? '';
  const rest = text.slice(spaces.length);
  const word = WORD.exec(rest)?.[0] ?? PUNCTUATION.exec(rest)?.[0] ?? '';
  return spaces + word;
}

/**
 * The next line of `text`, with its line break (the cursor goes to the start of the line
 * after). Empty lines first are taken with it: one command, one line of code.
 */
export function nextLine(text: string): string {
  const match = /^\n*[^\n]*\n?/.exec(text);
  return match ? match[0] : text;
}
