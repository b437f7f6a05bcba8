import { beforeAll, describe, expect, it } from 'vitest';
import type { FieldRule, ResultField } from '../../src/core/result-plan.ts';
import {
  type ColumnRuleSpec,
  compileColumnRules,
  type PlanOptions,
  planStatement,
  type StatementPlan,
  type ViewDefinition,
  withViews,
} from '../../src/policy/column-rules.ts';
import { initSqlParser, lineage } from '../../src/sql/postgres/index.ts';

beforeAll(async () => {
  await initSqlParser();
});

/** The corpus fixture's sensitive columns and maskers. */
const SPECS: ColumnRuleSpec[] = [
  { column: 'public.customers.email', masker: 'email' },
  { column: 'public.customers.card_number', masker: 'partial' },
  { column: 'public.customers.ssn', masker: 'partial' },
  { column: 'public.customers.phone', masker: 'partial' },
  { column: 'public.customers.api_key', masker: 'redact' },
];
const RULES = compileColumnRules(SPECS);
const STRICT: PlanOptions = { inference: 'deny', derived: 'mask' };
const CUSTOMERS = ['id', 'name', 'email', 'card_number', 'ssn', 'phone', 'api_key'];
const OID = 16384;

function planOf(sql: string, options: PlanOptions = STRICT): StatementPlan {
  const [l, ...rest] = lineage(sql);
  expect(rest).toHaveLength(0);
  if (l === undefined) throw new Error('no lineage');
  return planStatement(l, RULES, options);
}

function refusal(sql: string, options: PlanOptions = STRICT): string {
  const p = planOf(sql, options);
  if (!('refuse' in p)) throw new Error(`not refused: ${sql}`);
  return p.refuse;
}

/** The field rules for a result of these fields (`name` or `name:0` for tableOid 0). */
function rulesFor(sql: string, fields: readonly string[], options: PlanOptions = STRICT) {
  const p = planOf(sql, options);
  if ('refuse' in p) throw new Error(`refused: ${p.refuse}`);
  if (p.plan === undefined) throw new Error(`no plan: ${sql}`);
  const described: ResultField[] = fields.map((f) => {
    const [name = '', oid] = f.split(':');
    return { name, tableOid: oid === undefined ? OID : Number(oid) };
  });
  return p.plan.fieldRules(described);
}

/** A plan that masks no field but withholds server errors (the statement touches a sensitive table). */
function quiet(sql: string, fields: readonly string[], options: PlanOptions = STRICT): boolean {
  const p = planOf(sql, options);
  if ('refuse' in p || p.plan === undefined) return false;
  return p.plan.withholdErrors && rulesFor(sql, fields, options).every((r) => r === undefined);
}

/** Compact form: `partial`, `derived`, or `-`. */
function kinds(rules: readonly (FieldRule | undefined)[]): string[] {
  return rules.map((r) => (r === undefined ? '-' : r.kind === 'direct' ? r.masker : 'derived'));
}

const D = (column: string): FieldRule => ({ kind: 'derived', column });

describe('compileColumnRules', () => {
  it('matches three-part globs against the resolved schema, bare names as public', () => {
    const rules = compileColumnRules([
      { column: '*.customers.ssn', masker: 'partial' },
      { column: 'public.*.email', masker: 'email' },
      { column: 'accounts.token', masker: 'redact' },
    ]);
    expect(rules.ruleFor('customers', 'ssn')?.masker).toBe('partial');
    expect(rules.ruleFor('crm.customers', 'ssn')?.masker).toBe('partial');
    expect(rules.ruleFor('db.crm.customers', 'SSN')?.masker).toBe('partial');
    expect(rules.ruleFor('notes', 'email')?.masker).toBe('email');
    expect(rules.ruleFor('crm.notes', 'email')).toBeUndefined();
    expect(rules.ruleFor('anyschema.accounts', 'token')?.masker).toBe('redact');
    expect(rules.ruleFor('accounts', 'id')).toBeUndefined();
    expect(rules.tableSensitive('accounts')).toBe(true);
    expect(rules.tableSensitive('crm.customers')).toBe(true);
    expect(rules.tableSensitive('crm.notes')).toBe(false);
    expect(rules.empty).toBe(false);
    expect(compileColumnRules([]).empty).toBe(true);
  });

  it('gives the first matching spec', () => {
    const rules = compileColumnRules([
      { column: 'public.t.a', masker: 'hash' },
      { column: '*.*.a', masker: 'null' },
    ]);
    expect(rules.ruleFor('t', 'a')?.masker).toBe('hash');
    expect(rules.ruleFor('u', 'a')?.masker).toBe('null');
  });

  it('with no rules plans nothing, even for unknown lineage', () => {
    const [l] = lineage("SELECT query_to_xml('select card_number from customers', true, true, '')");
    if (l === undefined) throw new Error('no lineage');
    expect(planStatement(l, compileColumnRules([]), STRICT)).toEqual({ plan: undefined });
  });
});

