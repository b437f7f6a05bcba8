/**
 * @module Payment card numbers (PANs): 13–19 digits, bare or grouped with single spaces or dashes,
 * with a known issuer prefix (IIN) and a valid Luhn check digit.
 *
 * Grouping: every group of a grouped PAN has at least 3 digits (4-4-4-4, 4-6-5, 4-4-4-4-3…) except
 * possibly the last (4-4-4-4-1), or every group has exactly 1 digit (the `regexp_replace(pan,'(.)','\1 ','g')` spacing bypass). Two-digit groups
 * (dates, times) never join a PAN. A PAN may be a window of a longer grouped run
 * (`4111 1111 1111 1111 2026`), but a bare digit run must be 13–19 digits long as a whole: a PAN is never
 * a substring of a longer number. Decimal fractions (`0.4111…`, `4111….5`) and digit runs between two
 * letters (inside hex strings such as hashes) are not PANs.
 */
import { at, isDigit, isLetter } from '../chars.ts';
import type { Match } from '../types.ts';

const MIN_DIGITS = 13;
const MAX_DIGITS = 19;

/** Scratch for candidate window ends; the detector is synchronous and never re-entered. */
const candidateEnds = new Int32Array(MAX_DIGITS + 1);

export function detectCards(text: string, out: Match[]): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    if (!isDigit(text.charCodeAt(i))) {
      i++;
      continue;
    }
    const groupEnd = digitRunEnd(text, i);
    const end = longestCardFrom(text, i, groupEnd);
    if (end > 0) {
      out.push({ start: i, end, label: 'card' });
      i = end;
    } else {
      i = groupEnd;
    }
  }
}

function digitRunEnd(text: string, i: number): number {
  let j = i;
  while (j < text.length && isDigit(text.charCodeAt(j))) j++;
  return j;
}

function isSeparator(c: number): boolean {
  return c === 0x20 || c === 0x2d; // ' ' or '-'
}

/** The end of the longest valid PAN window starting at the digit group [start, firstEnd), or -1. */
function longestCardFrom(text: string, start: number, firstEnd: number): number {
  // A fraction's digits (`0.4111…`) are not a PAN.
  if (at(text, start - 1) === 0x2e && isDigit(at(text, start - 2))) return -1;
  const firstLen = firstEnd - start;
  if (firstLen === 2) return -1;
  const singles = firstLen === 1;
  let total = firstLen;
  let candidates = 0;
  if (total >= MIN_DIGITS && total <= MAX_DIGITS) candidateEnds[candidates++] = firstEnd;
  let end = firstEnd;
  while (total < MAX_DIGITS && isSeparator(at(text, end)) && isDigit(at(text, end + 1))) {
    const groupEnd = digitRunEnd(text, end + 1);
    const len = groupEnd - end - 1;
    if (singles && len !== 1) break;
    total += len;
    if (total > MAX_DIGITS) break;
    end = groupEnd;
    if (total >= MIN_DIGITS) candidateEnds[candidates++] = end;
    // A short group (1–2 digits) can only end a grouped PAN (`6200 0000 1000 0000 9`).
    if (!singles && len < 3) break;
  }
  for (let k = candidates - 1; k >= 0; k--) {
    const candidateEnd = candidateEnds[k] ?? -1;
    if (isCardAt(text, start, candidateEnd)) return candidateEnd;
  }
  return -1;
}

function isCardAt(text: string, start: number, end: number): boolean {
  // The integer part of a decimal number is not a PAN.
  if (at(text, end) === 0x2e && isDigit(at(text, end + 1))) return false;
  // Digits between two letters sit inside a hex string or an identifier.
  if (isLetter(at(text, start - 1)) && isLetter(at(text, end))) return false;
  let prefix = 0;
  let prefixDigits = 0;
  let count = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (!isDigit(c)) continue;
    count++;
    if (prefixDigits < 4) {
      prefix = prefix * 10 + (c - 0x30);
      prefixDigits++;
    }
  }
  return issuerAccepts(prefix, count) && luhnValid(text, start, end);
}

/**
 * Known issuer ranges by the first four digits: Visa 4 (13, 16 or 19 digits), Mastercard 51–55 and
 * 2221–2720 (16), Amex 34/37 (15), Mir 2200–2204, Diners 300–305/3095/36/38/39, JCB 3528–3589,
 * Discover 6011/644–649/65, UnionPay 62, RuPay 60, Maestro 50 and 56–69.
 */
export function issuerAccepts(first4: number, length: number): boolean {
  const d1 = Math.floor(first4 / 1000);
  const d2 = Math.floor(first4 / 100);
  const d3 = Math.floor(first4 / 10);
  if (d1 === 4) return length === 13 || length === 16 || length === 19;
  if (d2 >= 51 && d2 <= 55) return length === 16;
  if (first4 >= 2221 && first4 <= 2720) return length === 16;
  if (d2 === 34 || d2 === 37) return length === 15;
  if (first4 >= 2200 && first4 <= 2204) return length >= 16;
  if (d1 === 5 || d1 === 6) return true; // Maestro 50, 56–59; Discover, UnionPay, RuPay, Maestro 60–69
  if (d3 >= 300 && d3 <= 305) return length >= 14;
  if (first4 === 3095 || d2 === 36 || d2 === 38 || d2 === 39) return length >= 14;
  if (first4 >= 3528 && first4 <= 3589) return length >= 16;
  return false;
}

/** The Luhn (mod 10) check over the digits of [start, end), ignoring separators. */
export function luhnValid(text: string, start: number, end: number): boolean {
  let sum = 0;
  let double = false;
  for (let i = end - 1; i >= start; i--) {
    const c = text.charCodeAt(i);
    if (!isDigit(c)) continue;
    let d = c - 0x30;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}
