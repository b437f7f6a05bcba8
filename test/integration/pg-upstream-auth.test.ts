/**
 * Gateway → upstream login, against real PostgreSQL servers made for this file (SCRAM, MD5,
 * cleartext, TLS) and, only where a real server cannot misbehave, tiny fake servers.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { gatewayClient } from '../helpers/pg-client.ts';
import { wire } from '../helpers/pg-messages.ts';
import { createTestDatabase, PG_HOST, PG_PORT, type TestDatabase } from '../helpers/postgres.ts';
import { connectExpectingRefusal } from '../helpers/refusal.ts';
import { type ScratchCluster, startScratchCluster } from '../helpers/scratch-cluster.ts';

const secret = (label: string): string => `${label}-${randomBytes(12).toString('hex')}`;

/** Every upstream password used here; none may ever reach a log line or a client. */
const PW = {
  scram: secret('scram'),
  wrong: secret('wrong'),
  rotate1: secret('rotate1'),
  rotate2: secret('rotate2'),
  md5: secret('md5'),
  clear: secret('clear'),
  tls: secret('tls'),
  rogue: secret('rogue'),
};

// ---- certificates ------------------------------------------------------------------------------

interface Certs {
  readonly ca: string;
  readonly wrongCa: string;
  readonly serverCert: string;
  readonly serverKey: string;
}

async function makeCa(name: string): Promise<{ cert: string; key: string }> {
  const pems = await generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

async function makeCerts(dir: string): Promise<Certs> {
  const ca = await makeCa('Sluice test CA');
  const wrongCa = await makeCa('Some other CA');
  const server = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ca,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
    ],
  });
  const files = {
    ca: join(dir, 'ca.pem'),
    wrongCa: join(dir, 'wrong-ca.pem'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
  };
  await writeFile(files.ca, ca.cert);
  await writeFile(files.wrongCa, wrongCa.cert);
  await writeFile(files.serverCert, server.cert);
  await writeFile(files.serverKey, server.private, { mode: 0o600 });
  return files;
}

// ---- fake upstreams ----------------------------------------------------------------------------

type RogueBehaviour =
  /** A correct SCRAM server: the control that shows the fake is good enough to log in to. */
  | 'honest'
  /** AuthenticationOk right after our proof, without AuthenticationSASLFinal. */
  | 'skip-final'
  /** AuthenticationSASLFinal with a signature that proves nothing. */
  | 'bad-signature'
  /** AuthenticationSASLFinal whose signature is a prefix of the right one. */
  | 'short-signature'
  /** ErrorResponse without a C (SQLSTATE) field in answer to the StartupMessage. */
  | 'error-no-code'
  /** ErrorResponse with no fields at all, in the middle of the SASL exchange. */
  | 'error-empty-mid-sasl'
  /** A server-first-message asking for ten million PBKDF2 iterations, then a bogus signature. */
  | 'huge-iterations'
  /** Honest login, then every Query answered with a DataRow wider than its RowDescription (corpus 152). */
  | 'row-shape'
  /** Honest login, then every Query answered with an ErrorResponse without SQLSTATE (corpus 151). */
  | 'query-error-no-code';

/** Enough to stall a synchronous PBKDF2 for seconds (about 0.15-0.3 s per million here). */
const HUGE_ITERATIONS = 10_000_000;

interface FakeUpstream {
  readonly port: number;
  /** How many times the fake sent ReadyForQuery, i.e. would have let a session start. */
  readonly sessions: () => number;
  /** Tagged messages the gateway sent after login (a Query here means a session was used). */
  readonly afterLogin: string[];
  close(): Promise<void>;
}

const authR = (code: number, data?: string | Buffer): Buffer =>
  wire()
    .int32(code)
    .bytes(data ?? Buffer.alloc(0))
    .frame('R');
const readyForQuery = (): Buffer => wire().char('I').frame('Z');
const backendKeyData = (): Buffer => wire().int32(4242).int32(0x1234_5678).frame('K');

function hmac(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text, 'utf8').digest();
}

