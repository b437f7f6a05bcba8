/**
 * Spelling must not change a decision. Statements the default policy blocks are re-spelt at
 * random (keyword case, comments and whitespace between tokens, quoted and Unicode-escaped
 * identifiers, schema qualification, literal values) and must still be blocked, by the same
 * rule. The same mutations applied to harmless statements must still be allowed, which proves
 * they produce valid SQL rather than parse errors (which would be denied for the wrong reason).
 *
 * One real `createStatementAnalyzer()` is shared across all runs and both corpora, so a cached
 * answer for one spelling (or, through the fingerprint cache, for other literal values) is what
 * the next spelling gets: a cache that shared facts too widely would let a blocked statement
 * borrow a harmless one's verdict.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultGuardrails } from '../../src/policy/guardrails.ts';
import { compilePolicy, judgeStatements, type Verdict } from '../../src/policy/statement-policy.ts';
import { analyze, createStatementAnalyzer, initSqlParser } from '../../src/sql/postgres/index.ts';

beforeAll(() => initSqlParser());

/** The default policy: every guardrail on, no rules, default allow. */
const policy = compilePolicy({
  name: 'default',
  default: 'allow',
  rules: [],
  guardrails: defaultGuardrails(),
});
const analyzer = createStatementAnalyzer({ maxEntries: 512 });

const judge = (sql: string): Verdict => judgeStatements([policy], analyzer.analyze(sql));

/**
 * A token of a statement: `k` keyword (case flips), `t` table in schema public (case, quoting,
 * U& escapes, `public.` prefix), `f` pg_catalog function (case, quoting, `pg_catalog.` prefix),
 * `i` other identifier (case, quoting, escapes), `s` string literal whose value does not matter
 * (re-valued at random), `p` anything else, verbatim.
 */
type Token = { readonly type: 'k' | 't' | 'f' | 'i' | 's' | 'p'; readonly text: string };

/** `DELETE FROM t:notes WHERE p:1 p:= p:1` → tokens; a bare word is a keyword. */
function tokens(spec: string): Token[] {
  return spec.split(' ').map((word) => {
    const m = /^([tfisp]):(.*)$/s.exec(word);
    return m === null ? { type: 'k', text: word } : { type: m[1] as Token['type'], text: m[2] ?? '' };
  });
}

const BLOCKED = [
  'DROP TABLE t:customers',
  'TRUNCATE t:stats',
  'TRUNCATE TABLE t:stats',
  'DELETE FROM t:notes',
  'DELETE FROM t:notes WHERE p:1 p:= p:1',
  'DELETE FROM t:notes WHERE TRUE',
  'UPDATE t:notes SET i:body p:= i:body WHERE i:id p:= i:id',
  'UPDATE t:notes SET i:body p:= i:body',
  "COPY t:stats FROM PROGRAM s:'x'",
  "COPY t:stats TO s:'/tmp/x'",
  "SELECT f:pg_read_file p:( p:'/etc/passwd' p:)",
  "SELECT p:* FROM f:pg_read_file p:( s:'x' p:)",
  'SELECT f:pg_sleep p:( p:10 p:)',
  'SET ROLE i:admin',
  'SET i:search_path p:= i:evil',
  'SET i:statement_timeout p:= p:0',
  'RESET ALL',
  "SELECT f:set_config p:( p:'role' p:, p:'admin' p:, FALSE p:)",
  'DO p:$$BEGIN p:END$$',
  "PREPARE TRANSACTION s:'x'",
  'GRANT ALL ON t:customers TO PUBLIC',
  'WITH i:d AS p:( DELETE FROM t:stats RETURNING p:* p:) SELECT p:1',
  'EXPLAIN ANALYZE DELETE FROM t:stats',
  'LISTEN i:ch',
  'CALL i:do_things p:( p:)',
  'CREATE VIEW i:v AS SELECT p:* FROM t:customers',
  'ALTER TABLE t:customers DROP COLUMN i:email',
  "ALTER SYSTEM SET i:work_mem p:= s:'1MB'",
  'SELECT p:1 p:; DROP TABLE t:customers',
].map(tokens);

const HARMLESS = [
  'SELECT p:* FROM t:customers WHERE i:id p:= p:1',
  "DELETE FROM t:notes WHERE i:id p:= s:'7'",
  "UPDATE t:notes SET i:body p:= s:'x' WHERE i:id p:= p:2",
  'SELECT f:lower p:( i:name p:) FROM t:customers',
  'TABLE t:stats',
].map(tokens);

/** Separators the server's lexer treats as whitespace; never NBSP (see the last test). */
const separatorPart = fc.constantFrom(
  ' ',
  '\t',
  '\n',
  '\r\n',
  '/**/',
  '/* nested /* */ */',
  '-- x\n',
  '/* ; */',
);
const separator = fc.array(separatorPart, { minLength: 1, maxLength: 3 }).map((parts) => parts.join(''));

const flipCase = (text: string) =>
  fc
    .array(fc.boolean(), { minLength: text.length, maxLength: text.length })
    .map((flips) => [...text].map((c, i) => (flips[i] ? c.toUpperCase() : c.toLowerCase())).join(''));

