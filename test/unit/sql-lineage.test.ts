import { beforeAll, describe, expect, it } from 'vitest';
import {
  type ColumnRef,
  initSqlParser,
  lineage,
  type OutputLineage,
  referencedColumns,
} from '../../src/sql/postgres/index.ts';

beforeAll(async () => {
  await initSqlParser();
});

/** `table.column` strings, sorted: easy to compare and to read in a failure. */
function names(refs: readonly ColumnRef[]): string[] {
  return refs.map((r) => `${r.table}.${r.column}`).sort();
}

function one(sql: string): OutputLineage {
  const all = lineage(sql);
  expect(all).toHaveLength(1);
  const [l] = all;
  if (l === undefined) throw new Error('no lineage');
  return l;
}

function outputs(sql: string): string[][] | undefined {
  return one(sql).outputs?.map(names);
}

function inference(sql: string): string[] {
  return names(one(sql).inferenceRefs);
}

const SENSITIVE = ['email', 'card_number', 'ssn', 'phone', 'api_key', '*'].map((c) => `customers.${c}`);

/** What a caller with the corpus policy would flag: sensitive customers columns (or the whole row). */
function sensitive(refs: readonly string[]): string[] {
  return refs.filter((r) => SENSITIVE.includes(r));
}

describe('corpus H: outputs derived from sensitive columns', () => {
  const cases: [string, string, string[][]][] = [
    ['85 baseline', 'SELECT * FROM customers', [['customers.*']]],
    [
      '86 aliasing',
      'SELECT card_number AS notes, ssn AS x FROM customers',
      [['customers.card_number'], ['customers.ssn']],
    ],
    ['88 TABLE', 'TABLE customers', [['customers.*']]],
    [
      '91 numeric casts',
      'SELECT card_number::bigint, card_number::numeric FROM customers',
      [['customers.card_number'], ['customers.card_number']],
    ],
    [
      '94 translate into letters',
      "SELECT translate(card_number,'0123456789','abcdefghij') FROM customers",
      [['customers.card_number']],
    ],
    [
      '95 fullwidth digits',
      "SELECT translate(card_number,'0123456789','０１２３４５６７８９') FROM customers",
      [['customers.card_number']],
    ],
    [
      '97 spacing',
      "SELECT regexp_replace(card_number,'(.)','\\1 ','g') FROM customers",
      [['customers.card_number']],
    ],
    [
      '98 encodings',
      "SELECT encode(convert_to(card_number,'UTF8'),'base64'), to_hex(card_number::bigint) FROM customers",
      [['customers.card_number'], ['customers.card_number']],
    ],
    [
      '100 split across rows',
      'SELECT id, left(card_number,8) FROM customers UNION ALL SELECT id, right(card_number,8) FROM customers',
      [['customers.id'], ['customers.card_number']],
    ],
    [
      '101 split across queries (first)',
      'SELECT id, left(card_number,8) FROM customers',
      [['customers.id'], ['customers.card_number']],
    ],
    [
      '101 split across queries (second)',
      'SELECT id, right(card_number,8) FROM customers',
      [['customers.id'], ['customers.card_number']],
    ],
    [
      '103 aggregates',
      "SELECT string_agg(card_number, ','), array_agg(ssn), json_agg(email) FROM customers",
      [['customers.card_number'], ['customers.ssn'], ['customers.email']],
    ],
    [
      '104 hashes',
      "SELECT md5(card_number), sha256(convert_to(ssn,'UTF8')) FROM customers",
      [['customers.card_number'], ['customers.ssn']],
    ],
    ['116 COPY query out', 'COPY (SELECT card_number FROM customers) TO STDOUT', [['customers.card_number']]],
    ['116 COPY table out', 'COPY customers TO STDOUT WITH (FORMAT binary)', [['customers.*']]],
    [
      '118 PREPARE reports the inner query',
      'PREPARE p AS SELECT card_number FROM customers WHERE id=$1',
      [['customers.card_number']],
    ],
    [
      '119 RETURNING',
      'UPDATE customers SET name = name WHERE id = 1 RETURNING card_number, api_key',
      [['customers.card_number'], ['customers.api_key']],
    ],
    ['122 a view is a table', 'SELECT note FROM v_notes', [['v_notes.note']]],
    [
      '124 other classes',
      "SELECT split_part(email,'@',1), replace(api_key,'sk_live_',''), 'key=' || api_key, replace(ssn,'-','')::int FROM customers",
      [['customers.email'], ['customers.api_key'], ['customers.api_key'], ['customers.ssn']],
    ],
  ];
  it.each(cases)('%s', (_, sql, expected) => {
    expect(outputs(sql)).toEqual(expected);
  });

  it('89 a whole-row reference is every column of the table', () => {
    expect(outputs('SELECT c FROM customers c')?.[0]).toContain('customers.*');
    expect(outputs('SELECT to_jsonb(c), row_to_json(c) FROM customers c')?.map(sensitive)).toEqual([
      ['customers.*'],
      ['customers.*'],
    ]);
    expect(outputs('SELECT c.* FROM customers c')).toEqual([['customers.*']]);
  });

  it('marks outputs that stand for a table star', () => {
    expect(one('SELECT id, * FROM customers').starOutputs).toEqual([1]);
    expect(one('SELECT c FROM customers c').starOutputs).toBeUndefined();
  });
});

