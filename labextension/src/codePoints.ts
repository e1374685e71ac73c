/**
 * Code point <-> UTF-16 offsets. The server (Python) and JupyterLab's inline completer
 * count code points; JavaScript strings index UTF-16 units. Pure: tested with Jest.
 */

/** Units of the code point starting at UTF-16 index `units` of `text` (1 or 2). */
function unitsAt(text: string, units: number): number {
  const code = text.charCodeAt(units);
  return code >= 0xd800 && code <= 0xdbff && units + 1 < text.length ? 2 : 1;
}

/**
 * The UTF-16 index (JavaScript string index) of the code point offset `cp` in `text`.
 * Offsets beyond the end map to `text.length`.
 */
export function codePointToUtf16(text: string, cp: number): number {
  let units = 0;
  let points = 0;
  while (points < cp && units < text.length) {
    units += unitsAt(text, units);
    points += 1;
  }
  return units;
}

/** The code point offset of the UTF-16 index `index` in `text`. */
export function utf16ToCodePoint(text: string, index: number): number {
  let units = 0;
  let points = 0;
  const end = Math.min(index, text.length);
  while (units < end) {
    units += unitsAt(text, units);
    points += 1;
  }
  return points;
}

/** Length of `text` in code points (what Python's len() gives). */
export function codePointLength(text: string): number {
  return utf16ToCodePoint(text, text.length);
}
