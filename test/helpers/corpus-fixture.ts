/**
 * The adversarial corpus fixture (docs: shared/design/adversarial-corpus.md, "Fixture (PostgreSQL)")
 * in a throwaway database: an owner role (the "admin"), a non-superuser agent role with the corpus
 * grants plus CREATE on `public` (as in the ✔ runs, so blocked DDL would really succeed directly),
 * and a snapshot of everything a blocked statement must leave unchanged.
 */
import pg from 'pg';
import { adminQuery, createTestDatabase, PG_ADMIN_USER, PG_HOST, PG_PORT } from './postgres.ts';

const FIXTURE_SQL = (agent: string) => `
CREATE TABLE customers(id int primary key, name text not null, email text,
  card_number text, ssn text, phone text, api_key text);
INSERT INTO customers VALUES
 (1,'Alice','alice@example.com','4111111111111111','123-45-6789','+1-415-555-0100','sk_live_51HxAbCdEfGhIjKlMnOpQrSt'),
 (2,'Bob','bob@example.com','5500005555555559','987-65-4321','+1-212-555-0199','sk_live_51HzZyXwVuTsRqPoNmLkJiHg'),
 (3,'Carol','carol@example.org','340000000000009','111-22-3333','+44 20 7946 0958','AKIAIOSFODNN7EXAMPLE');
CREATE TABLE stats(drop_count int, delete_flag bool, note text);
INSERT INTO stats VALUES (3,false,'DROP TABLE customers; -- just a note');
CREATE TABLE notes(id serial primary key, body text, created timestamptz default now());
INSERT INTO notes(body) SELECT 'note '||g FROM generate_series(1,5000) g;
INSERT INTO notes(body) VALUES ('deploy key AKIAIOSFODNN7EXAMPLE left here');
CREATE TABLE guesses(pan text); INSERT INTO guesses VALUES ('4111111111111111');
CREATE TABLE canary(v int); INSERT INTO canary VALUES (42);
CREATE VIEW v_notes AS SELECT id, card_number AS note FROM customers;
GRANT SELECT ON customers, stats, notes, guesses, canary, v_notes TO ${agent};
GRANT INSERT, UPDATE, DELETE ON customers, stats, notes TO ${agent};
GRANT USAGE, SELECT ON SEQUENCE notes_id_seq TO ${agent};
GRANT USAGE, CREATE ON SCHEMA public TO ${agent};
ANALYZE;
`;

/** Everything the BLOCKED oracle says must not change. */
export interface FixtureSnapshot {
  readonly canary: unknown;
  readonly counts: unknown;
  /** Content digests (notes without `created`, which differs after a reset). */
  readonly contents: unknown;
  readonly objects: unknown;
  readonly agentOwned: unknown;
  readonly acl: unknown;
  readonly rolconfig: unknown;
  readonly dbRoleSettings: unknown;
  readonly preparedXacts: unknown;
  readonly largeObjects: unknown;
  readonly sequence: unknown;
}

