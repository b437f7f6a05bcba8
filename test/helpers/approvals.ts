/**
 * Shared steps of the approval suites: the `notes` table they delete from, the admin API as a
 * given bearer, and waiting for the gateway to record a held or ticketed statement.
 */
import type { StatementApprovalRecord } from '../../src/store/store.ts';
import type { TestGateway } from './gateway.ts';
import { adminQuery, type TestDatabase } from './postgres.ts';

/** (Re)creates `notes` with ids 1…rows, owned by the database's role. */
export async function resetNotes(db: TestDatabase, rows: number): Promise<void> {
  await adminQuery(
    `DROP TABLE IF EXISTS notes;
     CREATE TABLE notes(id int primary key, body text);
     INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, ${rows}) g;
     ALTER TABLE notes OWNER TO ${db.role};`,
    db.name,
  );
}

/** Rows left in `notes`, counted on the server itself. */
export async function notesLeft(db: TestDatabase): Promise<number> {
  const [row] = await adminQuery<{ n: string }>('SELECT count(*) AS n FROM notes', db.name);
  return Number(row?.n);
}

export function adminUrl(gw: TestGateway): string {
  const admin = gw.gateway.admin;
  if (!admin) throw new Error('admin API not running');
  return `http://${admin.host}:${admin.port}`;
}

/** One admin API call with `bearer` (an API key or an OIDC token). */
export async function callApi(gw: TestGateway, bearer: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${adminUrl(gw)}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${bearer}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Ids of the statement approvals pending now (a failed test may leave one behind). */
export async function pendingIds(gw: TestGateway): Promise<Set<string>> {
  const pending = await gw.store.approvals.list({ kind: 'statement', status: ['pending'] });
  return new Set(pending.map((r) => r.id));
}

/** Waits until the store holds a pending statement approval not in `known`, and returns it. */
export async function nextPending(
  gw: TestGateway,
  known: ReadonlySet<string> = new Set(),
): Promise<StatementApprovalRecord> {
  for (let i = 0; i < 200; i++) {
    const pending = await gw.store.approvals.list({ kind: 'statement', status: ['pending'] });
    const fresh = pending.find((r) => !known.has(r.id));
    if (fresh?.kind === 'statement') return fresh;
    await sleep(50);
  }
  throw new Error('no pending approval appeared');
}