describe('corpus H: predicate and order oracles', () => {
  it('106 WHERE LIKE', () => {
    const l = one("SELECT count(*) FROM customers WHERE card_number LIKE '4111%'");
    expect(l.outputs).toEqual([[]]);
    expect(names(l.inferenceRefs)).toEqual(['customers.card_number']);
  });

  it('107 range predicate and ORDER BY', () => {
    expect(inference("SELECT id FROM customers WHERE ssn > '5' ORDER BY ssn")).toEqual(['customers.ssn']);
    expect(inference('SELECT id FROM customers ORDER BY card_number')).toEqual(['customers.card_number']);
  });

  it('107 ORDER BY an output alias or position resolves to what the output derives from', () => {
    expect(sensitive(inference('SELECT card_number AS x FROM customers ORDER BY x'))).toEqual([
      'customers.card_number',
    ]);
    expect(sensitive(inference('SELECT id, ssn FROM customers ORDER BY 2'))).toEqual(['customers.ssn']);
    expect(sensitive(inference('SELECT left(ssn, 3) FROM customers GROUP BY 1'))).toEqual(['customers.ssn']);
  });

  it('109 join oracle', () => {
    expect(inference('SELECT c.id FROM customers c JOIN guesses g ON c.card_number = g.pan')).toEqual([
      'customers.card_number',
      'guesses.pan',
    ]);
  });

  it('110 timing oracle in a CASE condition', () => {
    const l = one("SELECT CASE WHEN substr(ssn,1,1) = '1' THEN pg_sleep(2) END FROM customers WHERE id = 1");
    expect(names(l.inferenceRefs)).toEqual(['customers.id', 'customers.ssn']);
    expect(l.outputs).toEqual([[]]);
  });

  it('every clause that filters, groups or orders is inference', () => {
    const cases: [string, string][] = [
      ['GROUP BY', 'SELECT count(*) FROM customers GROUP BY left(card_number, 4)'],
      ['HAVING', "SELECT id FROM customers GROUP BY id HAVING max(card_number) > '5'"],
      ['window PARTITION', 'SELECT row_number() OVER (PARTITION BY card_number) FROM customers'],
      ['window ORDER', 'SELECT rank() OVER (ORDER BY card_number) FROM customers'],
      ['named window', 'SELECT rank() OVER w FROM customers WINDOW w AS (ORDER BY card_number)'],
      ['DISTINCT ON', 'SELECT DISTINCT ON (card_number) id FROM customers'],
      ['LIMIT', 'SELECT id FROM customers LIMIT (SELECT length(card_number) FROM customers LIMIT 1)'],
      ['FILTER', "SELECT count(*) FILTER (WHERE card_number LIKE '4%') FROM customers"],
      ['USING', 'SELECT 1 FROM customers JOIN guesses ON true JOIN customers c2 USING (card_number)'],
      ['subquery in WHERE', "SELECT 1 WHERE EXISTS (SELECT 1 FROM customers WHERE card_number = '4111')"],
      ['IN subquery', 'SELECT id FROM guesses WHERE pan IN (SELECT card_number FROM customers)'],
      ['count(expr)', "SELECT count(nullif(card_number LIKE '4%', false)) FROM customers"],
      ['aggregate ORDER BY', "SELECT string_agg(id::text, ',' ORDER BY card_number) FROM customers"],
      ['f(col) IS NULL', "SELECT id FROM customers WHERE nullif(card_number, '4111') IS NULL"],
      ['set-returning function', "SELECT regexp_split_to_table(card_number, '') FROM customers"],
      ['out-of-band function', "SELECT pg_notify('ch', card_number) FROM customers"],
      ['UPDATE WHERE', "UPDATE customers SET name = 'x' WHERE card_number LIKE '4%'"],
      ['DELETE WHERE', "DELETE FROM customers WHERE ssn LIKE '1%'"],
      ['EXPLAIN ANALYZE runs the predicate', "EXPLAIN ANALYZE SELECT 1 FROM customers WHERE ssn LIKE '1%'"],
    ];
    for (const [label, sql] of cases) {
      expect(sensitive(inference(sql)), label).not.toEqual([]);
    }
  });

  it('a correlated subquery in the target list still exposes its predicate', () => {
    const l = one('SELECT (SELECT max(g.pan) FROM guesses g WHERE g.pan = c.card_number) FROM customers c');
    expect(names(l.inferenceRefs)).toEqual(['customers.card_number', 'guesses.pan']);
    expect(l.outputs?.map(names)).toEqual([['guesses.pan']]);
  });
});

