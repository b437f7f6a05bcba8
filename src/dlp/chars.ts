/** @module Character-class helpers over UTF-16 code units (ASCII only; callers normalize first). */

export function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

export function isUpper(c: number): boolean {
  return c >= 0x41 && c <= 0x5a;
}

export function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

export function isAlnum(c: number): boolean {
  return isDigit(c) || isLetter(c);
}

/** The code unit at `i`, or -1 outside the string (so every class test above is false). */
export function at(text: string, i: number): number {
  return i >= 0 && i < text.length ? text.charCodeAt(i) : -1;
}

/** True when [start, start+count) are all ASCII digits. */
export function digitsAt(text: string, start: number, count: number): boolean {
  if (start < 0 || start + count > text.length) return false;
  for (let i = start; i < start + count; i++) {
    if (!isDigit(text.charCodeAt(i))) return false;
  }
  return true;
}