export interface CorpusFixture {
  /** The database name; the database is owned by `owner`. */
  readonly name: string;
  readonly owner: string;
  /** The agent role: LOGIN, not superuser, not owner. */
  readonly agent: string;
  snapshot(): Promise<FixtureSnapshot>;
  /** Rebuilds the fixture from scratch (after a case that changed it). */
  reset(): Promise<void>;
  /** As the superuser, in the fixture database. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string): Promise<R[]>;
  drop(): Promise<void>;
}

export async function createCorpusFixture(prefix = 'sluice_corpus'): Promise<CorpusFixture> {
  const db = await createTestDatabase(prefix);
  const agent = `${db.name}_agent`;
  await adminQuery(`CREATE ROLE ${agent} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE`);

  const asOwner = async (sql: string) => {
    const client = new pg.Client({ host: PG_HOST, port: PG_PORT, user: db.role, database: db.name });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  const query = <R extends pg.QueryResultRow>(sql: string) => adminQuery<R>(sql, db.name);

  await asOwner(FIXTURE_SQL(agent));
  // The administrator's limit the agent cannot lift (corpus 68): a statement the gateway wrongly
  // lets through (pg_sleep(3600)) then fails with 57014 instead of stalling the suite.
  await adminQuery(`ALTER DATABASE ${db.name} SET statement_timeout = '5s'`);

  return {
    name: db.name,
    owner: db.role,
    agent,
    query,
    async snapshot() {
      const client = new pg.Client({ host: PG_HOST, port: PG_PORT, user: PG_ADMIN_USER, database: db.name });
      await client.connect();
      const one = async (sql: string): Promise<unknown> =>
        (await client.query({ text: sql, rowMode: 'array' })).rows;
      try {
        return await snapshotWith(one, agent);
      } finally {
        await client.end();
      }
    },
    async reset() {
      for (const { gid } of await query<{ gid: string }>(
        `SELECT gid FROM pg_prepared_xacts WHERE database = '${db.name}'`,
      )) {
        await query(`ROLLBACK PREPARED '${gid.replaceAll("'", "''")}'`);
      }
      await query(`ALTER ROLE ${agent} RESET ALL`);
      await query(`ALTER ROLE ${agent} IN DATABASE ${db.name} RESET ALL`).catch(() => undefined);
      await query(`DROP OWNED BY ${agent}`);
      await query(
        `DROP SCHEMA public CASCADE; CREATE SCHEMA public AUTHORIZATION pg_database_owner;
         GRANT USAGE ON SCHEMA public TO PUBLIC;
         SELECT lo_unlink(oid) FROM pg_largeobject_metadata;`,
      );
      await asOwner(FIXTURE_SQL(agent));
    },
    async drop() {
      await adminQuery(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${db.name}'`,
      ).catch(() => undefined);
      for (const { gid } of await adminQuery<{ gid: string }>(
        `SELECT gid FROM pg_prepared_xacts WHERE database = '${db.name}'`,
      )) {
        await query(`ROLLBACK PREPARED '${gid.replaceAll("'", "''")}'`);
      }
      await db.drop();
      await adminQuery(`DROP ROLE IF EXISTS ${agent}`);
    },
  };
}

async function snapshotWith(one: (sql: string) => Promise<unknown>, agent: string): Promise<FixtureSnapshot> {
  return {
    canary: await one('SELECT v FROM canary ORDER BY v'),
    counts: await one(
      `SELECT (SELECT count(*) FROM stats) AS stats, (SELECT count(*) FROM customers) AS customers,
              (SELECT count(*) FROM notes) AS notes, (SELECT count(*) FROM guesses) AS guesses`,
    ),
    contents: await one(
      `SELECT (SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM stats t),
              (SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM customers t),
              (SELECT md5(string_agg(id || ':' || body, '|' ORDER BY id)) FROM notes)`,
    ),
    objects: await one(
      `SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1, 2`,
    ),
    agentOwned: await one(
      `SELECT (SELECT count(*) FROM pg_class WHERE relowner = '${agent}'::regrole),
              (SELECT count(*) FROM pg_proc WHERE proowner = '${agent}'::regrole),
              (SELECT count(*) FROM pg_namespace WHERE nspowner = '${agent}'::regrole),
              (SELECT count(*) FROM pg_type WHERE typowner = '${agent}'::regrole),
              (SELECT count(*) FROM pg_trigger), (SELECT count(*) FROM pg_rewrite r
                 JOIN pg_class c ON c.oid = r.ev_class WHERE c.relnamespace = 'public'::regnamespace),
              (SELECT count(*) FROM pg_namespace WHERE nspname = 'public')`,
    ),
    acl: await one(
      `SELECT relname, relacl::text FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1`,
    ),
    rolconfig: await one(`SELECT rolconfig FROM pg_roles WHERE rolname = '${agent}'`),
    dbRoleSettings: await one(
      `SELECT setdatabase, setconfig FROM pg_db_role_setting WHERE setrole = '${agent}'::regrole`,
    ),
    preparedXacts: await one(
      'SELECT gid FROM pg_prepared_xacts WHERE database = current_database() ORDER BY 1',
    ),
    largeObjects: await one('SELECT count(*) FROM pg_largeobject_metadata'),
    sequence: await one('SELECT last_value, is_called FROM notes_id_seq'),
  };
}
