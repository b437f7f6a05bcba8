/**
 * Approvals across process boundaries, with real `sluice start` processes, real PostgreSQL and
 * real HTTP receivers: a statement held on one replica is approved through another replica's API
 * (shared PostgreSQL store, change feed); a held statement fails cleanly when its gateway stops
 * and its request survives, withdrawn; a ticket approved before a restart is good for one run
 * after it; webhooks arrive signed, literal-free, with decision links.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../../src/core/delivery.ts';
import { openStore } from '../../src/store/open-store.ts';
import { resetNotes } from '../helpers/approvals.ts';
import { recordCredential, recordLogLine } from '../helpers/credential-log.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { adminQuery, createTestDatabase, PG_HOST, PG_PORT, type TestDatabase } from '../helpers/postgres.ts';
import { run } from '../helpers/run.ts';

const CLI = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));

// ---- helpers -------------------------------------------------------------------------------------

/** Polls `probe` until it returns a value other than undefined; generous, for slow CI machines. */
async function until<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `promise`, or a clear failure if it has not settled within `ms` (a hang is the bug to catch). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms / 1000}s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface SluiceProcess {
  readonly child: ChildProcess;
  readonly postgresPort: number;
  readonly adminUrl: string;
  /** Everything the process wrote so far (logs and the start line). */
  output(): string;
  /** SIGTERM, then waits for the exit (SIGKILL after 30 s); the exit code. */
  stop(): Promise<number | null>;
}

/** Every process a test started, so afterAll stops whatever a failing test left running. */
const processes = new Set<SluiceProcess>();

/** `sluice start --config FILE` as its own process; resolves once /readyz answers 200. */
async function startSluice(config: string): Promise<SluiceProcess> {
  const child = spawn(process.execPath, [CLI, 'start', '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output += text;
    recordLogLine(text);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await exited;
    clearTimeout(killer);
    return code;
  };
  const started: SluiceProcess = {
    child,
    postgresPort: 0,
    adminUrl: '',
    output: () => output,
    stop,
  };
  processes.add(started);
  const [postgresPort, adminUrl] = await until(
    () => {
      if (child.exitCode !== null) throw new Error(`sluice start exited with ${child.exitCode}: ${output}`);
      const match = /postgres on [^:\s]+:(\d+), admin on (http:\/\/\S+)/.exec(output);
      return match ? ([Number(match[1]), match[2] ?? ''] as const) : undefined;
    },
    'sluice start to listen',
    60_000,
  );
  Object.assign(started, { postgresPort, adminUrl });
  await until(
    async () => {
      const response = await fetch(`${adminUrl}/readyz`).catch(() => undefined);
      return response?.status === 200 ? true : undefined;
    },
    'readyz',
    60_000,
  );
  return started;
}

async function stopAll(): Promise<void> {
  await Promise.all([...processes].map((p) => p.stop()));
  processes.clear();
}

/** `sluice keys create` against a store (PGlite: only while no gateway holds it). */
async function createKey(store: string, name: string, groups: string): Promise<string> {
  const created = await run(process.execPath, [
    CLI,
    'keys',
    'create',
    '--store',
    store,
    '--name',
    name,
    '--groups',
    groups,
    '--json',
  ]);
  expect(created.code, created.stderr).toBe(0);
  const { key } = JSON.parse(created.stdout) as { key: string };
  recordCredential(key);
  return key;
}

async function api(adminUrl: string, token: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${adminUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as unknown };
}

interface ApprovalView {
  readonly id: string;
  readonly status: string;
  readonly statement: string;
  readonly mode: string;
}

/** A pending approval not in `known`, as an approver sees it through `adminUrl`. */
function nextPending(adminUrl: string, token: string, known: ReadonlySet<string> = new Set()) {
  return until(async () => {
    const { status, body } = await api(adminUrl, token, 'GET', '/api/v1/approvals?status=pending');
    if (status !== 200) throw new Error(`listing approvals answered ${status}: ${JSON.stringify(body)}`);
    return (body as ApprovalView[]).find((r) => !known.has(r.id));
  }, 'a pending approval');
}

/** A pg client through a plaintext (loopback) listener. */
async function connect(port: number, key: string): Promise<pg.Client> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'agent', password: key, database: 'app' });
  // A FATAL from the gateway also surfaces as an 'error' event; the query's rejection is what we check.
  client.on('error', () => {});
  await client.connect();
  return client;
}

async function queryError(client: pg.Client, sql: string): Promise<pg.DatabaseError> {
  const error = await client.query(sql).then(
    () => undefined,
    (e: pg.DatabaseError) => e,
  );
  if (!error) throw new Error(`expected "${sql}" to be refused`);
  return error;
}

