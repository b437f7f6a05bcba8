import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  analyze,
  createStatementAnalyzer,
  fingerprint,
  initSqlParser,
} from '../../src/sql/postgres/index.ts';

beforeAll(async () => {
  await initSqlParser();
});

const PGBENCH_SELECT = 'SELECT abalance FROM pgbench_accounts WHERE aid = 12345;';

describe('createStatementAnalyzer: exact-text LRU', () => {
  it('answers a repeated text from the cache and counts hits and misses', () => {
    const cache = createStatementAnalyzer();
    const first = cache.analyze('SELECT 1 FROM customers');
    const second = cache.analyze('SELECT 1 FROM customers');
    expect(second).toBe(first);
    expect(second).toEqual(analyze('SELECT 1 FROM customers'));
    expect(cache.stats()).toEqual({ hits: 1, fingerprintHits: 0, misses: 1, size: 2 });
  });

  it('evicts the least recently used entry, and a hit counts as a use', () => {
    const cache = createStatementAnalyzer({ maxEntries: 2 });
    // Double-quoted identifiers have no fingerprint, so only the exact key space is in play.
    cache.analyze('SELECT "a"');
    cache.analyze('SELECT "b"');
    cache.analyze('SELECT "a"');
    cache.analyze('SELECT "c"');
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 3, size: 2 });
    cache.analyze('SELECT "a"');
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 3 });
    cache.analyze('SELECT "b"');
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 4, size: 2 });
  });

  it('bounds the fingerprint key space too', () => {
    const cache = createStatementAnalyzer({ maxEntries: 1 });
    cache.analyze('SELECT 1 FROM a');
    cache.analyze('SELECT 1 FROM b');
    cache.analyze('SELECT 2 FROM a');
    expect(cache.stats()).toEqual({ hits: 0, fingerprintHits: 0, misses: 3, size: 2 });
  });

  it('does not store texts longer than maxTextBytes, counting UTF-8 bytes', () => {
    const cache = createStatementAnalyzer({ maxTextBytes: 20 });
    const ascii = 'SELECT 1 FROM abcdefg'; // 21 bytes
    cache.analyze(ascii);
    cache.analyze(ascii);
    expect(cache.stats()).toEqual({ hits: 0, fingerprintHits: 0, misses: 2, size: 0 });
    const wide = "SELECT 'ééééé'"; // 14 code units, 19 bytes
    cache.analyze(wide);
    cache.analyze(wide);
    expect(cache.stats()).toMatchObject({ hits: 1, size: 1 });
    const wider = "SELECT 'éééééé'"; // 15 code units, 21 bytes
    cache.analyze(wider);
    cache.analyze(wider);
    expect(cache.stats()).toMatchObject({ hits: 1, size: 1 });
  });

  it('hands out facts no caller can change', () => {
    const cache = createStatementAnalyzer();
    const sql = 'DELETE FROM notes WHERE id = 5';
    const facts = cache.analyze(sql) as unknown as Record<string, unknown>[];
    const first = facts[0] as { effects: string[]; writes: { predicate: string }[] };
    expect(() => first.effects.push('read')).toThrow(TypeError);
    expect(() => {
      (first.writes[0] as { predicate: string }).predicate = 'present';
      first.writes.length = 0;
    }).toThrow(TypeError);
    expect(() => facts.pop()).toThrow(TypeError);
    expect(cache.analyze(sql)).toEqual(analyze(sql));
    expect(cache.analyze('DELETE FROM notes WHERE id = 6')[0]?.writes).toHaveLength(1);
  });

  it('also freezes what it does not store', () => {
    const cache = createStatementAnalyzer({ maxTextBytes: 1 });
    expect(Object.isFrozen(cache.analyze('SELECT 1')[0]?.tables)).toBe(true);
  });
});

