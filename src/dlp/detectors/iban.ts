/**
 * @module IBANs: two uppercase letters, two check digits and the BBAN, compact
 * (`GB82WEST12345698765432`) or with single spaces (`GB82 WEST 1234 5698 7654 32`), with the length
 * registered for the country and a valid ISO 7064 mod-97 check. Countries missing from the table are
 * accepted in compact form only, 15–34 characters. Every IBAN must hold at least 8 digits (all
 * registered formats do), which keeps the byte pre-check simple. Lowercase is not accepted.
 */
import { at, isAlnum, isDigit, isUpper } from '../chars.ts';
import type { Match } from '../types.ts';

/** IBAN lengths from the SWIFT IBAN registry. */
const LENGTHS: Readonly<Record<string, number>> = {
  AD: 24,
  AE: 23,
  AL: 28,
  AT: 20,
  AZ: 28,
  BA: 20,
  BE: 16,
  BG: 22,
  BH: 22,
  BI: 27,
  BR: 29,
  BY: 28,
  CH: 21,
  CR: 22,
  CY: 28,
  CZ: 24,
  DE: 22,
  DJ: 27,
  DK: 18,
  DO: 28,
  EE: 20,
  EG: 29,
  ES: 24,
  FI: 18,
  FK: 18,
  FO: 18,
  FR: 27,
  GB: 22,
  GE: 22,
  GI: 23,
  GL: 18,
  GR: 27,
  GT: 28,
  HR: 21,
  HU: 28,
  IE: 22,
  IL: 23,
  IQ: 23,
  IS: 26,
  IT: 27,
  JO: 30,
  KW: 30,
  KZ: 20,
  LB: 28,
  LC: 32,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  LY: 25,
  MC: 27,
  MD: 24,
  ME: 22,
  MK: 19,
  MN: 20,
  MR: 27,
  MT: 31,
  MU: 30,
  NI: 28,
  NL: 18,
  NO: 15,
  OM: 23,
  PK: 24,
  PL: 28,
  PS: 29,
  PT: 25,
  QA: 29,
  RO: 24,
  RS: 22,
  RU: 33,
  SA: 24,
  SC: 31,
  SD: 18,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  SO: 23,
  ST: 25,
  SV: 28,
  TL: 23,
  TN: 24,
  UA: 29,
  VA: 22,
  VG: 24,
  XK: 20,
  YE: 30,
};

const MIN_LENGTH = 15;
const MAX_LENGTH = 34;
const MIN_DIGITS = 8;

export function detectIbans(text: string, out: Match[]): void {
  const last = text.length - MIN_LENGTH;
  for (let i = 0; i <= last; i++) {
    if (!isUpper(text.charCodeAt(i)) || isAlnum(at(text, i - 1))) continue;
    if (!isUpper(text.charCodeAt(i + 1)) || !isDigit(text.charCodeAt(i + 2))) continue;
    if (!isDigit(text.charCodeAt(i + 3))) continue;
    const end = ibanEnd(text, i);
    if (end > 0) {
      out.push({ start: i, end, label: 'iban' });
      i = end - 1;
    }
  }
}

function isIbanChar(c: number): boolean {
  return isUpper(c) || isDigit(c);
}

function ibanEnd(text: string, start: number): number {
  const length = LENGTHS[text.slice(start, start + 2)];
  let count = 0;
  let digits = 0;
  let j = start;
  const max = length ?? MAX_LENGTH;
  while (count < max) {
    const c = at(text, j);
    if (isIbanChar(c)) {
      if (isDigit(c)) digits++;
      count++;
      j++;
    } else if (c === 0x20 && length !== undefined && count >= 4 && isIbanChar(at(text, j + 1))) {
      j++;
    } else {
      break;
    }
  }
  if (length !== undefined ? count !== length : count < MIN_LENGTH) return -1;
  if (isAlnum(at(text, j)) || digits < MIN_DIGITS) return -1;
  return mod97(text, start, j) === 1 ? j : -1;
}

/**
 * ISO 7064 mod 97-10 over the IBAN in [start, end): the first four characters (never split by a space)
 * move to the end, letters count as 10–35, spaces are skipped. A valid IBAN gives 1.
 */
export function mod97(text: string, start: number, end: number): number {
  let rem = 0;
  for (let i = start + 4; i < end; i++) rem = mod97Step(rem, text.charCodeAt(i));
  for (let i = start; i < start + 4; i++) rem = mod97Step(rem, text.charCodeAt(i));
  return rem;
}

function mod97Step(rem: number, c: number): number {
  if (isDigit(c)) return (rem * 10 + (c - 0x30)) % 97;
  if (isUpper(c)) return (rem * 100 + (c - 0x41 + 10)) % 97;
  return rem;
}
