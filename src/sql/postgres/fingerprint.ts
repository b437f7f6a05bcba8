/**
 * A cache key that is the same for texts differing only in literal values, so that
 * `… WHERE aid = 1` and `… WHERE aid = 2` share one parse. It is not a parser: it accepts only text
 * whose lexing it can vouch for, and says `undefined` ("use the exact text only") for anything
 * else. Soundness rests on one property: two texts with the same fingerprint lex into the same
 * token stream except for the values of integer, other numeric, and plain string literals.
 *
 * The key is the text itself with each literal replaced by a control character, one per token
 * kind. The server's lexer makes an integer that fits in int4 ICONST and any other number FCONST,
 * and some grammar rules accept only one of them, so the two get different placeholders. Control
 * characters are refused in the input, so a placeholder can never be confused with source text.
 */
export function fingerprint(sql: string): string | undefined {
  let out = '';
  let copied = 0;
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isIdentStart(c)) {
      i = skipIdentifier(sql, i);
      // `a$b` is one identifier; `$` is refused below, so stop here rather than lex it.
      if (sql.charCodeAt(i) === DOLLAR) return undefined;
      continue;
    }
    if (isDigit(c) || (c === DOT && isDigit(sql.charCodeAt(i + 1)))) {
      if (!isBoundary(sql.charCodeAt(i - 1))) return undefined;
      const end = numberEnd(sql, i);
      if (end === undefined) return undefined;
      out += sql.slice(copied, i) + (isInt4(sql, i, end) ? INTEGER : NUMERIC);
      copied = i = end;
      continue;
    }
    if (c === QUOTE) {
      // `E'`, `B'`, `X'`, `N'`, `U&'` (and `5'…'`): prefixed strings lex by other rules.
      if (!isBoundary(sql.charCodeAt(i - 1)) || sql.charCodeAt(i - 1) === AMPERSAND) return undefined;
      const end = stringEnd(sql, i);
      if (end === undefined) return undefined;
      out += sql.slice(copied, i) + STRING;
      copied = i = end;
      continue;
    }
    if (c === DOLLAR) {
      // `$1` (a parameter) is fine and stays verbatim; `$tag$` quoting is not.
      if (!isBoundary(sql.charCodeAt(i - 1)) || !isDigit(sql.charCodeAt(i + 1))) return undefined;
      i = skipDigits(sql, i + 1);
      if (!isBoundary(sql.charCodeAt(i))) return undefined;
      continue;
    }
    if (!isPlain(c)) return undefined;
    // Comments can hide or reveal tokens (`--` vs an operator, nested `/* */`).
    if ((c === MINUS && sql.charCodeAt(i + 1) === MINUS) || (c === SLASH && sql.charCodeAt(i + 1) === STAR))
      return undefined;
    i++;
  }
  return copied === 0 ? sql : out + sql.slice(copied);
}

const INTEGER = '\u0001';
const NUMERIC = '\u0002';
const STRING = '\u0003';

const DOLLAR = 0x24;
const AMPERSAND = 0x26;
const QUOTE = 0x27;
const STAR = 0x2a;
const MINUS = 0x2d;
const DOT = 0x2e;
const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const DOUBLE_QUOTE = 0x22;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isIdentStart(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
}

function isIdentChar(c: number): boolean {
  return isIdentStart(c) || isDigit(c);
}

/**
 * A literal may start or end only next to a character that cannot be part of it: `1.2.3`, `1e`,
 * `123abc`, `0x1F` and `t.5` lex differently across server versions (or not as one token).
 * NaN (before the start or past the end of the text) is a boundary.
 */
function isBoundary(c: number): boolean {
  return !isIdentChar(c) && c !== DOT && c !== DOLLAR && c !== QUOTE;
}

/**
 * Printable ASCII except the characters that start quoting or escapes, plus the server lexer's
 * whitespace minus form feed. Everything else (non-ASCII, other control characters) is refused:
 * those are where parser differentials live, and refusing them also keeps placeholders unique.
 */
function isPlain(c: number): boolean {
  if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) return true;
  return c > 0x20 && c < 0x7f && c !== DOUBLE_QUOTE && c !== BACKSLASH;
}

function skipIdentifier(sql: string, i: number): number {
  let j = i + 1;
  while (isIdentChar(sql.charCodeAt(j))) j++;
  return j;
}

function skipDigits(sql: string, i: number): number {
  let j = i;
  while (isDigit(sql.charCodeAt(j))) j++;
  return j;
}

/** End of `digits[.digits][e[+-]digits]` or `.digits[e[+-]digits]`, if a boundary follows. */
function numberEnd(sql: string, start: number): number | undefined {
  let j = skipDigits(sql, start);
  if (sql.charCodeAt(j) === DOT) {
    if (!isDigit(sql.charCodeAt(j + 1))) return undefined;
    j = skipDigits(sql, j + 1);
  }
  const e = sql.charCodeAt(j);
  if (e === 0x45 || e === 0x65) {
    let k = j + 1;
    const sign = sql.charCodeAt(k);
    if (sign === 0x2b || sign === MINUS) k++;
    if (!isDigit(sql.charCodeAt(k))) return undefined;
    j = skipDigits(sql, k);
  }
  return isBoundary(sql.charCodeAt(j)) ? j : undefined;
}

/** The server's `process_integer_literal`: digits only, and the value fits in a signed int4. */
function isInt4(sql: string, start: number, end: number): boolean {
  let i = start;
  while (i < end - 1 && sql.charCodeAt(i) === 0x30) i++;
  const digits = sql.slice(i, end);
  if (!/^\d+$/.test(digits)) return false;
  return digits.length < 10 || (digits.length === 10 && digits <= '2147483647');
}

/**
 * End of a plain `'…'` string (a doubled `''` stays inside), or `undefined` when it is unterminated
 * or holds a character that is not plain: a backslash means something else when
 * standard_conforming_strings is off, and the server's session may have it off.
 */
function stringEnd(sql: string, start: number): number | undefined {
  let j = start + 1;
  for (;;) {
    const c = sql.charCodeAt(j);
    // A double quote inside a string is just a character (JSON text is common).
    if (Number.isNaN(c) || (!isPlain(c) && c !== DOUBLE_QUOTE)) return undefined;
    j++;
    if (c !== QUOTE) continue;
    if (sql.charCodeAt(j) !== QUOTE) return j;
    j++;
  }
}
