/**
 * @module Email addresses, RFC-ish: a local part of `[A-Za-z0-9._%+-]` (leading dots dropped), `@`,
 * and a domain of at least two dot-separated labels of `[A-Za-z0-9-]` (no empty label, no label
 * starting or ending with `-`) whose last label is a TLD of 2+ letters or an `xn--` IDN label. A
 * trailing `.` or `-` (end of a sentence) is not part of the address. `a@b`, `user@localhost` and
 * `x@1.2` are not addresses. Linear: a character is visited by at most one backward (local part) and
 * one forward (domain) walk, since neither walk crosses an `@`.
 */
import { isAlnum, isLetter } from '../chars.ts';
import type { Match } from '../types.ts';

const DOT = 0x2e;
const DASH = 0x2d;

export function detectEmails(text: string, out: Match[]): void {
  let searchFrom = 0;
  for (;;) {
    const k = text.indexOf('@', searchFrom);
    if (k < 0) return;
    searchFrom = k + 1;
    let start = k;
    while (start > 0 && isLocalChar(text.charCodeAt(start - 1))) start--;
    while (start < k && text.charCodeAt(start) === DOT) start++;
    if (start === k) continue;
    const end = domainEnd(text, k + 1);
    if (end < 0) continue;
    out.push({ start, end, label: 'email' });
    searchFrom = end;
  }
}

function isLocalChar(c: number): boolean {
  return isAlnum(c) || c === DOT || c === 0x5f || c === 0x25 || c === 0x2b || c === DASH;
}

/** The end of the longest valid domain starting at `from`, or -1. */
function domainEnd(text: string, from: number): number {
  let j = from;
  let labels = 0;
  let best = -1;
  for (;;) {
    const labelStart = j;
    while (j < text.length && (isAlnum(text.charCodeAt(j)) || text.charCodeAt(j) === DASH)) j++;
    let labelEnd = j;
    while (labelEnd > labelStart && text.charCodeAt(labelEnd - 1) === DASH) labelEnd--;
    if (labelEnd === labelStart || text.charCodeAt(labelStart) === DASH) break;
    labels++;
    if (labels >= 2 && isTld(text, labelStart, labelEnd)) best = labelEnd;
    // A label ending in '-' ends the domain; otherwise continue after a '.'.
    if (labelEnd !== j || j >= text.length || text.charCodeAt(j) !== DOT) break;
    j++;
  }
  return best;
}

function isTld(text: string, start: number, end: number): boolean {
  if (end - start < 2) return false;
  if (text.startsWith('xn--', start)) return end - start > 4;
  for (let i = start; i < end; i++) {
    if (!isLetter(text.charCodeAt(i))) return false;
  }
  return true;
}
