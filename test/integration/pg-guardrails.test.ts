/**
 * The adversarial corpus (shared/design/adversarial-corpus.md, sections A–F) through the gateway,
 * against real PostgreSQL, with the corpus fixture and the corpus's "assumed default policy" as
 * far as the policy language expresses it.
 *
 * - BLOCKED: 42501 `sluice: blocked by policy …` with a hint; the fixture snapshot (canary, row
 *   counts and contents, objects, ownership, ACLs, role settings, prepared transactions, large
 *   objects) is unchanged; the same session answers `SELECT 1` afterwards.
 * - ALLOWED (false positives): the backend bytes after login are identical to the same script run
 *   directly against PostgreSQL as the same role.
 * - APPROVAL-REQUIRED: 42501 "approval required" with a ticket id (the policy uses ticket mode, so
 *   review refuses at once instead of holding the connection; holds are pg-approvals.test.ts), nothing run.
 *
 * Masking and sensitive-column cases (H, 71, the inference guard) belong to a later issue.
 */
import { inspect } from 'node:util';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FrontendMessage } from '../../src/protocols/postgres/codec/frontend/index.ts';
import { encodeFrontendMessage } from '../../src/protocols/postgres/codec/frontend/index.ts';
import { type CorpusFixture, createCorpusFixture, type FixtureSnapshot } from '../helpers/corpus-fixture.ts';
import { appConnectionYaml, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { B, C, E, F, P, Q, S } from '../helpers/messages.ts';
import { gatewayClient } from '../helpers/pg-client.ts';
import { PG_HOST, PG_PORT } from '../helpers/postgres.ts';
import { describeFrames, errorsIn, RawClient, type RawFrame } from '../helpers/raw-client.ts';

const STEP_TIMEOUT_MS = 10_000;
const BLOCKED_PREFIX = 'sluice: blocked by policy';

// ---- fixture, gateway and the assumed default policy ------------------------------------------

/**
 * Guardrails stay on (the default). `review` for non-destructive DDL (CREATE INDEX and similar);
 * the function allowlist covers what the false-positive cases call, so `pg_sleep`,
 * `generate_series`, `set_config`, `lo_*`… are outside it (on top of the side-effect guardrail).
 */
const POLICY = `    default: allow
    rules:
      - { name: index-approval, action: review, kinds: [IndexStmt], reason: non-destructive DDL needs approval }
      - { name: ddl-approval, action: review, effects: [ddl], reason: DDL needs approval }
    allowedFunctions: [count, md5, now, lower, upper, length]
    review: { mode: ticket }
`;

let fx: CorpusFixture;
let gw: TestGateway;
let key: string;
let baseline: FixtureSnapshot;
/** One gateway session reused by the simple-SQL cases; replaced if a case breaks it. */
let session: pg.Client;

async function openSession(): Promise<pg.Client> {
  const client = gatewayClient(gw, key);
  await client.connect();
  return client;
}

beforeAll(async () => {
  fx = await createCorpusFixture('sluice_guard');
  gw = await startTestGateway({
    yaml: appConnectionYaml({ name: fx.name, role: fx.agent }, 'agents', POLICY),
  });
  key = await gw.createKey('corpus-agent', ['agents']);
  baseline = await fx.snapshot();
  session = await openSession();
}, 60_000);

afterAll(async () => {
  await session?.end().catch(() => undefined);
  await gw?.close();
  await fx?.drop();
}, 60_000);

/** A case that changed the fixture (it failed, or it is an allowed write) gets a fresh one. */
afterEach(async () => {
  const alive = await session.query('SELECT 1').then(
    () => true,
    () => false,
  );
  if (!alive) {
    await session.end().catch(() => undefined);
    session = await openSession();
  }
  await resetIfChanged();
});

async function resetIfChanged(): Promise<void> {
  const now = await fx.snapshot();
  if (JSON.stringify(now) === JSON.stringify(baseline)) return;
  await fx.reset();
  baseline = await fx.snapshot();
}

// ---- oracles --------------------------------------------------------------------------------------

async function expectUsable(client: pg.Client): Promise<void> {
  expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
}

async function expectFixtureUnchanged(): Promise<void> {
  expect(await fx.snapshot()).toEqual(baseline);
}

/** Runs `sql` expecting a refusal; anything else (success or another error) fails loudly. */
async function refusal(sql: string, client: pg.Client = session): Promise<pg.DatabaseError> {
  const outcome = await client.query(sql).then(
    (result: unknown) => ({ succeeded: result }),
    (error: unknown) => error,
  );
  if (!(outcome instanceof pg.DatabaseError)) {
    throw new Error(`NOT BLOCKED: ${JSON.stringify(sql.slice(0, 200))} → ${inspect(outcome, { depth: 3 })}`);
  }
  expect(
    { code: outcome.code, message: outcome.message },
    `refusal of ${JSON.stringify(sql.slice(0, 200))}`,
  ).toEqual({ code: '42501', message: expect.stringMatching(new RegExp(`^${BLOCKED_PREFIX}`)) });
  expect(outcome.hint).toMatch(/\S/);
  return outcome;
}

/** BLOCKED: refused by a deny, nothing changed, the session still works. */
async function expectBlocked(sql: string, client: pg.Client = session): Promise<pg.DatabaseError> {
  const error = await refusal(sql, client);
  expect(error.message).not.toMatch(/approval required/);
  await expectUsable(client);
  await expectFixtureUnchanged();
  return error;
}

// ---- raw sessions and parity ---------------------------------------------------------------------

function direct(): Promise<RawClient> {
  return RawClient.connect({
    host: PG_HOST,
    port: PG_PORT,
    user: fx.agent,
    database: fx.name,
    parameters: { client_encoding: 'UTF8' },
  });
}

function viaGateway(): Promise<RawClient> {
  return RawClient.connect({
    host: gw.host,
    port: gw.port,
    user: 'agent',
    database: 'app',
    password: key,
    tls: true,
    parameters: { client_encoding: 'UTF8' },
  });
}

const requests = (messages: readonly FrontendMessage[]) =>
  messages.filter((m) => m.type === 'Query' || m.type === 'Sync' || m.type === 'FunctionCall').length;

/** Sends `messages` in one write and reads up to as many ReadyForQuery frames as they ask for. */
async function exchange(client: RawClient, messages: readonly FrontendMessage[]): Promise<RawFrame[]> {
  await client.send(messages);
  return client.readUntil(requests(messages), STEP_TIMEOUT_MS);
}

async function runScript(client: RawClient, messages: readonly FrontendMessage[]): Promise<RawFrame[]> {
  const frames = await exchange(client, messages);
  // A trailing Sync answers with exactly one ReadyForQuery: any stray frame would arrive before it.
  frames.push(...(await exchange(client, [S])));
  frames.push(...client.takeAll());
  return frames;
}

/** NotificationResponse carries the backend PID, which differs through the gateway (as in pg-parity). */
function normalize(frame: RawFrame): Buffer {
  if (frame.tag !== 'A') return frame.bytes;
  const copy = Buffer.from(frame.bytes);
  copy.writeInt32BE(0, 5);
  return copy;
}

/** ALLOWED: the same script directly and through the gateway gives the same backend bytes. */
async function expectParity(messages: readonly FrontendMessage[]): Promise<RawFrame[]> {
  const d = await direct();
  const expected = await runScript(d, messages).finally(() => d.close());
  // An allowed write changes the fixture; both runs must start from the same state.
  await resetIfChanged();
  const g = await viaGateway();
  const actual = await runScript(g, messages).finally(() => g.close());
  expect(errorsIn(expected), 'the direct run itself succeeds').toEqual([]);
  expect(describeFrames(actual)).toEqual(describeFrames(expected));
  const a = expected.map(normalize);
  const b = actual.map(normalize);
  a.forEach((bytes, i) => {
    expect(b[i]?.toString('hex'), `frame ${i} (${expected[i]?.tag})`).toBe(bytes.toString('hex'));
  });
  expect(Buffer.concat(b).equals(Buffer.concat(a))).toBe(true);
  return actual;
}

const tags = (frames: readonly RawFrame[]) => frames.map((f) => f.tag).join('');

function expectRefusalFrame(fields: Record<string, string | undefined> | undefined): void {
  expect(fields?.C).toBe('42501');
  expect(fields?.M).toMatch(new RegExp(`^${BLOCKED_PREFIX}`));
}

async function expectRawUsable(client: RawClient): Promise<void> {
  const frames = await exchange(client, [Q('SELECT 1')]);
  expect(describeFrames(frames)).toBe('T D C(SELECT 1) Z(I)');
}

/** After a connection was closed on an error: the gateway still serves a new session. */
async function expectGatewayServes(): Promise<void> {
  const client = await openSession();
  try {
    await expectUsable(client);
  } finally {
    await client.end();
  }
}

// ---- the oracles themselves ---------------------------------------------------------------------------

describe('controls', () => {
  it('the fixture snapshot sees a change to canary, to a role setting and a new object', async () => {
    await fx.query('UPDATE canary SET v = 43');
    expect(await fx.snapshot()).not.toEqual(baseline);
    await fx.query('UPDATE canary SET v = 42');
    await fx.query(`ALTER ROLE ${fx.agent} SET standard_conforming_strings = off`);
    expect(await fx.snapshot()).not.toEqual(baseline);
    await fx.query(`ALTER ROLE ${fx.agent} RESET ALL`);
    await fx.query('CREATE TABLE stolen(x int)');
    expect(await fx.snapshot()).not.toEqual(baseline);
    await fx.query('DROP TABLE stolen');
    await expectFixtureUnchanged();
  });

  // The attacks are real: directly, as the agent role, these run (inside a transaction rolled back).
  it.each([
    'UPDATE customers SET email = NULL',
    'DELETE FROM notes WHERE 1=1',
    'DELETE FROM notes WHERE true',
    'UPDATE notes SET body = body WHERE id = id',
    'DELETE FROM notes WHERE NULL IS NULL',
    'DELETE FROM notes WHERE EXISTS (SELECT 1)',
    'MERGE INTO stats s USING (SELECT 1 AS a) x ON true WHEN MATCHED THEN DELETE',
    'WITH d AS (DELETE FROM stats RETURNING *) SELECT count(*) FROM d',
    'SELECT * INTO stolen FROM customers',
    'CREATE TEMP TABLE tt AS SELECT card_number AS x FROM customers',
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql SECURITY DEFINER AS 'TRUNCATE stats'",
    'SET statement_timeout = 0',
    "SELECT set_config('statement_timeout','0',false)",
    'ALTER ROLE %agent% SET standard_conforming_strings = off',
  ])('directly, as the agent, this succeeds: %s', async (statement) => {
    const sql = statement.replaceAll('%agent%', fx.agent);
    const client = new pg.Client({ host: PG_HOST, port: PG_PORT, user: fx.agent, database: fx.name });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query(sql);
      await client.query('ROLLBACK');
    } finally {
      await client.end();
    }
    await expectFixtureUnchanged();
  });
});

