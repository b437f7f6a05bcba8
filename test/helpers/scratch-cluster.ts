/**
 * A throwaway PostgreSQL server owned by one test file: initdb in a temp dir, our own pg_hba.conf,
 * optional TLS, a free port on 127.0.0.1 and a unix socket in the same dir. Nothing lands in /etc
 * (unlike pg_createcluster). stop() kills it and removes the dir; register it in afterAll.
 *
 * initdb and postgres refuse to run as root, so as root both run as `postgres` via runuser and the
 * dir is handed to that user.
 */
import { execFile, execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { chmod, chown, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export const PG_BIN = process.env.SLUICE_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface ScratchClusterOptions {
  /**
   * The whole pg_hba.conf, e.g. `local all all trust\nhost all all 127.0.0.1/32 scram-sha-256`.
   * A `local all postgres trust` line is always put first so {@link ScratchCluster.query} works.
   */
  readonly hba: string;
  /** PEM files to serve with ssl=on (copied into the data dir, 0600, owned by the server user). */
  readonly ssl?: { readonly cert: string; readonly key: string };
  /** How ALTER ROLE … PASSWORD stores passwords; the server default is scram-sha-256. */
  readonly passwordEncryption?: 'scram-sha-256' | 'md5';
}

export interface ScratchCluster {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Runs SQL as the superuser `postgres` over the unix socket. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, database?: string): Promise<R[]>;
  /** The server log (log_connections is on), for "did that login ever reach the server" checks. */
  readLog(): Promise<string>;
  stop(): Promise<void>;
}

const asRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL binary as the server user (`postgres` when we are root). */
function pgRun(binary: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  const path = join(PG_BIN, binary);
  return asRoot ? run('runuser', ['-u', 'postgres', '--', path, ...args]) : run(path, [...args]);
}

async function serverUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (!asRoot) return undefined;
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Clusters not stopped yet; a worker that exits without afterAll (crash, kill -TERM) still stops them. */
const running = new Map<string, { dataDir: string; dir: string }>();
process.once('exit', () => {
  for (const { dataDir, dir } of running.values()) {
    const args = ['stop', '-D', dataDir, '-m', 'immediate', '-w'];
    const pgCtl = join(PG_BIN, 'pg_ctl');
    try {
      if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', pgCtl, ...args], { stdio: 'ignore' });
      else execFileSync(pgCtl, args, { stdio: 'ignore' });
    } catch {
      // Already gone.
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startScratchCluster(options: ScratchClusterOptions): Promise<ScratchCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const owner = await serverUser();
  let started = false;
  const stop = async (): Promise<void> => {
    running.delete(dir);
    if (started) {
      started = false;
      await pgRun('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w']).catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    if (owner) await chown(dir, owner.uid, owner.gid);
    await chmod(dir, 0o700);
    await pgRun('initdb', [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '-A',
      'trust',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
      '--no-instructions',
    ]);
    const port = await freePort();
    const settings: Record<string, string> = {
      port: String(port),
      listen_addresses: "'127.0.0.1'",
      unix_socket_directories: `'${dir}'`,
      password_encryption: `'${options.passwordEncryption ?? 'scram-sha-256'}'`,
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      shared_buffers: "'16MB'",
      max_connections: '40',
      log_connections: 'on',
      ssl: options.ssl ? 'on' : 'off',
    };
    if (options.ssl) {
      // The server checks that its key is private to it (0600 and owned by the server user).
      for (const [name, source] of [
        ['server.crt', options.ssl.cert],
        ['server.key', options.ssl.key],
      ] as const) {
        const target = join(dataDir, name);
        await copyFile(source, target);
        await chmod(target, 0o600);
        if (owner) await chown(target, owner.uid, owner.gid);
      }
      settings.ssl_cert_file = "'server.crt'";
      settings.ssl_key_file = "'server.key'";
    }
    // Appending and truncating keep the files' owner (the server user), as the server needs.
    const conf = Object.entries(settings)
      .map(([name, value]) => `${name} = ${value}\n`)
      .join('');
    await writeFile(join(dataDir, 'postgresql.conf'), `\n${conf}`, { flag: 'a' });
    await writeFile(join(dataDir, 'pg_hba.conf'), `local all postgres trust\n${options.hba}\n`);
    if (owner) await writeFile(logFile, '').then(() => chown(logFile, owner.uid, owner.gid));
    started = true;
    running.set(dir, { dataDir, dir });
    await pgRun('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60']).catch(
      async (error: unknown) => {
        const log = await readFile(logFile, 'utf8').catch(() => '');
        throw new Error(`scratch PostgreSQL did not start: ${(error as Error).message}\n${log}`);
      },
    );

    const query = async <R extends pg.QueryResultRow>(sql: string, database = 'postgres'): Promise<R[]> => {
      const client = new pg.Client({ host: dir, port, user: 'postgres', database });
      await client.connect();
      try {
        return (await client.query<R>(sql)).rows;
      } finally {
        await client.end();
      }
    };
    return {
      host: '127.0.0.1',
      port,
      query,
      readLog: () => readFile(logFile, 'utf8'),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
