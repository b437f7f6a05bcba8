/**
 * Approval rules and ordering through a real gateway in front of real PostgreSQL:
 *
 * - step-up: an approver rule with `stepUp` accepts only an OIDC principal whose `auth_time` is
 *   recent (tokens signed with a real oidc-provider's key); API keys and stale logins get 403;
 * - nothing overtakes a held statement: pipelined simple Queries behind a held one wait, and the
 *   results arrive in order once it is approved;
 * - a held statement inside a transaction: denied, the transaction is aborted (25P02) and rolls
 *   back; approved, it commits;
 * - extended protocol: a denied Execute fails its own Sync batch only, the next batch runs.
 *
 * Every "nothing ran" claim is checked on the server, not only on the client.
 */
import type { JWTPayload } from 'jose';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StatementApprovalRecord } from '../../src/store/store.ts';
import {
  callApi,
  nextPending as nextPendingIn,
  notesLeft as notesLeftIn,
  pendingIds as pendingIdsIn,
  resetNotes,
  sleep,
} from '../helpers/approvals.ts';
import { recordCredential } from '../helpers/credential-log.ts';
import { rawGatewayClient, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { B, D, E, P, Q, S } from '../helpers/messages.ts';
import { AUDIENCE, signToken, startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.ts';
import { gatewayClient } from '../helpers/pg-client.ts';
import { adminQuery, createTestDatabase, PG_HOST, PG_PORT, type TestDatabase } from '../helpers/postgres.ts';
import { describeFrames, errorsIn, frameLabel, type RawFrame } from '../helpers/raw-client.ts';

const ROWS = 50;

let idp: TestOidcProvider;
let db: TestDatabase;
let gw: TestGateway;
const keys: Record<string, string> = {};

beforeAll(async () => {
  idp = await startOidcProvider();
  db = await createTestDatabase('sluice_apr');
  gw = await startTestGateway({
    yaml: `connections:
  - name: app
    type: postgres
    url: postgres://${db.role}@${PG_HOST}:${PG_PORT}/${db.name}
policies:
  - name: stepped
    subjects: { groups: [stepped] }
    connections: [app]
    rules: [{ name: writes-need-review, action: review, effects: [write] }]
    review: { mode: ticket, grantWindow: 1m, approvers: { groups: [dba], stepUp: 5m } }
  - name: holders
    subjects: { groups: [holders] }
    connections: [app]
    rules: [{ name: writes-need-review, action: review, effects: [write] }]
    review: { approvers: { groups: [dba] } }
  - name: deleters
    subjects: { groups: [deleters] }
    connections: [app]
    rules: [{ name: deletes, action: review, kinds: [DeleteStmt] }]
    review: { approvers: { groups: [dba] } }
identity:
  oidc:
    - issuer: ${idp.issuer}
      audience: ${AUDIENCE}
      subjectPrefix: "oidc:"
`,
  });
  keys.stepped = await gw.createKey('stepped-agent', ['stepped']);
  keys.holder = await gw.createKey('holder-agent', ['holders']);
  keys.deleter = await gw.createKey('deleter-agent', ['deleters']);
  keys.alice = await gw.createKey('alice', ['dba']);
});

afterAll(async () => {
  await gw?.close();
  await db?.drop();
  await idp?.close();
});

beforeEach(() => resetNotes(db, ROWS));

const notesLeft = () => notesLeftIn(db);
const pendingIds = () => pendingIdsIn(gw);
const nextPending = (known: ReadonlySet<string>) => nextPendingIn(gw, known);
const api = (bearer: string, method: string, path: string, body?: unknown) =>
  callApi(gw, bearer, method, path, body);

const approve = (bearer: string, id: string) => api(bearer, 'POST', `/api/v1/approvals/${id}/approve`, {});
const deny = (bearer: string, id: string, reason: string) =>
  api(bearer, 'POST', `/api/v1/approvals/${id}/deny`, { reason });

/** A token signed with the provider's key for a `dba` principal who signed in `ageSeconds` ago. */
async function dbaToken(sub: string, ageSeconds: number | undefined): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: JWTPayload = {
    iss: idp.issuer,
    aud: AUDIENCE,
    sub,
    groups: ['dba'],
    iat: now,
    exp: now + 300,
    ...(ageSeconds === undefined ? {} : { auth_time: now - ageSeconds }),
  };
  const token = await signToken(payload, idp.signingKey());
  recordCredential(token);
  return token;
}

const viaGateway = (key: string) => rawGatewayClient(gw, key);

/** Short names of frames, e.g. `C(DELETE 40) Z(I)`, one entry per frame. */
function summary(frames: readonly RawFrame[]): string[] {
  return frames.map((frame) => frameLabel(frame, { rowValues: true }));
}

describe('step-up approvers', () => {
  it('only an OIDC approver who signed in within stepUp may approve; the ticket then runs once', async () => {
    const sql = 'DELETE FROM notes WHERE id > 40';
    const client = gatewayClient(gw, keys.stepped ?? '');
    await client.connect();
    try {
      const refusal = async () => {
        const error = await client.query(sql).then(
          () => undefined,
          (e: pg.DatabaseError) => e,
        );
        if (!error) throw new Error('expected a ticket refusal');
        return error;
      };
      const ticket = await refusal();
      expect(ticket.code).toBe('42501');
      const id = /apv_[0-9a-f]+/.exec(ticket.hint ?? '')?.[0] ?? '';
      expect(id).not.toBe('');
      const record = await gw.store.approvals.get(id);
      expect(record).toMatchObject({ status: 'pending', stepUpMs: 300_000, approverGroups: ['dba'] });

      // An API key in the approver group never qualifies: it has no sign-in time.
      const byKey = await approve(keys.alice ?? '', id);
      expect(byKey.status).toBe(403);
      expect(String(byKey.body.message)).toMatch(/signed in within the last 5m/);
      expect(String(byKey.body.message)).toMatch(/sign in to the identity provider again/);

      // An OIDC login an hour old is too old; one without auth_time is not fresh either.
      const stale = await approve(await dbaToken('stale-dba', 3600), id);
      expect(stale.status).toBe(403);
      expect(String(stale.body.message)).toMatch(/sign in to the identity provider again/);
      const undated = await approve(await dbaToken('undated-dba', undefined), id);
      expect(undated.status).toBe(403);

      const refused = await gw.store.approvals.get(id);
      expect(refused?.status).toBe('pending');
      expect(refused?.decisions).toEqual([]);
      expect(await notesLeft()).toBe(ROWS);

      // Signed in a minute ago: approves.
      const fresh = await approve(await dbaToken('fresh-dba', 60), id);
      expect(fresh.status).toBe(200);
      expect(fresh.body.status).toBe('approved');
      const decided = await gw.store.approvals.get(id);
      expect(decided?.decisions).toMatchObject([{ approverName: 'oidc:fresh-dba', decision: 'approve' }]);

      // The identical statement runs once; the next run is a new ticket.
      expect((await client.query(sql)).rowCount).toBe(ROWS - 40);
      expect(await notesLeft()).toBe(40);
      const again = await refusal();
      expect(again.code).toBe('42501');
      expect(again.hint).not.toContain(id);
    } finally {
      await client.end();
    }
  });
});

describe('ordering while held', () => {
  it('nothing overtakes a held simple Query; after approval the results arrive in order', async () => {
    const client = await viaGateway(keys.holder ?? '');
    try {
      const before = await pendingIds();
      await client.send([Q('DELETE FROM notes WHERE id > 10'), Q('SELECT count(*) FROM notes')]);
      const approval = await nextPending(before);
      expect(approval.statement).toBe('DELETE FROM notes WHERE id > 10');
      // The NOTICE comes at once; give anything that could overtake the hold time to arrive.
      const notice = await client.readUntil((f) => f.tag === 'N');
      expect(summary(notice)).toEqual(['N']);
      await sleep(300);
      const whileHeld = client.takeAll();
      expect(summary(whileHeld), describeFrames(whileHeld)).toEqual([]);
      expect(await notesLeft()).toBe(ROWS);

      expect((await approve(keys.alice ?? '', approval.id)).status).toBe(200);
      const frames = await client.readUntil(2, 10_000);
      expect(summary(frames)).toEqual(['C(DELETE 40)', 'Z(I)', 'T', 'D(10)', 'C(SELECT 1)', 'Z(I)']);
      expect(await notesLeft()).toBe(10);
    } finally {
      await client.close();
    }
  });
});

describe('held inside a transaction', () => {
  async function failure(client: pg.Client, sql: string): Promise<pg.DatabaseError> {
    const error = await client.query(sql).then(
      () => undefined,
      (e: pg.DatabaseError) => e,
    );
    if (!error) throw new Error(`expected ${sql} to fail`);
    return error;
  }

  it('denied: 42501, the transaction is aborted (25P02), ROLLBACK undoes the INSERT', async () => {
    const client = gatewayClient(gw, keys.deleter ?? '');
    await client.connect();
    try {
      await client.query('BEGIN');
      expect((await client.query("INSERT INTO notes VALUES (1000, 'in the transaction')")).rowCount).toBe(1);
      const before = await pendingIds();
      const deleting = failure(client, 'DELETE FROM notes WHERE id <= 10');
      const approval = await nextPending(before);
      expect(approval.statement).toBe('DELETE FROM notes WHERE id <= 10');
      expect((await deny(keys.alice ?? '', approval.id, 'not in this transaction')).status).toBe(200);
      const denied = await deleting;
      expect(denied.code).toBe('42501');
      expect(denied.message).toContain(`${approval.id} was denied by alice: not in this transaction`);
      expect((await failure(client, 'SELECT count(*) FROM notes')).code).toBe('25P02');
      await client.query('ROLLBACK');
      expect((await client.query('SELECT count(*)::int AS n FROM notes')).rows).toEqual([{ n: ROWS }]);
    } finally {
      await client.end();
    }
    expect(await notesLeft()).toBe(ROWS);
    const [row] = await adminQuery<{ n: string }>('SELECT count(*) AS n FROM notes WHERE id = 1000', db.name);
    expect(Number(row?.n)).toBe(0);
  });

  it('approved: the DELETE runs inside the transaction and COMMIT makes it stick', async () => {
    const client = gatewayClient(gw, keys.deleter ?? '');
    await client.connect();
    let approval: StatementApprovalRecord | undefined;
    try {
      await client.query('BEGIN');
      const before = await pendingIds();
      const deleting = client.query('DELETE FROM notes WHERE id <= 10');
      // Awaited below; this only keeps an early failure from also being reported as unhandled.
      deleting.catch(() => undefined);
      approval = await nextPending(before);
      expect(await notesLeft()).toBe(ROWS);
      expect((await approve(keys.alice ?? '', approval.id)).status).toBe(200);
      expect((await deleting).rowCount).toBe(10);
      // Not committed yet: the server still shows every row to others.
      expect(await notesLeft()).toBe(ROWS);
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
    expect(await notesLeft()).toBe(ROWS - 10);
    expect((await gw.store.approvals.get(approval?.id ?? ''))?.status).toBe('consumed');
  });
});

describe('extended protocol pipelined with Sync', () => {
  it('a denied Execute fails its own batch (ErrorResponse, ReadyForQuery); the next batch runs', async () => {
    const client = await viaGateway(keys.holder ?? '');
    try {
      const before = await pendingIds();
      await client.send([
        P('del', 'DELETE FROM notes WHERE id > $1'),
        B('', 'del', ['20']),
        E(),
        S,
        P('cnt', 'SELECT count(*) FROM notes WHERE id > $1'),
        B('', 'cnt', ['0']),
        D('P'),
        E(),
        S,
      ]);
      const approval = await nextPending(before);
      expect(approval.statement).toBe('DELETE FROM notes WHERE id > $1');
      expect(approval.parameters).toEqual(["'20'"]);
      await client.readUntil((f) => f.tag === 'N');
      await sleep(300);
      const whileHeld = client.takeAll();
      expect(summary(whileHeld), describeFrames(whileHeld)).toEqual([]);

      expect((await deny(keys.alice ?? '', approval.id, 'keep them')).status).toBe(200);
      const first = await client.readUntil(1, 10_000);
      const [error] = errorsIn(first);
      expect(error?.C).toBe('42501');
      expect(error?.M).toContain(`${approval.id} was denied by alice: keep them`);
      // Parse and Bind of the DELETE went through before the hold; its Execute did not.
      expect(summary(first)).toEqual(['1', '2', 'E(42501)', 'Z(I)']);
      const second = await client.readUntil(1, 10_000);
      expect(summary(second)).toEqual(['1', '2', 'T', `D(${ROWS})`, 'C(SELECT 1)', 'Z(I)']);
      expect(await notesLeft()).toBe(ROWS);
    } finally {
      await client.close();
    }
  });
});
