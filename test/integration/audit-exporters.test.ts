/**
 * SIEM export sinks against real receivers: a JSONL file with size rotation, a TCP/TLS syslog
 * collector that parses octet-counted RFC 5424 frames (and goes away mid-stream), and an HTTP
 * receiver that checks the HMAC signature, answers 503 for a while, or is not there at all while
 * the exporter spools to disk and a new exporter (a restart) delivers the spool.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toCef } from '../../src/audit/cef.ts';
import { type ChainedEvent, chainNext } from '../../src/audit/chain.ts';
import type { AuditEvent } from '../../src/audit/events.ts';
import { toEcs } from '../../src/audit/exporters/ecs.ts';
import { JsonlFileExporter } from '../../src/audit/exporters/jsonl-file.ts';
import { SyslogExporter } from '../../src/audit/exporters/syslog.ts';
import { SPOOL_FILE, WebhookExporter } from '../../src/audit/exporters/webhook.ts';
import { verifySignature } from '../../src/core/delivery.ts';
import { recordingLogger } from '../helpers/gateway.ts';
import { collector, type Frame } from '../helpers/syslog-collector.ts';

const actor = { id: 'k_1', name: 'alice', kind: 'human', sourceAddress: '10.0.0.7' } as const;
const EVENTS: readonly AuditEvent[] = [
  { type: 'admin.auth_failed', sourceAddress: '192.0.2.1', reason: 'invalid' },
  { type: 'key.created', actor, keyId: 'k_2', name: 'ci "bot" ]\\', groups: ['ci'], expiresAt: null },
  {
    type: 'approval.requested',
    requestId: 'r_1',
    kind: 'access',
    requester: { id: 'k_3', name: 'bob', kind: 'api_key' },
    connection: 'app',
    policy: 'agents',
    durationMs: 60_000,
    breakGlass: true,
  },
  { type: 'approval.decided', requestId: 'r_1', actor, decision: 'deny', reason: 'no', status: 'denied' },
  { type: 'secret.rotated', actor, name: 'db', version: 2 },
];

/** The chain continued by `count` records after `after` (the last record so far). */
function chain(count: number, after?: ChainedEvent): ChainedEvent[] {
  const start = after?.seq ?? 0;
  const items = Array.from({ length: count }, (_, index) => {
    const event = EVENTS[(start + index) % EVENTS.length] as AuditEvent;
    return { at: new Date(Date.UTC(2026, 0, 1, 0, 0, start + index)).toISOString(), type: event.type, event };
  });
  return chainNext(after, items);
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** First occurrence of each seq, in arrival order: what a receiver deduplicating on seq keeps. */
function dedupe(seqs: readonly number[]): number[] {
  return [...new Set(seqs)];
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-exporters-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ECS mapping', () => {
  it('maps the fields docs/audit-ecs.md lists', () => {
    const [failed, created, requested, denied] = chain(4);
    expect(toEcs(denied as ChainedEvent)).toEqual({
      '@timestamp': denied?.at,
      ecs: { version: '8.11.0' },
      event: {
        kind: 'event',
        category: ['iam'],
        type: ['change', 'denied'],
        action: 'approval.decided',
        outcome: 'failure',
        sequence: 4,
        hash: denied?.hash,
        module: 'sluice',
        dataset: 'sluice.audit',
      },
      user: { id: 'k_1', name: 'alice' },
      source: { address: '10.0.0.7', ip: '10.0.0.7' },
      labels: { prev_hash: denied?.prevHash },
      sluice: { event: denied?.event, prev_hash: denied?.prevHash },
    });
    const failedEcs = toEcs(failed as ChainedEvent);
    expect(failedEcs.event).toMatchObject({ category: ['authentication'], outcome: 'failure' });
    expect(failedEcs.source).toEqual({ address: '192.0.2.1', ip: '192.0.2.1' });
    expect(failedEcs.user).toBeUndefined();
    expect(toEcs(created as ChainedEvent).event).toMatchObject({ type: ['creation'], outcome: 'success' });
    const requestedEcs = toEcs(requested as ChainedEvent);
    expect(requestedEcs.user).toEqual({ id: 'k_3', name: 'bob' });
    expect(requestedEcs.event).not.toHaveProperty('outcome');
  });

  it('maps the data-path session and statement events', () => {
    const principal = { id: 'oidc:x#1', name: 'carol', kind: 'human', groups: ['dev'], claims: {} };
    const items = [
      { type: 'session.opened', sessionId: 's', principal, sourceAddress: '::1', connection: 'app' },
      { type: 'statement.decided', sessionId: 's', principalId: 'oidc:x#1', decision: 'limit' },
      { type: 'statement.decided', sessionId: 's', principalId: 'oidc:x#1', decision: 'review' },
      { type: 'statement.completed', sessionId: 's', rows: 0, sqlstate: '42501', durationMs: 1 },
      { type: 'auth.failed', protocol: 'postgres', sourceAddress: 'unix-socket' },
    ].map((event) => ({ at: '2026-01-01T00:00:00.000Z', type: event.type, event }));
    const [opened, limited, reviewed, completed, failed] = chainNext(undefined, items).map(toEcs);
    expect(opened).toMatchObject({
      event: { category: ['session'], type: ['start'], outcome: 'success' },
      user: { id: 'oidc:x#1', name: 'carol' },
      source: { address: '::1', ip: '::1' },
    });
    expect(limited).toMatchObject({ event: { type: ['access', 'allowed'], outcome: 'success' } });
    expect(limited?.user).toEqual({ id: 'oidc:x#1' });
    expect(reviewed?.event).toMatchObject({ type: ['access'] });
    expect(reviewed?.event).not.toHaveProperty('outcome');
    expect(completed?.event).toMatchObject({ category: ['database'], outcome: 'failure' });
    expect(failed).toMatchObject({ event: { category: ['authentication'], outcome: 'failure' } });
    expect(failed?.source).toEqual({ address: 'unix-socket' });
  });

  it('exports a recording file reference as it is, without rows, and classifies audit.pruned', () => {
    const file = { chunk: '000001.jsonl', offset: 0, length: 231, sha256: 'a'.repeat(64) };
    const preview = { columns: ['body'], rowCount: 20, truncated: true, file };
    const items = [
      { type: 'statement.completed', sessionId: 's', rows: 20, sqlstate: null, durationMs: 1, preview },
      { type: 'audit.pruned', throughSeq: 9, throughAt: '2025-01-01T00:00:00.000Z', anchorSeq: 10 },
    ].map((event) => ({ at: '2026-01-01T00:00:00.000Z', type: event.type, event }));
    const [completed, pruned] = chainNext(undefined, items).map(toEcs);
    expect(completed?.sluice).toMatchObject({ event: { preview } });
    expect(JSON.stringify(completed)).not.toContain('"rows":[');
    expect(pruned?.event).toMatchObject({
      category: ['configuration'],
      type: ['deletion'],
      outcome: 'success',
    });
  });
});

