/**
 * Column rules through the gateway against real PostgreSQL (corpus section H): sensitive columns
 * are masked however a query reaches them (aliases, `*`, TABLE, whole rows, casts, transforms,
 * aggregates, halves, prepared statements, RETURNING), predicates on them are refused, copying
 * them elsewhere is refused, and errors of statements that touch them are withheld. The fixture's
 * `987-65-4321` is no valid SSN, so only the column rule, not a detector, can catch it.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CorpusFixture, createCorpusFixture } from '../helpers/corpus-fixture.ts';
import { rawGatewayClient, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { Q } from '../helpers/messages.ts';
import { PG_HOST, PG_PORT } from '../helpers/postgres.ts';
import { decode, errorsIn, type RawClient, type RawFrame } from '../helpers/raw-client.ts';

let fx: CorpusFixture;
let gw: TestGateway;
let key: string;
let client: RawClient;

const SECRETS = [
  '4111111111111111',
  '5500005555555559',
  '340000000000009',
  '123-45-6789',
  '987-65-4321',
  '111-22-3333',
  'alice@example.com',
  'bob@example.com',
  '+1-415-555-0100',
  '+44 20 7946 0958',
  'sk_live_51HxAbCdEfGhIjKlMnOpQrSt',
  'AKIAIOSFODNN7EXAMPLE',
];

function forms(secret: string): string[] {
  const digits = secret.replace(/\D/g, '');
  const out = [
    secret,
    [...secret].reverse().join(''),
    Buffer.from(secret).toString('base64'),
    Buffer.from(secret).toString('hex'),
    createHash('md5').update(secret).digest('hex'),
    secret.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d))),
  ];
  if (digits.length >= 9) out.push(digits);
  if (digits.length >= 15) out.push(digits.slice(0, 8), digits.slice(-8));
  return out;
}

function leaks(frames: readonly RawFrame[]): string[] {
  const text = Buffer.concat(frames.map((f) => f.bytes)).toString('utf8');
  return SECRETS.flatMap((s) =>
    forms(s)
      .filter((f) => text.includes(f))
      .map((f) => `${s} as ${f}`),
  );
}

function rows(frames: readonly RawFrame[]): (string | null)[][] {
  return frames.flatMap((frame) => {
    const m = decode(frame);
    return m.type === 'DataRow' ? [m.values.map((v) => (v === null ? null : v.toString('utf8')))] : [];
  });
}

async function query(sql: string): Promise<RawFrame[]> {
  await client.send([Q(sql)]);
  return client.readUntil(1, 10_000);
}

beforeAll(async () => {
  fx = await createCorpusFixture('sluice_cols');
  gw = await startTestGateway({
    yaml: `connections:
  - name: app
    type: postgres
    url: postgres://${fx.agent}@${PG_HOST}:${PG_PORT}/${fx.name}
policies:
  - name: agents
    subjects: { groups: [agents] }
    connections: [app]
  - name: support
    subjects: { groups: [support] }
    connections: [app]
  - name: dba
    subjects: { groups: [dba] }
    connections: [app]
    masking: off
  - name: analyst
    subjects: { groups: [analyst] }
    connections: [app]
    masking: { inference: allow, derived: deny }
masking:
  columns:
    - { column: public.customers.email, masker: email }
    - { column: public.customers.card_number, masker: partial }
    - { column: public.customers.ssn, masker: redact, policies: [support] }
    - { column: public.customers.ssn, masker: partial }
    - { column: customers.phone, masker: partial }
    - { column: public.customers.api_key, masker: redact }
`,
  });
  key = await gw.createKey('agent', ['agents']);
  client = await rawGatewayClient(gw, key);
}, 60_000);

afterAll(async () => {
  await client?.close();
  await gw?.close();
  await fx?.drop();
}, 60_000);

describe('outputs of sensitive columns are masked however they are reached', () => {
  it.each([
    ['85 star', 'SELECT * FROM customers ORDER BY id'],
    ['86 aliases', 'SELECT card_number AS notes, ssn AS x, email AS e FROM customers'],
    ['88 TABLE', 'TABLE customers'],
    ['89 whole row', 'SELECT c FROM customers c'],
    ['89 to_jsonb', 'SELECT to_jsonb(c) FROM customers c'],
    [
      '91 casts',
      "SELECT card_number::bigint, card_number::numeric, replace(ssn, '-', '')::int FROM customers",
    ],
    ['94 translate', "SELECT translate(card_number, '0123456789', 'abcdefghij') FROM customers"],
    ['95 fullwidth', "SELECT translate(card_number, '0123456789', '０１２３４５６７８９') FROM customers"],
    ['97 spacing', "SELECT regexp_replace(card_number, '(.)', '\\1 ', 'g') FROM customers"],
    [
      '98 encodings',
      "SELECT encode(convert_to(card_number, 'UTF8'), 'base64'), to_hex(card_number::bigint) FROM customers",
    ],
    [
      '100 halves',
      'SELECT id, left(card_number, 8) FROM customers UNION ALL SELECT id, right(card_number, 8) FROM customers',
    ],
    ['103 aggregates', "SELECT string_agg(card_number, ','), array_agg(ssn), json_agg(email) FROM customers"],
    ['104 hashes', "SELECT md5(card_number), sha256(convert_to(ssn, 'UTF8')) FROM customers"],
    [
      '124 parts',
      "SELECT split_part(email, '@', 1), replace(api_key, 'sk_live_', ''), 'key=' || api_key, reverse(ssn) FROM customers",
    ],
    [
      'subquery and CTE',
      'WITH s AS (SELECT ssn AS v FROM customers) SELECT (SELECT max(v) FROM s), v FROM s',
    ],
    ['101 first half alone', 'SELECT id, left(card_number, 8) FROM customers'],
    ['101 second half alone', 'SELECT id, right(card_number, 8) FROM customers'],
    ['122 view', 'SELECT note FROM v_notes'],
  ])('%s', async (_case, sql) => {
    const frames = await query(sql);
    expect(errorsIn(frames), sql).toEqual([]);
    expect(rows(frames).length, sql).toBeGreaterThan(0);
    expect(leaks(frames), sql).toEqual([]);
  });

  it('direct columns get their masker; other columns are untouched', async () => {
    const [row1, row2] = rows(
      await query('SELECT id, name, email, card_number, ssn, phone, api_key FROM customers ORDER BY id'),
    );
    expect(row1).toEqual([
      '1',
      'Alice',
      'a***@example.com',
      '************1111',
      '***-**-6789',
      '+*-***-***-0100',
      '[REDACTED:api_key]',
    ]);
    // The column rule catches what no detector would: 987-65-4321 is no valid SSN.
    expect(row2?.[4]).toBe('***-**-4321');
  });

  it('derived values are redacted whole (text) or NULL (other types)', async () => {
    const [row] = rows(
      await query('SELECT md5(card_number), card_number::bigint FROM customers WHERE id = 1'),
    );
    expect(row).toEqual(['[REDACTED:card_number]', null]);
  });

  it('122: a view column is masked as the column it shows (read from the catalog)', async () => {
    expect(rows(await query('SELECT note FROM v_notes ORDER BY id'))).toEqual([
      ['************1111'],
      ['************5559'],
      ['***********0009'],
    ]);
    const [error] = errorsIn(await query("SELECT id FROM v_notes WHERE note LIKE '4%'"));
    expect(error?.M).toMatch(/sensitive column public\.v_notes\.note is used in a predicate/);
  });

  it('node-postgres in binary mode reads masked results without client errors', async () => {
    // `binary` is a real node-postgres option that its type definitions leave out.
    const pgClient = new pg.Client({
      host: gw.host,
      port: gw.port,
      user: 'agent',
      database: 'app',
      password: key,
      ssl: { rejectUnauthorized: false },
      binary: true,
    } as pg.ClientConfig);
    await pgClient.connect();
    try {
      const result = await pgClient.query(
        'SELECT id, name, card_number, card_number::bigint AS n, md5(ssn) AS h FROM customers WHERE id = $1',
        [1],
      );
      expect(result.rows).toEqual([
        { id: 1, name: 'Alice', card_number: '************1111', n: null, h: '[REDACTED:ssn]' },
      ]);
    } finally {
      await pgClient.end();
    }
  });

  it('118 prepared statements and 119 RETURNING', async () => {
    await query('PREPARE p AS SELECT card_number FROM customers WHERE id = $1');
    const executed = await query('EXECUTE p(2)');
    expect(leaks(executed)).toEqual([]);
    expect(rows(executed)).toEqual([['************5559']]);
    const returning = await query(
      'UPDATE customers SET name = name WHERE id = 1 RETURNING card_number, api_key',
    );
    expect(leaks(returning)).toEqual([]);
    expect(rows(returning)).toEqual([['************1111', '[REDACTED:api_key]']]);
  });
});

describe('column rules by policy', () => {
  it('one group sees partial values, another redacted, a policy with masking off everything', async () => {
    const ssnFor = async (group: string) => {
      const groupKey = await gw.createKey(`ssn-${group}`, [group]);
      const c = await rawGatewayClient(gw, groupKey);
      try {
        await c.send([Q('SELECT ssn FROM customers WHERE id = 1')]);
        return rows(await c.readUntil(1, 10_000))[0]?.[0];
      } finally {
        await c.close();
      }
    };
    expect(await ssnFor('agents')).toBe('***-**-6789');
    expect(await ssnFor('support')).toBe('[REDACTED:ssn]');
    expect(await ssnFor('dba')).toBe('123-45-6789');
  });

  it('derived and inference can be set per policy', async () => {
    const c = await rawGatewayClient(gw, await gw.createKey('analyst', ['analyst']));
    try {
      await c.send([Q('SELECT id FROM customers ORDER BY card_number')]);
      expect(rows(await c.readUntil(1, 10_000))).toEqual([['3'], ['1'], ['2']]);
      await c.send([Q('SELECT md5(card_number) FROM customers')]);
      const [error] = errorsIn(await c.readUntil(1, 10_000));
      expect(error?.C).toBe('42501');
    } finally {
      await c.close();
    }
  });
});

describe('refused', () => {
  it.each([
    ['106 predicate oracle', "SELECT count(*) FROM customers WHERE card_number LIKE '4111%'"],
    ['107 range', "SELECT id FROM customers WHERE ssn > '5' ORDER BY ssn"],
    ['107 order', 'SELECT id FROM customers ORDER BY card_number'],
    ['109 join oracle', 'SELECT c.id FROM customers c JOIN guesses g ON c.card_number = g.pan'],
    ['110 timing oracle', "SELECT CASE WHEN substr(ssn, 1, 1) = '1' THEN 1 END FROM customers WHERE id = 1"],
    ['71 copy-taint', 'INSERT INTO notes(body) SELECT card_number FROM customers'],
  ])('%s', async (_case, sql) => {
    const frames = await query(sql);
    const [error] = errorsIn(frames);
    expect(error?.C, sql).toBe('42501');
    expect(error?.M, sql).toMatch(/^sluice: blocked by policy "agents": /);
    expect(leaks(frames)).toEqual([]);
    expect(rows(await query('SELECT 1'))).toEqual([['1']]);
  });

  it('null tests and counts of sensitive columns are not oracles', async () => {
    const frames = await query('SELECT count(*), count(ssn) FROM customers WHERE card_number IS NOT NULL');
    expect(errorsIn(frames)).toEqual([]);
    expect(rows(frames)).toEqual([['3', '3']]);
  });
});

describe('errors of statements on sensitive tables are withheld', () => {
  it.each([
    ['112 cast', 'SELECT ssn::int FROM customers'],
    ['112 date', 'SELECT CAST(email AS date) FROM customers'],
    ['113 constraint detail', 'UPDATE customers SET name = NULL WHERE id = 2'],
  ])('%s', async (_case, sql) => {
    const frames = await query(sql);
    const [error] = errorsIn(frames);
    expect(error?.M).toMatch(
      /^sluice: the database reported an error \(SQLSTATE \w{5}\); its text was withheld/,
    );
    expect(leaks(frames)).toEqual([]);
  });

  it('other errors keep their text', async () => {
    const [error] = errorsIn(await query('SELECT 1/0'));
    expect(error?.M).toBe('division by zero');
  });
});
