/**
 * @module identity/auth-throttle
 * Exponential backoff after failed logins, per source address and per credential prefix.
 *
 * The delay is applied to the *failure* answer, never to a successful login: a legitimate client
 * (from any address, even one whose key prefix is being hammered) is never slowed, while an
 * attacker holds each connection for the backoff before learning the verdict. Combined with the
 * caps on concurrent unauthenticated connections (per address and global), that bounds guesses
 * per second to about cap ÷ delay, whatever the number of connections opened.
 *
 * Memory is bounded: each table keeps at most `maxTracked` entries (oldest evicted first), and an
 * entry is forgotten once it has seen no failure for `forgetAfterMs`.
 */
import { looksLikeJwt } from './oidc.ts';

export interface AuthThrottleOptions {
  /** Failures allowed before any delay (typos happen). */
  readonly freeFailures: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly forgetAfterMs: number;
  readonly maxTracked: number;
}

export const DEFAULT_THROTTLE: AuthThrottleOptions = {
  freeFailures: 3,
  baseDelayMs: 250,
  // Below the default 10 s authentication deadline, so the answer is still the uniform 28P01.
  maxDelayMs: 5_000,
  forgetAfterMs: 15 * 60_000,
  maxTracked: 10_000,
};

interface FailureRecord {
  failures: number;
  lastFailureAt: number;
}

class FailureTable {
  readonly #entries = new Map<string, FailureRecord>();
  readonly #options: AuthThrottleOptions;

  constructor(options: AuthThrottleOptions) {
    this.#options = options;
  }

  failures(key: string, now: number): number {
    const entry = this.#entries.get(key);
    if (!entry) return 0;
    if (now - entry.lastFailureAt > this.#options.forgetAfterMs) {
      this.#entries.delete(key);
      return 0;
    }
    return entry.failures;
  }

  record(key: string, now: number): void {
    const failures = this.failures(key, now) + 1;
    // Re-inserting moves the key to the end, so the first key in the map is the stalest.
    this.#entries.delete(key);
    this.#entries.set(key, { failures, lastFailureAt: now });
    if (this.#entries.size > this.#options.maxTracked) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }

  forget(key: string): void {
    this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}

/**
 * The part of a credential used to group guesses at one identity (never the secret part): an API
 * key's public prefix, or a token's issuer, so failures against one IdP do not slow another's.
 */
export function credentialPrefix(credential: string): string {
  if (credential.startsWith('slk_')) return credential.slice(0, 12);
  if (!looksLikeJwt(credential)) return 'other';
  try {
    const payload = JSON.parse(Buffer.from(credential.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      iss?: unknown;
    };
    return typeof payload.iss === 'string' ? `jwt:${payload.iss.slice(0, 200)}` : 'jwt';
  } catch {
    return 'jwt';
  }
}

export class AuthThrottle {
  readonly #options: AuthThrottleOptions;
  readonly #byAddress: FailureTable;
  readonly #byPrefix: FailureTable;
  readonly #now: () => number;

  constructor(options: AuthThrottleOptions = DEFAULT_THROTTLE, now: () => number = Date.now) {
    this.#options = options;
    this.#byAddress = new FailureTable(options);
    this.#byPrefix = new FailureTable(options);
    this.#now = now;
  }

  /** Records a failed login and returns how long to hold the failure answer back, in ms. */
  failed(address: string, prefix: string): number {
    const now = this.#now();
    this.#byAddress.record(address, now);
    this.#byPrefix.record(prefix, now);
    const failures = Math.max(this.#byAddress.failures(address, now), this.#byPrefix.failures(prefix, now));
    const over = failures - this.#options.freeFailures;
    if (over <= 0) return 0;
    return Math.min(this.#options.maxDelayMs, this.#options.baseDelayMs * 2 ** Math.min(over - 1, 30));
  }

  /** A successful login clears that key's record; the address keeps its history. */
  succeeded(prefix: string): void {
    this.#byPrefix.forget(prefix);
  }

  get trackedEntries(): number {
    return this.#byAddress.size + this.#byPrefix.size;
  }
}
