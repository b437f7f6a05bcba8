/**
 * @module identity/oidc
 * OIDC / JWT bearer tokens as credentials: a CI job's or a pod's token from a configured issuer
 * (GitHub Actions, GitLab CI, a Kubernetes cluster, a company IdP) goes where a password goes.
 *
 * Per issuer: discovery (`<issuer>/.well-known/openid-configuration`) once, lazily, on the first
 * token that names it; then the JWKS through jose's remote key set, which caches the keys (at most
 * {@link JWKS_CACHE_MAX_AGE_MS}), fetches again when a token names an unknown `kid`, and does so at
 * most once per `jwksCooldown`, so tokens with made-up `kid`s cannot make Sluice hammer the IdP.
 * A failed discovery or JWKS fetch is not retried before the same cooldown has passed.
 *
 * Every failure (malformed, unknown issuer, bad signature, wrong audience, expired, IdP down…)
 * returns `undefined`, and is logged at debug with a reason code, never with the token.
 */
import {
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  type FetchImplementation,
  type JWTPayload,
  jwtVerify,
  type RemoteJWKSet,
} from 'jose';
import { isLoopback, type OidcIssuerConfig } from '../config/schema.ts';
import { type Logger, silentLogger } from '../core/logger.ts';
import type { Authenticator, Principal } from './principal.ts';

export type { OidcIssuerConfig } from '../config/schema.ts';

export const OIDC_DISCOVERY_PATH = '/.well-known/openid-configuration';

/** Keys are fetched again after this long even when every `kid` is known (jose's default). */
export const JWKS_CACHE_MAX_AGE_MS = 10 * 60_000;

/** Per HTTP request to the issuer (discovery and JWKS). */
const FETCH_TIMEOUT_MS = 5_000;

/**
 * Far above any real token (GitHub's and Kubernetes' are 1-2 KiB, Entra ID's with many groups a
 * few KiB); longer input is refused before it is decoded.
 */
const MAX_TOKEN_LENGTH = 32 * 1024;

/** A compact JWS: three base64url segments; the signature is empty for `alg: none`. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** `typ` values accepted when present (RFC 7519 §5.1, RFC 9068 §2.1), compared case-insensitively. */
const ACCEPTED_TYP = new Set(['jwt', 'at+jwt', 'application/jwt', 'application/at+jwt']);

const REQUIRED_CLAIMS = ['exp', 'iss', 'aud', 'sub'];

const PRINCIPAL_ID_PREFIX = 'oidc:';

/** Whether a credential has the shape of a compact JWT, for routing it to OIDC rather than API keys. */
export function looksLikeJwt(credential: string): boolean {
  return credential.length <= MAX_TOKEN_LENGTH && JWT_SHAPE.test(credential);
}

/** The principal id of a token's subject: `oidc:<issuer>#<sub>`, unambiguous across issuers. */
export function oidcPrincipalId(issuer: string, subject: string): string {
  return `${PRINCIPAL_ID_PREFIX}${issuer}#${subject}`;
}

export type OidcFetch = (url: string, init: RequestInit) => Promise<Response>;

export interface OidcAuthenticatorOptions {
  /** HTTP client for discovery and JWKS requests; the global `fetch` by default. */
  readonly fetch?: OidcFetch;
  /** Time for `exp`/`nbf` checks and retry floors. */
  readonly clock?: () => Date;
  readonly logger?: Logger;
}

/** A rejection with a reason code for the debug log; never carries token content. */
class Rejected extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(reason);
    this.reason = reason;
  }
}

interface IssuerState {
  readonly config: OidcIssuerConfig;
  keys: RemoteJWKSet | undefined;
  discovery: Promise<RemoteJWKSet> | undefined;
  /** Clock time (ms) of the last failed discovery, for the retry floor. */
  discoveryFailedAt: number | undefined;
  /** Clock time (ms) of the last failed JWKS fetch, for the retry floor. */
  jwksFailedAt: number | undefined;
}

