/**
 * The authenticated administration API on a running gateway: bearer auth with an admin API key,
 * uniform 401 for bad credentials, 403 for non-admins, key lifecycle over HTTP (the created key
 * works on the data path; revoking it closes its live session), and audit events that carry no
 * credential.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appConnectionYaml, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.ts';

let database: TestDatabase;
let gateway: TestGateway;
let adminKey: string;
let base: string;

beforeAll(async () => {
  database = await createTestDatabase();
  gateway = await startTestGateway({
    yaml: appConnectionYaml(
      database,
      'app',
      `identity:
  revalidateEvery: 1s
`,
    ),
    env: { ...process.env, SLUICE_MASTER_KEY: randomBytes(32).toString('base64') },
  });
  adminKey = await gateway.createKey('operator', ['sluice-admins']);
  const admin = gateway.gateway.admin;
  if (!admin) throw new Error('admin server not running');
  base = `http://${admin.host}:${admin.port}`;
});

afterAll(async () => {
  await gateway?.close();
  await database?.drop();
});

function call(path: string, init: RequestInit & { token?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token !== undefined) headers.set('authorization', `Bearer ${init.token}`);
  if (init.body) headers.set('content-type', 'application/json');
  return fetch(`${base}${path}`, { ...init, headers });
}

describe('admin API authentication', () => {
  it('refuses a missing, wrong or garbage credential with the same 401', async () => {
    const answers = await Promise.all([
      call('/api/v1/keys'),
      // The last character changed to one it is not (a fixed 'A' would be the key itself 1 time in 64).
      call('/api/v1/keys', { token: `${adminKey.slice(0, -1)}${adminKey.endsWith('A') ? 'B' : 'A'}` }),
      call('/api/v1/keys', { token: 'not-a-key' }),
    ]);
    for (const answer of answers) {
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toBe('Bearer');
      expect(await answer.json()).toEqual({
        error: 'unauthorized',
        message: 'sluice: a valid admin API key or token is required',
      });
    }
  });

  it('refuses a valid key outside the admin group with 403', async () => {
    const userKey = await gateway.createKey('not-an-admin', ['app']);
    const answer = await call('/api/v1/keys', { token: userKey });
    expect(answer.status).toBe(403);
  });

  it('keeps probes, metrics and the OpenAPI document open, and documents bearer auth', async () => {
    expect((await call('/healthz')).status).toBe(200);
    const openapi = (await (await call('/api/v1/openapi.json')).json()) as {
      paths: Record<string, unknown>;
      components: { securitySchemes: Record<string, unknown> };
    };
    expect(Object.keys(openapi.paths)).toEqual(
      expect.arrayContaining(['/api/v1/keys', '/api/v1/keys/{idOrName}']),
    );
    expect(openapi.components.securitySchemes).toHaveProperty('bearerAuth');
  });
});

describe('keys over HTTP', () => {
  it('creates a key that works on the data path, lists it without the key, and revokes it, closing its session', async () => {
    const created = await call('/api/v1/keys', {
      method: 'POST',
      token: adminKey,
      body: JSON.stringify({ name: 'ci-runner', groups: ['app'], expires: '1h' }),
    });
    expect(created.status).toBe(201);
    const body = (await created.json()) as { id: string; key: string; name: string; expiresAt: string };
    expect(body.key).toMatch(/^slk_[A-Za-z0-9_-]{43}$/);
    expect(body.name).toBe('ci-runner');

    const client = new pg.Client({
      host: gateway.host,
      port: gateway.port,
      user: 'ci',
      database: 'app',
      password: body.key,
      ssl: { rejectUnauthorized: false },
    });
    const closed = new Promise<{ code?: string }>((resolve) =>
      client.on('error', (error: Error & { code?: string }) => resolve(error)),
    );
    await client.connect();
    expect((await client.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);

    const listed = await (await call('/api/v1/keys', { token: adminKey })).text();
    expect(listed).toContain('ci-runner');
    expect(listed).not.toContain(body.key);

    const revoked = await call(`/api/v1/keys/${body.id}`, { method: 'DELETE', token: adminKey });
    expect(revoked.status).toBe(200);
    expect(((await revoked.json()) as { revokedAt: string | null }).revokedAt).not.toBeNull();
    expect((await closed).code).toBe('28000');
    expect((await call('/api/v1/keys/no-such-key', { method: 'DELETE', token: adminKey })).status).toBe(404);

    const audit = gateway.logs.filter((line) => line.includes('"audit":true'));
    expect(audit.some((line) => line.includes('"type":"key.created"') && line.includes(body.id))).toBe(true);
    expect(audit.some((line) => line.includes('"type":"key.revoked"') && line.includes(body.id))).toBe(true);
    const allLogs = gateway.logs.join('');
    expect(allLogs.includes(body.key)).toBe(false);
    expect(allLogs.includes(adminKey)).toBe(false);
  });

  it('rejects an invalid body with 400 and creates nothing', async () => {
    const answer = await call('/api/v1/keys', {
      method: 'POST',
      token: adminKey,
      body: JSON.stringify({ name: 'bad name!', groups: ['app'] }),
    });
    expect(answer.status).toBe(400);
    const listed = await (await call('/api/v1/keys', { token: adminKey })).text();
    expect(listed).not.toContain('bad name!');
  });
});

describe('secrets over HTTP', () => {
  it('creates and rotates secrets, never returning a value, and audits both', async () => {
    const first = `first-${randomBytes(8).toString('hex')}`;
    const second = `second-${randomBytes(8).toString('hex')}`;
    const put = (value: string) =>
      call('/api/v1/secrets/app-db', { method: 'PUT', token: adminKey, body: JSON.stringify({ value }) });
    const created = await put(first);
    expect(created.status).toBe(201);
    expect(await created.json()).toEqual({ name: 'app-db', version: 1 });
    expect((await put(first)).status).toBe(409);

    const rotated = await call('/api/v1/secrets/app-db/rotate', {
      method: 'POST',
      token: adminKey,
      body: JSON.stringify({ value: second }),
    });
    expect(await rotated.json()).toEqual({ name: 'app-db', version: 2 });
    expect(await gateway.gateway.vault?.get('app-db')).toBe(second);
    const missing = await call('/api/v1/secrets/nope/rotate', {
      method: 'POST',
      token: adminKey,
      body: JSON.stringify({ value: 'x' }),
    });
    expect(missing.status).toBe(404);

    const listed = await call('/api/v1/secrets', { token: adminKey });
    const text = await listed.text();
    expect(JSON.parse(text)).toEqual([
      expect.objectContaining({ name: 'app-db', versions: 2, latestVersion: 2 }),
    ]);
    for (const value of [first, second]) {
      expect(text.includes(value)).toBe(false);
      expect(gateway.logs.join('').includes(value)).toBe(false);
    }
    const audit = gateway.logs.filter((line) => line.includes('"audit":true'));
    expect(audit.some((line) => line.includes('"type":"secret.set"'))).toBe(true);
    expect(
      audit.some((line) => line.includes('"type":"secret.rotated"') && line.includes('"version":2')),
    ).toBe(true);
  });

  it('is closed to non-admins like every administration endpoint', async () => {
    const userKey = await gateway.createKey('secret-snoop', ['app']);
    expect((await call('/api/v1/secrets', { token: userKey })).status).toBe(403);
    expect((await call('/api/v1/secrets')).status).toBe(401);
  });
});