/** `customers` as the server reads it: bare in any case, `"customers"`, or `U&"\0063ustomers"`. */
const identifier = (name: string) =>
  fc.oneof(
    flipCase(name),
    fc.constant(`"${name}"`),
    fc
      .nat({ max: name.length - 1 })
      .map(
        (at) =>
          `U&"${name.slice(0, at)}\\${(name.codePointAt(at) ?? 0).toString(16).padStart(4, '0')}${name.slice(at + 1)}"`,
      ),
  );

const qualified = (schema: string, name: string) =>
  fc.oneof(
    identifier(name),
    fc
      .tuple(identifier(schema), fc.constantFrom('', ' ', '/**/', '\n'), identifier(name))
      .map(([s, sep, n]) => `${s}${sep}.${sep}${n}`),
  );

function tokenText(token: Token): fc.Arbitrary<string> {
  switch (token.type) {
    case 'k':
      return flipCase(token.text);
    case 't':
      return qualified('public', token.text);
    case 'f':
      return qualified('pg_catalog', token.text);
    case 'i':
      return identifier(token.text);
    case 's':
      return fc.stringMatching(/^[a-z0-9/._ ]{0,12}$/).map((value) => `'${value}'`);
    default:
      return fc.constant(token.text);
  }
}

/** The statement re-spelt: each token mutated, a random separator between every two. */
function respelt(statement: readonly Token[]): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.tuple(...statement.map(tokenText)),
      fc.array(separator, { minLength: statement.length, maxLength: statement.length }),
      fc.constantFrom('', ';', ' ;', ';\n-- done\n'),
    )
    .map(
      ([texts, seps, end]) =>
        texts.map((text, i) => (i === 0 ? text : `${seps[i] ?? ' '}${text}`)).join('') + end,
    );
}

const plain = (statement: readonly Token[]) => statement.map((t) => t.text).join(' ');

/**
 * Only the string literals' values change: the spelling the fingerprint cache keys on (it refuses
 * comments and quoted names), so these exercise a cached answer reached through other literals.
 */
const literalsOnly = (statement: readonly Token[]) =>
  fc
    .tuple(...statement.map((t) => (t.type === 's' ? tokenText(t) : fc.constant(t.text))))
    .map((texts) => texts.join(' '));

const spelling = (statement: readonly Token[]) => fc.oneof(respelt(statement), literalsOnly(statement));

describe('re-spelling a statement never changes its decision', () => {
  it('each blocked statement, as written, is blocked and parses', () => {
    for (const statement of BLOCKED) {
      const facts = analyze(plain(statement));
      expect(facts.map((f) => f.kind)).not.toContain('ParseError');
      expect(judge(plain(statement)).action, plain(statement)).not.toBe('allow');
    }
  });

  it('blocked statements stay blocked, by the same rule, however they are spelt', () => {
    const cases = fc
      .constantFrom(...BLOCKED)
      .chain((statement) => respelt(statement).map((sql) => ({ original: plain(statement), sql })));
    fc.assert(
      fc.property(cases, ({ original, sql }) => {
        const verdict = judge(sql);
        expect(verdict.action, sql).not.toBe('allow');
        // Valid SQL in, so the refusal must come from the guardrail that refuses the original.
        expect(verdict.rule, sql).toBe(judge(original).rule);
        // A cached answer is the answer a fresh parse gives.
        expect(judgeStatements([policy], analyze(sql)).action, sql).toBe(verdict.action);
      }),
      { numRuns: 1000 },
    );
  });

  it('harmless statements stay allowed under the same mutations (so mutations keep SQL valid)', () => {
    const cases = fc.constantFrom(...HARMLESS).chain(respelt);
    fc.assert(
      fc.property(cases, (sql) => {
        expect(judge(sql), sql).toMatchObject({ action: 'allow', rule: 'default' });
      }),
      { numRuns: 500 },
    );
  });

  it('blocked and harmless spellings interleaved through one cache never borrow each other’s verdict', () => {
    const cases = fc.array(
      fc.oneof(
        fc.constantFrom(...BLOCKED).chain((s) => spelling(s).map((sql) => ({ sql, blocked: true }))),
        fc.constantFrom(...HARMLESS).chain((s) => spelling(s).map((sql) => ({ sql, blocked: false }))),
      ),
      { minLength: 2, maxLength: 20 },
    );
    fc.assert(
      fc.property(cases, (batch) => {
        // Twice: the second pass is answered from the cache.
        for (const { sql, blocked } of [...batch, ...batch]) {
          expect(judge(sql).action === 'allow', sql).toBe(!blocked);
        }
      }),
      { numRuns: 100 },
    );
    const stats = analyzer.stats();
    expect(stats.hits).toBeGreaterThan(0);
    expect(stats.fingerprintHits).toBeGreaterThan(0);
  });

  it('NBSP is not whitespace to the server: it stays a parse error, and is denied', () => {
    for (const statement of [...BLOCKED, ...HARMLESS]) {
      const sql = statement.map((t) => t.text).join('\u00a0');
      const facts = analyze(sql);
      expect(facts[0]?.kind, sql).toBe('ParseError');
      expect(judge(sql), sql).toMatchObject({ action: 'deny', rule: 'unanalyzable' });
    }
  });
});