describe('createStatementAnalyzer: fingerprint cache', () => {
  it('serves pgbench -M simple literals from one parse', () => {
    const cache = createStatementAnalyzer();
    cache.analyze(PGBENCH_SELECT);
    const other = cache.analyze('SELECT abalance FROM pgbench_accounts WHERE aid = 777;');
    expect(other).toEqual(analyze(PGBENCH_SELECT));
    expect(cache.stats()).toMatchObject({ hits: 0, fingerprintHits: 1, misses: 1 });
  });

  it('shares a real predicate on a literal: aid = 12345 does not depend on the value', () => {
    const cache = createStatementAnalyzer();
    cache.analyze('UPDATE pgbench_accounts SET abalance = abalance + -4321 WHERE aid = 12345;');
    const facts = cache.analyze('UPDATE pgbench_accounts SET abalance = abalance + -17 WHERE aid = 1;');
    expect(facts[0]?.writes[0]?.predicate).toBe('present');
    expect(cache.stats().fingerprintHits).toBe(1);
  });

  it.each([
    ['DELETE FROM t WHERE 1=2', 'DELETE FROM t WHERE 1=1'],
    ['DELETE FROM t WHERE 5 = 6', 'DELETE FROM t WHERE 5 = 5'],
    ["DELETE FROM t WHERE 'a' = 'b'", "DELETE FROM t WHERE 'a' = 'a'"],
    ['DELETE FROM t WHERE 2 < 1', 'DELETE FROM t WHERE 1 < 2'],
    ["DELETE FROM t WHERE 'f'::boolean", "DELETE FROM t WHERE 't'::boolean"],
    ["DELETE FROM t WHERE 'x'", "DELETE FROM t WHERE 'yes'"],
    ['DELETE FROM t WHERE NOT 1 = 1', 'DELETE FROM t WHERE NOT 1 = 2'],
    ['DELETE FROM t WHERE id = 5 OR 1 = 2', 'DELETE FROM t WHERE id = 5 OR 1 = 1'],
    ['DELETE FROM t WHERE f(1) = f(2)', 'DELETE FROM t WHERE f(1) = f(1)'],
    ['DELETE FROM t WHERE x::float(24) = x::float(25)', 'DELETE FROM t WHERE x::float(3) = x::float(5)'],
    ['UPDATE t SET a = 1 WHERE 0::bool', 'UPDATE t SET a = 1 WHERE 1::bool'],
  ])('after %j, %j is still constant_true', (first, attack) => {
    const cache = createStatementAnalyzer();
    expect(cache.analyze(first)[0]?.writes[0]?.predicate).toBe('present');
    expect(fingerprint(first)).toBe(fingerprint(attack));
    expect(cache.analyze(attack)[0]?.writes[0]?.predicate).toBe('constant_true');
    expect(cache.stats().fingerprintHits).toBe(0);
  });

  it('does not share a set_config setting name', () => {
    const cache = createStatementAnalyzer();
    cache.analyze("SELECT set_config('application_name','x',false)");
    expect(cache.analyze("SELECT set_config('role','admin',false)")[0]?.settings).toEqual(['role']);
  });

  it('does not share an EXPLAIN ANALYZE option given as a literal', () => {
    const cache = createStatementAnalyzer();
    expect(cache.analyze("EXPLAIN (ANALYZE 'off') DELETE FROM t")[0]?.writes).toEqual([]);
    const on = cache.analyze("EXPLAIN (ANALYZE 'on') DELETE FROM t")[0];
    expect(on?.effects).toContain('write');
    expect(on?.writes).toEqual([{ kind: 'delete', table: 't', predicate: 'none' }]);
    const zero = cache.analyze('EXPLAIN (ANALYZE 0) DELETE FROM t');
    expect(cache.analyze('EXPLAIN (ANALYZE 1) DELETE FROM t')[0]?.effects).toContain('write');
    expect(zero[0]?.effects).not.toContain('write');
  });

  it('does not share a COPY format given as a literal', () => {
    const cache = createStatementAnalyzer();
    expect(cache.analyze("COPY t TO STDOUT (FORMAT 'text')")[0]?.copy?.format).toBe('text');
    expect(cache.analyze("COPY t TO STDOUT (FORMAT 'binary')")[0]?.copy?.format).toBe('binary');
  });

  it('does not share a parse error, whose message quotes the literal', () => {
    const cache = createStatementAnalyzer();
    const first = cache.analyze('SELECT 1 2');
    const second = cache.analyze('SELECT 3 4');
    expect(first[0]?.error).not.toBe(second[0]?.error);
    expect(second).toEqual(analyze('SELECT 3 4'));
  });

  it('shares a multi-statement text only when no statement is sensitive', () => {
    const cache = createStatementAnalyzer();
    cache.analyze('SELECT 1 FROM a; DELETE FROM t WHERE 1 = 2');
    const attack = cache.analyze('SELECT 2 FROM a; DELETE FROM t WHERE 1 = 1');
    expect(attack[1]?.writes[0]?.predicate).toBe('constant_true');
    cache.analyze('SELECT 1 FROM a; DELETE FROM t WHERE id = 2');
    cache.analyze('SELECT 7 FROM a; DELETE FROM t WHERE id = 9');
    expect(cache.stats().fingerprintHits).toBe(1);
  });
});

