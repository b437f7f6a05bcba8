/**
 * The PostgreSQL server under test and the throwaway `sluice_bench` database the harness creates,
 * fills once with `pgbench -i` (directly, not through a proxy) and drops at the end.
 */
import { runCommand } from './shell.ts';

export interface ServerAddress {
  readonly host: string;
  readonly port: number;
  readonly user: string;
}

export const SERVER: ServerAddress = { host: '127.0.0.1', port: 5432, user: 'postgres' };
export const BENCH_DATABASE = 'sluice_bench';
/** The store of the gateway-pg-store target. */
export const BENCH_STORE_DATABASE = 'sluice_bench_store';

/**
 * libpq settings for pgbench and psql. Inherited PG* variables are dropped so the shell running
 * the bench cannot redirect or reconfigure a target (e.g. a stray PGSSLMODE or PGOPTIONS).
 */
export function libpqEnv(settings: {
  host: string;
  port: number;
  user: string;
  database: string;
  sslmode: 'disable' | 'require';
  password?: string;
}): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(([name]) => !name.startsWith('PG'));
  return {
    ...Object.fromEntries(inherited),
    PGHOST: settings.host,
    PGPORT: String(settings.port),
    PGUSER: settings.user,
    PGDATABASE: settings.database,
    PGSSLMODE: settings.sslmode,
    PGCONNECT_TIMEOUT: '10',
    ...(settings.password === undefined ? {} : { PGPASSWORD: settings.password }),
  };
}

/** libpq settings straight to the server (no TLS: the proxies talk plaintext upstream too). */
export function directEnv(database: string): NodeJS.ProcessEnv {
  return libpqEnv({ ...SERVER, database, sslmode: 'disable' });
}

export async function psql(sql: string, database = 'postgres', signal?: AbortSignal): Promise<string> {
  const { stdout } = await runCommand('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
    env: directEnv(database),
    timeoutMs: 60_000,
    ...(signal ? { signal } : {}),
  });
  return stdout.trim();
}

export async function dropBenchDatabase(): Promise<void> {
  // FORCE: a proxy killed mid-run may leave a backend behind for a moment.
  for (const database of [BENCH_DATABASE, BENCH_STORE_DATABASE])
    await psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
}

/** Recreates the databases from scratch and loads pgbench's tables at `scale`. */
export async function createBenchDatabase(scale: number, signal: AbortSignal): Promise<void> {
  await dropBenchDatabase();
  await psql(`CREATE DATABASE ${BENCH_DATABASE}`, 'postgres', signal);
  await psql(`CREATE DATABASE ${BENCH_STORE_DATABASE}`, 'postgres', signal);
  await runCommand('pgbench', ['-i', '-q', '-s', String(scale)], {
    env: directEnv(BENCH_DATABASE),
    timeoutMs: 300_000,
    signal,
  });
}

export async function serverVersion(): Promise<string> {
  return psql('SHOW server_version');
}