describe('planStatement: corpus H', () => {
  it('85 SELECT * masks each sensitive column by name; id and name pass', () => {
    expect(kinds(rulesFor('SELECT * FROM customers', CUSTOMERS))).toEqual([
      '-',
      '-',
      'email',
      'partial',
      'partial',
      'partial',
      'redact',
    ]);
    expect(rulesFor('SELECT * FROM customers', CUSTOMERS)[3]).toEqual({
      kind: 'direct',
      masker: 'partial',
      column: 'public.customers.card_number',
    });
  });

  it('88 TABLE customers is the same star', () => {
    expect(kinds(rulesFor('TABLE customers', CUSTOMERS))).toEqual(
      kinds(rulesFor('SELECT * FROM customers', CUSTOMERS)),
    );
  });

  it('a star between other outputs covers the right fields', () => {
    expect(kinds(rulesFor('SELECT md5(ssn), *, id FROM customers', ['md5:0', ...CUSTOMERS, 'id']))).toEqual([
      'derived',
      '-',
      '-',
      'email',
      'partial',
      'partial',
      'partial',
      'redact',
      '-',
    ]);
  });

  it('86 aliasing keeps the masker of the column it is', () => {
    expect(
      rulesFor('SELECT card_number AS notes, ssn AS x, api_key AS id FROM customers', ['notes', 'x', 'id']),
    ).toEqual([
      { kind: 'direct', masker: 'partial', column: 'public.customers.card_number' },
      { kind: 'direct', masker: 'partial', column: 'public.customers.ssn' },
      { kind: 'direct', masker: 'redact', column: 'public.customers.api_key' },
    ]);
  });

  it('a plain reference the server does not call a table column is redacted whole', () => {
    expect(kinds(rulesFor('SELECT card_number FROM customers', ['card_number:0']))).toEqual(['derived']);
  });

  it('through a subquery and a CTE, a plain column stays direct and an expression derived', () => {
    expect(
      kinds(
        rulesFor('SELECT s.a, b FROM (SELECT card_number a, ssn::text b FROM customers) s', ['a', 'b:0']),
      ),
    ).toEqual(['partial', 'derived']);
    expect(kinds(rulesFor('WITH w AS (SELECT email FROM customers) SELECT email FROM w', ['email']))).toEqual(
      ['email'],
    );
  });

  it('89 a whole-row value is derived', () => {
    expect(rulesFor('SELECT c FROM customers c', ['c:0'])).toEqual([D('public.customers.*')]);
    expect(kinds(rulesFor('SELECT to_jsonb(c) FROM customers c', ['to_jsonb:0']))).toEqual(['derived']);
  });

  it('91 casts are derived, even if the server named a table', () => {
    expect(
      kinds(
        rulesFor('SELECT card_number::bigint, card_number::numeric FROM customers', [
          'card_number',
          'card_number',
        ]),
      ),
    ).toEqual(['derived', 'derived']);
  });

  it.each([
    ["SELECT translate(card_number,'0123456789','abcdefghij') FROM customers", 1],
    ["SELECT translate(card_number,'0123456789','０１２３４５６７８９') FROM customers", 1],
    ["SELECT regexp_replace(card_number,'(.)','\\1 ','g') FROM customers", 1],
    ["SELECT encode(convert_to(card_number,'UTF8'),'base64'), to_hex(card_number::bigint) FROM customers", 2],
    ["SELECT string_agg(card_number, ','), array_agg(ssn), json_agg(email) FROM customers", 3],
    ["SELECT md5(card_number), sha256(convert_to(ssn,'UTF8')) FROM customers", 2],
    ['SELECT id, left(card_number,8) FROM customers', 2],
    ['SELECT id, right(card_number,8) FROM customers', 2],
  ])('94–104 transforms, aggregates and hashes are derived: %s', (sql, n) => {
    const got = kinds(
      rulesFor(
        sql,
        Array.from({ length: n }, (_, i) => `f${i}:0`),
      ),
    );
    expect(got.at(-1)).toBe('derived');
    if (sql.startsWith('SELECT id,')) expect(got[0]).toBe('-');
    else expect(got.every((k) => k === 'derived')).toBe(true);
  });

  it('100 a union of halves is derived, its id column passes', () => {
    const sql =
      'SELECT id, left(card_number,8) FROM customers UNION ALL SELECT id, right(card_number,8) FROM customers';
    expect(kinds(rulesFor(sql, ['id:0', 'left:0']))).toEqual(['-', 'derived']);
  });

  it('124 other classes are derived', () => {
    const sql =
      "SELECT split_part(email,'@',1), replace(api_key,'sk_live_',''), 'key=' || api_key, replace(ssn,'-','')::int FROM customers";
    expect(kinds(rulesFor(sql, ['a:0', 'b:0', 'c:0', 'd:0']))).toEqual([
      'derived',
      'derived',
      'derived',
      'derived',
    ]);
  });

  it.each([
    ["SELECT count(*) FROM customers WHERE card_number LIKE '4111%'", 'card_number'],
    ["SELECT id FROM customers WHERE ssn > '5' ORDER BY ssn", 'ssn'],
    ['SELECT id FROM customers ORDER BY card_number', 'card_number'],
    ['SELECT c.id FROM customers c JOIN guesses g ON c.card_number = g.pan', 'card_number'],
    ["SELECT CASE WHEN substr(ssn,1,1) = '1' THEN pg_sleep(2) END FROM customers WHERE id = 1", 'ssn'],
    ['SELECT left(phone, 3), count(*) FROM customers GROUP BY 1', 'phone'],
  ])('106–110 inference oracles are refused: %s', (sql, column) => {
    expect(refusal(sql)).toBe(
      `sensitive column public.customers.${column} is used in a predicate, ordering, grouping or join, which can reveal its values`,
    );
  });

  it('inference: allow lets the oracle through (the output is still planned)', () => {
    expect(
      quiet("SELECT count(*) FROM customers WHERE card_number LIKE '4111%'", ['count:0'], {
        ...STRICT,
        inference: 'allow',
      }),
    ).toBe(true);
    expect(
      kinds(rulesFor('SELECT ssn FROM customers ORDER BY ssn', ['ssn'], { ...STRICT, inference: 'allow' })),
    ).toEqual(['partial']);
  });

  it('IS NOT NULL and count(col) are no oracle, and nothing sensitive is returned', () => {
    expect(planOf('SELECT count(*) FROM customers WHERE card_number IS NOT NULL')).toEqual({
      plan: undefined,
    });
    expect(planOf('SELECT count(ssn) FROM customers')).toEqual({ plan: undefined });
    expect(quiet("SELECT id, name FROM customers WHERE name ILIKE '%x%' ORDER BY name", ['id', 'name'])).toBe(
      true,
    );
    expect(planOf('SELECT body FROM notes')).toEqual({ plan: undefined });
  });

  it('113 a write to a sensitive table masks no field but withholds its errors', () => {
    expect(quiet('UPDATE customers SET name = NULL WHERE id = 1', [])).toBe(true);
    const p = planOf('SELECT card_number FROM customers');
    expect('plan' in p && p.plan?.withholdErrors).toBe(true);
  });

  it('118 PREPARE plans its inner query; 119 RETURNING is masked', () => {
    expect(
      kinds(rulesFor('PREPARE p AS SELECT card_number FROM customers WHERE id=$1', ['card_number'])),
    ).toEqual(['partial']);
    expect(
      kinds(
        rulesFor('UPDATE customers SET name = name WHERE id = 1 RETURNING card_number, api_key', [
          'card_number',
          'api_key',
        ]),
      ),
    ).toEqual(['partial', 'redact']);
  });

  it.each([
    ['INSERT INTO notes(body) SELECT card_number FROM customers', 'card_number'],
    ['CREATE TABLE t AS SELECT ssn FROM customers', 'ssn'],
    ['SELECT api_key INTO t FROM customers', 'api_key'],
    ['UPDATE notes SET body = (SELECT email FROM customers LIMIT 1) WHERE id = 1', 'email'],
  ])('71 copies of sensitive columns are refused: %s', (sql, column) => {
    expect(refusal(sql)).toBe(`copies sensitive column public.customers.${column} into another table`);
  });

  it('a copy of the whole row is refused', () => {
    expect(refusal('INSERT INTO notes(body) SELECT c::text FROM customers c')).toBe(
      'copies sensitive column public.customers.* into another table',
    );
  });
});