describe('false positives: no sensitive reference where there is none', () => {
  it('name search and ordering', () => {
    const l = one("SELECT id, name FROM customers WHERE name ILIKE '%x%' ORDER BY name");
    expect(l.outputs?.map(names)).toEqual([['customers.id'], ['customers.name']]);
    expect(names(l.inferenceRefs)).toEqual(['customers.name']);
    expect(sensitive(names(referencedColumns(l)))).toEqual([]);
  });

  it('IS NOT NULL and count(col) are allowed', () => {
    expect(one('SELECT count(*) FROM customers WHERE card_number IS NOT NULL').inferenceRefs).toEqual([]);
    expect(one('SELECT count(card_number) FROM customers WHERE ssn IS NULL')).toMatchObject({
      outputs: [[]],
      inferenceRefs: [],
    });
  });

  it('literals and parameters carry nothing', () => {
    expect(outputs("SELECT 1, 'card_number', $1")).toEqual([[], [], []]);
    expect(outputs('VALUES (1, 2), (3, 4)')).toEqual([[], []]);
  });

  it('utility statements have no lineage and are not unknown', () => {
    for (const sql of [
      'BEGIN',
      'SET work_mem = 1024',
      'SHOW search_path',
      'LISTEN ch',
      'CREATE TABLE t (a int)',
    ]) {
      expect(one(sql), sql).toEqual({ outputs: undefined, valueRefs: [], inferenceRefs: [] });
    }
  });

  it('plain EXPLAIN returns a plan, not values', () => {
    expect(one('EXPLAIN SELECT card_number FROM customers')).toEqual({
      outputs: undefined,
      valueRefs: [],
      inferenceRefs: [],
    });
  });
});