/** Serves one behaviour to every connection; just enough of the protocol for a login. */
function startFakeUpstream(behaviour: RogueBehaviour, password: string): Promise<FakeUpstream> {
  let sessions = 0;
  const afterLogin: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = Buffer.alloc(0);
    let state: 'startup' | 'sasl-initial' | 'sasl-response' | 'ready' = 'startup';
    let clientFirstBare = '';
    let serverFirst = '';
    let salt = Buffer.alloc(0);
    const login = (): void => {
      sessions++;
      socket.write(Buffer.concat([authR(0), backendKeyData(), readyForQuery()]));
      state = 'ready';
    };
    const answerQuery = (): void => {
      if (behaviour === 'row-shape') {
        const rowDescription = wire()
          .int16(1)
          .cstring('secret')
          .int32(0)
          .int16(0)
          .int32(25)
          .int16(-1)
          .int32(-1)
          .int16(0)
          .frame('T');
        const dataRow = wire().int16(2).int32(4).bytes('safe').int32(16).bytes('4111111111111111').frame('D');
        socket.write(
          Buffer.concat([rowDescription, dataRow, wire().cstring('SELECT 1').frame('C'), readyForQuery()]),
        );
      } else if (behaviour === 'query-error-no-code') {
        const error = wire().char('S').cstring('ERROR').char('M').cstring('no code here').int8(0).frame('E');
        socket.write(Buffer.concat([error, readyForQuery()]));
      }
    };
    const onMessage = (tag: string | undefined, body: Buffer): void => {
      if (state === 'startup') {
        if (body.length === 4 && body.readUInt32BE(0) === 80877103) {
          socket.write('N'); // SSLRequest: no TLS here
          return;
        }
        if (behaviour === 'error-no-code') {
          socket.end(wire().char('S').cstring('FATAL').char('M').cstring('go away').int8(0).frame('E'));
          return;
        }
        socket.write(authR(10, wire().cstring('SCRAM-SHA-256').int8(0).body()));
        state = 'sasl-initial';
        return;
      }
      if (tag === 'X') {
        socket.end();
        return;
      }
      if (state === 'ready') {
        afterLogin.push(tag ?? '?');
        if (tag === 'Q') answerQuery();
        return;
      }
      if (tag !== 'p') throw new Error(`fake upstream: unexpected ${tag} during login`);
      if (state === 'sasl-initial') {
        if (behaviour === 'error-empty-mid-sasl') {
          socket.end(wire().int8(0).frame('E'));
          return;
        }
        const mechanismEnd = body.indexOf(0);
        const data = body.subarray(mechanismEnd + 5).toString('utf8');
        // Drop the GS2 header ("n,," or "n,a=authzid,") to get client-first-message-bare.
        clientFirstBare = data.slice(data.indexOf(',', data.indexOf(',') + 1) + 1);
        const clientNonce = /(?:^|,)r=([^,]+)/.exec(clientFirstBare)?.[1] ?? '';
        salt = randomBytes(16);
        const iterations = behaviour === 'huge-iterations' ? HUGE_ITERATIONS : 4096;
        serverFirst = `r=${clientNonce}${randomBytes(18).toString('base64')},s=${salt.toString('base64')},i=${iterations}`;
        socket.write(authR(11, serverFirst));
        state = 'sasl-response';
        return;
      }
      // state === 'sasl-response': the client-final-message
      const clientFinal = body.toString('utf8');
      const withoutProof = clientFinal.slice(0, clientFinal.lastIndexOf(',p='));
      const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
      const proofOk = (): boolean => {
        const clientKey = hmac(salted(), 'Client Key');
        const storedKey = createHash('sha256').update(clientKey).digest();
        const signature = hmac(storedKey, authMessage);
        const proof = Buffer.from(clientFinal.slice(clientFinal.lastIndexOf(',p=') + 3), 'base64');
        const recovered = Buffer.from(proof.map((byte, i) => byte ^ (signature[i] ?? 0)));
        return createHash('sha256').update(recovered).digest().equals(storedKey);
      };
      const salted = (): Buffer => pbkdf2Sync(password, salt, 4096, 32, 'sha256');
      const serverSignature = (): Buffer => hmac(hmac(salted(), 'Server Key'), authMessage);
      switch (behaviour) {
        case 'honest':
        case 'row-shape':
        case 'query-error-no-code':
          if (!proofOk()) {
            socket.end(wire().char('S').cstring('FATAL').char('C').cstring('28P01').int8(0).frame('E'));
            return;
          }
          socket.write(authR(12, `v=${serverSignature().toString('base64')}`));
          login();
          return;
        case 'skip-final':
          login();
          return;
        case 'bad-signature':
        case 'huge-iterations':
          socket.write(authR(12, `v=${randomBytes(32).toString('base64')}`));
          login();
          return;
        case 'short-signature':
          socket.write(authR(12, `v=${serverSignature().subarray(0, 16).toString('base64')}`));
          login();
          return;
        default:
          throw new Error(`fake upstream: ${behaviour} should not get here`);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const tagged = state !== 'startup';
        const header = tagged ? 5 : 4;
        if (buffer.length < header) return;
        const length = buffer.readUInt32BE(tagged ? 1 : 0);
        const total = length + (tagged ? 1 : 0);
        if (buffer.length < total) return;
        const tag = tagged ? String.fromCharCode(buffer[0] ?? 0) : undefined;
        const body = buffer.subarray(header, total);
        buffer = buffer.subarray(total);
        try {
          onMessage(tag, body);
        } catch {
          socket.destroy();
          return;
        }
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({
        port,
        sessions: () => sessions,
        afterLogin,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

// ---- the setup ---------------------------------------------------------------------------------

let workDir = '';
let certs: Certs;
/** ssl=on, SCRAM storage; per-role rules for cleartext and for the TLS-only role. */
let tlsCluster: ScratchCluster;
/** ssl=off, MD5 storage and `md5` host auth. */
let md5Cluster: ScratchCluster;
let trustDb: TestDatabase;
let rotateFile = '';
const fakes = new Map<RogueBehaviour, FakeUpstream>();
let gw: TestGateway;
let key = '';

const ROGUES: RogueBehaviour[] = [
  'honest',
  'skip-final',
  'bad-signature',
  'short-signature',
  'error-no-code',
  'error-empty-mid-sasl',
  'huge-iterations',
  'row-shape',
  'query-error-no-code',
];

function connectionsYaml(): string {
  const a = `127.0.0.1:${tlsCluster.port}`;
  const b = `127.0.0.1:${md5Cluster.port}`;
  const main = `${PG_HOST}:${PG_PORT}`;
  const conn = (name: string, url: string, extra: Record<string, string> = {}): string =>
    [
      `  - name: ${name}`,
      '    type: postgres',
      `    url: postgres://${url}`,
      ...Object.entries(extra).map(([k, v]) => `    ${k}: ${v}`),
    ].join('\n');
  const requireScram = { auth: '{ require: scram-sha-256 }' };
  return [
    'connections:',
    conn('scram', `sluice_scram@${a}/postgres`, { password: 'env:UPSTREAM_PW' }),
    conn('scram-required', `sluice_scram@${a}/postgres`, { password: 'env:UPSTREAM_PW', ...requireScram }),
    conn('scram-wrong', `sluice_scram@${a}/postgres`, { password: 'env:WRONG_PW' }),
    conn('rotate', `sluice_rotate@${a}/postgres`, { password: `file:${rotateFile}` }),
    conn('missing-password-file', `sluice_rotate@${a}/postgres`, {
      password: `file:${join(workDir, 'no-such-file')}`,
    }),
    conn('md5', `sluice_md5@${b}/postgres`, { password: 'env:MD5_PW' }),
    conn('md5-scram-required', `sluice_md5@${b}/postgres`, { password: 'env:MD5_PW', ...requireScram }),
    conn('trust', `${trustDb.role}@${main}/${trustDb.name}`),
    conn('trust-scram-required', `${trustDb.role}@${main}/${trustDb.name}`, requireScram),
    conn('clear-plain', `sluice_clear@${a}/postgres`, { password: 'env:CLEAR_PW' }),
    conn('clear-tls', `sluice_clear@${a}/postgres`, { password: 'env:CLEAR_PW', tls: '{ mode: require }' }),
    conn('clear-tls-scram-required', `sluice_clear@${a}/postgres`, {
      password: 'env:CLEAR_PW',
      tls: '{ mode: require }',
      ...requireScram,
    }),
    conn('tls-verify', `sluice_tls@${a}/postgres`, {
      password: 'env:TLS_PW',
      tls: `{ mode: verify-full, ca: ${certs.ca} }`,
    }),
    conn('tls-wrong-ca', `sluice_tls@${a}/postgres`, {
      password: 'env:TLS_PW',
      tls: `{ mode: verify-full, ca: ${certs.wrongCa} }`,
    }),
    conn('tls-wrong-name', `sluice_tls@${a}/postgres`, {
      password: 'env:TLS_PW',
      tls: `{ mode: verify-full, ca: ${certs.ca}, serverName: wrong.example }`,
    }),
    conn('tls-require', `sluice_tls@${a}/postgres`, { password: 'env:TLS_PW', tls: '{ mode: require }' }),
    conn('tls-require-nossl', `sluice_md5@${b}/postgres`, {
      password: 'env:MD5_PW',
      tls: '{ mode: require }',
    }),
    ...ROGUES.map((behaviour) =>
      conn(`rogue-${behaviour}`, `rogue@127.0.0.1:${fakes.get(behaviour)?.port ?? 1}/postgres`, {
        password: 'env:ROGUE_PW',
      }),
    ),
    'policies:',
    '  - name: agents-everything',
    '    subjects: { groups: [agents] }',
    '    connections: ["*"]',
  ].join('\n');
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'sluice-upstream-auth-'));
  certs = await makeCerts(workDir);
  rotateFile = join(workDir, 'rotate-password');
  await writeFile(rotateFile, `${PW.rotate1}\n`);
  // allSettled: whatever did start is assigned, so afterAll stops it even if another part failed.
  const started = await Promise.allSettled([
    startScratchCluster({
      ssl: { cert: certs.serverCert, key: certs.serverKey },
      hba: [
        'hostssl all sluice_tls 127.0.0.1/32 scram-sha-256',
        // A plaintext fallback would get in here, so the tests below would see it.
        'hostnossl all sluice_tls 127.0.0.1/32 trust',
        'host all sluice_clear 127.0.0.1/32 password',
        'host all all 127.0.0.1/32 scram-sha-256',
      ].join('\n'),
    }).then((cluster) => {
      tlsCluster = cluster;
    }),
    startScratchCluster({
      passwordEncryption: 'md5',
      hba: 'host all all 127.0.0.1/32 md5',
    }).then((cluster) => {
      md5Cluster = cluster;
    }),
    createTestDatabase('sluice_upauth').then((database) => {
      trustDb = database;
    }),
  ]);
  for (const outcome of started) if (outcome.status === 'rejected') throw outcome.reason;
  await tlsCluster.query(
    [
      `CREATE ROLE sluice_scram LOGIN PASSWORD '${PW.scram}'`,
      `CREATE ROLE sluice_rotate LOGIN PASSWORD '${PW.rotate1}'`,
      `CREATE ROLE sluice_clear LOGIN PASSWORD '${PW.clear}'`,
      `CREATE ROLE sluice_tls LOGIN PASSWORD '${PW.tls}'`,
    ].join(';'),
  );
  await md5Cluster.query(`CREATE ROLE sluice_md5 LOGIN PASSWORD '${PW.md5}'`);
  for (const behaviour of ROGUES) fakes.set(behaviour, await startFakeUpstream(behaviour, PW.rogue));
  gw = await startTestGateway({
    yaml: connectionsYaml(),
    env: {
      UPSTREAM_PW: PW.scram,
      WRONG_PW: PW.wrong,
      MD5_PW: PW.md5,
      CLEAR_PW: PW.clear,
      TLS_PW: PW.tls,
      ROGUE_PW: PW.rogue,
    },
  });
  key = await gw.createKey('upstream-auth-agent', ['agents']);
});

afterAll(async () => {
  await gw?.close();
  await Promise.all([...fakes.values()].map((fake) => fake.close()));
  await Promise.all([tlsCluster?.stop(), md5Cluster?.stop(), trustDb?.drop()]);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

// ---- clients -----------------------------------------------------------------------------------

function client(connection: string): pg.Client {
  return gatewayClient(gw, key, { database: connection });
}

async function connect(connection: string): Promise<pg.Client> {
  const c = client(connection);
  await c.connect();
  return c;
}

async function queryOnce<R extends pg.QueryResultRow>(connection: string, sql: string): Promise<R[]> {
  const c = await connect(connection);
  try {
    return (await c.query<R>(sql)).rows;
  } finally {
    await c.end();
  }
}

/** Connects and expects the gateway to refuse; returns the error the client got. */
async function refusal(connection: string): Promise<pg.DatabaseError> {
  return connectExpectingRefusal(client(connection), `connection "${connection}"`);
}

function expectLoginRefused(error: pg.DatabaseError, connection: string): void {
  expect(error.code).toBe('08001');
  expect(error.severity).toBe('FATAL');
  expect(error.message).toBe(
    `sluice: the database behind connection "${connection}" refused the gateway's login`,
  );
}

function clientErrorText(error: pg.DatabaseError): string {
  return JSON.stringify({ ...error, message: error.message });
}

const countOf = (text: string, needle: string): number => text.split(needle).length - 1;

// ---- the tests ---------------------------------------------------------------------------------

describe('SCRAM-SHA-256 upstream', () => {
  it('logs in with the password from env: and runs a query', async () => {
    const rows = await queryOnce<{ user: string }>('scram', 'SELECT current_user AS user');
    expect(rows[0]?.user).toBe('sluice_scram');
    // The server really used SCRAM for this role (the stored verifier is a SCRAM one).
    const [stored] = await tlsCluster.query<{ p: string }>(
      "SELECT rolpassword AS p FROM pg_authid WHERE rolname = 'sluice_scram'",
    );
    expect(stored?.p).toMatch(/^SCRAM-SHA-256\$4096:/);
  });

  it('refuses with 08001 when the upstream rejects the password, and never shows the password', async () => {
    const logStart = gw.logs.length;
    const error = await refusal('scram-wrong');
    expectLoginRefused(error, 'scram-wrong');
    expect(error.message.startsWith('sluice:')).toBe(true);
    expect(error.detail).toBe('The database server answered with SQLSTATE 28P01.');
    const text = clientErrorText(error);
    const logs = gw.logs.slice(logStart).join('');
    expect(logs).toContain('upstream login failed');
    for (const password of [PW.wrong, PW.scram]) {
      expect(text).not.toContain(password);
      expect(logs).not.toContain(password);
    }
  });

  it('picks up a rotated password file for new sessions without a restart; open sessions keep working', async () => {
    const before = await connect('rotate');
    try {
      expect((await before.query('SELECT current_user AS u')).rows[0]?.u).toBe('sluice_rotate');

      await tlsCluster.query(`ALTER ROLE sluice_rotate PASSWORD '${PW.rotate2}'`);
      // The file still holds the old password: new logins fail, which shows the file is what counts.
      expectLoginRefused(await refusal('rotate'), 'rotate');

      await writeFile(rotateFile, `${PW.rotate2}\n`);
      const after = await connect('rotate');
      try {
        expect((await after.query('SELECT 1 AS one')).rows[0]?.one).toBe(1);
      } finally {
        await after.end();
      }
      // The session opened under the old password is untouched by the rotation.
      expect((await before.query('SELECT 2 AS two')).rows[0]?.two).toBe(2);
    } finally {
      await before.end();
    }
  });
});

describe('auth.require: scram-sha-256', () => {
  it('still logs in to a SCRAM upstream', async () => {
    const rows = await queryOnce<{ u: string }>('scram-required', 'SELECT current_user AS u');
    expect(rows[0]?.u).toBe('sluice_scram');
  });

  it('MD5 works without the requirement', async () => {
    const [stored] = await md5Cluster.query<{ p: string }>(
      "SELECT rolpassword AS p FROM pg_authid WHERE rolname = 'sluice_md5'",
    );
    expect(stored?.p).toMatch(/^md5[0-9a-f]{32}$/);
    const rows = await queryOnce<{ u: string }>('md5', 'SELECT current_user AS u');
    expect(rows[0]?.u).toBe('sluice_md5');
  });

  it('refuses an upstream that asks for MD5', async () => {
    const logStart = gw.logs.length;
    expectLoginRefused(await refusal('md5-scram-required'), 'md5-scram-required');
    expect(gw.logs.slice(logStart).join('')).toMatch(/asked for MD5 authentication, refused/);
  });

  it('refuses a trust upstream (no proof at all), which works without the requirement', async () => {
    const rows = await queryOnce<{ u: string }>('trust', 'SELECT current_user AS u');
    expect(rows[0]?.u).toBe(trustDb.role);
    expectLoginRefused(await refusal('trust-scram-required'), 'trust-scram-required');
  });

  it('refuses a cleartext request even inside TLS', async () => {
    expectLoginRefused(await refusal('clear-tls-scram-required'), 'clear-tls-scram-required');
  });
});

describe('cleartext password upstream', () => {
  it('never sends a cleartext password without TLS', async () => {
    const logStart = gw.logs.length;
    const error = await refusal('clear-plain');
    expectLoginRefused(error, 'clear-plain');
    expect(gw.logs.slice(logStart).join('')).toMatch(/cleartext authentication, refused/);
    // The server never saw a password: it would have logged a failure, or let the role in.
    const log = await tlsCluster.readLog();
    expect(log).not.toMatch(/password authentication failed for user "sluice_clear"/);
    expect(log).not.toMatch(/connection authorized: user=sluice_clear database=postgres(?! SSL)/);
  });

  it('sends it inside TLS (tls: { mode: require })', async () => {
    const rows = await queryOnce<{ u: string; ssl: boolean }>(
      'clear-tls',
      'SELECT current_user AS u, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    expect(rows).toEqual([{ u: 'sluice_clear', ssl: true }]);
  });
});

describe('upstream TLS', () => {
  const tlsLogins = async (): Promise<number> =>
    countOf(await tlsCluster.readLog(), 'connection authorized: user=sluice_tls');

  it('verify-full with the right CA logs in over TLS', async () => {
    const rows = await queryOnce<{ ssl: boolean; version: string }>(
      'tls-verify',
      'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    expect(rows[0]?.ssl).toBe(true);
    expect(rows[0]?.version).toMatch(/^TLSv1\.[23]$/);
  });

  it('require encrypts without verifying', async () => {
    const rows = await queryOnce<{ ssl: boolean }>(
      'tls-require',
      'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    expect(rows[0]?.ssl).toBe(true);
  });

  for (const connection of ['tls-wrong-ca', 'tls-wrong-name']) {
    it(`${connection}: refused with 08001 and no plaintext fallback`, async () => {
      const loginsBefore = await tlsLogins();
      const error = await refusal(connection);
      expect(error.code).toBe('08001');
      expect(error.message).toBe(`sluice: TLS to the database behind connection "${connection}" failed`);
      // The role may log in without a password over plaintext (hostnossl trust): a fallback would
      // have succeeded, and shown up as a login and as a backend.
      expect(await tlsLogins()).toBe(loginsBefore);
      const backends = await tlsCluster.query(
        "SELECT pid FROM pg_stat_activity WHERE usename = 'sluice_tls'",
      );
      expect(backends).toEqual([]);
    });
  }

  it('require against a server with ssl=off is refused, no plaintext fallback', async () => {
    const count = async (): Promise<number> =>
      countOf(await md5Cluster.readLog(), 'connection authorized: user=sluice_md5');
    const loginsBefore = await count();
    const error = await refusal('tls-require-nossl');
    expect(error.code).toBe('08001');
    expect(error.message).toBe('sluice: TLS to the database behind connection "tls-require-nossl" failed');
    expect(await count()).toBe(loginsBefore);
  });
});

describe('misbehaving upstreams (fakes: a real server cannot do this)', () => {
  it('control: an honest SCRAM fake lets the gateway log in', async () => {
    const fake = fakes.get('honest');
    const sessionsBefore = fake?.sessions() ?? -1;
    const c = await connect('rogue-honest');
    await c.end();
    expect(fake?.sessions()).toBe(sessionsBefore + 1);
  });

  for (const behaviour of ['skip-final', 'bad-signature', 'short-signature'] as const) {
    it(`${behaviour}: refused, the session never starts`, async () => {
      const fake = fakes.get(behaviour);
      const error = await refusal(`rogue-${behaviour}`);
      expectLoginRefused(error, `rogue-${behaviour}`);
      // The fake did say ReadyForQuery; the gateway must not have used the connection.
      expect(fake?.sessions()).toBeGreaterThan(0);
      expect(fake?.afterLogin.filter((tag) => tag !== 'X')).toEqual([]);
      expect(clientErrorText(error)).not.toContain(PW.rogue);
    });
  }

  for (const behaviour of ['error-no-code', 'error-empty-mid-sasl'] as const) {
    it(`${behaviour}: a clean 08001, and the gateway keeps serving`, async () => {
      const error = await refusal(`rogue-${behaviour}`);
      expect(error.code).toBe('08001');
      expect(error.message).toBe(
        `sluice: the database behind connection "rogue-${behaviour}" refused the connection`,
      );
      expect(error.detail).toBeUndefined();
      const rows = await queryOnce<{ one: number }>('scram', 'SELECT 1 AS one');
      expect(rows).toEqual([{ one: 1 }]);
    });
  }
});

describe('misbehaving upstreams after login', () => {
  it('152: a DataRow that does not match its RowDescription closes the session, with no row delivered', async () => {
    const c = await connect('rogue-row-shape');
    const rowsSeen: unknown[] = [];
    const error = await c.query('SELECT 1').then(
      (result) => {
        rowsSeen.push(...result.rows);
        return undefined;
      },
      (e: unknown) => e as { code?: string; message: string },
    );
    await c.end().catch(() => undefined);
    expect(rowsSeen).toEqual([]);
    expect(error?.code).toBe('08P01');
    expect(error?.message ?? '').not.toContain('4111111111111111');
    const rows = await queryOnce<{ one: number }>('scram', 'SELECT 1 AS one');
    expect(rows).toEqual([{ one: 1 }]);
  });

  it('151: an ErrorResponse without SQLSTATE reaches the client as an error; the session and gateway go on', async () => {
    const c = await connect('rogue-query-error-no-code');
    try {
      for (let i = 0; i < 2; i++) {
        const error = await c.query('SELECT 1').then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect(error?.message).toBe('no code here');
      }
    } finally {
      await c.end();
    }
  });
});

describe("upstream work the gateway does on a server's say-so", () => {
  it('a server asking for a huge SCRAM iteration count does not stall the gateway', async () => {
    // Everything here (gateway, fake, clients) shares one event loop: a gap between ticks is a
    // moment when no session anywhere in the gateway made progress.
    let last = performance.now();
    let longestGap = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      longestGap = Math.max(longestGap, now - last);
      last = now;
    }, 5);
    try {
      const error = await refusal('rogue-huge-iterations');
      expect(error.code).toBe('08001');
    } finally {
      clearInterval(ticker);
    }
    expect(longestGap).toBeLessThan(1000);
  });

  it('an unreadable password file is a clean 08001, and the gateway keeps serving', async () => {
    const error = await refusal('missing-password-file');
    expect(error.code).toBe('08001');
    expect(error.message.startsWith('sluice: the database behind connection "missing-password-file"')).toBe(
      true,
    );
    expect(await queryOnce('scram', 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });
});

describe('secrets', () => {
  it('no upstream password or API key appears in any gateway log line', () => {
    expect(gw.logs.length).toBeGreaterThan(0);
    const logs = gw.logs.join('');
    for (const [name, value] of Object.entries({ ...PW, key })) {
      expect(logs.includes(value), `${name} leaked into the logs`).toBe(false);
    }
  });
});