async function notesLeft(db: TestDatabase): Promise<number> {
  const [row] = await adminQuery<{ n: string }>('SELECT count(*) AS n FROM notes', db.name);
  return Number(row?.n);
}

function connectionYaml(db: TestDatabase): string {
  return `connections:
  - name: app
    type: postgres
    url: postgres://${db.role}@${PG_HOST}:${PG_PORT}/${db.name}
`;
}

/** A config for `sluice start` on ephemeral loopback ports, its TLS material under `dataDir`. */
async function writeConfig(file: string, dataDir: string, store: string, rest: string): Promise<string> {
  await writeFile(
    file,
    `listen:
  postgres: { address: 127.0.0.1:0, tls: off }
admin: { listen: 127.0.0.1:0 }
dataDir: ${dataDir}
store: ${store}
${rest}`,
  );
  return file;
}

let dir: string;
const databases: TestDatabase[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-appr-dur-'));
});

afterAll(async () => {
  await stopAll();
  for (const db of databases) await db.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

// ---- 1. two replicas on one PostgreSQL store -----------------------------------------------------

describe('two replicas on a PostgreSQL store', () => {
  it('holds a DELETE on replica A, approves it through replica B, and A runs it', {
    timeout: 180_000,
  }, async () => {
    const storeDb = await createTestDatabase('sluice_apstore');
    databases.push(storeDb);
    const target = await createTestDatabase('sluice_aptarget');
    databases.push(target);
    await resetNotes(target, 120);
    const store = `postgres://${storeDb.role}@${PG_HOST}:${PG_PORT}/${storeDb.name}`;
    const rest = `${connectionYaml(target)}policies:
  - name: agents
    subjects: { groups: [agents] }
    connections: [app]
    rules: [{ name: writes-need-review, action: review, effects: [write], reason: writes need a DBA }]
    review: { approvers: { groups: [dba] } }
`;
    // Keys first: this also creates the store's schema before either replica opens it.
    const agent = await createKey(store, 'agent', 'agents');
    const alice = await createKey(store, 'alice', 'dba');
    const [a, b] = await Promise.all([
      startSluice(await writeConfig(join(dir, 'a.yaml'), join(dir, 'data-a'), store, rest)),
      startSluice(await writeConfig(join(dir, 'b.yaml'), join(dir, 'data-b'), store, rest)),
    ]);
    try {
      expect(a.postgresPort).not.toBe(b.postgresPort);
      const client = await connect(a.postgresPort, agent);
      try {
        const notices: string[] = [];
        client.on('notice', (notice) => notices.push(notice.message ?? ''));
        const deleting = client.query('DELETE FROM notes WHERE id > 0');
        let settled = false;
        deleting.then(
          () => {
            settled = true;
          },
          () => {
            settled = true;
          },
        );
        // Replica B's API sees the request replica A recorded.
        const approval = await nextPending(b.adminUrl, alice);
        expect(approval).toMatchObject({ mode: 'hold', statement: 'DELETE FROM notes WHERE id > 0' });
        await until(() => (notices.some((n) => n.includes(approval.id)) ? true : undefined), 'the NOTICE');
        expect(settled).toBe(false);
        expect(await notesLeft(target)).toBe(120);

        const decided = await api(b.adminUrl, alice, 'POST', `/api/v1/approvals/${approval.id}/approve`, {
          reason: 'approved on replica B',
        });
        expect(decided.status, JSON.stringify(decided.body)).toBe(200);
        expect((decided.body as ApprovalView).status).toBe('approved');
        // Replica A learns of it through the store's change feed and runs the statement.
        expect(
          (await within(deleting, 30_000, 'the approved statement completing on replica A')).rowCount,
        ).toBe(120);
        expect(await notesLeft(target)).toBe(0);
        const after = await api(a.adminUrl, alice, 'GET', `/api/v1/approvals/${approval.id}`);
        expect((after.body as ApprovalView).status).toBe('consumed');
        // The session goes on.
        expect((await client.query('SELECT count(*)::int AS n FROM notes')).rows[0]).toEqual({ n: 0 });
      } finally {
        await client.end().catch(() => undefined);
      }
    } finally {
      expect(await a.stop()).toBe(0);
      expect(await b.stop()).toBe(0);
    }
  });
});

// ---- 2. restarts on a PGlite store ---------------------------------------------------------------

describe('a gateway restart on a PGlite store', () => {
  let target: TestDatabase;
  let storeDir: string;
  let store: string;
  let config: string;
  const keys: Record<string, string> = {};

  beforeAll(async () => {
    target = await createTestDatabase('sluice_aprestart');
    databases.push(target);
    storeDir = join(dir, 'pglite-store');
    store = `pglite://${storeDir}`;
    config = await writeConfig(
      join(dir, 'restart.yaml'),
      join(dir, 'data-restart'),
      store,
      `${connectionYaml(target)}policies:
  - name: holders
    subjects: { groups: [holders] }
    connections: [app]
    rules: [{ name: writes-need-review, action: review, effects: [write] }]
    review: { approvers: { groups: [dba] } }
  - name: tickets
    subjects: { groups: [tickets] }
    connections: [app]
    rules: [{ name: writes-need-review, action: review, effects: [write] }]
    review: { mode: ticket, grantWindow: 10m, approvers: { groups: [dba] } }
`,
    );
    // PGlite admits one process at a time: keys are made while no gateway runs.
    keys.holder = await createKey(store, 'holder', 'holders');
    keys.ticket = await createKey(store, 'ticket-agent', 'tickets');
    keys.alice = await createKey(store, 'alice', 'dba');
  });

  it('a held statement fails with a SQLSTATE when the gateway stops; its request survives, withdrawn', {
    timeout: 180_000,
  }, async () => {
    await resetNotes(target, 50);
    const gateway = await startSluice(config);
    const client = await connect(gateway.postgresPort, keys.holder ?? '');
    let approvalId: string;
    let failure: unknown;
    try {
      const deleting = client.query('DELETE FROM notes WHERE id > 0').then(
        () => undefined,
        (error: unknown) => error,
      );
      approvalId = (await nextPending(gateway.adminUrl, keys.alice ?? '')).id;
      expect(await gateway.stop()).toBe(0);
      failure = await within(deleting, 30_000, 'the held statement failing on shutdown');
    } finally {
      await client.end().catch(() => undefined);
      await gateway.stop();
    }
    expect(failure, 'the held statement must fail, not succeed').toBeInstanceOf(Error);
    expect(failure).toMatchObject({ code: '57P01', message: expect.stringContaining('shutting down') });
    expect(await notesLeft(target)).toBe(50);

    // The process is gone, so the store is free to open here.
    const opened = await openStore(store);
    try {
      const record = await opened.approvals.get(approvalId);
      expect(record, 'the approval record survives the restart').toBeDefined();
      expect(record).toMatchObject({
        kind: 'statement',
        mode: 'hold',
        statement: 'DELETE FROM notes WHERE id > 0',
      });
      expect(record?.status, 'a statement whose client went away is withdrawn, not left pending').toBe(
        'withdrawn',
      );
    } finally {
      await opened.close();
    }
  });

  it('a ticket approved before a restart is good for exactly one run after it', {
    timeout: 180_000,
  }, async () => {
    await resetNotes(target, 100);
    const sql = 'DELETE FROM notes WHERE id > 90';
    let id: string;
    const first = await startSluice(config);
    try {
      const client = await connect(first.postgresPort, keys.ticket ?? '');
      try {
        const refused = await queryError(client, sql);
        expect(refused.code).toBe('42501');
        id = /apv_[0-9a-f]+/.exec(refused.hint ?? '')?.[0] ?? '';
        expect(id).not.toBe('');
      } finally {
        await client.end();
      }
      const decided = await api(
        first.adminUrl,
        keys.alice ?? '',
        'POST',
        `/api/v1/approvals/${id}/approve`,
        {},
      );
      expect(decided.status, JSON.stringify(decided.body)).toBe(200);
      expect((decided.body as ApprovalView).status).toBe('approved');
    } finally {
      expect(await first.stop()).toBe(0);
    }
    expect(await notesLeft(target)).toBe(100);

    const second = await startSluice(config);
    try {
      const client = await connect(second.postgresPort, keys.ticket ?? '');
      try {
        expect((await client.query(sql)).rowCount).toBe(10);
        expect(await notesLeft(target)).toBe(90);
        const third = await queryError(client, sql);
        expect(third.code).toBe('42501');
        expect(third.hint).toMatch(/apv_[0-9a-f]+/);
        expect(third.hint).not.toContain(id);
        expect(await notesLeft(target)).toBe(90);
      } finally {
        await client.end();
      }
      const used = await api(second.adminUrl, keys.alice ?? '', 'GET', `/api/v1/approvals/${id}`);
      expect((used.body as ApprovalView).status).toBe('consumed');
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });
});

// ---- 3. webhooks ---------------------------------------------------------------------------------

interface Delivery {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

describe('webhook notifications', () => {
  const SECRET = 'x-hook-secret-0123456789abcdef';
  const deliveries: Delivery[] = [];
  let receiver: Server;
  let db: TestDatabase;
  let gw: TestGateway;

  beforeAll(async () => {
    receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        deliveries.push({
          path: request.url ?? '',
          headers: request.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const { port } = receiver.address() as AddressInfo;
    db = await createTestDatabase('sluice_aphooks');
    databases.push(db);
    await resetNotes(db, 10);
    gw = await startTestGateway({
      tls: 'off',
      env: { ...process.env, HOOK_SECRET: SECRET },
      yaml: `${connectionYaml(db)}policies:
  - name: agents
    subjects: { groups: [agents] }
    connections: [app]
    rules: [{ name: writes-need-review, action: review, effects: [write], reason: writes need a DBA }]
    review: { approvers: { groups: [dba] } }
approvals:
  publicUrl: https://sluice.example.com/
  notify:
    - { url: "http://127.0.0.1:${port}/hooks/json", format: json, secret: env:HOOK_SECRET }
    - { url: "http://127.0.0.1:${port}/hooks/slack", format: slack }
`,
    });
  });

  afterAll(async () => {
    await gw?.close();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  const SLACK_TITLES: Record<string, string> = {
    'approval.requested': '*Statement approval requested*',
    'approval.approved': '*Statement approved*',
  };

  function delivered(path: string, event: string, id: string): Promise<Delivery> {
    return until(
      () =>
        deliveries.find((d) => {
          if (d.path !== path) return false;
          return path.endsWith('/json')
            ? (JSON.parse(d.body) as { event: string; id: string }).event === event &&
                d.body.includes(`"id":"${id}"`)
            : d.body.includes(id) && d.body.includes(SLACK_TITLES[event] ?? event);
        }),
      `${event} at ${path}`,
    );
  }

  it('sends signed, literal-free notices with decision links, then the approval', {
    timeout: 60_000,
  }, async () => {
    const agent = await gw.createKey('agent', ['agents']);
    const alice = await gw.createKey('alice', ['dba']);
    const client = await connect(gw.port, agent);
    try {
      const deleting = client.query(
        "DELETE FROM notes WHERE body = 'alice@example.com' OR id = 4111111111111111 OR id = 3",
      );
      const pending = await until(async () => {
        const [record] = await gw.store.approvals.list({ kind: 'statement', status: ['pending'] });
        return record;
      }, 'the pending approval');
      const admin = gw.gateway.admin;
      if (!admin) throw new Error('admin API not running');
      const adminUrl = `http://${admin.host}:${admin.port}`;

      const json = await delivered('/hooks/json', 'approval.requested', pending.id);
      const now = Date.now() / 1000;
      expect(verifySignature(Buffer.from(SECRET), json.headers, json.body, 300, now)).toBe(true);
      expect(verifySignature(Buffer.from(`${SECRET}-wrong`), json.headers, json.body, 300, now)).toBe(false);
      expect(verifySignature(Buffer.from(SECRET), json.headers, `${json.body} `, 300, now)).toBe(false);
      const notice = JSON.parse(json.body) as Record<string, unknown>;
      expect(notice).toMatchObject({
        version: 1,
        event: 'approval.requested',
        id: pending.id,
        kind: 'statement',
        connection: 'app',
        policy: 'agents',
        links: {
          approve: `https://sluice.example.com/approvals/${pending.id}?decision=approve`,
          deny: `https://sluice.example.com/approvals/${pending.id}?decision=deny`,
        },
      });
      expect(String(notice.redactedStatement)).toMatch(/^DELETE FROM notes WHERE/);

      const slack = await delivered('/hooks/slack', 'approval.requested', pending.id);
      const message = JSON.parse(slack.body) as { blocks: { type: string; elements?: { url?: string }[] }[] };
      const buttons = message.blocks.find((block) => block.type === 'actions')?.elements ?? [];
      expect(buttons.map((button) => button.url)).toEqual([
        `https://sluice.example.com/approvals/${pending.id}?decision=approve`,
        `https://sluice.example.com/approvals/${pending.id}?decision=deny`,
      ]);

      // No literal of the statement leaves the gateway. Random ids could contain "4111" by chance,
      // so they are taken out before the shortest check.
      for (const body of [json.body, slack.body]) {
        expect(body).not.toContain('alice@example.com');
        expect(body).not.toContain('4111111111111111');
        const scrubbed = body.replaceAll(pending.id, '').replaceAll(pending.requester.id, '');
        expect(scrubbed).not.toContain('4111');
        expect(scrubbed).not.toContain('alice@');
      }
      expect(await notesLeft(db)).toBe(10);

      const decided = await api(adminUrl, alice, 'POST', `/api/v1/approvals/${pending.id}/approve`, {});
      expect(decided.status, JSON.stringify(decided.body)).toBe(200);
      expect((await deleting).rowCount).toBe(1);
      expect(await notesLeft(db)).toBe(9);
      const approved = await delivered('/hooks/json', 'approval.approved', pending.id);
      expect(
        verifySignature(Buffer.from(SECRET), approved.headers, approved.body, 300, Date.now() / 1000),
      ).toBe(true);
      await delivered('/hooks/slack', 'approval.approved', pending.id);
    } finally {
      await client.end();
    }
  });
});