describe('name resolution', () => {
  it('qualified references go through the alias', () => {
    expect(outputs('SELECT c.card_number, g.pan FROM customers c, guesses g')).toEqual([
      ['customers.card_number'],
      ['guesses.pan'],
    ]);
    expect(outputs('SELECT public.customers.ssn FROM public.customers')).toEqual([['public.customers.ssn']]);
    expect(outputs('SELECT customers.ssn FROM customers')).toEqual([['customers.ssn']]);
  });

  it('quoted and U& names are resolved', () => {
    expect(outputs('SELECT "card_number" FROM "customers"')).toEqual([['customers.card_number']]);
    expect(outputs('SELECT U&"card\\005fnumber" FROM customers')).toEqual([['customers.card_number']]);
  });

  it('a bare name with several FROM items is listed under each', () => {
    expect(outputs('SELECT card_number FROM guesses, customers')).toEqual([
      ['customers.card_number', 'guesses.card_number'],
    ]);
  });

  it('a correlated bare name may belong to an outer query', () => {
    const out = outputs('SELECT (SELECT card_number FROM guesses LIMIT 1) FROM customers');
    expect(out?.[0]).toContain('customers.card_number');
  });

  it('subqueries in FROM resolve through their own lineage', () => {
    expect(outputs('SELECT x FROM (SELECT card_number AS x FROM customers) s')).toEqual([
      ['customers.card_number'],
    ]);
    expect(outputs('SELECT s.b FROM (SELECT id, ssn FROM customers) s(a, b)')).toEqual([['customers.ssn']]);
    expect(outputs('SELECT * FROM (SELECT id, ssn AS s FROM customers) q')).toEqual([
      ['customers.id'],
      ['customers.ssn'],
    ]);
    expect(outputs('SELECT q FROM (SELECT id, ssn FROM customers) q')).toEqual([
      ['customers.id', 'customers.ssn'],
    ]);
  });

  it('a CTE referenced twice', () => {
    const sql =
      'WITH a AS (SELECT card_number AS k, id FROM customers) SELECT x.id, y.k FROM a x JOIN a y USING (id)';
    expect(outputs(sql)).toEqual([['customers.id'], ['customers.card_number']]);
  });

  it('nested CTEs and CTE column lists', () => {
    const sql = 'WITH a(v) AS (SELECT ssn FROM customers), b AS (SELECT v AS w FROM a) SELECT w FROM b';
    expect(outputs(sql)).toEqual([['customers.ssn']]);
  });

  it('a recursive CTE is conservative: every column may hold anything it reads', () => {
    const sql =
      'WITH RECURSIVE r(n, v) AS (SELECT 1, card_number FROM customers UNION ALL SELECT n + 1, v FROM r WHERE n < 3) SELECT n FROM r';
    expect(outputs(sql)).toEqual([['customers.card_number']]);
    expect(inference(sql)).toContain('customers.card_number');
  });

  it('set-returning functions and LATERAL derive from their arguments', () => {
    expect(
      sensitive(
        outputs("SELECT string_agg(x, '') FROM customers, regexp_split_to_table(card_number, '') x")?.[0] ??
          [],
      ),
    ).toEqual(['customers.card_number']);
    expect(outputs('SELECT u FROM unnest((SELECT array_agg(ssn) FROM customers)) AS t(u)')).toEqual([
      ['customers.ssn'],
    ]);
    expect(outputs('SELECT l.z FROM customers c, LATERAL (SELECT c.email AS z) l')).toEqual([
      ['customers.email'],
    ]);
    expect(outputs('SELECT g FROM generate_series(1, 3) g')).toEqual([[]]);
  });

  it('scalar subqueries, COALESCE, CASE results and operators propagate', () => {
    expect(outputs('SELECT (SELECT max(ssn) FROM customers)')).toEqual([['customers.ssn']]);
    expect(outputs("SELECT coalesce(phone, '') || format('%s', email) FROM customers")).toEqual([
      ['customers.email', 'customers.phone'],
    ]);
    const l = one('SELECT CASE WHEN id > 1 THEN api_key ELSE name END FROM customers');
    expect(l.outputs?.map(names)).toEqual([['customers.api_key', 'customers.name']]);
    expect(names(l.inferenceRefs)).toEqual(['customers.id']);
  });

  it('set operations with unaligned stars have an unknown shape but keep their sources', () => {
    const l = one('SELECT * FROM customers UNION SELECT id, pan FROM guesses');
    expect(l.outputs).toBeUndefined();
    expect(names(l.valueRefs)).toEqual(['customers.*', 'guesses.id', 'guesses.pan']);
  });
});

describe('writes: sensitive data copied into other tables', () => {
  it('59 CREATE TABLE AS', () => {
    const l = one('CREATE TEMP TABLE tt AS SELECT card_number AS x FROM customers');
    expect(l.outputs).toBeUndefined();
    expect(names(l.writtenFrom ?? [])).toEqual(['customers.card_number']);
  });

  it('71 INSERT … SELECT', () => {
    const l = one('INSERT INTO notes(body) SELECT card_number FROM customers');
    expect(l.outputs).toBeUndefined();
    expect(names(l.writtenFrom ?? [])).toEqual(['customers.card_number']);
  });

  it('SELECT INTO, UPDATE … SET, ON CONFLICT and data-modifying CTEs', () => {
    expect(names(one('SELECT ssn INTO t FROM customers').writtenFrom ?? [])).toEqual(['customers.ssn']);
    expect(one('SELECT ssn INTO t FROM customers').outputs).toBeUndefined();
    expect(
      names(one('UPDATE notes SET body = c.ssn FROM customers c WHERE c.id = notes.id').writtenFrom ?? []),
    ).toEqual(['customers.ssn']);
    // The bare `email` may also be a correlated reference to the target: listed there too.
    expect(
      names(one('UPDATE notes SET (body) = (SELECT email FROM customers LIMIT 1)').writtenFrom ?? []),
    ).toEqual(['customers.email', 'notes.email']);
    const upsert =
      'INSERT INTO stats(note) VALUES ($1) ON CONFLICT DO UPDATE SET note = (SELECT api_key FROM customers LIMIT 1)';
    expect(sensitive(names(one(upsert).writtenFrom ?? []))).toEqual(['customers.api_key']);
    const cte =
      'WITH w AS (INSERT INTO notes(body) SELECT phone FROM customers RETURNING body) SELECT body FROM w';
    expect(outputs(cte)).toEqual([['notes.body']]);
    expect(names(one(cte).writtenFrom ?? [])).toEqual(['customers.phone']);
  });

  it('INSERT without a query writes nothing sensitive and returns no rows', () => {
    expect(one("INSERT INTO notes(body) VALUES ('x')")).toEqual({
      outputs: undefined,
      valueRefs: [],
      inferenceRefs: [],
    });
  });
});