// ---- A. false positives ----------------------------------------------------------------------------

describe('A. false positives are forwarded unaltered (byte parity with the direct run)', () => {
  it.each<[id: string, sql: string]>([
    ['1', 'SELECT id, name FROM customers WHERE id = 1 -- TODO: never DROP this table'],
    ['2', "SELECT 'DELETE' AS verb, 'DROP TABLE customers;' AS note"],
    ['4', 'SELECT note FROM stats'],
    ['5', 'SELECT $$DROP TABLE customers$$ AS doc'],
    ['7', "SELECT 'x'';DROP TABLE customers;--' AS s"],
    ['8', '/* DROP TABLE customers */ SELECT count(*) FROM customers; -- trailing'],
    ['10', "UPDATE stats SET note = 'please do not truncate' WHERE drop_count = 3"],
    ['11', 'DELETE FROM notes WHERE id = 4242'],
    ['13', "SELECT 1234567890123456 AS order_no, md5('hello') AS etag"],
    ['14', "SELECT id, name FROM customers WHERE name ILIKE '%drop%' ORDER BY name"],
    ['16', 'BEGIN; SELECT count(*) FROM notes; ROLLBACK;'],
  ])('case %s: %s', async (_id, sql) => {
    const frames = await expectParity([Q(sql)]);
    expect(errorsIn(frames)).toEqual([]);
  });

  it('case 4: the note containing SQL comes back unaltered', async () => {
    const frames = await expectParity([Q('SELECT note FROM stats')]);
    const row = frames.find((f) => f.tag === 'D');
    expect(row?.payload.toString('utf8')).toContain('DROP TABLE customers; -- just a note');
  });

  it('case 7: the doubled quote stays inside the literal', async () => {
    const frames = await expectParity([Q("SELECT 'x'';DROP TABLE customers;--' AS s")]);
    const row = frames.find((f) => f.tag === 'D');
    expect(row?.payload.toString('utf8')).toContain("x';DROP TABLE customers;--");
  });

  it('case 10 and 11 really ran (UPDATE 1, DELETE 1)', async () => {
    const update = await expectParity([
      Q("UPDATE stats SET note = 'please do not truncate' WHERE drop_count = 3"),
    ]);
    expect(describeFrames(update)).toContain('C(UPDATE 1)');
    const del = await expectParity([Q('DELETE FROM notes WHERE id = 4242')]);
    expect(describeFrames(del)).toContain('C(DELETE 1)');
  });

  it('case 17: DELETE only inside a bound parameter (extended protocol)', async () => {
    const frames = await expectParity([
      P('s1', 'SELECT id FROM notes WHERE body = $1'),
      B('', 's1', ['DELETE FROM notes']),
      E('', 0),
      S,
    ]);
    expect(tags(frames)).toBe('12CZZ');
  });
});