describe('JSONL file exporter', () => {
  it('writes one ECS object per line, owner-only, tightening an existing file', async () => {
    const path = join(dir, 'plain.jsonl');
    await writeFile(path, '');
    await chmod(path, 0o644);
    const exporter = new JsonlFileExporter({ path, logger: recordingLogger().logger });
    const records = chain(7);
    exporter.deliver(records.slice(0, 3));
    exporter.deliver(records.slice(3));
    await exporter.close();
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line))).toEqual(records.map(toEcs));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(exporter.lag).toBe(0);
    expect(exporter.failures).toBe(0);
  });

  it('rotates at the size limit, keeping `keep` files', async () => {
    const sub = await mkdtemp(join(dir, 'rotate-'));
    const path = join(sub, 'audit.jsonl');
    const records = chain(40);
    const longest = Math.max(...records.map((r) => Buffer.byteLength(`${JSON.stringify(toEcs(r))}\n`)));
    const maxBytes = longest * 3;
    const exporter = new JsonlFileExporter({ path, maxBytes, keep: 2, logger: recordingLogger().logger });
    for (const record of records) exporter.deliver([record]);
    await exporter.close();

    expect((await readdir(sub)).sort()).toEqual(['audit.jsonl', 'audit.jsonl.1', 'audit.jsonl.2']);
    const seqsIn = async (file: string) => {
      const text = await readFile(join(sub, file), 'utf8');
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(maxBytes);
      expect((await stat(join(sub, file))).mode & 0o777).toBe(0o600);
      return text
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as { event: { sequence: number } }).event.sequence);
    };
    const [oldest, older, live] = [
      await seqsIn('audit.jsonl.2'),
      await seqsIn('audit.jsonl.1'),
      await seqsIn('audit.jsonl'),
    ];
    // Each rotated file was full: the next line would not have fitted.
    expect(oldest.length).toBeGreaterThanOrEqual(2);
    expect(older.length).toBeGreaterThanOrEqual(2);
    const kept = [...oldest, ...older, ...live];
    expect(kept).toEqual(range(40 - kept.length + 1, 40));
  });
});

