/**
 * Wire-level abuse of the gateway's PostgreSQL listener (SECURITY.md §4; adversarial corpus D and
 * I, protocol cases only). Every case checks what the bad client sees (an error with the right
 * SQLSTATE and/or a closed connection, within a generous bound) and what reached the database:
 * the gateway's upstream traffic goes through a recording TCP relay in front of the real server,
 * so "never forwarded" is checked on the bytes themselves, and a canary table shows nothing ran.
 * After every case a fresh client must still run `SELECT 1` through the same gateway, the canary
 * must be intact and the gateway must hold no leftover session.
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  decodeFrontendMessage,
  encodeFrontendMessage,
  type FrontendMessage,
} from '../../src/protocols/postgres/codec/frontend/index.ts';
import {
  decodeInitialMessage,
  type InitialMessage,
} from '../../src/protocols/postgres/codec/frontend/initial-message.ts';
import { encodeStartupMessage } from '../../src/protocols/postgres/codec/frontend/startup-message.ts';
import { frontendLimits, MessageFramer } from '../../src/protocols/postgres/framer.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { adminQuery, createTestDatabase, PG_HOST, PG_PORT, type TestDatabase } from '../helpers/postgres.ts';
import {
  decode,
  describeFrames,
  errorsIn,
  LoginError,
  RawClient,
  type RawFrame,
} from '../helpers/raw-client.ts';

const CLOSE_WITHIN_MS = 5000;
const MIB = 1024 * 1024;

// ---- a recording relay in front of the real server ---------------------------------------------

interface TapConnection {
  /** Everything the gateway sent towards the server on this connection. */
  readonly chunks: Buffer[];
  ended: boolean;
}

interface Tap {
  readonly port: number;
  readonly connections: TapConnection[];
  close(): Promise<void>;
}

