/**
 * Real clients through the gateway against real PostgreSQL: psql (with \copy), pgbench in all
 * three query modes, pg_dump (compared with a direct dump) and node-postgres (pipelining, COPY
 * streams, LISTEN/NOTIFY, cancel). Every client connects with sslmode=require and an API key.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appConnectionYaml, NO_GUARDRAILS, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { createTestDatabase, PG_HOST, PG_PORT, type TestDatabase } from '../helpers/postgres.ts';
import { run } from '../helpers/run.ts';

let database: TestDatabase;
let gateway: TestGateway;
let key: string;
let workDir: string;

/** libpq environment for a connection through the gateway. */
function viaGateway(): NodeJS.ProcessEnv {
  return {
    PGHOST: gateway.host,
    PGPORT: String(gateway.port),
    PGUSER: 'agent',
    PGPASSWORD: key,
    PGDATABASE: 'app',
    PGSSLMODE: 'require',
  };
}

function direct(): NodeJS.ProcessEnv {
  return {
    PGHOST: PG_HOST,
    PGPORT: String(PG_PORT),
    PGUSER: database.role,
    PGDATABASE: database.name,
    PGSSLMODE: 'disable',
  };
}

function gatewayClient(options: Partial<pg.ClientConfig> = {}): pg.Client {
  return new pg.Client({
    host: gateway.host,
    port: gateway.port,
    user: 'agent',
    password: key,
    database: 'app',
    ssl: { rejectUnauthorized: false },
    ...options,
  });
}

beforeAll(async () => {
  database = await createTestDatabase();
  gateway = await startTestGateway({
    yaml: appConnectionYaml(database, 'ci', NO_GUARDRAILS),
  });
  key = await gateway.createKey('ci-job', ['ci']);
  workDir = await mkdtemp(join(tmpdir(), 'sluice-clients-'));
});

afterAll(async () => {
  await gateway?.close();
  await database?.drop();
  await rm(workDir, { recursive: true, force: true });
});

