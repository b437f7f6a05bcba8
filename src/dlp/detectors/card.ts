/**
 * @module Payment card numbers (PANs): 13–19 digits, bare or grouped with single spaces or dashes,
 * with a known issuer prefix (IIN) and a valid Luhn check digit.
 *
 * Grouping: every group of a grouped PAN has at least 3 digits (4-4-4-4, 4-6-5, 4-4-4-4-3…) except
 * possibly the last (4-4-4-4-1), or every group has exactly 1 digit (the `regexp_replace(pan,'(.)','\1 ','g')` spacing bypass). Two-digit groups
 * (dates, times) never join a PAN. A PAN may be a window of a longer grouped run
 * (`4111 1111 1111 1111 2026`), but a bare digit run must be 13–19 digits long as a whole: a PAN is never
 * a substring of a longer number. Decimal fractions (`0.4111…`, `4111….5`), digit runs between two
 * letters, and digits inside a whole hex digest (32, 40, 56, 64, 96 or 128 hex characters) are not
 * PANs.
 */
import { at, isAlnum, isDigit, isLetter } from '../chars.ts';
import type { Match } from '../types.ts';

const MIN_DIGITS = 13;
const MAX_DIGITS = 19;

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

/**
 * The end of the longest valid PAN window starting at the digit group [start, firstEnd), or -1.
 * One walk over at most 19 digits: the Luhn sums for every candidate length are kept as two running
 * sums (doubling the even or the odd positions from the left), so each candidate costs O(1).
 */
function longestCardFrom(text: string, start: number, firstEnd: number): number {
  // A fraction's digits (`0.4111…`) are not a PAN.
  if (at(text, start - 1) === 0x2e && isDigit(at(text, start - 2))) return -1;
  const firstLen = firstEnd - start;
  // Every known issuer range starts with 2–6.
  const lead = text.charCodeAt(start);
  if (firstLen === 2 || lead < 0x32 || lead > 0x36) return -1;
  const singles = firstLen === 1;
  let total = 0;
  let prefix = 0;
  let evenDoubled = 0;
  let oddDoubled = 0;
  let best = -1;
  let groupStart = start;
  let groupEnd = firstEnd;
  for (;;) {
    const len = groupEnd - groupStart;
    if (singles && len !== 1) break;
    if (total + len > MAX_DIGITS) break;
    for (let i = groupStart; i < groupEnd; i++) {
      const d = text.charCodeAt(i) - 0x30;
      const doubled = d > 4 ? 2 * d - 9 : 2 * d;
      if (total % 2 === 0) {
        evenDoubled += doubled;
        oddDoubled += d;
      } else {
        evenDoubled += d;
        oddDoubled += doubled;
      }
      if (total < 4) prefix = prefix * 10 + d;
      total++;
    }
    if (total >= MIN_DIGITS) {
      // Luhn doubles every second digit from the right: the even positions from the left when the
      // length is even, the odd ones when it is odd.
      const sum = total % 2 === 0 ? evenDoubled : oddDoubled;
      if (sum % 10 === 0 && issuerAccepts(prefix, total) && boundaryOk(text, start, groupEnd))
        best = groupEnd;
    }
    // A short group (1–2 digits) can only end a grouped PAN (`6200 0000 1000 0000 9`).
    if (!singles && len < 3 && groupStart !== start) break;
    if (!isSeparator(at(text, groupEnd)) || !isDigit(at(text, groupEnd + 1))) break;
    groupStart = groupEnd + 1;
    groupEnd = digitRunEnd(text, groupStart);
  }
  return best;
}

function boundaryOk(text: string, start: number, end: number): boolean {
  // The integer part of a decimal number is not a PAN.
  if (at(text, end) === 0x2e && isDigit(at(text, end + 1))) return false;
  // Digits between two letters sit inside a hex string or an identifier.
  if (isLetter(at(text, start - 1)) && isLetter(at(text, end))) return false;
  return !inHexDigest(text, start, end);
}

/** Lengths of the hex digests people store and print: MD5, SHA-1, SHA-224, SHA-256, SHA-384, SHA-512. */
const DIGEST_LENGTHS = new Set([32, 40, 56, 64, 96, 128]);

/**
 * Digits at the edge of a hex digest (`59112692262234e3…` from md5) are part of the digest. Only
 * whole tokens of exactly a digest's length count, so a letter glued to a real PAN still leaves
 * it detected.
 */
function inHexDigest(text: string, start: number, end: number): boolean {
  let from = start;
  while (isHex(at(text, from - 1))) from--;
  let to = end;
  while (isHex(at(text, to))) to++;
  if (isAlnum(at(text, from - 1)) || isAlnum(at(text, to))) return false;
  return to - from > end - start && DIGEST_LENGTHS.has(to - from);
}

function isHex(c: number): boolean {
  return isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
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
