/**
 * Real PostgreSQL on 127.0.0.1:5432 (trust auth, see .ci/run). Each suite makes its own database
 * and role and drops them afterwards, so suites can run in parallel and leave nothing behind.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_HOST = '127.0.0.1';
export const PG_PORT = 5432;
export const PG_ADMIN_USER = 'postgres';

export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(
  sql: string,
  database = 'postgres',
): Promise<R[]> {
  const client = new pg.Client({ host: PG_HOST, port: PG_PORT, user: PG_ADMIN_USER, database });
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  readonly name: string;
  /** A login role that owns the database; trust auth on loopback, so no password. */
  readonly role: string;
  drop(): Promise<void>;
}

/** Creates `sluice_t_<random>` owned by a fresh role of the same name. */
export async function createTestDatabase(prefix = 'sluice_t'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE ROLE ${name} LOGIN`);
  await adminQuery(`CREATE DATABASE ${name} OWNER ${name}`);
  return {
    name,
    role: name,
    async drop() {
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await adminQuery(`DROP ROLE IF EXISTS ${name}`);
    },
  };
}