describe('psql', () => {
  it('runs queries over TLS and reports errors without losing the session', async () => {
    const result = await run('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=0'], {
      env: viaGateway(),
      input: "\\conninfo\nSELECT 1/0;\nSELECT 'still here', current_user;\n",
    });
    expect(result.stdout).toMatch(/SSL connection \(protocol: TLSv1\.[23]/);
    expect(result.stderr).toContain('division by zero');
    expect(result.stdout.split('\n')).toContain(`still here|${database.role}`);
    expect(result.code).toBe(0);
  });

  it('copies data in and out with \\copy', async () => {
    const input = join(workDir, 'in.csv');
    const output = join(workDir, 'out.csv');
    const rows = Array.from(
      { length: 2000 },
      (_, i) => `${i},"name ${i}, with comma",${i % 7 === 0 ? '' : `note ${i}`}`,
    );
    await writeFile(input, `${rows.join('\n')}\n`);
    const result = await run('psql', ['-X', '-v', 'ON_ERROR_STOP=1'], {
      env: viaGateway(),
      input: [
        'CREATE TABLE copy_test (id int PRIMARY KEY, name text, note text);',
        `\\copy copy_test FROM '${input}' WITH (FORMAT csv)`,
        `\\copy (SELECT * FROM copy_test ORDER BY id) TO '${output}' WITH (FORMAT csv)`,
      ].join('\n'),
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('COPY 2000');
    expect(await readFile(output, 'utf8')).toBe(await readFile(input, 'utf8'));
  });
});

describe('pgbench', () => {
  it('initializes and runs select-only in simple, extended and prepared modes without errors', async () => {
    const init = await run('pgbench', ['-i', '-s', '1', '-q'], { env: viaGateway(), timeoutMs: 120_000 });
    expect(init.code, init.stderr).toBe(0);
    for (const mode of ['simple', 'extended', 'prepared']) {
      const bench = await run('pgbench', ['-S', '-M', mode, '-c', '4', '-j', '2', '-t', '200'], {
        env: viaGateway(),
      });
      expect(bench.code, bench.stderr).toBe(0);
      expect(bench.stdout).toContain('number of transactions actually processed: 800/800');
      expect(bench.stdout).toMatch(/number of failed transactions: 0 /);
    }
  });
});

describe('pg_dump', () => {
  it('gives the same dump through the gateway as directly', async () => {
    await run('psql', ['-X', '-v', 'ON_ERROR_STOP=1'], {
      env: direct(),
      input: `CREATE TABLE dump_me (id serial PRIMARY KEY, body text, at timestamptz DEFAULT '2026-01-01', blob bytea);
        INSERT INTO dump_me (body, blob) SELECT 'row ' || g, decode(md5(g::text), 'hex') FROM generate_series(1, 500) g;
        CREATE VIEW dump_view AS SELECT id FROM dump_me WHERE id < 10;
        CREATE INDEX dump_me_body ON dump_me (body);`,
    });
    const directDump = await run('pg_dump', ['--no-owner'], { env: direct() });
    const gatewayDump = await run('pg_dump', ['--no-owner'], { env: viaGateway() });
    expect(directDump.code, directDump.stderr).toBe(0);
    expect(gatewayDump.code, gatewayDump.stderr).toBe(0);
    // Legitimate differences: comments (header, timestamps) and the random per-dump key of
    // psql's \restrict guard; everything that would be restored must match exactly.
    const body = (dump: string) =>
      dump
        .split('\n')
        .filter((line) => !line.startsWith('--') && !/^\\(un)?restrict /.test(line))
        .join('\n');
    expect(body(gatewayDump.stdout)).toBe(body(directDump.stdout));
    expect(gatewayDump.stdout).toContain('CREATE TABLE public.dump_me');
  });
});

describe('node-postgres', () => {
  it('pipelines queries and keeps going after an error in the pipeline', async () => {
    const client = gatewayClient({ pipeline: true } as Partial<pg.ClientConfig>);
    await client.connect();
    try {
      const results = await Promise.allSettled([
        client.query('SELECT 1 AS n'),
        client.query('SELECT $1::int + 1 AS n', [41]),
        client.query('SELECT 1/0'),
        client.query('SELECT $1::text AS s', ['after error']),
      ]);
      expect(results[0]).toMatchObject({ status: 'fulfilled', value: { rows: [{ n: 1 }] } });
      expect(results[1]).toMatchObject({ status: 'fulfilled', value: { rows: [{ n: 42 }] } });
      expect(results[2]).toMatchObject({ status: 'rejected', reason: { code: '22012' } });
      expect(results[3]).toMatchObject({ status: 'fulfilled', value: { rows: [{ s: 'after error' }] } });
    } finally {
      await client.end();
    }
  });

  it('streams COPY FROM STDIN and COPY TO STDOUT', async () => {
    const client = gatewayClient();
    await client.connect();
    try {
      await client.query('CREATE TABLE stream_test (id int, payload text)');
      const lines = Array.from({ length: 20_000 }, (_, i) => `${i}\t${'x'.repeat(i % 300)}\n`);
      await pipeline(Readable.from(lines), client.query(copyFrom('COPY stream_test FROM STDIN')));
      const chunks: Buffer[] = [];
      await pipeline(
        client.query(copyTo('COPY (SELECT * FROM stream_test ORDER BY id) TO STDOUT')),
        new Writable({
          write(chunk: Buffer, _encoding, done) {
            chunks.push(chunk);
            done();
          },
        }),
      );
      expect(Buffer.concat(chunks).toString('utf8')).toBe(lines.join(''));
      const { rows } = await client.query('SELECT count(*)::int AS n FROM stream_test');
      expect(rows[0]).toEqual({ n: 20_000 });
    } finally {
      await client.end();
    }
  });

  it('delivers LISTEN/NOTIFY notifications across sessions', async () => {
    const listener = gatewayClient();
    const notifier = gatewayClient();
    await Promise.all([listener.connect(), notifier.connect()]);
    try {
      const received = new Promise<pg.Notification>((resolve) => listener.once('notification', resolve));
      await listener.query('LISTEN sluice_events');
      await notifier.query("NOTIFY sluice_events, 'hello through the gateway'");
      const notification = await received;
      expect(notification.channel).toBe('sluice_events');
      expect(notification.payload).toBe('hello through the gateway');
    } finally {
      await Promise.all([listener.end(), notifier.end()]);
    }
  });

  it('cancels a running statement with the gateway-issued key (57014 within 2 s)', async () => {
    const client = gatewayClient();
    await client.connect();
    try {
      const query = new pg.Query('SELECT pg_sleep(30)');
      const outcome = new Promise<{ code?: string }>((resolve) => {
        query.on('error', (error: Error & { code?: string }) => resolve(error));
        query.on('end', () => resolve({}));
      });
      client.query(query);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const started = Date.now();
      // node-postgres sends CancelRequest on a new plaintext connection with the BackendKeyData it
      // received, which is the gateway's own key; the gateway maps it to the upstream's.
      (gatewayClient() as pg.Client & { cancel(client: pg.Client, query: pg.Query): void }).cancel(
        client,
        query,
      );
      const error = await outcome;
      expect(error.code).toBe('57014');
      expect(Date.now() - started).toBeLessThan(2000);
      const { rows } = await client.query('SELECT 1 AS alive');
      expect(rows).toEqual([{ alive: 1 }]);
    } finally {
      await client.end();
    }
  });
});
