/**
 * Just-in-time approval through the gateway against real PostgreSQL, with real psql and pg
 * clients and the real `sluice approvals` CLI: a statement under review is held on its
 * connection and runs (or not) on a human decision; ticket mode refuses and grants one re-run;
 * approver rules; nothing runs upstream without an approval (checked on the server).
 */
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  adminUrl,
  callApi,
  nextPending as nextPendingIn,
  notesLeft as notesLeftIn,
  resetNotes,
} from '../helpers/approvals.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { gatewayClient } from '../helpers/pg-client.ts';
import { adminQuery, createTestDatabase, PG_HOST, PG_PORT, type TestDatabase } from '../helpers/postgres.ts';
import { run, start } from '../helpers/run.ts';

let db: TestDatabase;
let gw: TestGateway;
const keys: Record<string, string> = {};

beforeAll(async () => {
  db = await createTestDatabase('sluice_appr');
  gw = await startTestGateway({
    yaml: `connections:
  - name: app
    type: postgres
    url: postgres://${db.role}@${PG_HOST}:${PG_PORT}/${db.name}
policies:
  - name: agents
    subjects: { groups: [agents] }
    connections: [app]
    rules: [{ name: writes-need-review, action: review, effects: [write], reason: writes need a DBA }]
    review: { approvers: { groups: [dba] } }
  - name: hurried
    subjects: { groups: [hurried] }
    connections: [app]
    rules: [{ name: writes-need-review, action: review, effects: [write] }]
    review: { timeout: 1500ms, approvers: { groups: [dba] } }
  - name: tickets
    subjects: { groups: [tickets] }
    connections: [app]
    rules: [{ name: writes-need-review, action: review, effects: [write] }]
    review: { mode: ticket, grantWindow: 1m, approvers: { groups: [dba] } }
  - name: pairs
    subjects: { groups: [pairs] }
    connections: [app]
    rules: [{ name: writes-need-review, action: review, effects: [write] }]
    review: { mode: ticket, approvers: { groups: [dba], count: 2 } }
  - name: migrators
    subjects: { groups: [migrators] }
    connections: [app]
    rules: [{ name: no-ddl, action: deny, effects: [ddl], reason: DDL needs an access grant }]
  - name: migrators-ddl
    subjects: { groups: [migrators] }
    connections: [app]
    grant: { maxDuration: 1h, approvers: { groups: [dba] }, breakGlass: true }
`,
  });
  keys.agent = await gw.createKey('agent', ['agents']);
  keys.hurried = await gw.createKey('hurried', ['hurried']);
  keys.tickets = await gw.createKey('ticket-agent', ['tickets']);
  keys.pairs = await gw.createKey('pair-agent', ['pairs', 'dba']);
  keys.migrator = await gw.createKey('migrator', ['migrators']);
  keys.alice = await gw.createKey('alice', ['dba']);
  keys.bob = await gw.createKey('bob', ['dba']);
});

afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

beforeEach(() => resetNotes(db, 5001));

/** `sluice approvals …` (or `sluice access …`) as `who`, through the gateway's admin API. */
function approvalsCli(who: string, args: readonly string[], command = 'approvals') {
  return run('node', ['bin/sluice.js', command, ...args], {
    env: { SLUICE_URL: adminUrl(gw), SLUICE_TOKEN: keys[who] ?? '' },
  });
}

const notesLeft = () => notesLeftIn(db);
const nextPending = (known?: ReadonlySet<string>) => nextPendingIn(gw, known);
const api = (who: string, method: string, path: string, body?: unknown) =>
  callApi(gw, keys[who] ?? '', method, path, body);