export class OidcAuthenticator implements Authenticator {
  readonly #issuers = new Map<string, IssuerState>();
  readonly #fetch: OidcFetch;
  readonly #clock: () => Date;
  readonly #log: Logger;

  constructor(issuers: readonly OidcIssuerConfig[], options: OidcAuthenticatorOptions = {}) {
    for (const config of issuers) {
      this.#issuers.set(config.issuer, {
        config,
        keys: undefined,
        discovery: undefined,
        discoveryFailedAt: undefined,
        jwksFailedAt: undefined,
      });
    }
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
    this.#clock = options.clock ?? (() => new Date());
    this.#log = options.logger ?? silentLogger;
  }

  async authenticate(credential: string): Promise<Principal | undefined> {
    try {
      return await this.#verify(credential);
    } catch (error) {
      this.#log.debug({ reason: reasonOf(error) }, 'OIDC token rejected');
      return undefined;
    }
  }

  async #verify(credential: string): Promise<Principal> {
    if (!looksLikeJwt(credential)) throw new Rejected('malformed');
    // The unverified `iss` only picks which issuer's keys to check the signature with; the
    // verification below demands the same value again.
    let issuerClaim: unknown;
    let typ: unknown;
    try {
      issuerClaim = decodeJwt(credential).iss;
      typ = decodeProtectedHeader(credential).typ;
    } catch {
      throw new Rejected('malformed');
    }
    const state = typeof issuerClaim === 'string' ? this.#issuers.get(issuerClaim) : undefined;
    if (!state) throw new Rejected('unknown_issuer');
    if (typ !== undefined && (typeof typ !== 'string' || !ACCEPTED_TYP.has(typ.toLowerCase()))) {
      throw new Rejected('unexpected_typ');
    }
    const { config } = state;
    const keys = await this.#keys(state);
    const { payload } = await jwtVerify(credential, keys, {
      issuer: config.issuer,
      audience: config.audience,
      algorithms: config.algorithms,
      clockTolerance: config.clockSkewMs / 1000,
      requiredClaims: REQUIRED_CLAIMS,
      currentDate: this.#clock(),
    });
    return this.#principal(config, payload);
  }

  #principal(config: OidcIssuerConfig, payload: JWTPayload): Principal {
    const { sub, exp } = payload;
    if (typeof sub !== 'string' || sub === '') throw new Rejected('bad_subject');
    if (typeof exp !== 'number') throw new Rejected('bad_expiry');
    return {
      id: oidcPrincipalId(config.issuer, sub),
      kind: config.kind,
      name: config.subjectPrefix + sub,
      groups: groupsFrom(claimAt(payload, config.groupsClaim)),
      claims: Object.freeze({ ...payload }),
      expiresAt: new Date(exp * 1000),
    };
  }

  /** The issuer's key set, discovering it first if needed (one discovery in flight per issuer). */
  #keys(state: IssuerState): Promise<RemoteJWKSet> {
    if (state.keys) return Promise.resolve(state.keys);
    if (!state.discovery) {
      const now = this.#clock().getTime();
      if (
        state.discoveryFailedAt !== undefined &&
        now - state.discoveryFailedAt < state.config.jwksCooldownMs
      ) {
        return Promise.reject(new Rejected('discovery_backoff'));
      }
      state.discovery = this.#discover(state).then(
        (keys) => {
          state.keys = keys;
          state.discovery = undefined;
          return keys;
        },
        (error: unknown) => {
          state.discoveryFailedAt = this.#clock().getTime();
          state.discovery = undefined;
          this.#log.warn(
            { issuer: state.config.issuer, reason: reasonOf(error) },
            'OIDC discovery failed; tokens from this issuer are refused until it succeeds',
          );
          throw error;
        },
      );
    }
    return state.discovery;
  }

  async #discover(state: IssuerState): Promise<RemoteJWKSet> {
    const { issuer, jwksCooldownMs } = state.config;
    const url = issuer.replace(/\/+$/, '') + OIDC_DISCOVERY_PATH;
    const response = await this.#fetch(url, {
      method: 'GET',
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
    if (response.status !== 200) throw new Rejected(`discovery_http_${response.status}`);
    let document: unknown;
    try {
      document = await response.json();
    } catch {
      throw new Rejected('discovery_not_json');
    }
    if (typeof document !== 'object' || document === null) throw new Rejected('discovery_not_object');
    const { issuer: advertised, jwks_uri: jwksUri } = document as Record<string, unknown>;
    // OpenID Connect Discovery §4.3: the document must name exactly the issuer it was fetched for.
    if (advertised !== issuer) throw new Rejected('discovery_issuer_mismatch');
    if (typeof jwksUri !== 'string' || !isAcceptableJwksUri(jwksUri))
      throw new Rejected('discovery_bad_jwks_uri');

    const fetchJwks: FetchImplementation = async (jwksUrl, init) => {
      const now = this.#clock().getTime();
      if (state.jwksFailedAt !== undefined && now - state.jwksFailedAt < jwksCooldownMs) {
        throw new Rejected('jwks_backoff');
      }
      try {
        const jwksResponse = await this.#fetch(jwksUrl, init);
        state.jwksFailedAt = jwksResponse.status === 200 ? undefined : this.#clock().getTime();
        return jwksResponse;
      } catch (error) {
        state.jwksFailedAt = this.#clock().getTime();
        throw error;
      }
    };
    return createRemoteJWKSet(new URL(jwksUri), {
      cooldownDuration: jwksCooldownMs,
      cacheMaxAge: JWKS_CACHE_MAX_AGE_MS,
      timeoutDuration: FETCH_TIMEOUT_MS,
      [customFetch]: fetchJwks,
    });
  }
}

