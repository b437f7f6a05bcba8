/**
 * @module Maskers: turn one finding into its replacement text.
 *
 * | Masker    | card / phone                         | ssn           | iban              | email              | secret, custom  |
 * |-----------|--------------------------------------|---------------|-------------------|--------------------|-----------------|
 * | `redact`  | `[REDACTED:card]`                    | `[REDACTED:ssn]` | `[REDACTED:iban]` | `[REDACTED:email]` | `[REDACTED:<kind or name>]` |
 * | `partial` | `*` per character but the last 4, separators dropped | `***-**-6789` | country code, `*`s, last 4 | as `email` | as `redact` |
 * | `email`   | as `redact`                          | as `redact`   | as `redact`       | `a***@example.com` | as `redact`     |
 * | `hash`    | `tok_` + 16 hex of HMAC-SHA256(key, `<label>:<canonical value>`) for every detector |
 *
 * A phone's characters are those of its canonical form: the digits, after a `+` for E.164 (so
 * `+1-415-555-0100` gives `********0100`). A PAN is always partially masked the same way (last 4), so
 * two outputs can never be combined into more of it. The canonical value hashed is the digits for
 * cards and SSNs, `+digits` or digits for phones, the compact IBAN, the lowercased email, and the
 * matched text otherwise, so one value gives one token whatever its spacing.
 */
import { createHmac } from 'node:crypto';
import { isDigit } from './chars.ts';
import type { DetectorName, MaskerName } from './types.ts';

/** What found the value: a detector, a custom pattern, or a column rule (the whole value). */
export type Source = DetectorName | 'custom' | 'column';

export function mask(
  masker: Exclude<MaskerName, 'null'>,
  source: Source,
  label: string,
  value: string,
  hashKey: Buffer,
): string {
  switch (masker) {
    case 'redact':
      return redacted(label);
    case 'hash':
      return hashToken(hashKey, label, canonical(source, value));
    case 'email':
      return source === 'email' || (source === 'column' && value.includes('@'))
        ? emailMask(value)
        : redacted(label);
    case 'partial':
      return partialMask(source, label, value);
  }
}

export function redacted(label: string): string {
  return `[REDACTED:${label}]`;
}

export function hashToken(key: Buffer, label: string, value: string): string {
  return `tok_${createHmac('sha256', key).update(`${label}:${value}`).digest('hex').slice(0, 16)}`;
}

function partialMask(source: Source, label: string, value: string): string {
  switch (source) {
    case 'card':
    case 'phone':
      return keepLast4(canonical(source, value));
    case 'ssn':
      return `***-**-${canonical(source, value).slice(-4)}`;
    case 'iban': {
      const compact = canonical(source, value);
      return `${compact.slice(0, 2)}${keepLast4(compact.slice(2))}`;
    }
    case 'email':
      return emailMask(value);
    case 'column':
      return value.includes('@') ? emailMask(value) : keepLast4Alnum(value);
    default:
      return redacted(label);
  }
}

function keepLast4(value: string): string {
  return '*'.repeat(Math.max(0, value.length - 4)) + value.slice(-4);
}

function emailMask(value: string): string {
  const at = value.lastIndexOf('@');
  return `${value.slice(0, 1)}***${value.slice(at)}`;
}

function digitsOf(value: string): string {
  let digits = '';
  for (let i = 0; i < value.length; i++) {
    if (isDigit(value.charCodeAt(i))) digits += value[i];
  }
  return digits;
}

function canonical(source: Source, value: string): string {
  switch (source) {
    case 'card':
    case 'ssn':
      return digitsOf(value);
    case 'phone':
      return value.startsWith('+') ? `+${digitsOf(value)}` : digitsOf(value);
    case 'iban':
      return value.replaceAll(' ', '');
    case 'email':
      return value.toLowerCase();
    default:
      return value;
  }
}

/**
 * A whole value of a column a rule marks sensitive, masked by that rule's masker (the value needs
 * no detector finding: the column says what it is). `partial` keeps separators and the last four
 * letters or digits (`987-65-4321` → `***-**-4321`); `email` keeps the first character and the
 * domain; anything that does not fit the masker is redacted.
 */
export function maskColumnValue(
  masker: Exclude<MaskerName, 'null'>,
  label: string,
  value: string,
  hashKey: Buffer,
): string {
  return mask(masker, 'column', label, value, hashKey);
}

function keepLast4Alnum(value: string): string {
  let keep = 4;
  const out = [...value];
  for (let i = out.length - 1; i >= 0; i--) {
    const ch = out[i] ?? '';
    if (!/^[\p{L}\p{N}]$/u.test(ch)) continue;
    if (keep > 0) keep--;
    else out[i] = '*';
  }
  return out.join('');
}
