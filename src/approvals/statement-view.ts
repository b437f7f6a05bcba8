/**
 * @module approvals/statement-view
 * What an approver sees of a held statement, and what an approval is bound to. Pure: no I/O.
 * Call `initSqlParser()` (src/sql/postgres) once before use; until then every statement takes the
 * fail-closed path.
 *
 * The statement is parsed with the server's grammar and deparsed to one canonical text
 * (`normalized`), which is accepted only if it parses back to the very same tree: the deparser has
 * known quoting gaps (an identifier holding `"` comes out unescaped), and a canonical text that
 * could stand for two different statements would let one approval cover both. The other two forms
 * are derived from that text by a small lexer that finds every literal token (strings in all their
 * quotings, dollar-quoted bodies, numbers, bit strings), whatever node of the tree it came from:
 * `PASSWORD 'x'`, function bodies and `COMMENT ... IS 'x'` are literals too, not just A_Const.
 *
 * Layout: each statement is deparsed on one line and statements are joined with `;` and a newline,
 * so every other line break in `display` came from the statement's own text and is escaped.
 */
import { createHash } from 'node:crypto';
import type { Node } from '@pgsql/types';
import { deparseSync } from 'pgsql-deparser';
import { maskText, type TextScanner } from '../dlp/index.ts';
import { parsePostgres } from '../sql/postgres/parser.ts';

export interface BoundParameter {
  readonly value: Buffer | null;
  /** 0 text, 1 binary (the wire protocol's format codes). */
  readonly format: number;
}

export interface StatementView {
  /** Canonical SQL with every literal DLP-masked and every invisible character escaped. */
  readonly display: string;
  /** Each bound parameter as shown to an approver: `'masked text'`, `<binary N bytes>` or `NULL`. */
  readonly parameters: readonly string[];
  /**
   * Canonical SQL with every literal replaced by `?` and invisible characters escaped: the only
   * form that may leave the gateway.
   */
  readonly redacted: string;
  /** Canonical SQL with literals kept, for {@link bindingHash}; the raw text when not canonical. */
  readonly normalized: string;
  /** False when the statement could not be canonicalized and the fail-closed forms were used. */
  readonly canonical: boolean;
}

const STATEMENT_SEPARATOR = ';\n';
const LITERAL_PLACEHOLDER = '?';
const NOT_CANONICAL_PREFIX = '[not canonicalized] ';
const NOT_SHOWN = '[statement not shown: it could not be canonicalized]';
const HASH_DOMAIN = 'sluice.approval-binding.v1';

/**
 * Characters that render invisibly or reorder text: controls (C0 incl. newline and tab, DEL, C1),
 * format characters (zero-width, bidi embeddings/overrides/isolates, U+061C, U+FEFF, soft hyphen,
 * tags), line/paragraph separators, private-use, unassigned and lone surrogates, the Hangul fillers
 * that render blank, and every space but U+0020 (NBSP and friends look like a plain space).
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}\u115F\u1160\u3164\uFFA0]|(?! )\p{Zs}/gu;

/**
 * Renders every invisible or reordering character of `text` as `\u{XXXX}` so that what an approver
 * reads is what runs (Trojan Source). Backslashes are not escaped: the escape is for reading only.
 */
export function escapeForDisplay(text: string): string {
  return text.replace(INVISIBLE, (ch) => `\\u{${codePointHex(ch)}}`);
}