/** psql running one statement through the gateway, with its output collected as it arrives. */
function psql(key: string, sql: string) {
  return start('psql', [gw.url(key, 'app'), '-X', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
    timeoutMs: 120_000,
  });
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('hold mode', () => {
  it('psql waits with a NOTICE, the CLI approves, and psql prints DELETE 5001; a second run needs a new approval', async () => {
    const first = psql(keys.agent ?? '', 'DELETE FROM notes WHERE id > 0');
    const approval = await nextPending();
    await until(() => first.stderr().includes('NOTICE'), 'the NOTICE');
    expect(first.stderr()).toContain(`waiting for approval ${approval.id}`);
    expect(first.stderr()).toContain(`sluice approvals approve ${approval.id}`);
    expect(approval).toMatchObject({
      mode: 'hold',
      policy: 'agents',
      rule: 'rule writes-need-review',
      statement: 'DELETE FROM notes WHERE id > 0',
      rowEstimate: expect.any(Number),
      requester: { name: 'agent' },
    });
    expect(await notesLeft()).toBe(5001);

    const shown = await approvalsCli('alice', ['show', approval.id]);
    expect(shown.stdout).toContain('DELETE FROM notes WHERE id > 0');
    const approved = await approvalsCli('alice', ['approve', approval.id, '--reason', 'cleanup ticket 42']);
    expect(approved.code).toBe(0);
    const result = await first.done;
    expect(result.stdout.trim()).toBe('DELETE 5001');
    expect(result.code).toBe(0);
    expect(await notesLeft()).toBe(0);
    expect((await gw.store.approvals.get(approval.id))?.status).toBe('consumed');

    // The same statement again is a new request; the used approval does not cover it.
    const second = psql(keys.agent ?? '', 'DELETE FROM notes WHERE id > 0');
    const again = await nextPending(new Set([approval.id]));
    expect(again.id).not.toBe(approval.id);
    expect(second.running()).toBe(true);
    expect((await approvalsCli('bob', ['deny', again.id, '--reason', 'not twice'])).code).toBe(0);
    const refused = await second.done;
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`${again.id} was denied by bob: not twice`);
  });

  it('approving a different statement does not release this one', async () => {
    const held = psql(keys.agent ?? '', 'DELETE FROM notes WHERE id > 0');
    const first = await nextPending();
    const other = psql(keys.agent ?? '', 'DELETE FROM notes WHERE id > 4000');
    const second = await nextPending(new Set([first.id]));
    expect((await approvalsCli('alice', ['approve', second.id])).code).toBe(0);
    expect((await other.done).stdout.trim()).toBe('DELETE 1001');
    expect(held.running()).toBe(true);
    expect(await notesLeft()).toBe(4000);
    expect((await approvalsCli('alice', ['deny', first.id, '--reason', 'no'])).code).toBe(0);
    await held.done;
    expect(await notesLeft()).toBe(4000);
  });

  it('deny gives 42501 with the approver and reason, and nothing runs upstream', async () => {
    const held = psql(keys.agent ?? '', 'DELETE FROM notes WHERE id > 0');
    const approval = await nextPending();
    await api('bob', 'POST', `/api/v1/approvals/${approval.id}/deny`, { reason: 'wrong table' });
    const result = await held.done;
    expect(result.stderr).toMatch(
      /ERROR: {2}sluice: blocked by policy "agents": apv_[0-9a-f]+ was denied by bob: wrong table/,
    );
    expect(await notesLeft()).toBe(5001);
  });

  it('times out with 57014, and nothing runs upstream', async () => {
    const held = psql(keys.hurried ?? '', 'DELETE FROM notes WHERE id > 0');
    const approval = await nextPending();
    const result = await held.done;
    expect(result.stderr).toContain(`approval ${approval.id} was not given within`);
    expect((await gw.store.approvals.get(approval.id))?.status).toBe('expired');
    expect(await notesLeft()).toBe(5001);
    // A late approval is refused: the request is closed.
    expect((await api('alice', 'POST', `/api/v1/approvals/${approval.id}/approve`, {})).status).toBe(409);
    expect(await notesLeft()).toBe(5001);
  });

  it('a client cancel (psql Ctrl+C) withdraws the request with 57014', async () => {
    const held = psql(keys.agent ?? '', 'DELETE FROM notes WHERE id > 0');
    const approval = await nextPending();
    await until(() => held.stderr().includes('NOTICE'), 'the NOTICE');
    held.child.kill('SIGINT');
    const result = await held.done;
    expect(result.stderr).toContain('canceling statement due to user request');
    for (let i = 0; i < 50 && (await gw.store.approvals.get(approval.id))?.status === 'pending'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await gw.store.approvals.get(approval.id))?.status).toBe('withdrawn');
    expect((await api('alice', 'POST', `/api/v1/approvals/${approval.id}/approve`, {})).status).toBe(409);
    expect(await notesLeft()).toBe(5001);
  });

  it('holds an extended-protocol statement at Execute with its parameters; each binding needs its own approval', async () => {
    const client = gatewayClient(gw, keys.agent ?? '');
    await client.connect();
    try {
      const deleting = client.query({ name: 'del', text: 'DELETE FROM notes WHERE id = $1', values: [4990] });
      const approval = await nextPending();
      expect(approval.statement).toBe('DELETE FROM notes WHERE id = $1');
      expect(approval.parameters).toEqual(["'4990'"]);
      await api('alice', 'POST', `/api/v1/approvals/${approval.id}/approve`, {});
      expect((await deleting).rowCount).toBe(1);

      const zero = client.query({ name: 'del', text: 'DELETE FROM notes WHERE id = $1', values: [0] });
      const next = await nextPending(new Set([approval.id]));
      expect(next.parameters).toEqual(["'0'"]);
      expect(next.bindingHash).not.toBe(approval.bindingHash);
      await api('alice', 'POST', `/api/v1/approvals/${next.id}/deny`, { reason: 'keep row 0' });
      await expect(zero).rejects.toMatchObject({ code: '42501' });
      expect(await notesLeft()).toBe(5000);
      // The session goes on after a refusal.
      expect((await client.query('SELECT count(*)::int AS n FROM notes')).rows[0]).toEqual({ n: 5000 });
    } finally {
      await client.end();
    }
  });
});

