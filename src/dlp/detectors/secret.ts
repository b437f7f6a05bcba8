/**
 * @module Credentials recognised by a fixed prefix and a body shape. Labels (for `[REDACTED:<label>]`):
 *
 * | Label            | Shape                                                                   |
 * |------------------|-------------------------------------------------------------------------|
 * | `aws_access_key` | `AKIA`/`ASIA` + exactly 16 `[A-Z0-9]`                                   |
 * | `github_token`   | `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_` + 36+ `[A-Za-z0-9]`; `github_pat_` + 22+ `[A-Za-z0-9_]` |
 * | `gitlab_token`   | `glpat-` + 20+ `[A-Za-z0-9_-]`                                          |
 * | `slack_token`    | `xoxa-`/`xoxb-`/`xoxp-`/`xoxr-`/`xoxs-` + 10+ `[A-Za-z0-9-]`            |
 * | `api_key`        | Stripe `sk_live_`/`rk_live_`/`sk_test_`/`rk_test_` + 16+ `[A-Za-z0-9]`  |
 * | `jwt`            | `eyJ…` `.` payload `.` signature (base64url; signature may be empty)    |
 * | `private_key`    | `-----BEGIN … PRIVATE KEY[ BLOCK]-----` through the matching `-----END …-----`, or to the end of the text when the END line is missing |
 *
 * Every token must not continue a longer word on either side. Generic high-entropy strings (AWS secret
 * keys, random passwords) are not detected.
 */
import { at, isAlnum, isDigit, isUpper } from '../chars.ts';
import type { Match } from '../types.ts';

// Literal alternatives only, so the built-in engine runs in linear time.
const PREFIXES = /AKIA|ASIA|gh[pousr]_|github_pat_|glpat-|xox[abprs]-|[rs]k_(?:live|test)_|eyJ|-----BEGIN /g;

const PEM_HEADER = /-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/y;

export function detectSecrets(text: string, out: Match[]): void {
  PREFIXES.lastIndex = 0;
  for (;;) {
    const hit = PREFIXES.exec(text);
    if (hit === null) return;
    const start = hit.index;
    const prefix = hit[0];
    const found = secretAt(text, start, prefix);
    if (found !== undefined) {
      out.push({ start, end: found.end, label: found.label });
      PREFIXES.lastIndex = found.end;
    }
  }
}

interface Found {
  readonly end: number;
  readonly label: string;
}

function secretAt(text: string, start: number, prefix: string): Found | undefined {
  const bodyStart = start + prefix.length;
  switch (prefix.charCodeAt(0)) {
    case 0x41: // AKIA, ASIA
      if (isAlnum(at(text, start - 1))) return undefined;
      return fixed(text, bodyStart, 16, isUpperOrDigit, isAlnum, 'aws_access_key');
    case 0x67: // gh?_, github_pat_, glpat-
      if (isWordChar(at(text, start - 1))) return undefined;
      if (prefix === 'github_pat_') return atLeast(text, bodyStart, 22, isWordChar, 'github_token');
      if (prefix === 'glpat-') return atLeast(text, bodyStart, 20, isTokenChar, 'gitlab_token');
      return atLeast(text, bodyStart, 36, isAlnum, 'github_token');
    case 0x78: // xox?-
      if (isWordChar(at(text, start - 1))) return undefined;
      return atLeast(text, bodyStart, 10, isSlackChar, 'slack_token');
    case 0x72: // rk_
    case 0x73: // sk_
      if (isAlnum(at(text, start - 1))) return undefined;
      return atLeast(text, bodyStart, 16, isAlnum, 'api_key');
    case 0x65: // eyJ
      return jwtAt(text, start);
    default:
      return pemAt(text, start);
  }
}

function isUpperOrDigit(c: number): boolean {
  return isUpper(c) || isDigit(c);
}

function isWordChar(c: number): boolean {
  return isAlnum(c) || c === 0x5f;
}

function isTokenChar(c: number): boolean {
  return isWordChar(c) || c === 0x2d;
}

function isSlackChar(c: number): boolean {
  return isAlnum(c) || c === 0x2d;
}

/** Exactly `count` body characters, then a character that does not continue the token. */
function fixed(
  text: string,
  from: number,
  count: number,
  body: (c: number) => boolean,
  stop: (c: number) => boolean,
  label: string,
): Found | undefined {
  for (let i = from; i < from + count; i++) {
    if (!body(at(text, i))) return undefined;
  }
  return stop(at(text, from + count)) ? undefined : { end: from + count, label };
}

/** At least `min` body characters; the token runs to the first non-body character. */
function atLeast(
  text: string,
  from: number,
  min: number,
  body: (c: number) => boolean,
  label: string,
): Found | undefined {
  let j = from;
  while (j < text.length && body(text.charCodeAt(j))) j++;
  return j - from >= min ? { end: j, label } : undefined;
}

function isBase64Url(c: number): boolean {
  return isAlnum(c) || c === 0x2d || c === 0x5f;
}

/** `eyJ` + 7+ base64url, `.`, 2+ base64url, `.`, any base64url (an unsigned token has none). */
function jwtAt(text: string, start: number): Found | undefined {
  if (isBase64Url(at(text, start - 1))) return undefined;
  let j = start;
  while (isBase64Url(at(text, j))) j++;
  if (j - start < 10 || at(text, j) !== 0x2e) return undefined;
  const payload = j + 1;
  j = payload;
  while (isBase64Url(at(text, j))) j++;
  if (j - payload < 2 || at(text, j) !== 0x2e) return undefined;
  j++;
  while (isBase64Url(at(text, j))) j++;
  return { end: j, label: 'jwt' };
}

function pemAt(text: string, start: number): Found | undefined {
  PEM_HEADER.lastIndex = start;
  const header = PEM_HEADER.exec(text);
  if (header === null) return undefined;
  const endLine = text.indexOf('-----END ', start + header[0].length);
  if (endLine < 0) return { end: text.length, label: 'private_key' };
  const close = text.indexOf('-----', endLine + 9);
  return { end: close < 0 ? text.length : close + 5, label: 'private_key' };
}