/** https, or http to a loopback host (a local IdP in development and tests). */
function isAcceptableJwksUri(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && isLoopback(url.hostname.replace(/^\[(.*)\]$/, '$1'));
}

/**
 * The claim at a dotted path. Claim names may themselves contain dots (Kubernetes puts its claims
 * under `kubernetes.io`), so at each level the longest key that matches a prefix of the path wins:
 * `kubernetes.io.namespace` finds `{"kubernetes.io": {"namespace": …}}`.
 */
export function claimAt(claims: Readonly<Record<string, unknown>>, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  const segments = path.split('.');
  for (let split = segments.length - 1; split >= 1; split--) {
    const head = segments.slice(0, split).join('.');
    if (!Object.hasOwn(claims, head)) continue;
    const value = claims[head];
    if (typeof value !== 'object' || value === null || Array.isArray(value)) continue;
    const found = claimAt(value as Record<string, unknown>, segments.slice(split).join('.'));
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Groups from a claim value: a list of strings, or one string holding several separated by
 * spaces or commas (`"admin dev"`, `"admin,dev"`). Numbers count as their decimal text; anything
 * else (objects, booleans, null) contributes nothing.
 */
export function groupsFrom(value: unknown): string[] {
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[\s,]+/) : [value];
  const groups = new Set<string>();
  for (const item of items) {
    if (typeof item === 'string' && item !== '') groups.add(item);
    else if (typeof item === 'number' && Number.isFinite(item)) groups.add(String(item));
  }
  return [...groups];
}

function reasonOf(error: unknown): string {
  if (error instanceof Rejected) return error.reason;
  if (error instanceof Error) {
    const { code } = error as { code?: unknown };
    if (typeof code === 'string') return code;
    // fetch() failures are a TypeError whose cause says what happened (ECONNREFUSED, a timeout…).
    const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
    if (typeof cause?.code === 'string') return cause.code;
    return typeof cause?.message === 'string' ? `${error.name}: ${cause.message}` : error.name;
  }
  return 'unknown';
}