describe('ticket mode', () => {
  async function ticketFailure(client: pg.Client, sql: string, values?: unknown[]) {
    const error = await client.query(sql, values).then(
      () => undefined,
      (e: pg.DatabaseError) => e,
    );
    if (!error) throw new Error('expected a refusal');
    return error;
  }

  it('refuses with the approval id in the HINT; after approval the identical statement runs once', async () => {
    const client = gatewayClient(gw, keys.tickets ?? '');
    await client.connect();
    try {
      const refused = await ticketFailure(client, 'DELETE FROM notes WHERE id > 4000');
      expect(refused.code).toBe('42501');
      const id = /apv_[0-9a-f]+/.exec(refused.hint ?? '')?.[0] ?? '';
      expect(id).not.toBe('');
      // Asking again before the decision points at the same ticket.
      expect((await ticketFailure(client, 'delete   from notes where id > 4000')).hint).toContain(id);
      expect((await api('alice', 'POST', `/api/v1/approvals/${id}/approve`, {})).status).toBe(200);
      // A different statement is not covered by it.
      expect((await ticketFailure(client, 'DELETE FROM notes WHERE id > 3000')).hint).not.toContain(id);
      expect(await notesLeft()).toBe(5001);
      expect((await client.query('DELETE FROM notes WHERE id > 4000')).rowCount).toBe(1001);
      const third = await ticketFailure(client, 'DELETE FROM notes WHERE id > 4000');
      expect(third.hint).not.toContain(id);
      expect(await notesLeft()).toBe(4000);
    } finally {
      await client.end();
    }
  });

  it('binds parameters: an approval for $1 = 4990 does not cover the same statement bound with 0', async () => {
    const client = gatewayClient(gw, keys.tickets ?? '');
    await client.connect();
    try {
      const sql = 'DELETE FROM notes WHERE id = $1';
      const refused = await ticketFailure(client, sql, [4990]);
      const id = /apv_[0-9a-f]+/.exec(refused.hint ?? '')?.[0] ?? '';
      await api('alice', 'POST', `/api/v1/approvals/${id}/approve`, {});
      expect((await ticketFailure(client, sql, [0])).hint).not.toContain(id);
      expect(await notesLeft()).toBe(5001);
      expect((await client.query(sql, [4990])).rowCount).toBe(1);
      expect(await notesLeft()).toBe(5000);
    } finally {
      await client.end();
    }
  });

  it('refuses self-approval, and the two-approver rule needs two distinct approvers', async () => {
    const client = gatewayClient(gw, keys.pairs ?? '');
    await client.connect();
    try {
      const refused = await ticketFailure(client, 'DELETE FROM notes WHERE id > 4500');
      const id = /apv_[0-9a-f]+/.exec(refused.hint ?? '')?.[0] ?? '';
      const self = await api('pairs', 'POST', `/api/v1/approvals/${id}/approve`, {});
      expect(self.status).toBe(403);
      expect(String(self.body.message)).toContain('your own request');
      expect((await api('alice', 'POST', `/api/v1/approvals/${id}/approve`, {})).body.status).toBe('pending');
      expect((await api('alice', 'POST', `/api/v1/approvals/${id}/approve`, {})).status).toBe(409);
      expect((await ticketFailure(client, 'DELETE FROM notes WHERE id > 4500')).hint).toContain(id);
      expect((await api('bob', 'POST', `/api/v1/approvals/${id}/approve`, {})).body.status).toBe('approved');
      expect((await client.query('DELETE FROM notes WHERE id > 4500')).rowCount).toBe(501);
    } finally {
      await client.end();
    }
  });
});

