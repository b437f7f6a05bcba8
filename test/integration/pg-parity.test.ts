/**
 * Differential parity: every script below runs on a fresh connection straight to PostgreSQL and on
 * a fresh connection through the gateway (same role, same database), and the backend bytes after
 * login must be identical. The gateway forwards every valid statement today, so any difference is
 * a relay bug: a frame lost, reordered, split, merged, altered or invented.
 *
 * Adding a case is one line in `scripts`. A step sends its messages in one write and reads until
 * as many ReadyForQuery frames as it has Query + Sync messages, unless it says otherwise.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FrontendMessage } from '../../src/protocols/postgres/codec/frontend/index.ts';
import { NO_GUARDRAILS, NO_MASKING, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { B, C, D, E, H, P, Q, S } from '../helpers/messages.ts';
import { createTestDatabase, PG_HOST, PG_PORT, type TestDatabase } from '../helpers/postgres.ts';
import { describeFrames, RawClient, type RawFrame, type Until } from '../helpers/raw-client.ts';

// ---- COPY message shorthands (the common ones are in helpers/messages) ------------------------

const CD = (data: string | Buffer): FrontendMessage => ({ type: 'CopyData', data: Buffer.from(data) });
const CDone: FrontendMessage = { type: 'CopyDone' };
const CFail = (message: string): FrontendMessage => ({ type: 'CopyFail', message });

/** P + B + E + S for the unnamed statement and portal. */
const ext = (sql: string, params: string[] = []): FrontendMessage[] => [
  P('', sql),
  B('', '', params),
  E(),
  S,
];

const int4 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const float8 = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(n);
  return b;
};

/** Read until this many ReadyForQuery frames (number) or the first frame with this tag (string). */
type StepUntil = number | string;
interface Step {
  readonly send: readonly FrontendMessage[];
  readonly until?: StepUntil;
}
const step = (send: FrontendMessage[], until?: StepUntil): Step =>
  until === undefined ? { send } : { send, until };

type Script = readonly [name: string, steps: readonly Step[]];

/** A one-step script: everything in one write. */
const one = (name: string, ...send: FrontendMessage[]): Script => [name, [step(send)]];