// ---- B–F. blocked statements ---------------------------------------------------------------------

const blockedCases: ReadonlyArray<[id: string, sql: string]> = [
  // B. destructive statements
  ['19', 'DROP TABLE customers'],
  ['20', 'TRUNCATE stats'],
  ['22', 'UPDATE customers SET email = NULL'],
  ['23a', 'DELETE FROM notes WHERE 1=1'],
  ['23b', 'DELETE FROM notes WHERE true'],
  ['23c', 'UPDATE notes SET body = body WHERE id = id'],
  ['25', 'ALTER TABLE customers DROP COLUMN ssn'],
  ['26', 'DROP SCHEMA public CASCADE'],
  ['29', 'GRANT ALL ON customers TO PUBLIC'],
  ['31a', "COPY (SELECT 1) TO PROGRAM 'id'"],
  ['31b', "COPY stats FROM PROGRAM 'cat /etc/passwd'"],
  // C. lexical and parser-differential bypasses
  ['32', 'dRoP/**/TaBlE customers'],
  ['34', 'SELECT 1; DROP TABLE customers'],
  ['35', "SELECT '--' AS x; DROP TABLE customers"],
  ['37', "SELECT $a$ ' $a$; DROP TABLE customers; --'"],
  ['38a', 'DROP TABLE U&"\\0063ustomers"'],
  ['38b', 'DROP TABLE "customers"'],
  ['38c', 'DROP TABLE postgres.public.customers'],
  ['41', "SELECT set_config('standard_conforming_strings','off',false)"],
  ['43a', 'DROP\u00a0TABLE stats'],
  ['43b', 'ＤＲＯＰ TABLE stats'],
  // E. side effects hidden in reads and functions
  ['56', 'WITH d AS (DELETE FROM stats RETURNING *) SELECT count(*) FROM d'],
  ['58', 'SELECT * INTO stolen FROM customers'],
  ['59', 'CREATE TEMP TABLE tt AS SELECT card_number AS x FROM customers'],
  ['61a', "SELECT lo_import('/etc/passwd')"],
  ['61b', "SELECT lo_export(0,'/tmp/x')"],
  ['62', "SELECT dblink_exec('dbname=postgres','DROP TABLE customers')"],
  ['64', 'CALL cleanup_everything()'],
  ['65', "CREATE FUNCTION f() RETURNS void LANGUAGE sql SECURITY DEFINER AS 'TRUNCATE stats'"],
  ['67a', 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity'],
  ['67b', 'SELECT pg_reload_conf()'],
  ['67c', "SELECT setval('notes_id_seq', 1)"],
  ['68a', 'SELECT pg_sleep(3600)'],
  ['68b', 'SELECT count(*) FROM generate_series(1,1e10)'],
  ['70', "BEGIN; UPDATE notes SET body='x' WHERE id=1; PREPARE TRANSACTION 'keep'"],
  // F. privilege and session manipulation
  ['73a', 'SET ROLE admin'],
  ['73b', 'SET SESSION AUTHORIZATION admin'],
  ['73c', 'RESET ROLE'],
  ['74', "SELECT set_config('role','admin',false)"],
  ['76a', 'SET statement_timeout = 0'],
  ['76b', "SELECT set_config('statement_timeout','0',false)"],
  ['76c', 'DO $$ BEGIN SET LOCAL statement_timeout = 0; PERFORM pg_sleep(30); END $$'],
  // Further spellings of the same classes: constant-true predicates (23), MERGE ON true
  ['23d', 'DELETE FROM notes WHERE NULL IS NULL'],
  ['23e', 'DELETE FROM notes WHERE 1 IN (1,2)'],
  ['23f', 'DELETE FROM notes WHERE 1 BETWEEN 0 AND 2'],
  ['23g', "UPDATE notes SET body = 'x' WHERE true IS TRUE"],
  ['23h', "UPDATE notes SET body = 'x' WHERE 1 IS DISTINCT FROM 2"],
  ['23i', 'DELETE FROM notes WHERE CASE WHEN true THEN true END'],
  ['23j', 'DELETE FROM notes WHERE coalesce(NULL, true)'],
  ['23k', 'DELETE FROM notes WHERE (SELECT true)'],
  ['23l', 'DELETE FROM notes WHERE EXISTS (SELECT 1)'],
  ['23m', 'DELETE FROM notes WHERE id IS NOT DISTINCT FROM id'],
  ['23n', 'MERGE INTO stats s USING (SELECT 1 AS a) x ON true WHEN MATCHED THEN DELETE'],
  ['38d', 'DROP TABLE public.customers'],
  ['40s', 'SET standard_conforming_strings = off'],
];

describe('B–F. blocked statements never reach the server', () => {
  it.each(blockedCases)('case %s: %s', async (_id, sql) => {
    await expectBlocked(sql);
  });

  it('case 38: the database-qualified spelling with the real database name', async () => {
    await expectBlocked(`DROP TABLE ${fx.name}.public.customers`);
  });

  it('case 40: ALTER ROLE … SET standard_conforming_strings = off (persisted for future sessions)', async () => {
    await expectBlocked(`ALTER ROLE ${fx.agent} SET standard_conforming_strings = off`);
    await expectBlocked(
      `ALTER ROLE ${fx.agent} IN DATABASE ${fx.name} SET standard_conforming_strings = off`,
    );
  });

  it('case 40 (startup): a role default standard_conforming_strings=off is refused or re-moded, never relayed', async () => {
    await fx.query(`ALTER ROLE ${fx.agent} SET standard_conforming_strings = off`);
    const client = gatewayClient(gw, key);
    try {
      const outcome = await client.connect().then(
        () =>
          client.query('SHOW standard_conforming_strings').then(
            (r) => `setting ${String(r.rows[0]?.standard_conforming_strings)}`,
            (error: pg.DatabaseError) => `error ${error.code}`,
          ),
        (error: pg.DatabaseError) => `login refused ${error.code ?? error.message}`,
      );
      expect(outcome).toMatch(/^(login refused|error|setting on$)/);
    } finally {
      await client.end().catch(() => undefined);
      await fx.query(`ALTER ROLE ${fx.agent} RESET ALL`);
    }
    await expectFixtureUnchanged();
  });

  it('case 77: ALTER ROLE … SET search_path / statement_timeout', async () => {
    await expectBlocked(`ALTER ROLE ${fx.agent} SET search_path = attacker`);
    await expectBlocked(`ALTER ROLE ${fx.agent} SET statement_timeout = 0`);
  });

  it('case 28: CREATE INDEX CONCURRENTLY needs approval, and nothing runs', async () => {
    const error = await refusal('CREATE INDEX CONCURRENTLY notes_body_idx ON notes(body)');
    expect(error.message).toMatch(/approval required/);
    await expectUsable(session);
    await expectFixtureUnchanged();
    expect(await fx.query("SELECT 1 FROM pg_class WHERE relname = 'notes_body_idx'")).toEqual([]);
  });

  it('case 70: 2PC as separate statements: PREPARE TRANSACTION refused, the transaction aborts, nothing kept', async () => {
    await session.query('BEGIN');
    await session.query("UPDATE notes SET body='x' WHERE id=1");
    await refusal("PREPARE TRANSACTION 'keep'");
    const next = await session.query('SELECT 1').then(
      () => undefined,
      (error: pg.DatabaseError) => error.code,
    );
    expect(next).toBe('25P02');
    await session.query('ROLLBACK');
    await expectUsable(session);
    expect(await fx.query('SELECT gid FROM pg_prepared_xacts')).toEqual([]);
    expect(await fx.query('SELECT body FROM notes WHERE id = 1')).toEqual([{ body: 'note 1' }]);
    await expectFixtureUnchanged();
  });

  it('case 44: a 5 MB comment followed by DROP is not executed, and the gateway serves others', async () => {
    const client = await viaGateway();
    try {
      await client.send([Q(`/* ${'x'.repeat(5_000_000)} */ DROP TABLE customers`)]);
      let frames: RawFrame[] = [];
      try {
        frames = await client.readUntil((f) => f.tag === 'Z' || f.tag === 'E', STEP_TIMEOUT_MS);
      } catch {
        // Closed without an answer is acceptable too; the checks below decide.
      }
      frames.push(...client.takeAll());
      const errors = errorsIn(frames);
      expect(errors.length, describeFrames(frames)).toBeGreaterThan(0);
      const [first] = errors;
      if (first?.C === '08P01') {
        expect(first.M).toMatch(/exceeds|too large|limit/);
        expect(await client.waitClosed(STEP_TIMEOUT_MS)).toBe(true);
      } else {
        expectRefusalFrame(first);
      }
      expect(errors.every((e) => e.C === '08P01' || e.C === '42501')).toBe(true);
    } finally {
      client.destroy();
    }
    await expectFixtureUnchanged();
    await expectGatewayServes();
  });
});

// ---- item 5: transactions and multi-statement messages --------------------------------------------

describe('a refusal behaves like a server error', () => {
  it('inside BEGIN it aborts the transaction: 25P02 next, ROLLBACK recovers', async () => {
    await session.query('BEGIN');
    await session.query('SELECT count(*) FROM notes');
    await refusal('DROP TABLE customers');
    const next = await session.query('SELECT 1').then(
      () => 'ran',
      (error: pg.DatabaseError) => error.code,
    );
    expect(next).toBe('25P02');
    const rollback = await session.query('ROLLBACK');
    expect(rollback.command).toBe('ROLLBACK');
    await expectUsable(session);
    await expectFixtureUnchanged();
  });

  it('an allowed write before the refusal in the same transaction is rolled back with it', async () => {
    await session.query('BEGIN');
    await session.query("INSERT INTO notes(body) VALUES ('inside')");
    await refusal('TRUNCATE stats');
    await session.query('ROLLBACK');
    await expectUsable(session);
    // The sequence is not transactional; everything else is as before.
    expect(await fx.snapshot()).toEqual({ ...baseline, sequence: expect.anything() });
  });

  it.each([
    'SELECT 1; DROP TABLE customers',
    'INSERT INTO canary VALUES (1); DROP TABLE customers',
    "INSERT INTO notes(body) VALUES ('first'); DROP TABLE customers",
    "INSERT INTO notes(body) VALUES ('first'); SELECT pg_sleep(0)",
  ])('a multi-statement Query with one refused statement runs nothing: %s', async (sql) => {
    await expectBlocked(sql);
  });

  it('case 34 (raw): no frame of the SELECT 1 is sent, only the refusal and ReadyForQuery', async () => {
    const client = await viaGateway();
    try {
      const frames = await exchange(client, [Q('SELECT 1; DROP TABLE customers')]);
      expect(tags(frames)).toBe('EZ');
      expectRefusalFrame(errorsIn(frames)[0]);
      expect(describeFrames(frames.slice(-1))).toBe('Z(I)');
      await expectRawUsable(client);
    } finally {
      await client.close();
    }
    await expectFixtureUnchanged();
  });
});

// ---- item 4: prepared statements and cursors -------------------------------------------------------

describe('PREPARE / EXECUTE / DECLARE / FETCH are resolved', () => {
  it('PREPARE of a refused statement is refused, and EXECUTE of it is refused too', async () => {
    await expectBlocked('PREPARE p AS DELETE FROM stats');
    await expectBlocked('EXECUTE p');
  });

  it('PREPARE and EXECUTE of an allowed statement work', async () => {
    await session.query('PREPARE q AS SELECT count(*) FROM notes');
    expect((await session.query('EXECUTE q')).rows).toEqual([{ count: '5001' }]);
    await session.query('DEALLOCATE q');
  });

  it('DECLARE and FETCH of an allowed cursor work; FETCH from an unknown cursor is refused', async () => {
    await session.query('BEGIN');
    await session.query('DECLARE c CURSOR FOR SELECT id FROM notes ORDER BY id');
    expect((await session.query('FETCH 2 FROM c')).rows).toEqual([{ id: 1 }, { id: 2 }]);
    await session.query('CLOSE c');
    await session.query('COMMIT');
    await expectBlocked('FETCH ALL FROM nosuch');
  });

  it('a cursor over a refused statement is refused at DECLARE', async () => {
    await session.query('BEGIN');
    await refusal('DECLARE d CURSOR FOR WITH x AS (DELETE FROM stats RETURNING *) SELECT * FROM x');
    await session.query('ROLLBACK');
    await expectUsable(session);
    await expectFixtureUnchanged();
  });
});

// ---- D. SQL outside a plain Query (raw frames) -------------------------------------------------------

describe('D. extended protocol and FunctionCall', () => {
  let client: RawClient;

  const withRaw = async (body: (client: RawClient) => Promise<void>) => {
    client = await viaGateway();
    try {
      await body(client);
    } finally {
      await client.close();
    }
    await expectFixtureUnchanged();
  };

  it('case 46: blocked at Parse; Bind and Execute are skipped to Sync', async () => {
    await withRaw(async (c) => {
      const frames = await exchange(c, [P('', 'DELETE FROM stats'), B('', ''), E('', 0), S]);
      expect(tags(frames)).toBe('EZ');
      expectRefusalFrame(errorsIn(frames)[0]);
      expect(describeFrames(frames.slice(-1))).toBe('Z(I)');
      await expectRawUsable(c);
    });
  });

  it('case 47: the second Parse replaces the unnamed statement and is judged', async () => {
    await withRaw(async (c) => {
      const frames = await exchange(c, [
        P('', 'SELECT 1'),
        B('', ''),
        E('', 0),
        P('', 'TRUNCATE stats'),
        B('', ''),
        E('', 0),
        S,
      ]);
      expect(describeFrames(frames)).toMatch(/^1 2 D C\(SELECT 1\) E\(42501 .*\) Z\(I\)$/);
      expectRefusalFrame(errorsIn(frames)[0]);
      // The unnamed statement is now the refused one: binding it again does not run SELECT 1.
      const again = await exchange(c, [B('', ''), E('', 0), S]);
      expect(tags(again)).toMatch(/^EZ$/);
      await expectRawUsable(c);
    });
  });

  it('named reuse after Close: the new statement of the same name is judged, Bind of it fails', async () => {
    await withRaw(async (c) => {
      const frames = await exchange(c, [
        P('s', 'SELECT 1'),
        C('S', 's'),
        P('s', 'DELETE FROM stats'),
        B('', 's'),
        E('', 0),
        S,
      ]);
      expect(tags(frames)).toBe('13EZ');
      expectRefusalFrame(errorsIn(frames)[0]);
      const bind = await exchange(c, [B('', 's'), E('', 0), S]);
      expect(tags(bind)).toBe('EZ');
      expect(bind.some((f) => f.tag === '2' || f.tag === 'C')).toBe(false);
      await expectRawUsable(c);
    });
  });

  it('case 49: Bind of a statement that was blocked at Parse errors and runs nothing', async () => {
    await withRaw(async (c) => {
      const parse = await exchange(c, [P('x', 'DROP TABLE stats'), S]);
      expect(tags(parse)).toBe('EZ');
      expectRefusalFrame(errorsIn(parse)[0]);
      const bind = await exchange(c, [B('', 'x'), E('', 0), S]);
      expect(tags(bind)).toBe('EZ');
      expect(['26000', '42501']).toContain(errorsIn(bind)[0]?.C);
      await expectRawUsable(c);
    });
  });

  it('case 50: two statements in one Parse are refused or rejected, never split', async () => {
    await withRaw(async (c) => {
      const frames = await exchange(c, [P('', 'SELECT 1; DELETE FROM stats'), S]);
      expect(tags(frames)).toBe('EZ');
      expect(['42501', '42601']).toContain(errorsIn(frames)[0]?.C);
      await expectRawUsable(c);
    });
  });

  it.each<[what: string, signature: string]>([
    ['version() by OID 89', 'version()'],
    ['lo_export', 'lo_export(oid, text)'],
    ['pg_read_file', 'pg_read_file(text)'],
  ])('case 52: FunctionCall of %s is refused', async (_what, signature) => {
    const [row] = await fx.query<{ oid: number }>(`SELECT '${signature}'::regprocedure::oid AS oid`);
    const oid = Number(row?.oid);
    if (signature === 'version()') expect(oid).toBe(89);
    const args = signature.startsWith('lo_export')
      ? ['0', '/tmp/sluice-x']
      : signature === 'version()'
        ? []
        : ['/etc/passwd'];
    await withRaw(async (c) => {
      const frames = await exchange(c, [F(oid, args)]);
      expect(tags(frames)).toBe('EZ');
      expectRefusalFrame(errorsIn(frames)[0]);
      expect(frames.some((f) => f.tag === 'V')).toBe(false);
      await expectRawUsable(c);
    });
  });

  it('case 53: a Query with an embedded NUL is an error, neither half runs', async () => {
    const c = await viaGateway();
    try {
      const bytes = Buffer.from(
        encodeFrontendMessage({ type: 'Query', query: 'SELECT 1\u0001; DELETE FROM stats' }),
      );
      bytes[bytes.indexOf('\u0001')] = 0;
      await c.sendRaw(bytes);
      let frames: RawFrame[] = [];
      try {
        frames = await c.readUntil((f) => f.tag === 'Z', STEP_TIMEOUT_MS);
      } catch {
        frames = c.takeAll();
      }
      expect(frames.some((f) => f.tag === 'D' || f.tag === 'C')).toBe(false);
      expect(errorsIn(frames).length, describeFrames(frames)).toBeGreaterThan(0);
    } finally {
      c.destroy();
    }
    await expectFixtureUnchanged();
    await expectGatewayServes();
  });

  it('case 55: an unknown message type closes the connection with an error', async () => {
    const c = await viaGateway();
    try {
      const frame = Buffer.concat([Buffer.from('Y'), Buffer.from([0, 0, 0, 10]), Buffer.from('abcde\0')]);
      await c.sendRaw(frame);
      expect(await c.waitClosed(STEP_TIMEOUT_MS)).toBe(true);
      const errors = errorsIn(c.takeAll());
      expect(errors.map((e) => e.C)).toEqual(['08P01']);
    } finally {
      c.destroy();
    }
    await expectFixtureUnchanged();
    await expectGatewayServes();
  });
});