function codePointHex(ch: string): string {
  return (ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
}

/** The three views of `sql` and its bound parameters; never throws. */
export function viewStatement(
  sql: string,
  parameters: readonly BoundParameter[],
  scanner: TextScanner,
): StatementView {
  const shownParameters = parameters.map((p) => displayParameter(p, scanner));
  const statements = canonicalStatements(sql);
  if (statements === undefined) {
    return {
      display: NOT_CANONICAL_PREFIX + escapeForDisplay(maskText(scanner, sql)),
      parameters: shownParameters,
      redacted: NOT_SHOWN,
      normalized: sql,
      canonical: false,
    };
  }
  return {
    display: render(statements, (literal) => maskText(scanner, literal)),
    parameters: shownParameters,
    redacted: render(statements, () => LITERAL_PLACEHOLDER),
    normalized: statements.join(STATEMENT_SEPARATOR),
    canonical: true,
  };
}

/**
 * The deparsed text of each statement, or undefined when the SQL does not parse, the deparser
 * fails, or the joined canonical text does not parse back to the same tree.
 */
function canonicalStatements(sql: string): string[] | undefined {
  try {
    const tree = parsePostgres(sql);
    const statements = (tree.stmts ?? []).map((raw) => deparseSync(raw.stmt as Node, { pretty: false }));
    const reparsed = parsePostgres(statements.join(STATEMENT_SEPARATOR));
    return treeShape(reparsed) === treeShape(tree) ? statements : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The statements with each literal replaced by `literal(text)`, escaped for display: identifiers
 * stay in every form, and with them any invisible characters they hold.
 */
function render(statements: readonly string[], literal: (text: string) => string): string {
  return statements.map((s) => escapeForDisplay(replaceLiterals(s, literal))).join(STATEMENT_SEPARATOR);
}

/** The tree as JSON without source positions, which differ between the raw and canonical text. */
function treeShape(tree: unknown): string {
  return JSON.stringify(tree, (key, value: unknown) =>
    key === 'location' || key === 'stmt_len' || key === 'stmt_location' ? undefined : value,
  );
}

function displayParameter(parameter: BoundParameter, scanner: TextScanner): string {
  if (parameter.value === null) return 'NULL';
  if (parameter.format !== 0) return `<binary ${parameter.value.length} bytes>`;
  const masked = maskText(scanner, parameter.value.toString('utf8'));
  return escapeForDisplay(`'${masked.replaceAll("'", "''")}'`);
}

/** `sql` with each literal token replaced by `render(token)`. */
function replaceLiterals(sql: string, render: (literal: string) => string): string {
  let out = '';
  let pos = 0;
  for (let i = 0; i < sql.length; ) {
    const token = nextToken(sql, i);
    if (token.literal) {
      out += sql.slice(pos, i) + render(sql.slice(i, token.end));
      pos = token.end;
    }
    i = token.end;
  }
  return out + sql.slice(pos);
}

interface Token {
  readonly end: number;
  readonly literal: boolean;
}

const IDENTIFIER_START = /[A-Za-z_\u0080-\uFFFF]/;
const IDENTIFIER_RUN = /[A-Za-z_\u0080-\uFFFF][A-Za-z0-9_$\u0080-\uFFFF]*/y;
const DIGIT = /\d/;
const NUMBER = /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;
const PARAMETER = /\$\d+/y;
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uFFFF][A-Za-z0-9_\u0080-\uFFFF]*)?\$/y;
/** One-letter prefixes of a quoted literal: E'escapes', B'bits', X'hex', N'national'. */
const STRING_PREFIXES = new Set(['e', 'E', 'b', 'B', 'x', 'X', 'n', 'N']);

/**
 * The token of PostgreSQL's lexical grammar that starts at `i`, and whether it is a literal.
 * Comments count as literals: the deparser never writes one, but if it did its text must not leak.
 * An unterminated quote runs to the end of the text, so nothing after it escapes the literal rule.
 */
function nextToken(sql: string, i: number): Token {
  const ch = sql[i] ?? '';
  const next = sql[i + 1] ?? '';
  if (ch === '"') return { end: quotedEnd(sql, i + 1, '"', false), literal: false };
  if (ch === "'") return { end: quotedEnd(sql, i + 1, "'", false), literal: true };
  if (ch === '$') return dollarToken(sql, i);
  if (ch === '-' && next === '-') return { end: lineEnd(sql, i), literal: true };
  if (ch === '/' && next === '*') return { end: blockCommentEnd(sql, i), literal: true };
  if (DIGIT.test(ch) || (ch === '.' && DIGIT.test(next)))
    return { end: matchEnd(NUMBER, sql, i), literal: true };
  if (IDENTIFIER_START.test(ch)) return wordToken(sql, i);
  return { end: i + 1, literal: false };
}

/** A keyword or identifier, or the prefix of a prefixed literal (E'…', U&'…') or identifier (U&"…"). */
function wordToken(sql: string, i: number): Token {
  const end = matchEnd(IDENTIFIER_RUN, sql, i);
  const word = sql.slice(i, end);
  if (end - i === 1 && STRING_PREFIXES.has(word) && sql[end] === "'") {
    return { end: quotedEnd(sql, end + 1, "'", word === 'e' || word === 'E'), literal: true };
  }
  if ((word === 'U' || word === 'u') && sql[end] === '&') {
    const quote = sql[end + 1];
    if (quote === "'") return { end: quotedEnd(sql, end + 2, "'", false), literal: true };
    if (quote === '"') return { end: quotedEnd(sql, end + 2, '"', false), literal: false };
  }
  return { end, literal: false };
}

/** `$1` is a parameter; `$$…$$` and `$tag$…$tag$` are dollar-quoted literals; a lone `$` an operator. */
function dollarToken(sql: string, i: number): Token {
  const parameterEnd = matchEnd(PARAMETER, sql, i);
  if (parameterEnd > i) return { end: parameterEnd, literal: false };
  const tagEnd = matchEnd(DOLLAR_TAG, sql, i);
  if (tagEnd === i) return { end: i + 1, literal: false };
  const close = sql.indexOf(sql.slice(i, tagEnd), tagEnd);
  return { end: close === -1 ? sql.length : close + (tagEnd - i), literal: true };
}

/** End of a quoted token whose body starts at `i`; a doubled quote stands for itself. */
function quotedEnd(sql: string, i: number, quote: string, backslashEscapes: boolean): number {
  let j = i;
  while (j < sql.length) {
    const ch = sql[j];
    if (backslashEscapes && ch === '\\') j += 2;
    else if (ch === quote && sql[j + 1] === quote) j += 2;
    else if (ch === quote) return j + 1;
    else j++;
  }
  return sql.length;
}

function lineEnd(sql: string, i: number): number {
  const newline = sql.indexOf('\n', i);
  return newline === -1 ? sql.length : newline;
}

/** PostgreSQL block comments nest. */
function blockCommentEnd(sql: string, i: number): number {
  let depth = 0;
  let j = i;
  while (j < sql.length) {
    if (sql.startsWith('/*', j)) {
      depth++;
      j += 2;
    } else if (sql.startsWith('*/', j)) {
      depth--;
      j += 2;
      if (depth === 0) return j;
    } else j++;
  }
  return sql.length;
}

/** End of the sticky `pattern`'s match at `i`, or `i` when it does not match there. */
function matchEnd(pattern: RegExp, sql: string, i: number): number {
  pattern.lastIndex = i;
  return pattern.test(sql) ? pattern.lastIndex : i;
}

export interface BindingInput {
  readonly principalId: string;
  readonly connection: string;
  /** `StatementView.normalized`. */
  readonly normalized: string;
  readonly parameters: readonly BoundParameter[];
}

/**
 * SHA-256 (hex) of everything an approval is bound to. JSON of a fixed-shape array is an
 * unambiguous encoding: strings are quoted and escaped, a NULL parameter is `null` and an empty
 * one `""`, and each value carries its format code.
 */
export function bindingHash(input: BindingInput): string {
  const encoded = JSON.stringify([
    HASH_DOMAIN,
    input.principalId,
    input.connection,
    input.normalized,
    input.parameters.map((p) => [p.format, p.value === null ? null : p.value.toString('base64')]),
  ]);
  return createHash('sha256').update(encoded).digest('hex');
}