const scripts: readonly Script[] = [
  // -- simple query protocol
  one('simple: single SELECT', Q('SELECT 1')),
  one('simple: multi-statement', Q('SELECT 1 AS a; SELECT 2 AS b, 3 AS c; VALUES (1), (2), (3)')),
  one('simple: error mid-way stops the rest', Q('SELECT 1; SELECT 1/0; SELECT 2')),
  // Syntax errors never reach the server (the gateway refuses what it cannot parse; see
  // pg-policy.test.ts), so server-side errors here are semantic ones.
  one('simple: server error with position', Q('SELECT 1;\nSELECT no_such_column FROM pg_class')),
  one('simple: empty query string', Q('')),
  one('simple: only comments and whitespace', Q('-- nothing here\n  /* nor here */  ')),
  one('simple: only semicolons', Q(';;')),
  one('simple: many rows', Q('SELECT g, md5(g::text) FROM generate_series(1, 20000) g')),
  one(
    'simple: wide rows',
    Q("SELECT repeat('x', 1000000) AS big, repeat('ü', 200000) AS wide"),
    Q('SELECT * FROM parity_wide'),
  ),
  one('simple: NULLs', Q("SELECT NULL::int AS a, NULL::text, '' AS empty, NULL, ARRAY[NULL, 1]")),
  one(
    'simple: unicode',
    Q("SELECT 'ünïcødé 🐘 日本語 עברית' AS \"列🐘\", length('🐘'), octet_length('🐘'), E'tab\\there'"),
  ),
  one('simple: table with many types', Q('SELECT * FROM parity_items ORDER BY id')),
  one('simple: missing relation', Q('SELECT * FROM parity_nope')),
  one('simple: pipelined queries in one write', Q('SELECT 1'), Q('SELECT 2/0'), Q('SELECT 3'), Q('')),

  // -- extended query protocol
  one(
    'extended: unnamed statement and portal',
    P('', 'SELECT $1::int + 1 AS n'),
    B('', '', ['41']),
    D('P'),
    E(),
    S,
  ),
  [
    'extended: named statement, then named portal',
    [
      step([P('s1', 'SELECT id, name FROM parity_items WHERE id <= $1 ORDER BY id', [23]), D('S', 's1'), S]),
      step([B('p1', 's1', ['2']), D('P', 'p1'), E('p1'), C('P', 'p1'), C('S', 's1'), S]),
    ],
  ],
  one(
    'extended: binary parameters and binary results',
    P('', 'SELECT $1::int4 * 2 AS doubled, $2::text AS t, $3::float8 / 2 AS half', [23, 25, 701]),
    B('', '', [int4(21), 'text param', float8(1.5)], { params: [1, 0, 1], results: [1] }),
    D('S'),
    D('P'),
    E(),
    S,
  ),
  one(
    'extended: per-column result formats',
    P('', 'SELECT id, name, price, tags, data FROM parity_items ORDER BY id'),
    B('', '', [], { results: [1, 0, 1, 1, 0] }),
    D('P'),
    E(),
    S,
  ),
  one(
    'extended: NULL and unicode text parameters',
    P('', 'SELECT $1::text AS a, $2::text IS NULL AS b, $3::int[] AS c'),
    B('', '', ['ünï 🐘', null, '{1,2,3}']),
    D('P'),
    E(),
    S,
  ),
  one(
    'extended: error at Execute skips to Sync',
    P('', 'SELECT 1/0'),
    B('', ''),
    E(),
    P('', 'SELECT 1'),
    B('', ''),
    D('P'),
    E(),
    S,
    ...ext('SELECT 2'),
  ),
  one(
    'extended: parse error skips Bind/Describe/Execute',
    P('', 'SELECT no_such_column FROM pg_class'),
    B('', ''),
    D('P'),
    E(),
    S,
    ...ext('SELECT 3'),
  ),
  one('extended: several statements in one Parse', P('', 'SELECT 1; SELECT 2'), S),
  one('extended: wrong parameter count at Bind', P('', 'SELECT $1::int'), B('', '', ['1', '2']), E(), S),
  // A Query inside error-until-Sync is discarded by the server too, so only one ReadyForQuery comes.
  [
    'extended: Query skipped while discarding until Sync',
    [step([P('', 'SELECT 1/0'), B('', ''), E(), Q('SELECT 1'), S], 1)],
  ],
  [
    'extended: Flush without Sync',
    [step([P('', 'SELECT 42 AS answer'), B('', ''), D('P'), E(), H], 'C'), step([S])],
  ],
  [
    'extended: Flush after a parse error',
    [step([P('', 'SELECT nope_column'), H], 'E'), step([B('', ''), E(), S])],
  ],
  one(
    'extended: Close statement and portal',
    P('s2', 'SELECT 1'),
    B('p2', 's2'),
    C('P', 'p2'),
    C('S', 's2'),
    C('S', 'never_prepared'),
    C('P', 'never_bound'),
    S,
    B('', 's2'),
    E(),
    S,
  ),
  one(
    'extended: portal suspension, unnamed portal',
    P('', 'SELECT g FROM generate_series(1, 10) g'),
    B('', ''),
    E('', 3),
    E('', 3),
    E('', 3),
    E('', 3),
    E('', 3),
    S,
  ),
  [
    'extended: portal suspension across Syncs in a transaction',
    [
      step([
        Q('BEGIN'),
        P('cur_s', 'SELECT g, g * 2 FROM generate_series(1, 10) g'),
        B('cur', 'cur_s'),
        E('cur', 4),
        S,
      ]),
      step([E('cur', 4), S]),
      step([E('cur', 0), C('P', 'cur'), S, Q('COMMIT')]),
    ],
  ],
  one('extended: Describe of non-existent statement and portal', D('S', 'nope'), S, D('P', 'nope'), S),
  one('extended: empty query', P('', ''), B('', ''), D('P'), E(), S),
  one('extended: Execute of a non-existent portal', E('no_such_portal'), S),
  one(
    'extended: binary results, many rows',
    P('', "SELECT g, repeat('r', g % 50) FROM generate_series(1, 5000) g"),
    B('', '', [], { results: [1] }),
    E(),
    S,
  ),
  one(
    'extended: pipelined Syncs in one write',
    ...ext('SELECT 1'),
    ...ext('SELECT $1::text', ['two']),
    Q('SELECT 3'),
    ...ext('SELECT 4/0'),
    ...ext('SELECT 5'),
    S,
    S,
  ),

  // -- transactions
  one('tx: BEGIN / COMMIT', Q('BEGIN'), Q('SELECT 1'), Q('COMMIT')),
  one(
    'tx: error makes E status, ROLLBACK recovers',
    Q('BEGIN'),
    Q('SELECT 1/0'),
    Q('SELECT 1'),
    Q('ROLLBACK'),
    Q('SELECT 2'),
  ),
  one(
    'tx: savepoints',
    Q('BEGIN; SAVEPOINT a; SELECT 1/0'),
    Q('ROLLBACK TO SAVEPOINT a'),
    Q('SELECT 1'),
    Q('RELEASE SAVEPOINT a'),
    Q('COMMIT'),
  ),
  one(
    'tx: error in extended protocol inside a transaction',
    ...ext('BEGIN'),
    ...ext('SELECT 1/0'),
    S,
    Q('ROLLBACK'),
  ),
  one('tx: COMMIT of a failed transaction reports ROLLBACK', Q('BEGIN; SELECT 1/0'), Q('COMMIT')),
  one('tx: write rolled back', Q("BEGIN; INSERT INTO parity_copy VALUES (9, 'nine') RETURNING *; ROLLBACK")),

  // -- COPY
  [
    'copy: FROM STDIN with CopyData and CopyDone',
    [
      step([Q('BEGIN'), Q('COPY parity_copy (id, body) FROM STDIN')], 'G'),
      step([CD('1\tone\n'), CD('2\ttwo ünï\n3\t\\N\n'), CDone]),
      step([Q('SELECT * FROM parity_copy ORDER BY id'), Q('ROLLBACK')]),
    ],
  ],
  [
    'copy: CopyFail',
    [step([Q('COPY parity_copy FROM STDIN')], 'G'), step([CD('1\tone\n'), CFail('client gave up')])],
  ],
  [
    'copy: bad data errors',
    [step([Q('COPY parity_copy FROM STDIN')], 'G'), step([CD('1\tone\n'), CD('x\tnot an int\n'), CDone])],
  ],
  one('copy: FROM STDIN of a missing table', Q('COPY parity_nope FROM STDIN')),
  one('copy: TO STDOUT text', Q('COPY parity_items TO STDOUT')),
  one(
    'copy: TO STDOUT csv, many rows',
    Q('COPY (SELECT g, md5(g::text) FROM generate_series(1, 5000) g) TO STDOUT (FORMAT csv, HEADER)'),
  ),
  one('copy: TO STDOUT binary', Q('COPY (SELECT * FROM parity_items ORDER BY id) TO STDOUT (FORMAT binary)')),
  one(
    'copy: TO STDOUT with an error mid-stream',
    Q('COPY (SELECT 10 / (5 - g) FROM generate_series(1, 8) g) TO STDOUT'),
  ),
  [
    'copy: FROM STDIN in the extended protocol',
    [
      step([Q('BEGIN'), P('', 'COPY parity_copy FROM STDIN'), B('', ''), E()], 'G'),
      step([CD('7\tseven\n'), CDone, S]),
      step([Q('SELECT count(*) FROM parity_copy WHERE id = 7'), Q('ROLLBACK')]),
    ],
  ],

  // -- asynchronous messages
  one(
    'async: LISTEN/NOTIFY on one connection',
    Q('LISTEN parity_channel'),
    Q("NOTIFY parity_channel, 'hello'"),
    Q("SELECT pg_notify('parity_channel', 'ünï 🐘')"),
    Q('BEGIN; NOTIFY parity_channel; NOTIFY parity_channel, $$second$$; COMMIT'),
    Q('UNLISTEN *'),
  ),
  one(
    'async: NOTICE and WARNING from DO',
    Q("DO $$BEGIN RAISE NOTICE 'hello %', 42; RAISE WARNING 'careful'; END$$"),
    Q("DO $$BEGIN RAISE EXCEPTION 'boom' USING ERRCODE = '22012', HINT = 'a hint'; END$$"),
    Q('DROP TABLE IF EXISTS parity_never_existed'),
  ),
  one(
    'async: SET produces ParameterStatus, SHOW reads it',
    Q("SET application_name = 'parity-check'"),
    Q('SHOW application_name'),
    Q("SET TimeZone = 'Asia/Tokyo'"),
    Q("SET DateStyle = 'German'"),
    Q("SELECT '2024-01-02'::date, '2024-01-02 03:04:05+00'::timestamptz"),
    Q("BEGIN; SET LOCAL IntervalStyle = 'iso_8601'; SELECT '1 day'::interval; COMMIT"),
    Q('RESET ALL'),
    Q('SHOW TimeZone'),
  ),
];