describe('planStatement: what lineage cannot follow', () => {
  const UNTRACEABLE = 'the gateway cannot trace which outputs derive from sensitive columns';

  it('refuses SQL hidden in a string whatever it names', () => {
    expect(refusal("SELECT query_to_xml('select card_number from customers', true, true, '')")).toBe(
      UNTRACEABLE,
    );
  });

  it('refuses unknown lineage over a sensitive table', () => {
    expect(refusal("SELECT query_to_xml('select 1', true, true, ''), id FROM customers")).toBe(UNTRACEABLE);
  });

  it('passes unknown lineage that reads only non-sensitive tables', () => {
    const [l] = lineage('SELECT nosuch.* FROM notes, stats');
    expect(l?.unknown).toBe(true);
    expect(planOf('SELECT nosuch.* FROM notes, stats')).toEqual({ plan: undefined });
  });
});

describe('planStatement: derived deny', () => {
  const DENY: PlanOptions = { inference: 'deny', derived: 'deny' };

  it('refuses computed values and whole rows, passes plain references and stars', () => {
    expect(refusal('SELECT md5(card_number) FROM customers', DENY)).toBe(
      'returns a value computed from sensitive column public.customers.card_number, which only passes unchanged',
    );
    expect(refusal('SELECT c FROM customers c', DENY)).toContain('public.customers.*');
    expect(kinds(rulesFor('SELECT card_number AS x FROM customers', ['x'], DENY))).toEqual(['partial']);
    expect(kinds(rulesFor('SELECT * FROM customers', CUSTOMERS, DENY))).toContain('redact');
    expect(quiet('SELECT upper(name) FROM customers', ['upper:0'], DENY)).toBe(true);
  });
});