function expectFrameFor(frame: Frame, record: ChainedEvent, pri: number) {
  expect(frame.pri).toBe(pri);
  expect(frame.timestamp).toBe(record.at);
  expect(frame.host).toBe(hostname());
  expect(frame.app).toBe('sluice');
  expect(frame.procId).toBe(String(process.pid));
  expect(frame.msgId).toBe(record.type);
  expect(frame.sd['sluice@32473']).toEqual({ seq: String(record.seq), hash: record.hash });
}

/** Facility 13 (log audit) × 8 + severity: 4 for refused credentials and break-glass, else 5. */
const priOf = (record: ChainedEvent) =>
  13 * 8 +
  (record.type === 'admin.auth_failed' || (record.event as { breakGlass?: boolean }).breakGlass ? 4 : 5);

describe('syslog exporter', () => {
  it('sends RFC 5424 frames in order and resends after the collector goes away (at-least-once)', async () => {
    const server = await collector();
    const { logger } = recordingLogger();
    const exporter = new SyslogExporter({
      host: '127.0.0.1',
      port: server.port,
      logger,
      reconnectMinMs: 20,
      reconnectMaxMs: 200,
    });
    const first = chain(10);
    exporter.deliver(first);
    await waitFor(() => server.frames.length >= 10, 'the first 10 frames');
    server.frames.forEach((frame, index) => {
      const record = first[index] as ChainedEvent;
      expectFrameFor(frame, record, priOf(record));
      expect(JSON.parse(frame.msg)).toEqual(toEcs(record));
    });
    expect(priOf(first[0] as ChainedEvent)).toBe(108);
    expect(priOf(first[2] as ChainedEvent)).toBe(108);
    expect(priOf(first[1] as ChainedEvent)).toBe(109);

    await server.stop();
    // Some of these may be written into the dying connection: they must be sent again.
    const second = chain(5, first.at(-1));
    exporter.deliver(second);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const third = chain(5, second.at(-1));
    exporter.deliver(third);
    expect(exporter.lag).toBeGreaterThan(0);
    await server.start();
    await waitFor(() => new Set(server.frames.map((f) => f.sd['sluice@32473']?.seq)).size >= 20, 'all 20');
    const all = [...first, ...second, ...third];
    const seqs = dedupe(server.frames.map((frame) => Number(frame.sd['sluice@32473']?.seq)));
    expect(seqs).toEqual(range(1, 20));
    for (const frame of server.frames) {
      const record = all[Number(frame.sd['sluice@32473']?.seq) - 1] as ChainedEvent;
      expectFrameFor(frame, record, priOf(record));
    }
    expect(exporter.lag).toBe(0);
    expect(exporter.failures).toBeGreaterThan(0);
    await exporter.close();
    await server.stop();
  });

  it('sends CEF as the message when asked', async () => {
    const server = await collector();
    const exporter = new SyslogExporter({
      host: '127.0.0.1',
      port: server.port,
      format: 'cef',
      logger: recordingLogger().logger,
    });
    const records = chain(5);
    exporter.deliver(records);
    await waitFor(() => server.frames.length >= 5, '5 CEF frames');
    server.frames.forEach((frame, index) => {
      const record = records[index] as ChainedEvent;
      expectFrameFor(frame, record, priOf(record));
      expect(frame.msg).toBe(toCef(record));
    });
    await exporter.close();
    await server.stop();
  });

  it('speaks TLS to a collector whose certificate it trusts, and refuses one it does not', async () => {
    const pems = await generate([{ name: 'commonName', value: 'collector' }], {
      keySize: 2048,
      algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
      ],
    });
    const server = await collector({ cert: pems.cert, key: pems.private });
    const base = { host: '127.0.0.1', port: server.port, logger: recordingLogger().logger };

    const untrusting = new SyslogExporter({ ...base, tls: {}, reconnectMinMs: 20, closeTimeoutMs: 100 });
    untrusting.deliver(chain(1));
    await waitFor(() => untrusting.failures > 0, 'a refused handshake');
    expect(untrusting.lag).toBe(1);
    await untrusting.close();
    expect(server.frames).toEqual([]);

    const exporter = new SyslogExporter({ ...base, tls: { ca: Buffer.from(pems.cert) } });
    const records = chain(5);
    exporter.deliver(records);
    await waitFor(() => server.frames.length >= 5, '5 frames over TLS');
    expect(server.frames.map((frame) => JSON.parse(frame.msg))).toEqual(records.map(toEcs));
    await exporter.close();
    await server.stop();
  });
});

interface Receiver {
  readonly port: number;
  /** Accepted batches (2xx) by idempotency key, in arrival order. */
  readonly accepted: { key: string; seqs: number[] }[];
  readonly badSignatures: number;
  status: () => number;
  requests: number;
  close(): Promise<void>;
}

