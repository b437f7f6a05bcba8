/**
 * Brute-force and flood defence, through a real gateway in front of real PostgreSQL:
 * - 500 bad keys from one address are slowed (exponential backoff on the failure answer) and
 *   capped (concurrent unauthenticated connections per address), while a good client from
 *   another address (127.0.0.2) connects and queries without waiting;
 * - the gateway's memory stays bounded and no attempted key reaches the logs;
 * - revoking a key, or its expiry, closes the live sessions it opened within the interval.
 */
import { connect, type Socket } from 'node:net';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appConnectionYaml, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { gatewayClient } from '../helpers/pg-client.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.ts';

let database: TestDatabase;
let gateway: TestGateway;
let goodKey: string;

function clientFrom(sourceAddress: string, password: string) {
  return gatewayClient(gateway, password, { sourceAddress });
}

/**
 * Over a cap, the gateway refuses before TLS with an ErrorResponse (53300), which libpq shows but
 * node-postgres reports as a failed connection; those are counted through the gateway's metrics.
 */
const REFUSED_BEFORE_TLS = 'refused-before-tls';

async function attempt(
  sourceAddress: string,
  password: string,
): Promise<{ code: string | undefined; ms: number }> {
  const started = Date.now();
  const client = clientFrom(sourceAddress, password);
  try {
    await client.connect();
    await client.end();
    return { code: 'OK', ms: Date.now() - started };
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    // node-postgres words it one way or the other depending on when the refusal arrives.
    const refused =
      code === undefined && /terminated unexpectedly|error establishing an SSL connection/.test(message);
    return { code: refused ? REFUSED_BEFORE_TLS : code, ms: Date.now() - started };
  }
}

async function refusalsCounted(): Promise<number> {
  const text = await gateway.gateway.metrics.render();
  const match =
    /sluice_session_errors_total\{protocol="postgres",kind="too_many_unauthenticated"\} (\d+)/.exec(text);
  return Number(match?.[1] ?? 0);
}

/** Everything a raw connection receives before the gateway closes it, sending nothing. */
function refusalOnConnect(sourceAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: gateway.host, port: gateway.port, localAddress: sourceAddress });
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
    });
    socket.once('close', () => resolve(received.toString('latin1')));
    socket.once('error', reject);
  });
}

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
  });
  goodKey = await gateway.createKey('good-client', ['app']);
});

afterAll(async () => {
  await gateway?.close();
  await database?.drop();
});

describe('brute force from one address', () => {
  it('is slowed and capped while a client from another address is unaffected', async () => {
    const rssBefore = process.memoryUsage().rss;
    const badKeys = Array.from(
      { length: 500 },
      (_, i) => `slk_${'x'.repeat(39)}${String(i).padStart(4, '0')}`,
    );
    let next = 0;
    const outcomes: Array<{ code: string | undefined; ms: number }> = [];
    // 32 attackers in parallel: twice the per-address cap of unauthenticated connections.
    const attackers = Array.from({ length: 32 }, async () => {
      while (next < badKeys.length) {
        const key = badKeys[next++] ?? '';
        outcomes.push(await attempt('127.0.0.1', key));
      }
    });
    // Once the attack is under way, a good client logs in from 127.0.0.2 and queries.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const good = clientFrom('127.0.0.2', goodKey);
    const goodStarted = Date.now();
    await good.connect();
    const { rows } = await good.query('SELECT 1 AS ok');
    const goodMs = Date.now() - goodStarted;
    await good.end();
    await Promise.all(attackers);

    expect(rows).toEqual([{ ok: 1 }]);
    expect(outcomes).toHaveLength(500);
    const verdicts = outcomes.filter((o) => o.code === '28P01');
    const capped = outcomes.filter((o) => o.code === REFUSED_BEFORE_TLS);
    expect(await refusalsCounted()).toBe(capped.length);
    // Nothing else: every bad attempt is either a uniform auth failure or a capacity refusal.
    expect(verdicts.length + capped.length).toBe(500);
    // Backoff: after the free failures, verdicts are held back for a second or more…
    expect(Math.max(...verdicts.map((v) => v.ms))).toBeGreaterThanOrEqual(1000);
    // …so most attempts never get a verdict at all; they hit the per-address cap instead.
    expect(capped.length).toBeGreaterThan(verdicts.length);
    // The good client paid none of the backoff the attacker was paying at the same moment.
    expect(goodMs).toBeLessThan(Math.max(...verdicts.map((v) => v.ms)));
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100 * 1024 * 1024);
    const logs = gateway.logs.join('');
    for (const key of [goodKey, ...badKeys]) expect(logs.includes(key)).toBe(false);
  }, 120_000);

  it('refuses connections beyond the unauthenticated cap per address, not from other addresses', async () => {
    // Sixteen silent connections (the default per-address cap) from 127.0.0.3 hold their slots.
    const silent = await Promise.all(
      Array.from(
        { length: 16 },
        () =>
          new Promise<Socket>((resolve, reject) => {
            const socket = connect(
              { host: gateway.host, port: gateway.port, localAddress: '127.0.0.3' },
              () => resolve(socket),
            );
            socket.once('error', reject);
          }),
      ),
    );
    try {
      const refusal = await refusalOnConnect('127.0.0.3');
      expect(refusal.startsWith('E')).toBe(true);
      expect(refusal).toContain('C53300');
      expect(refusal).toContain('sluice: too many connections still authenticating');
      const fromElsewhere = await attempt('127.0.0.4', goodKey);
      expect(fromElsewhere.code).toBe('OK');
    } finally {
      for (const socket of silent) socket.destroy();
    }
  });
});

describe('live sessions follow their credential', () => {
  async function sessionError(client: pg.Client): Promise<{ code?: string; message: string }> {
    return new Promise((resolve) =>
      client.once('error', (error: Error & { code?: string }) => resolve(error)),
    );
  }

  it('a revoked key loses its open session within the revalidation interval', async () => {
    const key = await gateway.createKey('to-revoke', ['app']);
    const client = clientFrom('127.0.0.1', key);
    await client.connect();
    expect((await client.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    const closed = sessionError(client);
    const revokedAt = Date.now();
    await gateway.store.apiKeys.revoke('to-revoke');
    const error = await closed;
    expect(error.code).toBe('28000');
    expect(error.message).toBe('sluice: credential expired');
    expect(Date.now() - revokedAt).toBeLessThan(5000);
  });

  it('an expiring key loses its open session once it expires', async () => {
    const key = await gateway.createKey('short-lived', ['app'], 2500);
    const client = clientFrom('127.0.0.1', key);
    await client.connect();
    const closed = sessionError(client);
    expect((await client.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    const error = await closed;
    expect(error.code).toBe('28000');
  });
});
