/**
 * pgbouncer in session pooling mode, as a reference point for "what a mature C proxy costs".
 * Started on a free port with a generated ini and userlist in its own temporary directory, in the
 * foreground (so its PID is the one measured), logging to a file there.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { libpqEnv, type ServerAddress } from './database.ts';
import { type ProxyProcess, procStatProxyProcess, stopChild } from './proxy-process.ts';
import { runCommand } from './shell.ts';

export interface RunningPgbouncer {
  readonly port: number;
  readonly process: ProxyProcess;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 15_000;

/** A port that was free a moment ago (pgbouncer cannot be told to pick one itself). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || !address) throw new Error('no free port');
  return address.port;
}

function pgbouncerIni(dir: string, port: number, server: ServerAddress, database: string): string {
  return `[databases]
${database} = host=${server.host} port=${server.port} dbname=${database} user=${server.user}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
auth_file = ${join(dir, 'userlist.txt')}
pool_mode = session
max_client_conn = 100
default_pool_size = 20
logfile = ${join(dir, 'pgbouncer.log')}
`;
}

export async function startPgbouncer(server: ServerAddress, database: string): Promise<RunningPgbouncer> {
  // Its own directory, open to all: as root, pgbouncer switches to the postgres user (it refuses
  // to run as root) and must still read its files and write its log there.
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-pgbouncer-'));
  await chmod(dir, 0o777);
  const port = await freePort();
  const ini = join(dir, 'pgbouncer.ini');
  await writeFile(ini, pgbouncerIni(dir, port, server, database), { mode: 0o644 });
  await writeFile(join(dir, 'userlist.txt'), `"${server.user}" ""\n`, { mode: 0o644 });
  const asRoot = process.getuid?.() === 0;
  const child = spawn('pgbouncer', [...(asRoot ? ['-u', 'postgres'] : []), ini], { stdio: 'ignore' });
  const stop = async () => {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilServing(child, port, server, database);
  } catch (error) {
    const log = await runCommand('tail', ['-n', '5', join(dir, 'pgbouncer.log')]).catch(() => undefined);
    await stop();
    throw new Error(`pgbouncer did not start: ${(error as Error).message}\n${log?.stdout ?? ''}`);
  }
  return { port, process: procStatProxyProcess(child), stop };
}

/** Polls with a real query until pgbouncer answers, so the first pgbench client is not refused. */
async function waitUntilServing(
  child: ChildProcess,
  port: number,
  server: ServerAddress,
  database: string,
): Promise<void> {
  const env = libpqEnv({ host: '127.0.0.1', port, user: server.user, database, sslmode: 'disable' });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`);
    try {
      await runCommand('psql', ['-X', '-A', '-t', '-c', 'SELECT 1'], { env, timeoutMs: 5_000 });
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(200);
    }
  }
}
