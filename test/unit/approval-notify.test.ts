import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ApprovalNotice,
  jsonBody,
  slackBody,
  WebhookNotifier,
  type WebhookNotifierOptions,
  type WebhookTarget,
} from '../../src/approvals/notify.ts';
import { viewStatement } from '../../src/approvals/statement-view.ts';
import { SIGNATURE_HEADER, signatureHeaders, verifySignature } from '../../src/core/delivery.ts';
import { createLogger } from '../../src/core/logger.ts';
import { createScanner } from '../../src/dlp/index.ts';
import { initSqlParser } from '../../src/sql/postgres/index.ts';

const SECRET = Buffer.from('0123456789abcdef0123456789abcdef');
/** The secret part of a webhook URL, which no log line may contain. */
const HOOK_PATH = '/services/T000/B000/hook-secret-path';
const HOOK_QUERY = '?token=query-secret';

const notice: ApprovalNotice = {
  event: 'approval.requested',
  id: 'apr_123',
  kind: 'statement',
  requester: { id: 'u1', name: '<!channel> Mallory & co', kind: 'user' },
  connection: 'prod',
  policy: 'writes-need-review',
  reason: 'unbounded <delete>',
  redactedStatement: 'DELETE FROM orders WHERE total > ?',
  rowEstimate: 1200,
  expiresAt: '2030-01-01T00:00:00.000Z',
  links: {
    show: 'https://sluice.example/approvals/apr_123',
    approve: 'https://sluice.example/approvals/apr_123?decision=approve',
    deny: 'https://sluice.example/approvals/apr_123?decision=deny',
  },
  cli: { approve: 'sluice approvals approve apr_123', deny: 'sluice approvals deny apr_123' },
};

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A receiver on 127.0.0.1 that answers the nth request with `answer(n, res)`. */
async function receiver(answer: (n: number, res: ServerResponse) => void) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      answer(received.length, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return { received, url: `http://127.0.0.1:${port}${HOOK_PATH}${HOOK_QUERY}` };
}

function status(code: number) {
  return (_n: number, res: ServerResponse) => res.writeHead(code).end();
}

const servers: Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

function capturedLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'debug', destination }) };
}

function notifier(targets: WebhookTarget[], options: Partial<WebhookNotifierOptions> = {}) {
  const { lines, logger } = capturedLogger();
  return { lines, notifier: new WebhookNotifier(targets, { logger, backoffMs: 10, ...options }) };
}

