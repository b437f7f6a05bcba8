/**
 * The operational alert hook against a real HTTP receiver that checks the HMAC signature: a
 * connection whose database port has nothing listening (one alert for many failed logins, then
 * `resolved` once a real PostgreSQL answers on that port), a syslog sink whose collector is not
 * there (behind, then resolved once it is), a policy evaluation that throws, and healthy traffic
 * that alerts nobody. Exporter lag and failures are read from the gateway's /metrics.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSigningKey } from '../../src/audit/signing-key.ts';
import { StoreAuditSink } from '../../src/audit/store-sink.ts';
import { AlertHook } from '../../src/core/alerts.ts';
import { errorCode, verifySignature } from '../../src/core/delivery.ts';
import { PrometheusMetrics } from '../../src/gateway/prometheus-metrics.ts';
import { watchSinkLag } from '../../src/gateway/sink-lag-alerts.ts';
import { PolicyStatementGate } from '../../src/gateway/statement-gate.ts';
import { defaultGuardrails } from '../../src/policy/guardrails.ts';
import { compilePolicy } from '../../src/policy/statement-policy.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/store.ts';
import {
  appConnectionYaml,
  recordingLogger,
  startTestGateway,
  type TestGateway,
} from '../helpers/gateway.ts';
import { gatewayClient } from '../helpers/pg-client.ts';
import { createTestDatabase, PG_HOST, PG_PORT, type TestDatabase } from '../helpers/postgres.ts';

const SECRET = 'alert-hmac-key-for-tests';

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  readonly body: {
    alert: string;
    status: string;
    key: string;
    occurrences: number;
    details: Record<string, unknown>;
  };
}

/** An HTTP receiver that keeps every request; answers each with the next of `statuses` (then 200). */
async function startReceiver(statuses: number[] = []) {
  const received: Received[] = [];
  const server: Server = createHttpServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      received.push({ headers: request.headers, text, body: JSON.parse(text) as Received['body'] });
      response.statusCode = statuses.shift() ?? 200;
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    received,
    url: `http://127.0.0.1:${port}/alerts?token=in-the-url`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port on which nothing listens (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function listenOn(port: number, onConnection: (socket: Socket) => void): Promise<NetServer> {
  const server = createNetServer(onConnection);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

/** Relays `port` to the real PostgreSQL: the "database" behind it comes up. */
function relayToPostgres(port: number): Promise<NetServer> {
  return listenOn(port, (client) => {
    const server = connect(PG_PORT, PG_HOST);
    client.pipe(server).pipe(client);
    client.on('error', () => server.destroy());
    server.on('error', () => client.destroy());
  });
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function signed(alert: Received): boolean {
  return verifySignature(Buffer.from(SECRET), alert.headers, alert.text, 300, Date.now() / 1000);
}

/** The value of one sample line of a Prometheus exposition, or undefined. */
function sample(text: string, line: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

let target: TestDatabase;
beforeAll(async () => {
  target = await createTestDatabase('sluice_alerts_t');
});
afterAll(async () => {
  await target?.drop();
});

describe('upstream unreachable', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let sinkOnly: Awaited<ReturnType<typeof startReceiver>>;
  let gw: TestGateway;
  let key: string;
  let downPort: number;
  let relay: NetServer | undefined;

  beforeAll(async () => {
    receiver = await startReceiver();
    sinkOnly = await startReceiver();
    downPort = await closedPort();
    gw = await startTestGateway({
      env: { ...process.env, ALERT_SECRET: SECRET },
      yaml: `connections:
  - name: app
    type: postgres
    url: postgres://${target.role}@${PG_HOST}:${PG_PORT}/${target.name}
  - name: down
    type: postgres
    url: postgres://${target.role}@127.0.0.1:${downPort}/${target.name}
policies:
  - name: agents
    subjects: { groups: [agents] }
    connections: [app, down]
alerts:
  webhooks:
    - url: ${receiver.url}
      secret: env:ALERT_SECRET
    - url: ${sinkOnly.url}
      secret: env:ALERT_SECRET
      events: [audit_sink_behind]
  checkInterval: 50ms
`,
    });
    key = await gw.createKey('agent', ['agents']);
  });

  afterAll(async () => {
    await gw?.close();
    relay?.close();
    await receiver?.close();
    await sinkOnly?.close();
  });

  it('alerts once for many failed logins, signed, naming only the connection; healthy traffic alerts nobody', async () => {
    const healthy = gatewayClient(gw, key);
    await healthy.connect();
    await healthy.query("SELECT 'not-in-any-alert' AS marker");
    await healthy.end();

    for (let attempt = 0; attempt < 4; attempt++) {
      const client = gatewayClient(gw, key, { database: 'down' });
      await expect(client.connect()).rejects.toMatchObject({ code: '08001' });
    }
    await waitFor(() => receiver.received.length > 0, 'the first alert');
    // Alerts go out in the order raised, so had the healthy session raised one it would be first.
    const [first] = receiver.received;
    expect(first?.body).toMatchObject({
      alert: 'upstream_unreachable',
      status: 'firing',
      key: 'down',
      occurrences: 1,
      details: { connection: 'down', error: 'unreachable' },
    });
    expect(first && signed(first)).toBe(true);
    expect(first?.text).not.toContain(key);
    expect(first?.text).not.toContain('marker');
    expect(first?.text).not.toContain(target.role);

    // The next alert is the recovery: the three later failures raised nothing in between.
    relay = await relayToPostgres(downPort);
    const back = gatewayClient(gw, key, { database: 'down' });
    await back.connect();
    await back.end();
    await waitFor(() => receiver.received.length > 1, 'the resolved alert');
    expect(receiver.received.map((r) => [r.body.alert, r.body.status, r.body.occurrences])).toEqual([
      ['upstream_unreachable', 'firing', 1],
      ['upstream_unreachable', 'resolved', 4],
    ]);
    expect(receiver.received.every(signed)).toBe(true);
    expect(sinkOnly.received).toEqual([]);
    expect(gw.logs.join('')).not.toContain('in-the-url');

    const metrics = await gw.gateway.metrics.render();
    expect(sample(metrics, 'sluice_alerts_total{kind="upstream_unreachable",status="firing"}')).toBe(1);
    expect(sample(metrics, 'sluice_alerts_total{kind="upstream_unreachable",status="resolved"}')).toBe(1);
    expect(metrics).not.toContain('kind="audit_sink_behind"');
  });
});

describe('audit sink behind', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let gw: TestGateway;
  let key: string;
  let syslogPort: number;
  let collector: NetServer | undefined;
  let jsonlDir: string;

  beforeAll(async () => {
    receiver = await startReceiver();
    syslogPort = await closedPort();
    jsonlDir = await mkdtemp(join(tmpdir(), 'sluice-alerts-jsonl-'));
    gw = await startTestGateway({
      env: { ...process.env, ALERT_SECRET: SECRET },
      yaml: appConnectionYaml(
        target,
        'agents',
        `audit:
  sinks:
    - type: syslog
      address: 127.0.0.1:${syslogPort}
    - type: jsonl
      path: ${join(jsonlDir, 'audit.jsonl')}
alerts:
  webhooks:
    - url: ${receiver.url}
      secret: env:ALERT_SECRET
  sinkLagThreshold: 3
  checkInterval: 50ms
`,
      ),
    });
    key = await gw.createKey('agent', ['agents']);
  });

  afterAll(async () => {
    await gw?.close();
    collector?.close();
    await receiver?.close();
    await rm(jsonlDir, { recursive: true, force: true });
  });

  async function metric(line: string): Promise<number | undefined> {
    return sample(await gw.gateway.metrics.render(), line);
  }

  it('alerts while a syslog collector is away, resolves once it is back, and shows the lag on /metrics', async () => {
    const client = gatewayClient(gw, key);
    await client.connect();
    for (let i = 0; i < 3; i++) await client.query('SELECT 1');
    await client.end();

    await waitFor(() => receiver.received.length > 0, 'the sink alert');
    const [firing] = receiver.received;
    expect(firing?.body).toMatchObject({
      alert: 'audit_sink_behind',
      status: 'firing',
      key: 'syslog-0',
      details: { sink: 'syslog-0', threshold: 3 },
    });
    expect(firing?.body.details.lag).toBeGreaterThanOrEqual(3);
    expect(firing && signed(firing)).toBe(true);
    // Nothing reaches the collector while it is away, so the backlog is at least what the alert saw.
    const lagWhileAway = await metric('sluice_audit_exporter_lag_events{sink="syslog",index="0"}');
    expect(lagWhileAway).toBeGreaterThanOrEqual(firing?.body.details.lag as number);
    expect(await metric('sluice_audit_exporter_failures{sink="syslog",index="0"}')).toBeGreaterThan(0);
    await waitFor(
      async () => (await metric('sluice_audit_exporter_lag_events{sink="jsonl",index="1"}')) === 0,
      'the JSONL sink to catch up',
    );
    expect(await metric('sluice_audit_exporter_failures{sink="jsonl",index="1"}')).toBe(0);

    collector = await listenOn(syslogPort, (socket) => socket.resume());
    await waitFor(() => receiver.received.length > 1, 'the resolved alert', 60_000);
    expect(receiver.received.map((r) => [r.body.alert, r.body.key, r.body.status])).toEqual([
      ['audit_sink_behind', 'syslog-0', 'firing'],
      ['audit_sink_behind', 'syslog-0', 'resolved'],
    ]);
    expect(await metric('sluice_audit_exporter_lag_events{sink="syslog",index="0"}')).toBe(0);
  });
});

describe('audit store behind', () => {
  it('alerts while appends to the store fail, and resolves once they succeed again', async () => {
    const receiver = await startReceiver();
    const dir = await mkdtemp(join(tmpdir(), 'sluice-alerts-store-'));
    const { logger } = recordingLogger();
    const storeUrl = `pglite://${join(dir, 'store')}`;
    let store: Store = await openStore(storeUrl, { logger });
    await store.close();
    // The sink keeps one appender; behind it the store is closed first, then opened again.
    const sink = new StoreAuditSink({
      log: {
        append: (items) => store.audit.append(items),
        addCheckpoint: (checkpoint) => store.audit.addCheckpoint(checkpoint),
      },
      key: await loadSigningKey(undefined, dir, {}),
      logger,
    });
    const alerts = new AlertHook({
      webhooks: [{ url: receiver.url, secret: Buffer.from(SECRET), events: ['audit_sink_behind'] }],
      gateway: 'test',
      logger,
    });
    const stopWatch = watchSinkLag([{ name: 'store', pipeline: sink }], alerts, {
      sinkLagThreshold: 10_000,
      checkIntervalMs: 20,
    });
    try {
      sink.emit({ type: 'auth.failed', protocol: 'postgres', sourceAddress: '192.0.2.9' });
      await waitFor(() => receiver.received.length > 0, 'the store alert');
      store = await openStore(storeUrl, { logger });
      await waitFor(() => receiver.received.length > 1, 'the resolved alert');
      expect(receiver.received.map((r) => [r.body.key, r.body.status, r.body.details.lag])).toEqual([
        ['store', 'firing', 1],
        ['store', 'resolved', 0],
      ]);
      expect(sink.lag).toBe(0);
    } finally {
      stopWatch();
      await alerts.close();
      await sink.close();
      await store.close();
      await receiver.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('policy evaluation errors', () => {
  it('reports a judgement that throws, then fails closed; the alert names the policy, not the statement', async () => {
    const receiver = await startReceiver();
    const { logger } = recordingLogger();
    const alerts = new AlertHook({
      webhooks: [{ url: receiver.url, secret: Buffer.from(SECRET), events: ['policy_error'] }],
      gateway: 'test',
      logger,
    });
    // No statement makes the real analyzer throw (it turns unparsable SQL into facts that are
    // refused), so a misbehaving analyzer stands in for a policy-layer bug.
    const gate = new PolicyStatementGate({
      principal: {
        id: 'key:agent',
        kind: 'service',
        name: 'agent',
        groups: ['agents'],
        claims: {},
        expiresAt: undefined,
      },
      connection: 'app',
      policies: [
        compilePolicy({ name: 'agents', default: 'allow', rules: [], guardrails: defaultGuardrails() }),
      ],
      analyze: () => {
        throw new TypeError('analyzer bug');
      },
      limits: undefined,
      masker: undefined,
      logger,
      refused: () => {},
      evaluationFailed: (error) =>
        alerts.raise('policy_error', 'app', {
          connection: 'app',
          policy: 'agents',
          error: errorCode(error),
        }),
    });
    try {
      expect(() => gate.query("SELECT secret FROM t WHERE card = '4111111111111111'")).toThrow(
        'analyzer bug',
      );
      expect(() => gate.parse('', 'SELECT 2')).toThrow('analyzer bug');
      await alerts.close();
      expect(receiver.received.map((r) => r.body)).toEqual([
        expect.objectContaining({
          alert: 'policy_error',
          status: 'firing',
          key: 'app',
          details: { connection: 'app', policy: 'agents', error: 'TypeError' },
        }),
      ]);
      const [alert] = receiver.received;
      expect(alert && signed(alert)).toBe(true);
      expect(alert?.text).not.toContain('4111');
      expect(alert?.text).not.toContain('analyzer bug');
    } finally {
      await receiver.close();
    }
  });
});

describe('alert delivery', () => {
  it('counts occurrences per alert: each reminder since the last, the resolved one since it started', async () => {
    const receiver = await startReceiver();
    const alerts = new AlertHook({
      webhooks: [{ url: receiver.url, secret: Buffer.from(SECRET), events: ['upstream_unreachable'] }],
      gateway: 'test',
      // Every occurrence is due for a reminder, so each one is sent.
      repeatAfterMs: 0,
      logger: recordingLogger().logger,
    });
    for (let i = 0; i < 3; i++)
      alerts.raise('upstream_unreachable', 'app', { connection: 'app', error: 'timeout' });
    alerts.resolve('upstream_unreachable', 'app');
    alerts.resolve('upstream_unreachable', 'app');
    await alerts.close();
    await receiver.close();
    expect(receiver.received.map((r) => [r.body.status, r.body.occurrences])).toEqual([
      ['firing', 1],
      ['firing', 1],
      ['firing', 1],
      ['resolved', 3],
    ]);
  });

  it('retries a receiver that fails, counting each failed attempt', async () => {
    const receiver = await startReceiver([503, 503]);
    const metrics = new PrometheusMetrics();
    const alerts = new AlertHook({
      webhooks: [{ url: receiver.url, secret: Buffer.from(SECRET), events: ['audit_sink_behind'] }],
      gateway: 'test',
      logger: recordingLogger().logger,
      metrics,
      retryMinMs: 10,
      retryMaxMs: 20,
    });
    alerts.raise('audit_sink_behind', 'store', { sink: 'store', lag: 12, threshold: 10 });
    alerts.raise('upstream_unreachable', 'app', { connection: 'app', error: 'unreachable' });
    await alerts.close();
    await receiver.close();
    expect(receiver.received.map((r) => [r.body.alert, r.body.status])).toEqual([
      ['audit_sink_behind', 'firing'],
      ['audit_sink_behind', 'firing'],
      ['audit_sink_behind', 'firing'],
    ]);
    expect(receiver.received.every(signed)).toBe(true);
    const text = await metrics.render();
    expect(sample(text, 'sluice_alert_delivery_failures_total{kind="audit_sink_behind"}')).toBe(2);
    expect(sample(text, 'sluice_alerts_total{kind="upstream_unreachable",status="firing"}')).toBe(1);
  });
});
