/**
 * @module US Social Security numbers, only in the dashed (`123-45-6789`) or spaced (`123 45 6789`)
 * form: nine bare digits are any other identifier far too often. The area cannot be 000, 666 or
 * 900–999, the group cannot be 00 and the serial cannot be 0000. The number must not continue a longer
 * number written with the same separator (`1-123-45-6789`, `123-45-6789-0`).
 */
import { at, digitsAt, isDigit } from '../chars.ts';
import type { Match } from '../types.ts';

const LENGTH = 11;

export function detectSsns(text: string, out: Match[]): void {
  const last = text.length - LENGTH;
  for (let i = 0; i <= last; i++) {
    if (!isDigit(text.charCodeAt(i)) || isDigit(at(text, i - 1))) continue;
    if (isSsnAt(text, i)) {
      out.push({ start: i, end: i + LENGTH, label: 'ssn' });
      i += LENGTH - 1;
    }
  }
}

function isSsnAt(text: string, i: number): boolean {
  const sep = text.charCodeAt(i + 3);
  if (sep !== 0x2d && sep !== 0x20) return false;
  if (text.charCodeAt(i + 6) !== sep) return false;
  if (!digitsAt(text, i, 3) || !digitsAt(text, i + 4, 2) || !digitsAt(text, i + 7, 4)) return false;
  const end = i + LENGTH;
  if (isDigit(at(text, end))) return false;
  if (at(text, i - 1) === sep && isDigit(at(text, i - 2))) return false;
  if (at(text, end) === sep && isDigit(at(text, end + 1))) return false;
  const area = num(text, i, 3);
  const group = num(text, i + 4, 2);
  const serial = num(text, i + 7, 4);
  return area !== 0 && area !== 666 && area < 900 && group !== 0 && serial !== 0;
}

function num(text: string, start: number, count: number): number {
  let v = 0;
  for (let i = start; i < start + count; i++) v = v * 10 + (text.charCodeAt(i) - 0x30);
  return v;
}
