/**
 * OIDC tokens as PostgreSQL passwords: a real OpenID provider (`oidc-provider`) in this process
 * issues client-credentials access tokens; `pg` and the real psql binary present them through a
 * real gateway in front of the main PostgreSQL cluster.
 */
import { randomBytes } from 'node:crypto';
import { base64url, decodeProtectedHeader, type JWTPayload, SignJWT } from 'jose';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { OIDC_ALGORITHMS, type OidcIssuerConfig } from '../../src/config/schema.ts';
import { looksLikeJwt, OidcAuthenticator, type OidcFetch } from '../../src/identity/oidc.ts';
import { recordCredential } from '../helpers/credential-log.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import {
  AUDIENCE,
  newSigningKey,
  signToken,
  startOidcProvider,
  type TestOidcProvider,
} from '../helpers/oidc-provider.ts';
import { gatewayClient } from '../helpers/pg-client.ts';
import { createTestDatabase, PG_HOST, PG_PORT, type TestDatabase } from '../helpers/postgres.ts';
import { connectExpectingRefusal, observable } from '../helpers/refusal.ts';
import { run } from '../helpers/run.ts';

/** The gateway's JWKS cooldown in this file: short, so the refresh tests need not wait 30 s. */
const COOLDOWN_MS = 2_000;
const READERS = 'sluice-readers';

let idp: TestOidcProvider;
let db: TestDatabase;
let gw: TestGateway;
/** Every token presented in this file, valid or not; none may reach a log line. */
const presented: string[] = [];
/** A valid token; logging in with it clears the gateway's failure backoff for JWTs. */
let resetToken: string;
/** Each refused attempt comes from its own loopback address (127.0.0.10, .11, …). */
let nextSource = 10;

beforeAll(async () => {
  idp = await startOidcProvider();
  db = await createTestDatabase('sluice_oidc');
  gw = await startTestGateway({
    yaml: [
      'connections:',
      '  - name: app',
      '    type: postgres',
      `    url: postgres://${db.role}@${PG_HOST}:${PG_PORT}/${db.name}`,
      'policies:',
      '  - name: readers-app',
      `    subjects: { groups: [${READERS}] }`,
      '    connections: [app]',
      'identity:',
      '  oidc:',
      `    - issuer: ${idp.issuer}`,
      `      audience: ${AUDIENCE}`,
      '      subjectPrefix: "ci:"',
      `      jwksCooldown: ${COOLDOWN_MS}ms`,
      '  revalidateEvery: 1s',
    ].join('\n'),
  });
  resetToken = await issued([READERS]);
});

afterAll(async () => {
  await gw?.close();
  await db?.drop();
  await idp?.close();
});

async function issued(groups?: readonly string[]): Promise<string> {
  const token = await idp.token(groups);
  presented.push(token);
  recordCredential(token);
  return token;
}

/** Claims of a token the provider would issue, for tokens this file signs itself. */
function claims(overrides: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: idp.issuer,
    aud: AUDIENCE,
    sub: 'forger',
    groups: [READERS],
    iat: now,
    exp: now + 300,
    ...overrides,
  };
}

function client(password: string, sourceAddress = '127.0.0.1') {
  return gatewayClient(gw, password, { sourceAddress });
}

async function queryAs(token: string): Promise<{ db: string; u: string }[]> {
  const c = client(token);
  await c.connect();
  try {
    return (await c.query<{ db: string; u: string }>('SELECT current_database() AS db, current_user AS u'))
      .rows;
  } finally {
    await c.end();
  }
}

/**
 * Presents a credential expected to be refused. The gateway holds failure answers back
 * exponentially per source address and per credential kind (all JWTs share one bucket); so that
 * this file tests verification rather than that backoff, each attempt comes from a fresh address
 * and is followed by a good login, which clears the JWT bucket.
 */
