/**
 * @module protocols/postgres/cancel
 * Cancel requests arrive on a fresh, unauthenticated connection carrying only (pid, key). The
 * gateway hands each client its own random pair and keeps the upstream's pair to itself, so
 * a client can cancel only its own statement and never learns anything about the upstream.
 *
 * - Keys are compared in constant time; an unknown pid and a wrong key look the same.
 * - Requests are rate-limited globally and per source address, so a flood cannot turn the
 *   gateway into a cancel cannon against upstream backends.
 * - Nothing is ever sent back on the cancel connection (the protocol defines no reply).
 */
import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

/** What the session registers: how to cancel whatever its upstream is running right now. */
export interface CancelTarget {
  cancelUpstream(): Promise<void>;
}

export interface IssuedKey {
  readonly processId: number;
  readonly secretKey: Buffer;
}

export interface CancelRateLimits {
  /** Cancel requests per second accepted from all sources together. */
  readonly globalPerSecond: number;
  /** Cancel requests per second accepted from one source address. */
  readonly perAddressPerSecond: number;
}

export type CancelOutcome = 'forwarded' | 'no_match' | 'rate_limited';

/** Bounds the per-address table so a spoofed-address flood cannot grow memory. */
const MAX_TRACKED_ADDRESSES = 10_000;

export class CancelRegistry {
  readonly #entries = new Map<number, { key: Buffer; target: CancelTarget }>();
  readonly #limits: CancelRateLimits;
  readonly #now: () => number;
  #windowStart = 0;
  #windowTotal = 0;
  readonly #windowByAddress = new Map<string, number>();

  constructor(
    limits: CancelRateLimits = { globalPerSecond: 200, perAddressPerSecond: 20 },
    now: () => number = Date.now,
  ) {
    this.#limits = limits;
    this.#now = now;
  }

  /** Mints a unique (pid, key) for a session; 4-byte key as protocol 3.0 requires. */
  issue(target: CancelTarget): IssuedKey {
    let processId: number;
    do processId = randomInt(1, 0x7fff_ffff);
    while (this.#entries.has(processId));
    const secretKey = randomBytes(4);
    this.#entries.set(processId, { key: secretKey, target });
    return { processId, secretKey };
  }

  release(processId: number): void {
    this.#entries.delete(processId);
  }

  get size(): number {
    return this.#entries.size;
  }

  async handle(processId: number, secretKey: Buffer, sourceAddress: string): Promise<CancelOutcome> {
    if (!this.#admit(sourceAddress)) return 'rate_limited';
    const entry = this.#entries.get(processId);
    // Compare against a same-length dummy when the pid is unknown, so timing does not reveal live pids.
    const expected = entry?.key ?? Buffer.alloc(secretKey.length === 4 ? 4 : 0);
    const matches = expected.length === secretKey.length && timingSafeEqual(expected, secretKey);
    if (!entry || !matches) return 'no_match';
    await entry.target.cancelUpstream();
    return 'forwarded';
  }

  #admit(sourceAddress: string): boolean {
    const now = this.#now();
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#windowTotal = 0;
      this.#windowByAddress.clear();
    }
    const fromAddress = this.#windowByAddress.get(sourceAddress) ?? 0;
    if (this.#windowTotal >= this.#limits.globalPerSecond || fromAddress >= this.#limits.perAddressPerSecond)
      return false;
    if (fromAddress === 0 && this.#windowByAddress.size >= MAX_TRACKED_ADDRESSES) return false;
    this.#windowTotal++;
    this.#windowByAddress.set(sourceAddress, fromAddress + 1);
    return true;
  }
}