describe('fingerprint', () => {
  it('replaces integers, other numbers and strings with distinct placeholders', () => {
    expect(fingerprint(PGBENCH_SELECT)).toBe(
      fingerprint('SELECT abalance FROM pgbench_accounts WHERE aid = 1;'),
    );
    expect(fingerprint('SELECT 1')).not.toBe(fingerprint('SELECT 1.5'));
    expect(fingerprint('SELECT 1')).not.toBe(fingerprint("SELECT '1'"));
    expect(fingerprint('SELECT 1.5')).toBe(fingerprint('SELECT 2e10'));
    expect(fingerprint('SELECT 1.5')).toBe(fingerprint('SELECT .5'));
    expect(fingerprint("SELECT 'a'")).toBe(fingerprint("SELECT 'it''s'"));
    expect(fingerprint("SELECT ''")).toBe(fingerprint('SELECT \'{"a": 1}\''));
  });

  it('separates int4 from larger integers, as the server lexer does', () => {
    expect(fingerprint('SELECT 2147483647')).toBe(fingerprint('SELECT 0'));
    expect(fingerprint('SELECT 000000000002147483647')).toBe(fingerprint('SELECT 0'));
    expect(fingerprint('SELECT 2147483648')).toBe(fingerprint('SELECT 1.5'));
    expect(fingerprint('SELECT 12345678901')).toBe(fingerprint('SELECT 1.5'));
  });

  it('keeps everything but literals: keywords, identifiers, whitespace, parameters, casts', () => {
    expect(fingerprint('DELETE FROM t WHERE true')).not.toBe(fingerprint('DELETE FROM t WHERE false'));
    expect(fingerprint('SELECT a1 FROM t')).not.toBe(fingerprint('SELECT a2 FROM t'));
    expect(fingerprint('SELECT 1 ')).not.toBe(fingerprint('SELECT 1'));
    expect(fingerprint('SELECT $1')).not.toBe(fingerprint('SELECT $2'));
    expect(fingerprint("SELECT '1'::int, x::text FROM t WHERE a = $1")).toBeDefined();
    expect(fingerprint('SELECT 1\n')).toBe(fingerprint('SELECT 22\n'));
    expect(fingerprint("SELECT 'a'\n'b'")).toBe(fingerprint("SELECT 'c'\n'd'"));
    expect(fingerprint("SELECT 'a'\n'b'")).not.toBe(fingerprint("SELECT 'c'"));
  });

  it.each([
    ['double-quoted identifier', 'SELECT "a" FROM t'],
    ['dollar quoting', 'SELECT $$x$$'],
    ['tagged dollar quoting', 'SELECT $a$x$a$'],
    ['dollar in an identifier', 'SELECT a$b FROM t'],
    ['parameter glued to an identifier', 'SELECT x$1'],
    ['parameter followed by a dollar', 'SELECT $1$'],
    ['parameter followed by letters', 'SELECT $1abc'],
    ['lone dollar', 'SELECT $'],
    ['backslash in a string', "SELECT 'a\\'"],
    ['backslash outside a string', 'SELECT 1 \\ 2'],
    ['E string', "SELECT E'a'"],
    ['lower-case e string', "SELECT e'a'"],
    ['U& string', "SELECT U&'a'"],
    ['B string', "SELECT B'101'"],
    ['X string', "SELECT X'ff'"],
    ['N string', "SELECT N'a'"],
    ['keyword glued to a string', "SELECT'a'"],
    ['number glued to a string', "SELECT 5'a'"],
    ['string glued to a number', "SELECT 'a'5"],
    ['line comment', 'SELECT 1 -- x'],
    ['block comment', 'SELECT /* x */ 1'],
    ['non-ASCII', 'SELECT 1 FROM café'],
    ['NBSP', 'SELECT\u00a01'],
    ['non-ASCII in a string', "SELECT 'é'"],
    ['form feed', 'SELECT\f1'],
    ['NUL', 'SELECT 1\u0000'],
    ['DEL', 'SELECT 1\u007f'],
    ['placeholder character', 'SELECT \u0001'],
    ['control character in a string', "SELECT '\u0002'"],
    ['number glued to letters', 'SELECT 123abc'],
    ['hex-looking number', 'SELECT 0x1F'],
    ['number with underscores', 'SELECT 1_000'],
    ['two dots', 'SELECT 1.2.3'],
    ['trailing dot', 'SELECT 1.'],
    ['double dot', 'SELECT 1..2'],
    ['dangling exponent', 'SELECT 1e'],
    ['dangling exponent sign', 'SELECT 1e+'],
    ['dot then exponent', 'SELECT 1.e5'],
    ['decimal after an identifier', 'SELECT t.5'],
    ['unterminated string', "SELECT 'abc"],
  ])('gives up on %s', (_name, sql) => {
    expect(fingerprint(sql)).toBeUndefined();
  });
});