// ---- running and comparing --------------------------------------------------------------------

/** Enough time for the wide and many-row scripts on a slow CI machine. */
const STEP_TIMEOUT_MS = 15_000;

function countRequests(messages: readonly FrontendMessage[]): number {
  return messages.filter((m) => m.type === 'Query' || m.type === 'Sync').length;
}

/**
 * NotificationResponse carries the process ID of the notifying backend. Directly that is our own
 * backend; through the gateway it is the gateway's upstream backend: another process, so another
 * number. Only that Int32 is zeroed; channel and payload are still compared.
 */
function normalize(frame: RawFrame): Buffer {
  if (frame.tag !== 'A') return frame.bytes;
  const copy = Buffer.from(frame.bytes);
  copy.writeInt32BE(0, 5);
  return copy;
}

async function runScript(client: RawClient, steps: readonly Step[]): Promise<RawFrame[]> {
  const frames: RawFrame[] = [];
  for (const { send, until } of steps) {
    await client.send(send);
    const stop: Until =
      typeof until === 'string' ? (frame) => frame.tag === until : (until ?? countRequests(send));
    frames.push(...(await client.readUntil(stop, STEP_TIMEOUT_MS)));
  }
  // A trailing Sync answers with exactly one ReadyForQuery: any stray frame would arrive before it.
  await client.send([S]);
  frames.push(...(await client.readUntil(1, STEP_TIMEOUT_MS)));
  frames.push(...client.takeAll());
  return frames;
}