describe('planStatement: alignment fallback', () => {
  it('a count mismatch redacts all but fields named as a sensitive column all outputs agree with', () => {
    // Two outputs, three fields: alignment is impossible.
    expect(kinds(rulesFor('SELECT id, ssn FROM customers', ['id', 'ssn', 'x']))).toEqual([
      'derived',
      'partial',
      'derived',
    ]);
  });

  it('a name whose masker differs from another sensitive output it may alias is derived', () => {
    expect(kinds(rulesFor('SELECT api_key, ssn FROM customers', ['ssn', 'api_key', 'x']))).toEqual([
      'derived',
      'derived',
      'derived',
    ]);
  });

  it('several stars: table stars keep real names; other fields are redacted', () => {
    const fields = [...CUSTOMERS, 'pan'];
    const sql = 'SELECT * FROM customers c JOIN guesses g ON c.id = 1';
    expect(kinds(rulesFor(sql, fields))).toEqual([
      'derived',
      'derived',
      'email',
      'partial',
      'partial',
      'partial',
      'redact',
      'derived',
    ]);
    // A sensitive non-star output may be any field under another name: only the same masker (api_key's) stays.
    expect(kinds(rulesFor(`SELECT c.api_key AS x, ${sql.slice(7)}`, ['x', ...fields]))).toEqual([
      ...Array.from({ length: 7 }, () => 'derived'),
      'redact',
      'derived',
    ]);
  });

  it('renamed star columns give no star, so aliased names are redacted', () => {
    const sql = 'SELECT * FROM customers AS c(a, b, e, d)';
    expect(
      kinds(rulesFor(sql, ['a', 'b', 'e', 'd', 'ssn', 'phone', 'api_key'])).every((k) => k === 'derived'),
    ).toBe(true);
  });

  it('a plan never throws on odd fields', () => {
    const p = planOf('SELECT * FROM customers');
    if ('refuse' in p || p.plan === undefined) throw new Error('expected a plan');
    expect(p.plan.fieldRules([])).toEqual([]);
    expect(kinds(p.plan.fieldRules([{ name: 'ssn', tableOid: 0 }]))).toEqual(['derived']);
  });
});

describe('withViews: views expose their base columns', () => {
  const view = (name: string, columns: string[], definition: string): ViewDefinition => ({
    name,
    columns,
    lineage: lineage(definition)[0],
  });

  it('a passed-through column keeps its rule, a computed one is redacted, other columns stay clear', () => {
    const rules = withViews(RULES, [
      view(
        'public.v_notes',
        ['id', 'note', 'h'],
        'SELECT id, card_number AS note, md5(ssn) AS h FROM customers',
      ),
    ]);
    expect(rules.ruleFor('v_notes', 'id')).toBeUndefined();
    expect(rules.ruleFor('v_notes', 'note')?.masker).toBe(RULES.ruleFor('customers', 'card_number')?.masker);
    expect(rules.ruleFor('public.v_notes', 'h')?.masker).toBe('redact');
    expect(rules.tableSensitive('v_notes')).toBe(true);
  });

  it('resolves views over views, and leaves views over harmless tables alone', () => {
    const rules = withViews(RULES, [
      view('public.outer_v', ['x'], 'SELECT note AS x FROM inner_v'),
      view('public.inner_v', ['note'], 'SELECT card_number AS note FROM customers'),
      view('public.plain_v', ['body'], 'SELECT body FROM notes'),
    ]);
    expect(rules.ruleFor('outer_v', 'x')).toBeDefined();
    expect(rules.tableSensitive('plain_v')).toBe(false);
  });

  it('a view whose definition cannot be traced is redacted whole', () => {
    const rules = withViews(RULES, [
      view(
        'public.opaque',
        ['a', 'b'],
        "SELECT * FROM query_to_xml('select card_number from customers', true, true, '')",
      ),
    ]);
    expect(rules.ruleFor('opaque', 'a')?.masker).toBe('redact');
    expect(rules.ruleFor('opaque', 'b')?.masker).toBe('redact');
  });
});