describe('statements resolved elsewhere, and fail-closed cases', () => {
  it('EXECUTE and FETCH have no outputs of their own', () => {
    expect(one('EXECUTE p(2)').outputs).toBeUndefined();
    expect(one('FETCH 1 FROM c').outputs).toBeUndefined();
    expect(one('EXECUTE p(2)').unknown).toBeUndefined();
  });

  it('DECLARE reports the cursor query', () => {
    expect(outputs('DECLARE c CURSOR FOR SELECT ssn FROM customers')).toEqual([['customers.ssn']]);
  });

  it('marks what it cannot follow as unknown', () => {
    const cases: [string, string][] = [
      ['SQL in a string', "SELECT query_to_xml('select card_number from customers', true, true, '')"],
      ['table by name', "SELECT table_to_xml('customers', true, true, '')"],
      ['DO block', "DO $$ BEGIN RAISE NOTICE '%', 1; END $$"],
      ['CALL', 'CALL p()'],
      ['CHECK over columns', "ALTER TABLE customers ADD CHECK (card_number LIKE '4%')"],
      ['CTAS from EXECUTE', 'CREATE TABLE t AS EXECUTE p'],
      ['parse error', 'SELEC 1'],
      ['unknown name', 'SELECT nope'],
    ];
    for (const [label, sql] of cases) expect(one(sql).unknown, label).toBe(true);
  });

  it('never throws on absurd nesting', () => {
    const deep = `SELECT ${'('.repeat(5000)}card_number${')'.repeat(5000)} FROM customers`;
    expect(() => lineage(deep)).not.toThrow();
  });

  it('one lineage per statement, none for empty text', () => {
    expect(lineage('SELECT ssn FROM customers; SELECT 1')).toHaveLength(2);
    expect(lineage('  ;  ')).toEqual([]);
  });

  it('referencedColumns joins outputs, inference and copies', () => {
    const l = one('INSERT INTO notes(body) SELECT email FROM customers WHERE ssn > $1 RETURNING id');
    expect(names(referencedColumns(l))).toEqual(['customers.email', 'customers.ssn', 'notes.id']);
  });
});

describe('outputDirect', () => {
  it('is true for a bare column, also through a subquery or CTE, and false for anything else', () => {
    expect(one('SELECT card_number AS notes, ssn x, md5(ssn), c.id FROM customers c').outputDirect).toEqual([
      true,
      true,
      false,
      true,
    ]);
    expect(
      one('SELECT s.a, b FROM (SELECT card_number a, ssn::text b FROM customers) s').outputDirect,
    ).toEqual([true, false]);
    expect(
      one('WITH w AS (SELECT upper(email) e, phone FROM customers) SELECT e, phone FROM w').outputDirect,
    ).toEqual([false, true]);
  });

  it('is false for whole rows, stars, composite fields and set operations', () => {
    expect(one('SELECT c FROM customers c').outputDirect).toEqual([false]);
    expect(one('SELECT *, ssn FROM customers').outputDirect).toEqual([false, true]);
    expect(one('SELECT (c).ssn FROM (SELECT c FROM customers c) s').outputDirect).toEqual([false]);
    expect(one('SELECT ssn FROM customers UNION SELECT pan FROM guesses').outputDirect).toEqual([false]);
    expect(one('SELECT ssn FROM (SELECT * FROM customers) s').outputDirect).toEqual([false]);
  });

  it('a star over columns renamed by position gives no shape, not a star', () => {
    const l = one('SELECT * FROM customers AS c(a, b)');
    expect(l.outputs).toBeUndefined();
    expect(l.starOutputs).toBeUndefined();
    expect(names(l.valueRefs)).toEqual(['customers.*']);
  });
});
