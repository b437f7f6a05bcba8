/**
 * @module Normalization for detection only: the bytes sent to the client never change here.
 *
 * NFKC folds compatibility forms (fullwidth `４`, superscripts, no-break and ideographic spaces,
 * fullwidth `－`) to ASCII; invisible format characters (zero-width U+200B–U+200D, U+2060–U+2064,
 * U+FEFF, soft hyphen U+00AD, bidi marks and controls U+200E/F, U+061C, U+202A–U+202E, U+2066–U+2069)
 * are removed; Unicode dashes become `-`; decimal digits of any script (`٤١١١`) become ASCII digits.
 */

const INVISIBLE = /[\u00AD\u061C\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/g;
const DASHES = /[\u2010-\u2015\u2212\uFE58\uFE63]/g;
const NON_ASCII_DIGIT = /(?![0-9])\p{Nd}/gu;
const DIGIT = /^\p{Nd}$/u;

/** True when every code unit of `text` is ASCII (then normalization is the identity). */
export function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return false;
  }
  return true;
}

/** The detection form of a non-ASCII `text`. */
export function normalizeForDetection(text: string): string {
  return text
    .replace(INVISIBLE, '')
    .normalize('NFKC')
    .replace(INVISIBLE, '')
    .replace(DASHES, '-')
    .replace(NON_ASCII_DIGIT, asciiDigit);
}

/**
 * Unicode assigns each script's decimal digits as a contiguous run 0–9, so a digit's value is its
 * distance from the start of its run, modulo 10 (a few blocks hold several runs back to back).
 */
function asciiDigit(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  let first = cp;
  while (cp - first < 60 && DIGIT.test(String.fromCodePoint(first - 1))) first--;
  return String.fromCharCode(0x30 + ((cp - first) % 10));
}