describe('access requests', () => {
  async function ddl(client: pg.Client, name: string): Promise<string> {
    return client.query(`CREATE TABLE ${name}(id int)`).then(
      () => 'ok',
      (e: pg.DatabaseError) => `${e.code}`,
    );
  }

  it('a grant allows DDL for its window; then its sessions are closed and new attempts are denied', async () => {
    const before = gatewayClient(gw, keys.migrator ?? '');
    await before.connect();
    expect(await ddl(before, 'jit_before')).toBe('42501');
    await before.end();

    const requested = await approvalsCli(
      'migrator',
      ['request', '--connection', 'app', '--duration', '4s', '--reason', 'add an index', '--json'],
      'access',
    );
    expect(requested.code).toBe(0);
    const id = String((JSON.parse(requested.stdout) as { id: string }).id);
    // The requester cannot approve its own request; an approver can.
    expect((await approvalsCli('migrator', ['approve', id], 'access')).code).toBe(2);
    expect((await approvalsCli('alice', ['approve', id, '--reason', 'ok for today'], 'access')).code).toBe(0);

    const granted = gatewayClient(gw, keys.migrator ?? '');
    const closed = new Promise<Error>((resolve) => granted.on('error', resolve));
    await granted.connect();
    expect(await ddl(granted, 'jit_inside')).toBe('ok');
    const ended = await closed;
    expect(ended.message).toContain('access grant of this session has ended');
    await granted.end().catch(() => {});

    const after = gatewayClient(gw, keys.migrator ?? '');
    await after.connect();
    expect(await ddl(after, 'jit_after')).toBe('42501');
    await after.end();
    const [row] = await adminQuery<{ n: string }>(
      "SELECT count(*) AS n FROM pg_tables WHERE tablename LIKE 'jit_%'",
      db.name,
    );
    expect(Number(row?.n)).toBe(1);
    await adminQuery('DROP TABLE jit_inside', db.name);
  });

  it('break-glass is self-approved at once, flagged and alerted; revoking closes its sessions', async () => {
    const requested = await api('migrator', 'POST', '/api/v1/access-requests', {
      connection: 'app',
      duration: '10m',
      reason: 'incident 7',
      breakGlass: true,
    });
    expect(requested.status).toBe(201);
    expect(requested.body).toMatchObject({ status: 'approved', breakGlass: true });
    expect(gw.logs.some((line) => line.includes('"alert":"break_glass"'))).toBe(true);
    const granted = gatewayClient(gw, keys.migrator ?? '');
    const closed = new Promise<Error>((resolve) => granted.on('error', resolve));
    await granted.connect();
    expect(await ddl(granted, 'jit_glass')).toBe('ok');
    await adminQuery('DROP TABLE jit_glass', db.name);
    const revoked = await api(
      'alice',
      'POST',
      `/api/v1/access-requests/${String(requested.body.id)}/revoke`,
      {
        reason: 'incident over',
      },
    );
    expect(revoked.status).toBe(200);
    expect((await closed).message).toContain('access grant of this session has ended');
    await granted.end().catch(() => {});
  });

  it('refuses durations over the policy maximum and requests no grant policy covers', async () => {
    const tooLong = await api('migrator', 'POST', '/api/v1/access-requests', {
      connection: 'app',
      duration: '2h',
      reason: 'x',
    });
    expect(tooLong.status).toBe(400);
    const noPolicy = await api('agent', 'POST', '/api/v1/access-requests', {
      connection: 'app',
      duration: '10m',
      reason: 'x',
    });
    expect(noPolicy.status).toBe(400);
  });
});
