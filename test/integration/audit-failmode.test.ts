/**
 * `audit.failMode`: with the audit store unavailable, a `closed` policy's statements are refused
 * (57P03) and nothing is forwarded, while an `open` policy's go on; once the store is back, the
 * queued events are written and the chain verifies.
 */
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sleep } from '../helpers/approvals.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { gatewayClient } from '../helpers/pg-client.ts';
import { adminQuery, createTestDatabase, PG_HOST, PG_PORT, type TestDatabase } from '../helpers/postgres.ts';
import { run } from '../helpers/run.ts';

let target: TestDatabase;
let storeDb: TestDatabase;
let gw: TestGateway;
let storeUrl: string;
const keys: Record<string, string> = {};

beforeAll(async () => {
  target = await createTestDatabase('sluice_failmode_t');
  storeDb = await createTestDatabase('sluice_failmode_s');
  storeUrl = `postgres://${storeDb.role}@${PG_HOST}:${PG_PORT}/${storeDb.name}`;
  await adminQuery(`CREATE TABLE canary(id int); ALTER TABLE canary OWNER TO ${target.role};`, target.name);
  gw = await startTestGateway({
    storeUrl,
    yaml: `connections:
  - name: app
    type: postgres
    url: postgres://${target.role}@${PG_HOST}:${PG_PORT}/${target.name}
policies:
  - name: strict
    subjects: { groups: [strict] }
    connections: [app]
  - name: lenient
    subjects: { groups: [lenient] }
    connections: [app]
    audit: { failMode: open }
`,
  });
  keys.strict = await gw.createKey('strict', ['strict']);
  keys.lenient = await gw.createKey('lenient', ['lenient']);
});

afterAll(async () => {
  await adminQuery(`ALTER DATABASE ${storeDb.name} ALLOW_CONNECTIONS true`).catch(() => {});
  await gw?.close();
  await target?.drop();
  await storeDb?.drop();
});

/** Cuts the gateway off its store: no new connections, existing ones terminated. */
async function storeDown(): Promise<void> {
  await adminQuery(`ALTER DATABASE ${storeDb.name} ALLOW_CONNECTIONS false`);
  await adminQuery(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${storeDb.name}'`,
  );
}

async function insert(client: pg.Client, id: number): Promise<string> {
  return client.query(`INSERT INTO canary VALUES (${id})`).then(
    () => 'ok',
    (error: pg.DatabaseError) => `${error.code}: ${error.message}`,
  );
}

async function canaries(): Promise<number[]> {
  const rows = await adminQuery<{ id: number }>('SELECT id FROM canary ORDER BY id', target.name);
  return rows.map((r) => r.id);
}

it('refuses a closed policy’s statements while the audit log cannot be written; open ones go on; nothing is lost', async () => {
  const strict = gatewayClient(gw, keys.strict ?? '');
  const lenient = gatewayClient(gw, keys.lenient ?? '');
  await strict.connect();
  await lenient.connect();
  try {
    expect(await insert(strict, 1)).toBe('ok');
    await storeDown();
    // The first statement after the outage may pass: its record is what finds the store gone.
    let refused = '';
    for (let id = 100; id < 140 && refused === ''; id++) {
      const outcome = await insert(strict, id);
      if (outcome !== 'ok') refused = outcome;
      else await sleep(100);
    }
    expect(refused).toBe(
      '57P03: sluice: the audit log cannot be written, so statements are refused (audit.failMode: closed)',
    );
    const before = await canaries();
    expect(await insert(strict, 999)).toMatch(/^57P03: /);
    expect(await canaries()).toEqual(before);
    expect(await insert(lenient, 500)).toBe('ok');
    expect(await canaries()).toContain(500);

    await adminQuery(`ALTER DATABASE ${storeDb.name} ALLOW_CONNECTIONS true`);
    let back = '';
    for (let i = 0; i < 120 && back !== 'ok'; i++) {
      back = await insert(strict, 2000 + i);
      if (back !== 'ok') await sleep(500);
    }
    expect(back).toBe('ok');
  } finally {
    await strict.end();
    await lenient.end();
  }
  await gw.gateway.close();
  const verify = await run('node', ['bin/sluice.js', 'audit', 'verify', '--store', storeUrl]);
  expect(verify.stdout).toMatch(/^ok: /);
  // The lenient insert made during the outage was recorded once the store came back.
  const [row] = await adminQuery<{ n: string }>(
    `SELECT count(*) AS n FROM sluice.audit_events WHERE type = 'statement.decided' AND event LIKE '%VALUES (500)%'`,
    storeDb.name,
  );
  expect(Number(row?.n)).toBe(1);
});
