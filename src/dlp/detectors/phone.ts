/**
 * @module Phone numbers in two shapes only, to keep dates, times, IPs, versions and plain integers out:
 *
 * - E.164: `+`, a non-zero digit, then 8–15 digits in all, groups joined by one of ` ` `-` `.` or a
 *   parenthesis (optionally next to one of those): `+14155550100`, `+1-415-555-0100`,
 *   `+44 20 7946 0958`, `+44 (0)20 7946 0958`. The `+` must not follow a letter, digit, `+` or `)`.
 * - North American national: `(415) 555-0100`, `(415)555-0100`, `415-555-0100`, `415.555.0100`, with an
 *   optional `1-`/`1 ` prefix; area code and exchange start with 2–9. The number must not continue a
 *   longer dashed or dotted number (`12-415-555-0100`, `415.555.0100.2`).
 */
import { at, digitsAt, isAlnum, isDigit } from '../chars.ts';
import type { Match } from '../types.ts';

const PLUS = 0x2b;
const OPEN = 0x28;
const CLOSE = 0x29;
const DASH = 0x2d;
const DOT = 0x2e;
const SPACE = 0x20;

export function detectPhones(text: string, out: Match[]): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    let end = -1;
    if (c === PLUS) end = e164End(text, i);
    else if (c === OPEN || (isDigit(c) && !isDigit(at(text, i - 1)))) end = nanpEnd(text, i);
    if (end > 0) {
      out.push({ start: i, end, label: 'phone' });
      i = end;
    } else {
      i++;
    }
  }
}

function isJoiner(c: number): boolean {
  return c === SPACE || c === DASH || c === DOT;
}

function isParen(c: number): boolean {
  return c === OPEN || c === CLOSE;
}

function e164End(text: string, plus: number): number {
  const before = at(text, plus - 1);
  if (isAlnum(before) || before === PLUS || before === CLOSE) return -1;
  const first = at(text, plus + 1);
  if (!isDigit(first) || first === 0x30) return -1;
  let digits = 0;
  let j = plus + 1;
  for (;;) {
    while (isDigit(at(text, j))) {
      digits++;
      j++;
    }
    if (digits > 15) return -1;
    const next = connectorEnd(text, j);
    if (next < 0) break;
    j = next;
  }
  return digits >= 8 ? j : -1;
}

/** The end of a connector between two digit groups starting at `j` (followed by a digit), or -1. */
function connectorEnd(text: string, j: number): number {
  const a = at(text, j);
  const b = at(text, j + 1);
  if (isJoiner(a) || isParen(a)) {
    if (isDigit(b)) return j + 1;
    // Two characters: exactly one parenthesis next to one joiner, e.g. `) ` or ` (`.
    if ((isParen(a) && isJoiner(b)) || (isJoiner(a) && isParen(b))) {
      if (isDigit(at(text, j + 2))) return j + 2;
    }
  }
  return -1;
}

function nanpEnd(text: string, start: number): number {
  // Optional country prefix `1-` or `1 ` (an E.164 `+1…` is found by e164End instead).
  const sep = at(text, start + 1);
  if (text.charCodeAt(start) === 0x31 && (sep === DASH || sep === SPACE) && leftBoundaryOk(text, start)) {
    const withPrefix = nanpBodyEnd(text, start + 2);
    if (withPrefix > 0) return withPrefix;
  }
  const end = nanpBodyEnd(text, start);
  return end > 0 && leftBoundaryOk(text, start) ? end : -1;
}

function leftBoundaryOk(text: string, start: number): boolean {
  const before = at(text, start - 1);
  if (isDigit(before) || before === PLUS) return false;
  if ((before === DASH || before === DOT) && isDigit(at(text, start - 2))) return false;
  return true;
}

function nanpBodyEnd(text: string, p: number): number {
  let q: number;
  if (at(text, p) === OPEN) {
    if (!digitsAt(text, p + 1, 3) || at(text, p + 4) !== CLOSE) return -1;
    if (!areaOk(text, p + 1)) return -1;
    q = p + 5;
    if (at(text, q) === SPACE) q++;
    if (!digitsAt(text, q, 3) || !areaOk(text, q)) return -1;
    const s = at(text, q + 3);
    if (s !== DASH && s !== DOT && s !== SPACE) return -1;
    if (!digitsAt(text, q + 4, 4)) return -1;
    return rightBoundaryOk(text, q + 8) ? q + 8 : -1;
  }
  if (!digitsAt(text, p, 3) || !areaOk(text, p)) return -1;
  const s = at(text, p + 3);
  if (s !== DASH && s !== DOT) return -1;
  if (!digitsAt(text, p + 4, 3) || !areaOk(text, p + 4)) return -1;
  if (at(text, p + 7) !== s || !digitsAt(text, p + 8, 4)) return -1;
  return rightBoundaryOk(text, p + 12) ? p + 12 : -1;
}

/** Area codes and exchanges start with 2–9. */
function areaOk(text: string, i: number): boolean {
  return text.charCodeAt(i) >= 0x32;
}

function rightBoundaryOk(text: string, end: number): boolean {
  const after = at(text, end);
  if (isDigit(after)) return false;
  if ((after === DASH || after === DOT) && isDigit(at(text, end + 1))) return false;
  return true;
}
