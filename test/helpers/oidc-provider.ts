/**
 * A real OpenID provider (the `oidc-provider` package) on 127.0.0.1, in the test process. One
 * client uses the client-credentials grant; its access tokens are JWTs (`typ: at+jwt`) for the
 * resource `urn:sluice`, with `aud: sluice` and the requested `groups`.
 *
 * The signing keys are generated here with jose, so tests can rotate them (a new provider
 * instance behind the same address and issuer, publishing the new key first and the previous ones
 * after it) and can sign tokens of their own with the provider's key or with any other.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type CryptoKey,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';
import Provider from 'oidc-provider';

export const RESOURCE = 'urn:sluice';
export const AUDIENCE = 'sluice';
export const CLIENT_ID = 'sluice-ci';
const ALG = 'RS256';
const TOKEN_TTL_SECONDS = 300;

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  /** The public key as SPKI PEM, the text an HS/RS confusion attack uses as an HMAC secret. */
  readonly publicKeyPem: string;
  readonly privateJwk: JWK;
}

export interface TestOidcProvider {
  readonly issuer: string;
  /** A fresh access token from the token endpoint, with `groups` as its groups claim. */
  token(groups?: readonly string[]): Promise<string>;
  /** The key the provider signs new tokens with. */
  signingKey(): SigningKey;
  /** Requests served so far for a path, e.g. `/jwks`. */
  requests(path: string): number;
  /** Publishes a new signing key (first) and signs every later token with it. */
  rotateKeys(): Promise<SigningKey>;
  close(): Promise<void>;
}

/** An RSA key pair with a random kid; also for tests that forge tokens with a key of their own. */
export async function newSigningKey(kid = `k-${randomBytes(6).toString('hex')}`): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
  return {
    kid,
    privateKey,
    publicKey,
    publicKeyPem: await exportSPKI(publicKey),
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: ALG, use: 'sig' },
  };
}

/** Signs `payload` as a JWT with `key`; the header is `{ alg: RS256, kid, typ: at+jwt }` unless overridden. */
export async function signToken(
  payload: JWTPayload,
  key: SigningKey,
  header: { kid?: string; typ?: string } = {},
): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: ALG, kid: header.kid ?? key.kid, typ: header.typ ?? 'at+jwt' })
    .sign(key.privateKey);
}

export async function startOidcProvider(): Promise<TestOidcProvider> {
  const clientSecret = randomBytes(24).toString('base64url');
  const counts = new Map<string, number>();
  let handler: ReturnType<Provider['callback']> | undefined;
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    if (handler) handler(request, response);
    else response.writeHead(503).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let keys: SigningKey[] = [];
  const install = (signWith: SigningKey) => {
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: CLIENT_ID,
          client_secret: clientSecret,
          grant_types: ['client_credentials'],
          redirect_uris: [],
          response_types: [],
          token_endpoint_auth_method: 'client_secret_post',
        },
      ],
      jwks: { keys: keys.map((key) => key.privateJwk) },
      features: {
        clientCredentials: { enabled: true },
        devInteractions: { enabled: false },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => RESOURCE,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, resource: string) => {
            if (resource !== RESOURCE) throw new Error(`unknown resource ${resource}`);
            return {
              scope: 'sql',
              audience: AUDIENCE,
              accessTokenFormat: 'jwt',
              accessTokenTTL: TOKEN_TTL_SECONDS,
              jwt: { sign: { alg: ALG, kid: signWith.kid } },
            };
          },
        },
      },
      // The token request's `groups` form field (space separated) becomes the groups claim.
      extraTokenClaims: (ctx: { oidc?: { body?: Record<string, unknown> } }) => {
        const requested = ctx.oidc?.body?.groups;
        return typeof requested === 'string' ? { groups: requested.split(' ').filter(Boolean) } : undefined;
      },
      ttl: { ClientCredentials: TOKEN_TTL_SECONDS },
    });
    handler = provider.callback();
  };

  const rotateKeys = async () => {
    const key = await newSigningKey();
    keys = [key, ...keys];
    install(key);
    return key;
  };
  await rotateKeys();

  return {
    issuer,
    async token(groups) {
      const form = new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: CLIENT_ID,
        client_secret: clientSecret,
        resource: RESOURCE,
      });
      if (groups) form.set('groups', groups.join(' '));
      const response = await fetch(`${issuer}/token`, { method: 'POST', body: form });
      const body = (await response.json()) as { access_token?: string; error?: string };
      if (response.status !== 200 || !body.access_token) {
        throw new Error(`token request failed: ${response.status} ${body.error ?? ''}`);
      }
      return body.access_token;
    },
    signingKey() {
      const [current] = keys;
      if (!current) throw new Error('no signing key');
      return current;
    },
    requests(path) {
      return counts.get(path) ?? 0;
    },
    rotateKeys,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}