async function refusal(
  password: string,
  what = 'the connection',
  options: { reset: boolean } = { reset: true },
): Promise<pg.DatabaseError> {
  presented.push(password);
  recordCredential(password);
  const error = await connectExpectingRefusal(client(password, `127.0.0.${nextSource++}`), what);
  if (options.reset) await queryAs(resetToken);
  return error;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('tokens from the IdP as passwords', () => {
  it('pg connects with a provider token and queries upstream', async () => {
    expect(await queryAs(await issued([READERS]))).toEqual([{ db: db.name, u: db.role }]);
  });

  it('psql connects with a provider token (PGPASSWORD, sslmode=require)', async () => {
    const token = await issued([READERS]);
    const conninfo = `host=${gw.host} port=${gw.port} dbname=app user=agent sslmode=require connect_timeout=10`;
    const result = await run('psql', ['-X', '-w', '-At', '-d', conninfo, '-c', 'SELECT current_database()'], {
      env: { PGPASSWORD: token, LANG: 'C', LC_ALL: 'C' },
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(db.name);
  });

  it('the group in the token decides access: a group no policy names gets 42501', async () => {
    const token = await issued(['nobody-grants-this']);
    const error = await connectExpectingRefusal(client(token), 'an ungranted token');
    expect(error.code).toBe('42501');
    expect(error.message).toBe(
      'sluice: blocked by policy: no policy grants "ci:sluice-ci" access to connection "app"',
    );
    const noGroups = await issued();
    expect((await connectExpectingRefusal(client(noGroups), 'a token without groups')).code).toBe('42501');
  });

  it('a token this file signs with the provider key and valid claims is accepted (control for the forgeries)', async () => {
    const token = await signToken(claims(), idp.signingKey());
    presented.push(token);
    recordCredential(token);
    expect(await queryAs(token)).toEqual([{ db: db.name, u: db.role }]);
  });
});

describe('token lifetime on live sessions', () => {
  it('a session opened with a token is closed with 28000 once the token expires', async () => {
    const expiresInSeconds = 3;
    const token = await signToken(
      claims({ exp: Math.floor(Date.now() / 1000) + expiresInSeconds }),
      idp.signingKey(),
    );
    presented.push(token);
    recordCredential(token);
    const c = client(token);
    const closed = new Promise<Error & { code?: string }>((resolve) => c.on('error', resolve));
    await c.connect();
    expect((await c.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    const error = await closed;
    expect(error.code).toBe('28000');
    expect(error.message).toBe('sluice: credential expired');
  });
});

describe('every bad token gets the same 28P01 as a wrong API key', () => {
  const cases: Record<string, () => Promise<string>> = {
    'signed by another key with the same kid': async () =>
      signToken(claims(), await newSigningKey(idp.signingKey().kid)),
    'signed by another key with another kid': async () => signToken(claims(), await newSigningKey()),
    expired: async () => {
      const now = Math.floor(Date.now() / 1000);
      return signToken(claims({ iat: now - 900, exp: now - 120 }), idp.signingKey());
    },
    'not yet valid (nbf beyond the skew)': async () =>
      signToken(claims({ nbf: Math.floor(Date.now() / 1000) + 600 }), idp.signingKey()),
    'wrong aud': async () => signToken(claims({ aud: 'another-service' }), idp.signingKey()),
    'wrong iss': async () => signToken(claims({ iss: 'https://idp.attacker.example' }), idp.signingKey()),
    'iss with a trailing slash': async () => signToken(claims({ iss: `${idp.issuer}/` }), idp.signingKey()),
    'no sub': async () => {
      const { sub: _omitted, ...withoutSub } = claims();
      return signToken(withoutSub, idp.signingKey());
    },
    'typ of another token kind': async () => signToken(claims(), idp.signingKey(), { typ: 'dpop+jwt' }),
    'alg none': async () => {
      const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
      return `${header}.${base64url.encode(JSON.stringify(claims()))}.`;
    },
    'HS256 with the provider RSA public key as the HMAC secret': async () => {
      const key = idp.signingKey();
      return new SignJWT(claims())
        .setProtectedHeader({ alg: 'HS256', kid: key.kid, typ: 'at+jwt' })
        .sign(new TextEncoder().encode(key.publicKeyPem));
    },
    garbage: async () => `garbage-${randomBytes(12).toString('hex')}`,
    'JWT-shaped garbage': async () =>
      `${randomBytes(12).toString('base64url')}.${randomBytes(30).toString('base64url')}.${randomBytes(20).toString('base64url')}`,
  };

  it('each is refused identically', async () => {
    const reference = observable(await refusal(`slk_${randomBytes(32).toString('base64url')}`));
    expect(reference).toMatchObject({
      code: '28P01',
      severity: 'FATAL',
      message: 'sluice: password authentication failed',
    });
    for (const [name, make] of Object.entries(cases)) {
      expect(observable(await refusal(await make(), `a token ${name}`)), name).toEqual(reference);
    }
  });

  it('an unknown kid refetches the JWKS once, and not again within the cooldown', async () => {
    const stranger = await newSigningKey();
    const unknownKid = await signToken(claims(), stranger);
    const burst = await Promise.all(
      Array.from({ length: 5 }, () =>
        signToken(claims(), stranger, { kid: `made-up-${randomBytes(4).toString('hex')}` }),
      ),
    );
    await sleep(COOLDOWN_MS + 200);
    const before = idp.requests('/jwks');
    expect(before).toBeGreaterThan(0);
    // No backoff reset in between: the burst must start well inside the cooldown.
    expect((await refusal(unknownKid, 'an unknown kid', { reset: false })).code).toBe('28P01');
    expect(idp.requests('/jwks')).toBe(before + 1);
    // A burst of made-up kids inside the cooldown costs the IdP nothing.
    const errors = await Promise.all(burst.map((token) => refusal(token)));
    expect(errors.map((error) => error.code)).toEqual(Array(5).fill('28P01'));
    expect(idp.requests('/jwks')).toBe(before + 1);
    // Known keys still verify from the cache.
    expect(await queryAs(await issued([READERS]))).toHaveLength(1);
    expect(idp.requests('/jwks')).toBe(before + 1);
  });
});

describe('OIDC tokens on the admin API', () => {
  it('a token in the admin group may administer; one without it gets 403', async () => {
    const admin = gw.gateway.admin;
    if (!admin) throw new Error('admin server not running');
    const keys = (token: string) =>
      fetch(`http://${admin.host}:${admin.port}/api/v1/keys`, {
        headers: { authorization: `Bearer ${token}` },
      });
    expect((await keys(await issued(['sluice-admins']))).status).toBe(200);
    expect((await keys(await issued([READERS]))).status).toBe(403);
    const expired = await signToken(
      claims({ groups: ['sluice-admins'], exp: Math.floor(Date.now() / 1000) - 60 }),
      idp.signingKey(),
    );
    presented.push(expired);
    recordCredential(expired);
    expect((await keys(expired)).status).toBe(401);
  });
});

describe('key rotation at the IdP', () => {
  it('tokens signed with a new key validate without restarting the gateway', async () => {
    const before = await issued([READERS]);
    expect(await queryAs(before)).toHaveLength(1);
    const oldKid = idp.signingKey().kid;
    const rotated = await idp.rotateKeys();
    expect(rotated.kid).not.toBe(oldKid);
    await sleep(COOLDOWN_MS + 200);
    const jwksBefore = idp.requests('/jwks');
    const after = await issued([READERS]);
    expect(decodeProtectedHeader(after).kid).toBe(rotated.kid);
    expect(await queryAs(after)).toEqual([{ db: db.name, u: db.role }]);
    expect(idp.requests('/jwks')).toBe(jwksBefore + 1);
    // The old key is still published, so a token it signed stays valid until it expires.
    expect(await queryAs(before)).toHaveLength(1);
  });
});

describe('the authenticator on its own, against the same provider', () => {
  function issuerConfig(overrides: Partial<OidcIssuerConfig> = {}): OidcIssuerConfig {
    return {
      issuer: idp.issuer,
      audience: [AUDIENCE],
      groupsClaim: 'groups',
      subjectPrefix: '',
      kind: 'workload',
      algorithms: ['RS256', 'ES256'],
      clockSkewMs: 30_000,
      jwksCooldownMs: 30_000,
      ...overrides,
    };
  }

  it('maps a token to a principal: id by issuer and subject, prefixed name, kind, claims, expiry', async () => {
    const auth = new OidcAuthenticator([issuerConfig({ subjectPrefix: 'gl:', kind: 'human' })]);
    const token = await issued(['a', 'b']);
    const principal = await auth.authenticate(token);
    expect(principal).toMatchObject({
      id: `oidc:${idp.issuer}#sluice-ci`,
      kind: 'human',
      name: 'gl:sluice-ci',
      groups: ['a', 'b'],
      claims: { iss: idp.issuer, aud: AUDIENCE, sub: 'sluice-ci', client_id: 'sluice-ci' },
    });
    const exp = principal?.claims.exp;
    expect(typeof exp).toBe('number');
    expect(principal?.expiresAt).toEqual(new Date((exp as number) * 1000));
  });

  it('reads groups from a dotted path through claim names with dots, and from separated strings', async () => {
    const auth = new OidcAuthenticator([issuerConfig({ groupsClaim: 'kubernetes.io.namespace' })]);
    const k8s = await signToken(
      claims({ 'kubernetes.io': { namespace: 'payments', serviceaccount: { name: 'etl' } } }),
      idp.signingKey(),
      { typ: 'JWT' },
    );
    expect((await auth.authenticate(k8s))?.groups).toEqual(['payments']);
    const nested = new OidcAuthenticator([issuerConfig({ groupsClaim: 'realm_access.roles' })]);
    const keycloak = await signToken(claims({ realm_access: { roles: ['dba', 'dev'] } }), idp.signingKey());
    expect((await nested.authenticate(keycloak))?.groups).toEqual(['dba', 'dev']);
    const spaced = await signToken(claims({ groups: 'ops, dev  dba,ops' }), idp.signingKey());
    expect((await auth.authenticate(spaced))?.groups).toEqual([]);
    expect((await new OidcAuthenticator([issuerConfig()]).authenticate(spaced))?.groups).toEqual([
      'ops',
      'dev',
      'dba',
    ]);
  });

  it('discovers once for many concurrent tokens, and refuses an issuer whose document names another', async () => {
    const urls: string[] = [];
    const counting: OidcFetch = (url, init) => {
      urls.push(url);
      return fetch(url, init);
    };
    const auth = new OidcAuthenticator([issuerConfig()], { fetch: counting });
    const token = await issued([READERS]);
    const principals = await Promise.all(Array.from({ length: 10 }, () => auth.authenticate(token)));
    expect(principals.every((p) => p?.name === 'sluice-ci')).toBe(true);
    expect(urls).toEqual([`${idp.issuer}/.well-known/openid-configuration`, `${idp.issuer}/jwks`]);

    // The configured issuer has a trailing slash; the provider's document does not.
    const slash = `${idp.issuer}/`;
    const mismatched = new OidcAuthenticator([issuerConfig({ issuer: slash })]);
    expect(await mismatched.authenticate(await signToken(claims({ iss: slash }), idp.signingKey()))).toBe(
      undefined,
    );
  });

  it('retries a failed discovery only after the cooldown', async () => {
    let now = Date.now();
    const urls: string[] = [];
    const failing: OidcFetch = async (url) => {
      urls.push(url);
      return new Response('{}', { status: 503 });
    };
    const auth = new OidcAuthenticator([issuerConfig({ jwksCooldownMs: 5_000 })], {
      fetch: failing,
      clock: () => new Date(now),
    });
    const token = await issued([READERS]);
    expect(await auth.authenticate(token)).toBe(undefined);
    expect(await auth.authenticate(token)).toBe(undefined);
    expect(urls).toHaveLength(1);
    now += 5_001;
    expect(await auth.authenticate(token)).toBe(undefined);
    expect(urls).toHaveLength(2);
  });

  it('checks expiry against its clock, with the configured skew', async () => {
    let now = Date.now();
    const auth = new OidcAuthenticator([issuerConfig({ clockSkewMs: 10_000 })], {
      clock: () => new Date(now),
    });
    const exp = Math.floor(now / 1000) + 60;
    const token = await signToken(claims({ exp }), idp.signingKey());
    expect(await auth.authenticate(token)).toBeDefined();
    now = exp * 1000 + 9_000;
    expect(await auth.authenticate(token)).toBeDefined();
    now = exp * 1000 + 11_000;
    expect(await auth.authenticate(token)).toBe(undefined);
  });

  it('recognises JWT-shaped credentials for routing', () => {
    expect(looksLikeJwt('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln')).toBe(true);
    expect(looksLikeJwt('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.')).toBe(true);
    expect(looksLikeJwt(`slk_${randomBytes(32).toString('base64url')}`)).toBe(false);
    expect(looksLikeJwt('a.b')).toBe(false);
    expect(looksLikeJwt('a.b.c.d')).toBe(false);
    expect(looksLikeJwt('a+b.c.d')).toBe(false);
  });
});

describe('identity config', () => {
  const parse = (...oidc: string[]) =>
    parseConfig(['connections: []', 'identity:', '  oidc:', ...oidc].join('\n'), 'sluice.yaml');

  it('fills in the defaults', () => {
    expect(parse('    - { issuer: "https://idp.example.com", audience: sluice }').identity).toEqual({
      oidc: [
        {
          issuer: 'https://idp.example.com',
          audience: ['sluice'],
          groupsClaim: 'groups',
          subjectPrefix: '',
          kind: 'workload',
          algorithms: [...OIDC_ALGORITHMS],
          clockSkewMs: 30_000,
          jwksCooldownMs: 30_000,
        },
      ],
      revalidateEveryMs: 60_000,
      backoff: { freeFailures: 3, baseDelayMs: 250, maxDelayMs: 5000 },
    });
    expect(parseConfig('connections: []\n', 'sluice.yaml').identity).toEqual({
      oidc: [],
      revalidateEveryMs: 60_000,
      backoff: { freeFailures: 3, baseDelayMs: 250, maxDelayMs: 5000 },
    });
  });

  it('refuses plain http to a non-loopback issuer, symmetric algorithms and none, and duplicate issuers', () => {
    expect(() => parse('    - { issuer: "http://idp.example.com", audience: sluice }')).toThrow(
      /sluice\.yaml:4:17 identity\.oidc\[0\]\.issuer: http:\/\/ is only allowed for a loopback issuer/,
    );
    expect(() =>
      parse('    - { issuer: "https://idp.example.com", audience: s, algorithms: [RS256, HS256] }'),
    ).toThrow(
      /identity\.oidc\[0\]\.algorithms\[1\]: symmetric \(HS\*\) algorithms and none are not accepted/,
    );
    expect(() =>
      parse('    - { issuer: "https://idp.example.com", audience: s, algorithms: [none] }'),
    ).toThrow(/algorithms\[0\]: symmetric/);
    expect(() =>
      parse(
        '    - { issuer: "https://idp.example.com", audience: a }',
        '    - { issuer: "https://idp.example.com", audience: b }',
      ),
    ).toThrow(/identity\.oidc\[1\]\.issuer: duplicate issuer \(also identity\.oidc\[0\]\)/);
    expect(() => parse('    - { issuer: "http://127.0.0.1:9000", audience: s, clockSkew: 1h }')).toThrow(
      /clockSkew: must be at most 5m/,
    );
  });
});

describe('secrets', () => {
  it('no token presented in this file appears in any gateway log line', () => {
    const logs = gw.logs.join('');
    expect(logs).toContain('authentication failed');
    expect(presented.length).toBeGreaterThan(15);
    for (const token of presented) {
      // The payload and the signature are what make a token usable; neither may show.
      const parts = token.split('.').filter((part) => part.length >= 16);
      for (const part of [token, ...parts.slice(1)]) {
        expect(logs.includes(part), `part of a token (${token.slice(0, 10)}…) leaked into the logs`).toBe(
          false,
        );
      }
    }
  });
});
