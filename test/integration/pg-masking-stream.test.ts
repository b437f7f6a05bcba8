/**
 * Masking streams: a 2 GB result passes through `sluice start` (its own process, so its memory is
 * measured alone) with masking on, while the gateway's resident memory stays under 300 MB. The
 * client counts and discards rows as they arrive. The store is PostgreSQL, as in production: the
 * embedded PGlite store alone keeps about 200 MB resident (its WASM heap), which would measure the
 * store rather than the data path (see docs/deployment.md).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, PG_HOST, PG_PORT, type TestDatabase } from '../helpers/postgres.ts';
import { run } from '../helpers/run.ts';
import { streamQuery } from '../helpers/stream-query.ts';

const CLI = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));
const ROWS = 2_000_000;
/** 1,000 bytes of text plus the row number: about 2 GB of values. */
const QUERY = `SELECT repeat('x', 1000) || g FROM generate_series(1, ${ROWS}) g`;
const RSS_LIMIT_BYTES = 300 * 1024 * 1024;

let db: TestDatabase;
let dir: string;
let gateway: ChildProcess | undefined;

beforeAll(async () => {
  db = await createTestDatabase('sluice_stream');
  dir = await mkdtemp(join(tmpdir(), 'sluice-stream-'));
});

afterAll(async () => {
  gateway?.kill('SIGTERM');
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function startGateway(): Promise<{ port: number; key: string }> {
  const config = join(dir, 'sluice.yaml');
  await writeFile(
    config,
    `listen:
  postgres: { address: 127.0.0.1:0, tls: off }
admin: { enabled: false }
store: postgres://${db.role}@${PG_HOST}:${PG_PORT}/${db.name}
connections:
  - name: app
    type: postgres
    url: postgres://${db.role}@${PG_HOST}:${PG_PORT}/${db.name}
policies:
  - name: stream
    subjects: { groups: [stream] }
    connections: [app]
`,
  );
  const created = await run(process.execPath, [
    CLI,
    'keys',
    'create',
    '--name',
    'stream',
    '--groups',
    'stream',
    '--json',
    '--config',
    config,
  ]);
  expect(created.code, created.stderr).toBe(0);
  const { key } = JSON.parse(created.stdout) as { key: string };
  const child = spawn(process.execPath, [CLI, 'start', '--config', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  gateway = child;
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /postgres on [^:\s]+:(\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`sluice start exited with ${code}: ${output}`)));
  });
  return { port, key };
}

async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

it('streams a 2 GB result with masking on while the gateway stays under 300 MB resident', {
  timeout: 300_000,
}, async () => {
  const { port, key } = await startGateway();
  const pid = gateway?.pid ?? 0;
  const baseline = await residentBytes(pid);
  let peak = baseline;
  const sampler = setInterval(() => {
    residentBytes(pid).then(
      (rss) => {
        peak = Math.max(peak, rss);
      },
      () => undefined,
    );
  }, 100);
  try {
    const { rows, bytes } = await streamQuery(
      { host: '127.0.0.1', port, user: 'agent', database: 'app', password: key },
      QUERY,
    );
    expect(rows).toBe(ROWS);
    expect(bytes).toBeGreaterThan(2_000_000_000);
  } finally {
    clearInterval(sampler);
  }
  const summary = `resident ${(baseline / 1e6).toFixed(0)} MB before, ${(peak / 1e6).toFixed(0)} MB at peak`;
  expect(peak, summary).toBeGreaterThan(0);
  expect(peak, summary).toBeLessThan(RSS_LIMIT_BYTES);
});