async function receiver(secret: Buffer, port = 0): Promise<Receiver> {
  const state: Receiver & { server?: HttpServer } = {
    port,
    accepted: [],
    badSignatures: 0,
    status: () => 200,
    requests: 0,
    close: () => new Promise((resolve) => state.server?.close(() => resolve())),
  };
  const server = createHttpServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      state.requests++;
      const body = Buffer.concat(chunks).toString('utf8');
      if (!verifySignature(secret, request.headers, body, 300, Date.now() / 1000)) {
        (state as { badSignatures: number }).badSignatures++;
        response.writeHead(401).end();
        return;
      }
      const status = state.status();
      if (status === 200) {
        const seqs = (JSON.parse(body) as { records: { event: { sequence: number } }[] }).records.map(
          (record) => record.event.sequence,
        );
        expect(request.headers['idempotency-key']).toBe(`${seqs[0]}-${seqs.at(-1)}`);
        state.accepted.push({ key: String(request.headers['idempotency-key']), seqs });
      }
      response.writeHead(status).end();
    });
  });
  state.server = server;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  (state as { port: number }).port = (server.address() as { port: number }).port;
  state.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return state;
}

const acceptedSeqs = (r: Receiver) => r.accepted.flatMap((batch) => batch.seqs);

describe('webhook exporter', () => {
  const secret = randomBytes(32);

  it('retries through 503s and delivers every record once, in order, signed', async () => {
    const server = await receiver(secret);
    let refusals = 3;
    server.status = () => (refusals-- > 0 ? 503 : 200);
    const { logs, logger } = recordingLogger();
    const exporter = new WebhookExporter({
      url: `http://127.0.0.1:${server.port}/audit?token=query-credential`,
      secret,
      spoolDir: await mkdtemp(join(dir, 'spool-')),
      logger,
      batchSize: 7,
      flushMs: 50,
      retryMinMs: 20,
      retryMaxMs: 100,
    });
    let last: ChainedEvent | undefined;
    for (let round = 0; round < 6; round++) {
      const records = chain(5, last);
      last = records.at(-1);
      exporter.deliver(records);
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    await waitFor(() => acceptedSeqs(server).length >= 30, 'all 30 records');
    expect(acceptedSeqs(server)).toEqual(range(1, 30));
    expect(new Set(server.accepted.map((batch) => batch.key)).size).toBe(server.accepted.length);
    expect(Math.max(...server.accepted.map((batch) => batch.seqs.length))).toBeLessThanOrEqual(7);
    expect(server.badSignatures).toBe(0);
    expect(exporter.failures).toBe(3);
    // The receiver counts a batch before its 2xx reaches the exporter: lag settles just after.
    await waitFor(() => exporter.lag === 0, 'the exporter to take every 2xx');
    await exporter.close();
    const text = logs.join('');
    expect(text).toContain(`http://127.0.0.1:${server.port}`);
    expect(text).not.toContain('query-credential');
    expect(text).not.toContain(secret.toString('hex'));
    await server.close();
  });

  it('spools while the receiver is down and a restarted exporter delivers the spool first', async () => {
    const probe = await receiver(secret);
    const port = probe.port;
    await probe.close();
    const spoolDir = await mkdtemp(join(dir, 'spool-'));
    const options = {
      url: `http://127.0.0.1:${port}/audit`,
      secret,
      spoolDir,
      batchSize: 10,
      flushMs: 20,
      retryMinMs: 20,
      retryMaxMs: 100,
      closeTimeoutMs: 200,
    };
    const before = new WebhookExporter({ ...options, logger: recordingLogger().logger });
    const spooled = chain(25);
    before.deliver(spooled.slice(0, 12));
    before.deliver(spooled.slice(12));
    await waitFor(() => before.failures >= 2, 'failed attempts');
    await before.close();
    expect(before.lag).toBe(25);
    const spoolPath = join(spoolDir, SPOOL_FILE);
    const onDisk = (await readFile(spoolPath, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as ChainedEvent);
    expect(onDisk).toEqual(spooled);
    expect((await stat(spoolPath)).mode & 0o777).toBe(0o600);

    const server = await receiver(secret, port);
    const after = new WebhookExporter({ ...options, logger: recordingLogger().logger });
    const fresh = chain(5, spooled.at(-1));
    // Handed over again after the restart (the store sink replays from its head): not sent twice.
    after.deliver(spooled.slice(20));
    after.deliver(fresh);
    await waitFor(() => acceptedSeqs(server).length >= 30, 'spooled and fresh records');
    expect(acceptedSeqs(server)).toEqual(range(1, 30));
    await after.close();
    expect(after.lag).toBe(0);
    expect(await readFile(spoolPath, 'utf8')).toBe('');
    await server.close();
  });
});