/** A transparent TCP relay to PostgreSQL that keeps a copy of the gateway→server bytes. */
async function startTap(): Promise<Tap> {
  const connections: TapConnection[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((fromGateway) => {
    const record: TapConnection = { chunks: [], ended: false };
    connections.push(record);
    const toServer = netConnect({ host: PG_HOST, port: PG_PORT });
    for (const socket of [fromGateway, toServer]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        record.ended = true;
        fromGateway.destroy();
        toServer.destroy();
      });
    }
    fromGateway.on('data', (chunk: Buffer) => record.chunks.push(Buffer.from(chunk)));
    fromGateway.pipe(toServer);
    toServer.pipe(fromGateway);
  });
  await new Promise<void>((resolve) => server.listen(0, PG_HOST, resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('tap has no port');
  return {
    port: address.port,
    connections,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Forwarded {
  readonly initial: InitialMessage | undefined;
  readonly messages: FrontendMessage[];
  /** Bytes that did not form a whole frame: a partial message reached the server. */
  readonly leftover: number;
}

/** Decodes what the gateway sent on one upstream connection; throws if any of it is not protocol. */
function parseForwarded(connection: TapConnection): Forwarded {
  const limits = { maxQueryBytes: 0x7fff0000, maxMessageBytes: 0x7fff0000 };
  const framer = new MessageFramer(frontendLimits(limits), 'untagged');
  for (const chunk of connection.chunks) framer.push(chunk);
  const first = framer.next();
  const initial = first ? decodeInitialMessage(first.payload) : undefined;
  const messages: FrontendMessage[] = [];
  if (initial?.type === 'StartupMessage') {
    framer.mode = 'tagged';
    for (let frame = framer.next(); frame; frame = framer.next()) {
      messages.push(decodeFrontendMessage(frame.tag, frame.payload));
    }
  }
  return { initial, messages, leftover: framer.pendingBytes };
}

// ---- fixtures ----------------------------------------------------------------------------------

let db: TestDatabase;
let tap: Tap;
let plain: TestGateway;
let secure: TestGateway;
let plainKey: string;
let secureKey: string;
/** Tap connections before the current test began. */
let tapMark = 0;

const yaml = (port: number) => `
timeouts: { auth: 2s, messageAssembly: 1s, idle: 2s, idleInTransaction: 2s }
connections:
  - name: wire
    type: postgres
    url: postgres://${db.role}@${PG_HOST}:${port}/${db.name}
policies:
  - name: tests
    subjects: { groups: [tests] }
    connections: [wire]
`;

beforeAll(async () => {
  db = await createTestDatabase('sluice_wire');
  const setup = new pg.Client({ host: PG_HOST, port: PG_PORT, user: db.role, database: db.name });
  await setup.connect();
  await setup.query('CREATE TABLE canary (v int); INSERT INTO canary VALUES (42)');
  await setup.end();
  tap = await startTap();
  [plain, secure] = await Promise.all([
    startTestGateway({ yaml: yaml(tap.port), tls: 'off' }),
    startTestGateway({ yaml: yaml(tap.port) }),
  ]);
  plainKey = await plain.createKey('wire-plain', ['tests']);
  secureKey = await secure.createKey('wire-tls', ['tests']);
});

afterAll(async () => {
  await plain?.close();
  await secure?.close();
  await tap?.close();
  await db?.drop();
});

beforeEach(() => {
  tapMark = tap.connections.length;
});

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
}

type Transport = 'plain' | 'tls';
const gatewayFor = (transport: Transport) => (transport === 'plain' ? plain : secure);

/** A logged-in client through the gateway, up to its first ReadyForQuery. */
function login(transport: Transport = 'plain', options: { byteDelayMs?: number } = {}): Promise<RawClient> {
  const gw = gatewayFor(transport);
  return RawClient.connect({
    host: gw.host,
    port: gw.port,
    user: 'agent',
    database: 'wire',
    password: transport === 'plain' ? plainKey : secureKey,
    tls: transport === 'tls',
    ...options,
  });
}

/** A TCP connection to the gateway, inside TLS for 'tls', before any startup packet. */
async function openBeforeStartup(transport: Transport): Promise<RawClient> {
  const gw = gatewayFor(transport);
  const client = await RawClient.open({ host: gw.host, port: gw.port });
  if (transport === 'tls') expect(await client.requestTls()).toBe('S');
  return client;
}

async function expectServes(gw: TestGateway, key: string, tls: boolean): Promise<void> {
  const client = await RawClient.connect({
    host: gw.host,
    port: gw.port,
    user: 'agent',
    database: 'wire',
    password: key,
    tls,
  });
  try {
    await client.send([{ type: 'Query', query: 'SELECT 1 AS ok' }]);
    const frames = await client.readUntil(1);
    expect(frames.map((f) => f.tag).join('')).toBe('TDCZ');
    const row = frames[1] && decode(frames[1]);
    expect(row?.type === 'DataRow' && row.values[0]?.toString()).toBe('1');
  } finally {
    await client.close();
  }
}

afterEach(async () => {
  // The gateway keeps serving, on both listeners, and nothing ran that should not have.
  await expectServes(plain, plainKey, false);
  await expectServes(secure, secureKey, true);
  expect(await adminQuery('SELECT v FROM canary', db.name)).toEqual([{ v: 42 }]);
  const drained = await waitFor(
    () => plain.gateway.listener.sessions.size + secure.gateway.listener.sessions.size === 0,
    CLOSE_WITHIN_MS,
  );
  expect(drained, 'every session ends once its client is gone').toBe(true);
});

/** Upstream connections the gateway opened during this test, once each has ended. */
async function forwardedInThisTest(): Promise<Forwarded[]> {
  const opened = tap.connections.slice(tapMark);
  const ended = await waitFor(() => opened.every((c) => c.ended), CLOSE_WITHIN_MS);
  expect(ended, 'upstream connections are closed with their client').toBe(true);
  return opened.map(parseForwarded);
}

/**
 * After login the gateway must have sent the server nothing but (at most) a Terminate on the
 * session's connection, plus possibly a CancelRequest on a separate one.
 */
async function expectNothingForwardedAfterLogin(): Promise<void> {
  const forwarded = await forwardedInThisTest();
  const sessions = forwarded.filter((f) => f.initial?.type === 'StartupMessage');
  expect(sessions).toHaveLength(1);
  for (const session of sessions) {
    expect(session.leftover, 'no partial message reached the server').toBe(0);
    expect(session.messages.map((m) => m.type).filter((t) => t !== 'Terminate')).toEqual([]);
  }
}

async function expectNoUpstreamConnection(): Promise<void> {
  // Give a connection the gateway might (wrongly) be opening a moment to show up.
  await sleep(100);
  expect(tap.connections.length - tapMark, 'no upstream connection was opened').toBe(0);
}

async function expectClosedWithError(
  client: RawClient,
  sqlstate: string,
  withinMs = CLOSE_WITHIN_MS,
): Promise<{ frames: RawFrame[]; message: string }> {
  expect(await client.waitClosed(withinMs), 'connection closed').toBe(true);
  const frames = client.takeAll();
  const errors = errorsIn(frames);
  expect(
    errors.map((e) => e.C),
    describeFrames(frames),
  ).toEqual([sqlstate]);
  return { frames, message: errors[0]?.M ?? '' };
}

function header(tag: number | string, length: number): Buffer {
  const bytes = Buffer.alloc(5);
  bytes.writeUInt8(typeof tag === 'number' ? tag : tag.charCodeAt(0), 0);
  bytes.writeUInt32BE(length, 1);
  return bytes;
}

/** The codec refuses to encode a NUL inside a string, so encode a placeholder and patch it. */
function withEmbeddedNul(message: FrontendMessage, placeholder = '\u0001'): Buffer {
  const bytes = Buffer.from(encodeFrontendMessage(message));
  const at = bytes.indexOf(placeholder);
  expect(at).toBeGreaterThan(0);
  bytes[at] = 0;
  return bytes;
}

// ---- after login ---------------------------------------------------------------------------------

describe('after login', () => {
  it.each(['Q', 'P', 'B', 'd', 'X'])(
    'a declared length over the cap (%s 7ffffff0, then silence) is 08P01 and close, with no big allocation',
    async (tag) => {
      const client = await login();
      const before = process.memoryUsage();
      await client.sendRaw(header(tag, 0x7ffffff0));
      // Refused on the header (not later, at the message-assembly deadline).
      const { message } = await expectClosedWithError(client, '08P01');
      expect(message).toMatch(/exceeds the \d+-byte limit/);
      const after = process.memoryUsage();
      const rss = after.rss - before.rss;
      expect(rss, `RSS grew by ${(rss / MIB).toFixed(1)} MiB`).toBeLessThan(50 * MIB);
      // Untouched pages of a preallocated buffer would not show in RSS; they do show here.
      const buffers = after.arrayBuffers - before.arrayBuffers;
      expect(buffers, `buffers grew by ${(buffers / MIB).toFixed(1)} MiB`).toBeLessThan(50 * MIB);
      await expectNothingForwardedAfterLogin();
    },
  );

  it('a length just over the Query cap is refused before its body arrives', async () => {
    const client = await login();
    // The default maxQueryBytes is 1 MiB; the header alone must be enough to refuse it.
    await client.sendRaw(header('Q', 4 * MIB));
    const { message } = await expectClosedWithError(client, '08P01');
    expect(message).toMatch(/exceeds the \d+-byte limit/);
    await expectNothingForwardedAfterLogin();
  });

  it('a large declared length under the cap, then silence, allocates nothing up front', async () => {
    const client = await login();
    // CopyData may be up to maxMessageBytes (64 MiB by default): 60 MiB is allowed, so the gateway
    // waits for the body, and must not reserve 60 MiB for it on the strength of the header.
    const before = process.memoryUsage().arrayBuffers;
    await client.sendRaw(Buffer.concat([header('d', 60 * MIB), Buffer.alloc(1000, 0x61)]));
    expect(await client.waitClosed(300)).toBe(false);
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(grown, `buffers grew by ${(grown / MIB).toFixed(1)} MiB`).toBeLessThan(4 * MIB);
    await expectClosedWithError(client, '08P01');
    await expectNothingForwardedAfterLogin();
  });

  it.each([0, 1, 2, 3])('a declared length of %i (below 4) closes the connection', async (length) => {
    const client = await login();
    await client.sendRaw(header('Q', length));
    const { message } = await expectClosedWithError(client, '08P01');
    expect(message).toMatch(/invalid length/);
    await expectNothingForwardedAfterLogin();
  });

  it('a truncated frame is closed at the message-assembly deadline and never forwarded', async () => {
    const client = await login();
    const frame = encodeFrontendMessage({ type: 'Query', query: "SELECT 'truncated'; DELETE FROM canary" });
    await client.sendRaw(frame.subarray(0, Math.floor(frame.length / 2)));
    // Still open right away: it is the deadline (1 s here) that ends it, not the partial frame itself.
    expect(await client.waitClosed(300)).toBe(false);
    const { message } = await expectClosedWithError(client, '08P01');
    expect(message).toMatch(/incomplete message/);
    await expectNothingForwardedAfterLogin();
  });

  it.each<[tag: string | number, why: string]>([
    ['Y', 'unknown type'],
    ['Z', 'a backend-only type'],
    [0, 'type byte 0'],
    ['p', 'a password message after login'],
  ])('message type %j (%s) with a valid length closes the connection', async (tag) => {
    const client = await login();
    await client.sendRaw(Buffer.concat([header(tag, 4 + 6), Buffer.from('abcde\0')]));
    await expectClosedWithError(client, '08P01');
    await expectNothingForwardedAfterLogin();
  });

  it('a Query with an embedded NUL is refused whole: neither half runs', async () => {
    const client = await login();
    await client.sendRaw(withEmbeddedNul({ type: 'Query', query: 'SELECT 1\u0001; DELETE FROM canary' }));
    await expectClosedWithError(client, '08P01');
    await expectNothingForwardedAfterLogin();
  });

  it('a Parse with an embedded NUL is refused whole', async () => {
    const client = await login();
    const parse = withEmbeddedNul({
      type: 'Parse',
      name: '',
      query: 'SELECT 1\u0001; DELETE FROM canary',
      parameterTypes: [],
    });
    await client.sendRaw(Buffer.concat([parse, encodeFrontendMessage({ type: 'Sync' })]));
    await expectClosedWithError(client, '08P01');
    await expectNothingForwardedAfterLogin();
  });

  it('a valid message before the bad one is answered, the bad one is not forwarded', async () => {
    const client = await login();
    await client.sendRaw(
      Buffer.concat([
        encodeFrontendMessage({ type: 'Query', query: 'SELECT 1' }),
        withEmbeddedNul({ type: 'Query', query: 'SELECT 2\u0001; DELETE FROM canary' }),
      ]),
    );
    expect(await client.waitClosed(CLOSE_WITHIN_MS)).toBe(true);
    const errors = errorsIn(client.takeAll()).map((e) => e.C);
    expect(errors).toEqual(['08P01']);
    const [session] = (await forwardedInThisTest()).filter((f) => f.initial?.type === 'StartupMessage');
    expect(session?.leftover).toBe(0);
    // Answering the valid Query first (as PostgreSQL would) or dropping it with the bad one are both
    // safe; forwarding anything of the bad one is not.
    const forwarded = session?.messages.filter((m) => m.type !== 'Terminate');
    expect([[], [{ type: 'Query', query: 'SELECT 1' }]]).toContainEqual(forwarded);
  });

  it('idle deadlines still apply after requests the server answers with fewer ReadyForQuery', async () => {
    const Q = (query: string): FrontendMessage => ({ type: 'Query', query });
    const S: FrontendMessage = { type: 'Sync' };
    const failingExtended: FrontendMessage[] = [
      { type: 'Parse', name: '', query: 'SELECT 1/0', parameterTypes: [] },
      { type: 'Bind', portal: '', statement: '', parameterFormats: [], parameters: [], resultFormats: [] },
      { type: 'Execute', portal: '', maxRows: 0 },
    ];
    const cases: {
      name: string;
      steps: { send: FrontendMessage[]; until: number | string }[];
      code: string;
    }[] = [
      { name: 'idle (control)', steps: [{ send: [Q('SELECT 1')], until: 1 }], code: '57P05' },
      {
        // The server discards everything up to Sync after an error, a Query included: one Z for two.
        name: 'idle after a Query discarded before Sync',
        steps: [{ send: [...failingExtended, Q('SELECT 1'), S], until: 1 }],
        code: '57P05',
      },
      {
        // The server ignores Sync during COPY FROM STDIN: one Z for Query + Sync.
        name: 'idle after a Sync sent during COPY FROM STDIN',
        steps: [
          { send: [Q('COPY canary FROM STDIN')], until: 'G' },
          { send: [S, { type: 'CopyDone' }], until: 1 },
        ],
        code: '57P05',
      },
      { name: 'idle in transaction (control)', steps: [{ send: [Q('BEGIN')], until: 1 }], code: '25P03' },
      {
        name: 'idle in a failed transaction after a Query discarded before Sync',
        steps: [{ send: [Q('BEGIN'), ...failingExtended, Q('SELECT 1'), S], until: 2 }],
        code: '25P03',
      },
    ];
    const clients = await Promise.all(cases.map(() => login()));
    await Promise.all(
      cases.map(async ({ steps }, i) => {
        const client = clients[i];
        if (!client) return;
        for (const { send, until } of steps) {
          await client.send(send);
          await client.readUntil(typeof until === 'number' ? until : (f) => f.tag === until);
        }
      }),
    );
    // idle and idleInTransaction are 2 s, checked about once a second.
    const outcomes = await Promise.all(
      clients.map(async (client) => {
        const closed = await client.waitClosed(8000);
        const codes = errorsIn(client.takeAll()).map((e) => e.C);
        client.destroy();
        return { closed, codes };
      }),
    );
    expect(Object.fromEntries(cases.map(({ name }, i) => [name, outcomes[i]]))).toEqual(
      Object.fromEntries(cases.map(({ name, code }) => [name, { closed: true, codes: [code] }])),
    );
  });

  it('a client that vanishes mid-result leaves no busy backend behind', async () => {
    const client = await login();
    const query = 'SELECT g, repeat($$x$$, 100) FROM generate_series(1, 5000000) g';
    await client.send([{ type: 'Query', query }]);
    await client.readUntil((frame) => frame.tag === 'D', CLOSE_WITHIN_MS);
    const busy = () =>
      adminQuery<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE usename = '${db.role}' AND state <> 'idle' AND query = '${query.replaceAll("'", "''")}'`,
      );
    expect((await busy())[0]?.n, 'the query is running upstream').toBe(1);
    client.destroy(true);
    const gone = await waitFor(async () => (await busy())[0]?.n === 0, CLOSE_WITHIN_MS);
    expect(gone, 'the upstream backend is gone or idle').toBe(true);
  });

  it('random garbage after login never crashes the gateway or reaches the server unparsed', async () => {
    const tags = 'QPBDEHSCXdcfpYZ\0'.split('');
    // Mostly frames whose declared length matches their body, so the decoders see whole messages;
    // some with a slightly wrong or arbitrary length; some plain noise.
    const frameLike = fc
      .tuple(
        fc.constantFrom(...tags),
        fc.uint8Array({ maxLength: 128 }),
        fc.oneof(
          { arbitrary: fc.constant(0), weight: 4 },
          { arbitrary: fc.integer({ min: -4, max: 4 }), weight: 1 },
          { arbitrary: fc.integer({ min: 0, max: 0xffffffff }), weight: 1 },
        ),
      )
      .map(([tag, body, skew]) => {
        const length = skew > 4 ? skew : Math.max(0, body.length + 4 + skew);
        return Buffer.concat([header(tag, length), body]);
      });
    const noise = fc.uint8Array({ minLength: 1, maxLength: 256 }).map((b) => Buffer.from(b));
    const garbage = fc
      .array(fc.oneof({ arbitrary: frameLike, weight: 3 }, { arbitrary: noise, weight: 1 }), {
        minLength: 1,
        maxLength: 6,
      })
      .map((parts) => Buffer.concat(parts));
    await fc.assert(
      fc.asyncProperty(garbage, async (bytes) => {
        const client = await login();
        try {
          await client.sendRaw(bytes);
          // Either the gateway closes the connection or it waits for more bytes; both are fine.
          await client.waitClosed(100);
          // Whatever it did send back was well-formed protocol, and never an internal error.
          const codes = errorsIn(client.takeAll()).map((e) => e.C);
          expect(codes).not.toContain('XX000');
        } finally {
          client.destroy();
        }
      }),
      { numRuns: 50 },
    );
    const forwarded = await forwardedInThisTest();
    for (const connection of forwarded) expect(connection.leftover).toBe(0);
    expect(plain.logs.join('')).not.toMatch(/"msg":"session failed"/);
  });
});

// ---- startup phase -------------------------------------------------------------------------------

describe('startup', () => {
  const startupHeader = (length: number, version = 0x0003_0000): Buffer => {
    const bytes = Buffer.alloc(8);
    bytes.writeUInt32BE(length, 0);
    bytes.writeUInt32BE(version, 4);
    return bytes;
  };

  describe.each(['plain', 'tls'] as const)('over %s', (transport) => {
    it.each([
      ['length 3', startupHeader(3)],
      ['length 7', startupHeader(7).subarray(0, 7)],
      ['length 0x7fffffff', startupHeader(0x7fffffff)],
      [
        'a 100 KB user',
        encodeStartupMessage({
          type: 'StartupMessage',
          protocolVersion: 0x0003_0000,
          parameters: { user: 'u'.repeat(100_000), database: 'wire' },
        }),
      ],
    ])('a startup packet with %s is closed', async (_name, bytes) => {
      const client = await openBeforeStartup(transport);
      client.expectFrames();
      await client.sendRaw(bytes);
      // At once on the header: the 2 s auth deadline would close a connection that waits for more.
      expect(await client.waitClosed(1500)).toBe(true);
      expect(client.takeAll().filter((f) => f.tag === 'R')).toEqual([]);
      await expectNoUpstreamConnection();
    });

    it('protocol version 4.0 gets FATAL 0A000', async () => {
      const client = await openBeforeStartup(transport);
      await client.startup({ user: 'agent', database: 'wire' }, 0x0004_0000);
      const { frames, message } = await expectClosedWithError(client, '0A000');
      expect(message).toMatch(/protocol/);
      expect(frames.filter((f) => f.tag === 'R')).toEqual([]);
      await expectNoUpstreamConnection();
    });

    it('protocol 3.9 with a _pq_ option gets NegotiateProtocolVersion, then logs in', async () => {
      const client = await RawClient.connect({
        host: gatewayFor(transport).host,
        port: gatewayFor(transport).port,
        user: 'agent',
        database: 'wire',
        password: transport === 'plain' ? plainKey : secureKey,
        tls: transport === 'tls',
        protocolVersion: 0x0003_0009,
        parameters: { '_pq_.x': 'on' },
      });
      try {
        const [negotiate, authRequest] = client.loginFrames.map(decode);
        expect(negotiate).toEqual({
          type: 'NegotiateProtocolVersion',
          newestMinorVersion: 0,
          unrecognizedOptions: ['_pq_.x'],
        });
        expect(authRequest?.type).toBe('AuthenticationCleartextPassword');
        await client.send([{ type: 'Query', query: 'SELECT 1' }]);
        expect((await client.readUntil(1)).map((f) => f.tag).join('')).toBe('TDCZ');
      } finally {
        await client.close();
      }
    });

    it.each([
      ['options', '-c standard_conforming_strings=off'],
      ['replication', 'database'],
      ['client_encoding', 'SJIS'],
      ['client_encoding', 'BIG5'],
      ['search_path', 'evil,public'],
    ])('startup parameter %s=%s is refused with 08004 before any auth request', async (name, value) => {
      const client = await openBeforeStartup(transport);
      await client.startup({ user: 'agent', database: 'wire', [name]: value });
      const { frames } = await expectClosedWithError(client, '08004');
      expect(frames.filter((f) => f.tag === 'R')).toEqual([]);
      await expectNoUpstreamConnection();
    });
  });

  /** Sends `bytes` one per second in the background, until the connection closes or `stop()`. */
  function drip(client: RawClient, bytes: Buffer): { stop(): Promise<void> } {
    const abort = new AbortController();
    const done = (async () => {
      for (let i = 0; i < bytes.length && !client.closed; i++) {
        await client.sendRaw(bytes.subarray(i, i + 1));
        await sleep(1000, undefined, { signal: abort.signal }).catch(() => undefined);
      }
    })();
    return {
      async stop() {
        abort.abort();
        client.destroy();
        await done;
      },
    };
  }

  it('a slow startup packet (1 byte per second, plaintext) is closed at the auth deadline', async () => {
    const client = await openBeforeStartup('plain');
    const bytes = encodeStartupMessage({
      type: 'StartupMessage',
      protocolVersion: 0x0003_0000,
      parameters: { user: 'agent', database: 'wire' },
    });
    const started = Date.now();
    const sender = drip(client, bytes);
    // The auth deadline is 2 s; the whole packet would take over 30 s to arrive.
    expect(await client.waitClosed(CLOSE_WITHIN_MS)).toBe(true);
    expect(Date.now() - started, 'closed by the deadline, not at once').toBeGreaterThanOrEqual(1000);
    await sender.stop();
    await expectNoUpstreamConnection();
  });

  it('a slow password (1 byte per second, inside TLS) is closed at the auth deadline', async () => {
    const client = await openBeforeStartup('tls');
    await client.startup({ user: 'agent', database: 'wire' });
    await client.readUntil((f) => f.tag === 'R');
    const sender = drip(client, encodeFrontendMessage({ type: 'PasswordMessage', password: secureKey }));
    const { message } = await expectClosedWithError(client, '08006');
    expect(message).toMatch(/timed out/);
    await sender.stop();
    await expectNoUpstreamConnection();
  });

  it('SSLRequest plus a plaintext StartupMessage in the same write is closed, nothing runs (CVE-2021-23214)', async () => {
    const client = await RawClient.open({ host: secure.host, port: secure.port });
    const injected = Buffer.concat([
      encodeFrontendMessage({ type: 'SSLRequest' }),
      encodeFrontendMessage({
        type: 'StartupMessage',
        protocolVersion: 0x0003_0000,
        parameters: { user: 'agent', database: 'wire' },
      }),
      encodeFrontendMessage({ type: 'PasswordMessage', password: secureKey }),
      encodeFrontendMessage({ type: 'Query', query: 'DELETE FROM canary' }),
    ]);
    await client.sendRaw(injected);
    // Play the legitimate client a man in the middle injected into: if the gateway says 'S', complete
    // the TLS handshake, and see whether it then treats the buffered plaintext as sent inside TLS.
    const answer = await client.readByte(CLOSE_WITHIN_MS).catch(() => undefined);
    if (answer === 'S') {
      await client.upgradeToTls().catch(() => undefined);
      client.expectFrames();
    }
    expect(await client.waitClosed(CLOSE_WITHIN_MS)).toBe(true);
    // Whatever the gateway said, it never asked for (or accepted) credentials.
    expect(client.takeUnframed().includes(Buffer.from('R'))).toBe(false);
    expect(client.takeAll().filter((f) => f.tag === 'R' || f.tag === 'Z')).toEqual([]);
    await expectNoUpstreamConnection();
  });

  it('a plaintext StartupMessage on a TLS-required listener gets FATAL 28000 and no auth request', async () => {
    const client = await RawClient.open({ host: secure.host, port: secure.port });
    await client.startup({ user: 'agent', database: 'wire' });
    const { frames, message } = await expectClosedWithError(client, '28000');
    expect(message).toBe('sluice: TLS required');
    const fatal = frames.map(decode).find((m) => m.type === 'ErrorResponse');
    expect(fatal?.type === 'ErrorResponse' && fatal.fields.S).toBe('FATAL');
    expect(frames.filter((f) => f.tag === 'R')).toEqual([]);
    await expectNoUpstreamConnection();
  });

  it('an SSLRequest inside the established TLS session closes the connection', async () => {
    const client = await openBeforeStartup('tls');
    await client.sendRaw(encodeFrontendMessage({ type: 'SSLRequest' }));
    expect(await client.waitClosed(CLOSE_WITHIN_MS)).toBe(true);
    expect(client.takeUnframed().toString('latin1')).not.toContain('S');
    await expectNoUpstreamConnection();
  });

  it('a GSSENCRequest inside TLS closes the connection', async () => {
    const client = await openBeforeStartup('tls');
    await client.sendRaw(encodeFrontendMessage({ type: 'GSSENCRequest' }));
    expect(await client.waitClosed(CLOSE_WITHIN_MS)).toBe(true);
    await expectNoUpstreamConnection();
  });

  it('GSSENCRequest gets N, then SSLRequest on the same socket works', async () => {
    const client = await RawClient.open({ host: secure.host, port: secure.port });
    try {
      expect(await client.requestGssEncryption()).toBe('N');
      expect(await client.requestTls()).toBe('S');
      expect(client.encrypted).toBe(true);
      await client.startup({ user: 'agent', database: 'wire' });
      await client.login(secureKey);
      await client.send([{ type: 'Query', query: 'SELECT 1' }]);
      expect((await client.readUntil(1)).map((f) => f.tag).join('')).toBe('TDCZ');
    } finally {
      await client.close();
    }
  });

  it('a wrong API key is refused with 28P01 and opens no upstream connection', async () => {
    await expect(
      RawClient.connect({
        host: plain.host,
        port: plain.port,
        user: 'agent',
        database: 'wire',
        password: 'slk_not_a_real_key',
      }),
    ).rejects.toSatisfy((error) => error instanceof LoginError && error.fields.C === '28P01');
    await expectNoUpstreamConnection();
  });
});

// ---- delivery ------------------------------------------------------------------------------------

describe('byte-at-a-time delivery', () => {
  const script: FrontendMessage[] = [
    { type: 'Query', query: 'SELECT 1 AS a; SELECT $$ünï 🐘$$ AS b' },
    { type: 'Parse', name: 's', query: 'SELECT $1::int * 2 AS doubled', parameterTypes: [23] },
    {
      type: 'Bind',
      portal: '',
      statement: 's',
      parameterFormats: [],
      parameters: [Buffer.from('21')],
      resultFormats: [],
    },
    { type: 'Describe', kind: 'P', name: '' },
    { type: 'Execute', portal: '', maxRows: 0 },
    { type: 'Sync' },
    { type: 'Query', query: 'BEGIN; SELECT 1/0' },
    { type: 'Query', query: 'ROLLBACK' },
    { type: 'Query', query: 'SELECT g FROM generate_series(1, 100) g' },
  ];
  const readyCount = script.filter((m) => m.type === 'Query' || m.type === 'Sync').length;

  async function run(client: RawClient): Promise<Buffer> {
    try {
      await client.send(script);
      return Buffer.concat((await client.readUntil(readyCount, 20_000)).map((f) => f.bytes));
    } finally {
      await client.close();
    }
  }

  it.each(['plain', 'tls'] as const)(
    'a whole session, every byte in its own write (%s), answers as normal delivery and PostgreSQL do',
    async (transport) => {
      const direct = await run(
        await RawClient.connect({
          host: PG_HOST,
          port: PG_PORT,
          user: db.role,
          database: db.name,
          parameters: { client_encoding: 'UTF8' },
        }),
      );
      const normal = await run(await login(transport));
      // Startup, password and every query byte by byte; over TLS each byte is its own TLS record.
      const trickled = await run(await login(transport, { byteDelayMs: 1 }));
      expect(normal.equals(direct)).toBe(true);
      expect(trickled.equals(direct)).toBe(true);
    },
  );
});
