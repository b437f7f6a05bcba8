/**
 * @module Cheap conservative pre-checks, one pass and no allocation. Each returns the detector
 * families that could possibly find something; 0 means no built-in detector can match.
 *
 * Why these are sound (pure ASCII input; anything non-ASCII is reported separately):
 * - every card, SSN, phone and IBAN holds at least 8 ASCII digits;
 * - every email holds `@`;
 * - every secret starts with one of the literal prefixes in `detectors/secret.ts`, each recognised
 *   here by its first 2–5 characters.
 */

export const DIGITS8 = 1;
export const DIGITS9 = 2;
export const DIGITS13 = 4;
export const AT_SIGN = 8;
export const SECRET = 16;
export const NON_ASCII = 32;

/** True when a secret prefix can start at `i` of `text` (see the secret prefixes). */
function secretAtString(text: string, i: number, c: number): boolean {
  switch (c) {
    case 0x41: // AKIA, ASIA
      return (
        (text.charCodeAt(i + 1) === 0x4b || text.charCodeAt(i + 1) === 0x53) &&
        text.charCodeAt(i + 2) === 0x49 &&
        text.charCodeAt(i + 3) === 0x41
      );
    case 0x67: // gh?_, github_pat_, glpat-
      return (
        text.charCodeAt(i + 1) === 0x68 ||
        (text.charCodeAt(i + 1) === 0x69 && text.charCodeAt(i + 2) === 0x74) ||
        (text.charCodeAt(i + 1) === 0x6c && text.charCodeAt(i + 2) === 0x70)
      );
    case 0x78: // xox
      return text.charCodeAt(i + 1) === 0x6f && text.charCodeAt(i + 2) === 0x78;
    case 0x72: // rk_
    case 0x73: // sk_
      return text.charCodeAt(i + 1) === 0x6b && text.charCodeAt(i + 2) === 0x5f;
    case 0x65: // eyJ
      return text.charCodeAt(i + 1) === 0x79 && text.charCodeAt(i + 2) === 0x4a;
    case 0x2d: // -----BEGIN
      return text.startsWith('----', i + 1);
    default:
      return false;
  }
}

/** The byte at `i` when inside [0, end), else -1 (never equal to a prefix byte). */
function peek(bytes: Buffer, i: number, end: number): number {
  return i < end ? (bytes[i] ?? -1) : -1;
}

/** Same as secretAtString over bytes [.., end). */
function secretAtBytes(bytes: Buffer, i: number, end: number, c: number): boolean {
  switch (c) {
    case 0x41: {
      const c1 = peek(bytes, i + 1, end);
      return (
        (c1 === 0x4b || c1 === 0x53) && peek(bytes, i + 2, end) === 0x49 && peek(bytes, i + 3, end) === 0x41
      );
    }
    case 0x67: {
      // gh?_, github_pat_, glpat-
      const c1 = peek(bytes, i + 1, end);
      return (
        c1 === 0x68 ||
        (c1 === 0x69 && peek(bytes, i + 2, end) === 0x74) ||
        (c1 === 0x6c && peek(bytes, i + 2, end) === 0x70)
      );
    }
    case 0x78:
      return peek(bytes, i + 1, end) === 0x6f && peek(bytes, i + 2, end) === 0x78;
    case 0x72:
    case 0x73:
      return peek(bytes, i + 1, end) === 0x6b && peek(bytes, i + 2, end) === 0x5f;
    case 0x65:
      return peek(bytes, i + 1, end) === 0x79 && peek(bytes, i + 2, end) === 0x4a;
    case 0x2d:
      return (
        peek(bytes, i + 1, end) === 0x2d &&
        peek(bytes, i + 2, end) === 0x2d &&
        peek(bytes, i + 3, end) === 0x2d &&
        peek(bytes, i + 4, end) === 0x2d
      );
    default:
      return false;
  }
}

const OTHER = 0;
const DIGIT = 1;
const AT = 2;
const TRIGGER = 3;
const HIGH = 4;

/** Byte (or ASCII code unit) classes: most bytes are OTHER and cost one table load. */
const CLASS = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) CLASS[c] = DIGIT;
CLASS[0x40] = AT;
for (const c of [0x41, 0x67, 0x78, 0x72, 0x73, 0x65, 0x2d]) CLASS[c] = TRIGGER;
for (let c = 0x80; c <= 0xff; c++) CLASS[c] = HIGH;

function digitFlags(digits: number): number {
  return (digits >= 8 ? DIGITS8 : 0) | (digits >= 9 ? DIGITS9 : 0) | (digits >= 13 ? DIGITS13 : 0);
}

/** The candidate families of a string (UTF-16 code units). */
export function stringFlags(text: string): number {
  let digits = 0;
  let flags = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    const k = c > 0xff ? HIGH : (CLASS[c] ?? OTHER);
    if (k === OTHER) continue;
    if (k === DIGIT) digits++;
    else if (k === AT) flags |= AT_SIGN;
    else if (k === HIGH) flags |= NON_ASCII;
    else if ((flags & SECRET) === 0 && secretAtString(text, i, c)) flags |= SECRET;
  }
  return flags | digitFlags(digits);
}

/** Characters that may sit between the digits of one card, SSN or phone number. */
function isSeparator(c: number): boolean {
  return c === 0x20 || c === 0x2d || c === 0x2e || c === 0x28 || c === 0x29 || c === 0x2b;
}

function isUpperByte(c: number): boolean {
  return c >= 0x41 && c <= 0x5a;
}

function isDigitByte(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * True when the UTF-8 bytes [start, end) could hold something a built-in detector finds.
 *
 * Digits count per *run*: a stretch of digits and the separators a card, SSN or phone number may
 * contain (space, `-`, `.`, parentheses, `+`). Every card has 13 digits in one run, every SSN 9,
 * every national phone number 10, every E.164 number 8 after a `+`, so a run needs 9 digits, or 8
 * with a `+`. An IBAN is recognised by its start (two capitals, two digits). Hashes, dates and ids
 * whose digits are broken up by letters or colons then cost no scan.
 */
export function bytesMayMatch(bytes: Buffer, start: number, end: number): boolean {
  let run = 0;
  let plus = false;
  for (let i = start; i < end; i++) {
    const c = bytes[i] ?? 0;
    const k = CLASS[c] ?? OTHER;
    if (k === DIGIT) {
      if (++run >= 9 || (plus && run >= 8)) return true;
      continue;
    }
    if (isSeparator(c)) {
      if (c === 0x2b) plus = true;
      if (c === 0x2d && secretAtBytes(bytes, i, end, c)) return true; // -----BEGIN
      continue;
    }
    run = 0;
    plus = false;
    if (isUpperByte(c) && isIbanStart(bytes, i, end)) return true;
    if (k === OTHER) continue;
    if (k !== TRIGGER || secretAtBytes(bytes, i, end, c)) return true; // '@', non-ASCII, a secret prefix
  }
  return false;
}

/** Two capitals then two digits: how every IBAN starts (`GB82…`). */
function isIbanStart(bytes: Buffer, i: number, end: number): boolean {
  return (
    isUpperByte(peek(bytes, i + 1, end)) &&
    isDigitByte(peek(bytes, i + 2, end)) &&
    isDigitByte(peek(bytes, i + 3, end))
  );
}