describe('signed JSON', () => {
  it('delivers a body that verifies, and fails with a tampered body, a wrong secret or a stale time', async () => {
    const hook = await receiver(status(204));
    const { notifier: n } = notifier([{ url: hook.url, format: 'json', secret: SECRET }]);
    n.notify(notice);
    await n.close();
    expect(hook.received).toHaveLength(1);
    const [{ headers, body }] = hook.received as [Received];
    expect(headers['content-type']).toBe('application/json');
    const now = Date.now() / 1000;
    expect(verifySignature(SECRET, headers, body, 300, now)).toBe(true);
    expect(verifySignature(SECRET, headers, body.replace('apr_123', 'apr_124'), 300, now)).toBe(false);
    expect(verifySignature(Buffer.alloc(32, 1), headers, body, 300, now)).toBe(false);
    expect(verifySignature(SECRET, headers, body, 300, now + 301)).toBe(false);
    expect(verifySignature(SECRET, { ...headers, [SIGNATURE_HEADER]: undefined }, body, 300, now)).toBe(
      false,
    );
    expect(JSON.parse(body)).toMatchObject({ version: 1, ...notice, sentAt: expect.any(String) });
  });

  it('signs the timestamp with the body', () => {
    const body = jsonBody(notice, new Date(0));
    const headers = signatureHeaders(SECRET, body, 1_700_000_000.7);
    expect(headers['x-sluice-timestamp']).toBe('1700000000');
    expect(headers['x-sluice-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifySignature(SECRET, headers, body, 0, 1_700_000_000)).toBe(true);
    const moved = { ...headers, 'x-sluice-timestamp': '1700000001' };
    expect(verifySignature(SECRET, moved, body, 5, 1_700_000_000)).toBe(false);
  });
});

describe('Slack', () => {
  it('has Approve and Deny buttons with the links, and escapes user text', async () => {
    const hook = await receiver(status(200));
    const { notifier: n } = notifier([{ url: hook.url, format: 'slack' }]);
    n.notify(notice);
    await n.close();
    const body = (hook.received[0] as Received).body;
    expect(body).not.toContain('<!channel>');
    expect(body).not.toContain('<delete>');
    const message = JSON.parse(body) as { text: string; blocks: { type: string; elements?: object[] }[] };
    expect(message.text).toBe(
      'Statement approval requested: &lt;!channel&gt; Mallory &amp; co on prod (writes-need-review)',
    );
    expect(body).toContain('```DELETE FROM orders WHERE total &gt; ?```');
    const actions = message.blocks.find((b) => b.type === 'actions');
    expect(actions?.elements).toEqual([
      expect.objectContaining({ type: 'button', url: notice.links.approve, style: 'primary' }),
      expect.objectContaining({ type: 'button', url: notice.links.deny, style: 'danger' }),
    ]);
  });

  it('has no buttons once the request is decided', () => {
    const message = JSON.parse(slackBody({ ...notice, event: 'approval.denied' })) as {
      blocks: { type: string }[];
    };
    expect(message.blocks.some((b) => b.type === 'actions')).toBe(false);
  });
});

describe('no SQL literal in any body', () => {
  beforeAll(() => initSqlParser());

  it('carries only the redacted statement, even from a notice object with more fields', () => {
    const sql = "update cards set pan = '4111 1111 1111 1111' where owner = 'alice@example.com'";
    const view = viewStatement(sql, [], createScanner({ detectors: {}, hashKey: Buffer.alloc(32) }));
    const withSql = { ...notice, redactedStatement: view.redacted, sql, display: view.display };
    for (const body of [jsonBody(withSql), slackBody(withSql)]) {
      expect(body).toContain('UPDATE cards SET pan = ? WHERE owner = ?');
      expect(body).not.toContain('1111');
      expect(body).not.toContain('alice');
    }
  });
});

describe('delivery', () => {
  it('retries after a 500 and delivers exactly once', async () => {
    const hook = await receiver((n, res) => res.writeHead(n === 1 ? 500 : 200).end());
    const { notifier: n, lines } = notifier([{ url: hook.url, format: 'json', secret: SECRET }]);
    n.notify(notice);
    await n.close();
    expect(hook.received).toHaveLength(2);
    expect(lines.filter((line) => line.includes('failed'))).toEqual([]);
  });

  it('gives up after the retries and logs the origin only', async () => {
    const hook = await receiver(status(503));
    const { notifier: n, lines } = notifier([{ url: hook.url, format: 'slack' }], { retries: 2 });
    n.notify(notice);
    await n.close();
    expect(hook.received).toHaveLength(3);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      webhook: new URL(hook.url).origin,
      status: 503,
      msg: 'approval webhook delivery failed',
    });
    expectNoSecretIn(lines);
  });

  it('does not retry a 4xx other than 429', async () => {
    const hook = await receiver(status(404));
    const { notifier: n } = notifier([{ url: hook.url, format: 'slack' }]);
    n.notify(notice);
    await n.close();
    expect(hook.received).toHaveLength(1);
  });

  it('abandons a receiver that never answers after the timeout', async () => {
    const hook = await receiver(() => {});
    const { notifier: n, lines } = notifier([{ url: hook.url, format: 'slack' }], {
      retries: 1,
      timeoutMs: 200,
    });
    const started = Date.now();
    n.notify(notice);
    await n.close();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(hook.received).toHaveLength(2);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ error: 'TimeoutError' });
    expectNoSecretIn(lines);
  });

  it('logs an unreachable receiver by error code, without the URL', async () => {
    const hook = await receiver(status(200));
    await new Promise((resolve) => (servers.pop() as Server).close(resolve));
    const { notifier: n, lines } = notifier([{ url: hook.url, format: 'slack' }], { retries: 0 });
    n.notify(notice);
    await n.close();
    expect(JSON.parse(lines[0] as string)).toMatchObject({ error: 'ECONNREFUSED' });
    expectNoSecretIn(lines);
  });

  it('drops the oldest queued deliveries beyond the limit', async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let calls = 0;
    const fetchStub: typeof fetch = async () => {
      calls++;
      await gate;
      return new Response(null, { status: 200 });
    };
    const { notifier: n, lines } = notifier([{ url: `https://hooks.example${HOOK_PATH}`, format: 'slack' }], {
      fetch: fetchStub,
      maxQueued: 2,
    });
    for (let i = 0; i < 12; i++) n.notify({ ...notice, id: `apr_${i}` });
    release();
    await n.close();
    // 8 start at once, 2 wait, and the 2 oldest waiting ones were dropped for newer ones.
    expect(calls).toBe(10);
    expect(lines.filter((line) => line.includes('queue full'))).toHaveLength(2);
    expectNoSecretIn(lines);
  });

  it('drops notices after close without throwing', async () => {
    const { notifier: n, lines } = notifier([{ url: 'https://hooks.example/x', format: 'slack' }]);
    await n.close();
    expect(() => n.notify(notice)).not.toThrow();
    expect(lines.filter((line) => line.includes('notifier closed'))).toHaveLength(1);
  });

  it('refuses a json target without a secret, naming it by origin', () => {
    const { logger } = capturedLogger();
    const build = () =>
      new WebhookNotifier([{ url: `https://hooks.example${HOOK_PATH}`, format: 'json' }], { logger });
    expect(build).toThrow('approval webhook https://hooks.example: a json target needs a signing secret');
  });
});

function expectNoSecretIn(lines: readonly string[]): void {
  const all = lines.join('');
  expect(all).not.toContain('hook-secret-path');
  expect(all).not.toContain('query-secret');
}