describe('predicate evaluator: tautologies found while auditing literal reads', () => {
  it.each([
    "DELETE FROM t WHERE 't'",
    "DELETE FROM t WHERE ' yes '",
    "DELETE FROM t WHERE 'tru'::boolean",
    "DELETE FROM t WHERE 'of'::bool = false",
    "DELETE FROM t WHERE bool 'ye'",
    'DELETE FROM t WHERE 1::bool',
    "DELETE FROM t WHERE 't' = true",
    "DELETE FROM t WHERE '1' = 1",
    "DELETE FROM t WHERE NOT 'n'",
  ])('%s → constant_true', (sql) => {
    expect(analyze(sql)[0]?.writes[0]?.predicate).toBe('constant_true');
  });

  it.each([
    "DELETE FROM t WHERE 'o'::bool",
    "DELETE FROM t WHERE 'truex'::bool",
    "DELETE FROM t WHERE ''::bool",
    "DELETE FROM t WHERE '2' = 1",
    "DELETE FROM t WHERE 'x' = 1",
    'DELETE FROM t WHERE 0::bool',
  ])('%s → present', (sql) => {
    expect(analyze(sql)[0]?.writes[0]?.predicate).toBe('present');
  });
});

// Property: whatever order texts arrive in, the cache answers exactly what a fresh parse would.
// Templates mix shapes whose facts ignore literals with ones whose facts turn on them.
const literalInt = fc.oneof(fc.constantFrom(0, 1, 2, 5), fc.integer({ min: -3, max: 2_147_483_647 }));
const literalNum = fc.oneof(
  literalInt.map(String),
  fc.constantFrom('1.5', '.5', '2e3', '1.0', '2147483648', '0.0'),
);
const literalStr = fc.oneof(
  fc.constantFrom('t', 'f', 'yes', 'no', 'on', 'off', 'of', 'o', '1', '0', 'true', 'tr', '', 'x', 'role'),
  fc.constantFrom('application_name', 'csv', 'text', 'binary', 'search_path', "a''b", '{"k": 1}'),
  fc.string({ unit: fc.constantFrom('a', 't', 'r', 'u', 'e', 'o', 'n', ' ', '1', '0', "''") }),
);
const q = (s: string) => `'${s}'`;