function hex(frame: RawFrame | undefined): string {
  if (frame === undefined) return '(none)';
  const text = frame.bytes.subarray(0, 300).toString('hex');
  return frame.bytes.length > 300 ? `${text}… (${frame.bytes.length} bytes)` : text;
}

function expectSameBytes(direct: readonly RawFrame[], gateway: readonly RawFrame[]): void {
  const a = direct.map(normalize);
  const b = gateway.map(normalize);
  const index = a.findIndex((bytes, i) => !bytes.equals(b[i] ?? Buffer.alloc(0)));
  const firstDifference = index === -1 && a.length === b.length ? undefined : index === -1 ? a.length : index;
  if (firstDifference !== undefined) {
    const around = (frames: readonly RawFrame[]) =>
      describeFrames(frames.slice(Math.max(0, firstDifference - 3), firstDifference + 3));
    expect({
      frame: firstDifference,
      context: around(gateway),
      bytes: hex(gateway[firstDifference]),
    }).toEqual({ frame: firstDifference, context: around(direct), bytes: hex(direct[firstDifference]) });
  }
  expect(Buffer.concat(b).equals(Buffer.concat(a))).toBe(true);
}

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('sluice_parity');
  const setup = new pg.Client({ host: PG_HOST, port: PG_PORT, user: db.role, database: db.name });
  await setup.connect();
  try {
    await setup.query(`
      CREATE TABLE parity_items (
        id int PRIMARY KEY, name text, price numeric(10, 2), tags text[], data jsonb,
        created date, flag boolean, blob bytea);
      INSERT INTO parity_items VALUES
        (1, 'Alice', 12.50, '{a,b}', '{"k": 1}', '2024-01-02', true, '\\x00ff'),
        (2, 'ünïcødé 🐘', NULL, '{}', 'null', NULL, false, ''),
        (3, NULL, 0.01, '{NULL,"with space"}', '[1, "two", {"3": null}]', '1999-12-31', NULL, NULL),
        (4, E'tab\\there\\nnewline', -99999999.99, NULL, NULL, '2000-02-29', true, '\\xdeadbeef');
      CREATE TABLE parity_copy (id int, body text);
      CREATE TABLE parity_wide (id int, payload text);
      INSERT INTO parity_wide SELECT g, repeat(chr(64 + g), 300000 * g) FROM generate_series(1, 3) g;
    `);
  } finally {
    await setup.end();
  }
});

afterAll(async () => {
  await db?.drop();
});

for (const transport of ['off', 'required'] as const) {
  describe(`parity with PostgreSQL (client TLS ${transport})`, () => {
    let gw: TestGateway;
    let key: string;

    beforeAll(async () => {
      gw = await startTestGateway({
        tls: transport,
        yaml: `
connections:
  - name: parity
    type: postgres
    url: postgres://${db.role}@${PG_HOST}:${PG_PORT}/${db.name}
policies:
  - name: tests
    subjects: { groups: [tests] }
    connections: [parity]
${NO_GUARDRAILS}${NO_MASKING}`,
      });
      key = await gw.createKey('parity', ['tests']);
    });

    afterAll(async () => {
      await gw?.close();
    });

    // Both sessions start identically: the gateway always logs in upstream with UTF8, so the direct
    // client asks for UTF8 too; neither sends anything else that would change session state.
    const direct = () =>
      RawClient.connect({
        host: PG_HOST,
        port: PG_PORT,
        user: db.role,
        database: db.name,
        parameters: { client_encoding: 'UTF8' },
      });
    const viaGateway = () =>
      RawClient.connect({
        host: gw.host,
        port: gw.port,
        user: 'agent',
        database: 'parity',
        password: key,
        tls: transport === 'required',
        parameters: { client_encoding: 'UTF8' },
      });

    it('has at least 30 scripts', () => {
      expect(scripts.length).toBeGreaterThanOrEqual(30);
      expect(new Set(scripts.map(([name]) => name)).size).toBe(scripts.length);
    });

    it.each(scripts)('%s', async (_name, steps) => {
      const directClient = await direct();
      const expected = await runScript(directClient, steps).finally(() => directClient.close());
      const gatewayClient = await viaGateway();
      const actual = await runScript(gatewayClient, steps).finally(() => gatewayClient.close());
      // The scripts end on ReadyForQuery; a run that produced nothing proves nothing.
      expect(expected.at(-1)?.tag).toBe('Z');
      expectSameBytes(expected, actual);
    });
  });
}