const templates: fc.Arbitrary<string>[] = [
  literalInt.map((a) => `SELECT abalance FROM pgbench_accounts WHERE aid = ${a};`),
  fc
    .tuple(literalInt, literalInt)
    .map(([d, a]) => `UPDATE pgbench_accounts SET abalance = abalance + ${d} WHERE aid = ${a};`),
  fc.tuple(literalNum, literalNum).map(([a, b]) => `DELETE FROM t WHERE ${a} = ${b}`),
  fc.tuple(literalNum, literalNum).map(([a, b]) => `DELETE FROM t WHERE ${a} < ${b} OR id = 3`),
  fc.tuple(literalStr, literalStr).map(([a, b]) => `DELETE FROM t WHERE ${q(a)} = ${q(b)}`),
  fc.tuple(literalStr, literalNum).map(([a, b]) => `DELETE FROM t WHERE ${q(a)} = ${b}`),
  literalStr.map((a) => `DELETE FROM t WHERE ${q(a)}::boolean`),
  literalStr.map((a) => `UPDATE t SET x = 1 WHERE NOT ${q(a)}`),
  literalInt.map((a) => `DELETE FROM t WHERE ${a}::bool AND true`),
  fc.tuple(literalInt, literalInt).map(([a, b]) => `DELETE FROM t WHERE f(${a}) = f(${b})`),
  fc.tuple(literalInt, literalInt).map(([a, b]) => `DELETE FROM t WHERE x + ${a} = x + ${b}`),
  fc.tuple(literalStr, literalStr).map(([a, b]) => `SELECT set_config(${q(a)}, ${q(b)}, false)`),
  literalStr.map((a) => `EXPLAIN (ANALYZE ${q(a)}) DELETE FROM t WHERE id = 1`),
  literalInt.map((a) => `EXPLAIN (ANALYZE ${a}) UPDATE t SET x = 1`),
  literalStr.map((a) => `COPY t TO STDOUT (FORMAT ${q(a)})`),
  fc.tuple(literalStr, literalInt).map(([a, b]) => `COPY t FROM ${q(a)}; SELECT ${b}`),
  fc.tuple(literalInt, literalStr).map(([a, b]) => `SELECT ${a}; DELETE FROM t WHERE ${q(b)}`),
  fc.tuple(literalNum, literalNum).map(([a, b]) => `SELECT ${a} ${b}`),
  literalNum.map((a) => `FETCH ${a} FROM c`),
];

describe('createStatementAnalyzer: property', () => {
  it('answers exactly what an uncached analyze would, in any order', () => {
    let shared = 0;
    fc.assert(
      fc.property(
        fc.array(fc.oneof(...templates), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 50 }),
        (texts, maxEntries) => {
          const cache = createStatementAnalyzer({ maxEntries });
          for (const sql of texts) expect(cache.analyze(sql)).toEqual(analyze(sql));
          shared += cache.stats().fingerprintHits;
        },
      ),
      { numRuns: 300 },
    );
    // Otherwise the property would hold for a cache that never shares anything.
    expect(shared).toBeGreaterThan(0);
  });

  it('does share across literals (the property above is not vacuous)', () => {
    const cache = createStatementAnalyzer();
    fc.assert(
      fc.property(fc.nat({ max: 2_147_483_647 }), (a) => {
        cache.analyze(`SELECT abalance FROM pgbench_accounts WHERE aid = ${a};`);
      }),
      { numRuns: 50 },
    );
    expect(cache.stats().misses).toBe(1);
  });
});
