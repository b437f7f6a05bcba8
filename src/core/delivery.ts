/**
 * @module core/delivery
 * What every outbound delivery shares (approval webhooks, SIEM exporters, the audit store sink):
 * retry backoff, a serial task chain, bounded waits, error codes that are safe to log, and signed
 * JSON POSTs (HMAC-SHA256 over `timestamp.body`) with the receiver-side check.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { setTimeout as wait } from 'node:timers/promises';

/** Exponential backoff between `minMs` and `maxMs`, with jitter so replicas do not retry in step. */
export class Backoff {
  readonly #minMs: number;
  readonly #maxMs: number;
  #currentMs = 0;

  constructor(minMs: number, maxMs: number) {
    this.#minMs = minMs;
    this.#maxMs = Math.max(minMs, maxMs);
  }

  /** The delay before the next attempt: doubles on each call until `reset`. */
  next(): number {
    this.#currentMs = Math.min(this.#maxMs, Math.max(this.#minMs, this.#currentMs * 2));
    // Between 75% and 100% of the nominal delay: spreads retries without ever going below half.
    return Math.round(this.#currentMs * (0.75 + Math.random() * 0.25));
  }

  reset(): void {
    this.#currentMs = 0;
  }
}

/**
 * Runs tasks one after another, in the order they were submitted, so writes to one file never
 * interleave. A failed task does not stop the ones after it.
 */
export class SerialChain {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once every task submitted so far has settled. */
  idle(): Promise<void> {
    return this.#tail.then(() => undefined);
  }
}

/** Resolves `true` when `promise` settled within `ms`, `false` on timeout; never rejects. */
export async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = promise.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * e.g. ECONNREFUSED or TimeoutError. Error messages can quote a URL (whose path or query may be a
 * credential) or a file path; codes and names cannot.
 */
export function errorCode(err: unknown): string {
  if (!(err instanceof Error)) return 'Error';
  for (const candidate of [err, err.cause]) {
    if (typeof candidate === 'object' && candidate !== null && 'code' in candidate) {
      const { code } = candidate as { code: unknown };
      if (typeof code === 'string') return code;
    }
  }
  return err.name;
}

/** Resolves after `ms`; the timer does not keep the process alive. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export const TIMESTAMP_HEADER = 'x-sluice-timestamp';
export const SIGNATURE_HEADER = 'x-sluice-signature';
const SIGNATURE_PREFIX = 'sha256=';

/** Headers proving the body came from the gateway at `timestampSeconds` (Unix seconds). */
export function signatureHeaders(
  secret: Buffer,
  body: string,
  timestampSeconds: number,
): Record<string, string> {
  const timestamp = String(Math.floor(timestampSeconds));
  return {
    [TIMESTAMP_HEADER]: timestamp,
    [SIGNATURE_HEADER]: SIGNATURE_PREFIX + signature(secret, timestamp, body),
  };
}

function signature(secret: Buffer, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/**
 * For receivers: true when the headers sign exactly `body` with `secret` and the timestamp lies
 * within `toleranceSeconds` of `nowSeconds` (which bounds how long a captured request can be
 * replayed). Header names must be lower case, as node:http delivers them.
 */
export function verifySignature(
  secret: Buffer,
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
  body: string,
  toleranceSeconds: number,
  nowSeconds: number,
): boolean {
  const timestamp = headers[TIMESTAMP_HEADER];
  const given = headers[SIGNATURE_HEADER];
  if (typeof timestamp !== 'string' || typeof given !== 'string' || !/^\d+$/.test(timestamp)) return false;
  if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return false;
  const expected = Buffer.from(SIGNATURE_PREFIX + signature(secret, timestamp, body));
  const actual = Buffer.from(given);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Worth another attempt: throttled (429) or a server-side failure (5xx). */
export function retryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

export interface SignedPostOptions {
  /** HMAC key; without one the body is sent unsigned. */
  readonly secret?: Buffer | undefined;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** Aborts the request early (shutdown). */
  readonly signal?: AbortSignal;
  readonly fetch?: typeof fetch;
}

/** The receiver's status, or the code of the error that kept it from answering. */
export type PostOutcome = { readonly status: number } | { readonly error: string };

/**
 * One POST of a JSON body, signed when a secret is given. Redirects are not followed: a redirect
 * could carry the body to a host nobody configured. Never throws.
 */
export async function postSignedJson(
  url: string,
  body: string,
  options: SignedPostOptions,
): Promise<PostOutcome> {
  const signed =
    options.secret === undefined ? {} : signatureHeaders(options.secret, body, Date.now() / 1000);
  const timeout = AbortSignal.timeout(options.timeoutMs);
  try {
    const response = await (options.fetch ?? fetch)(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...options.headers, ...signed },
      body,
      redirect: 'manual',
      signal: options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]),
    });
    await response.body?.cancel();
    return { status: response.status };
  } catch (error) {
    return { error: errorCode(error) };
  }
}

/** A 2xx: the receiver took it. */
export function delivered(outcome: PostOutcome): boolean {
  return 'status' in outcome && outcome.status >= 200 && outcome.status < 300;
}

export interface RetriedPostOptions extends SignedPostOptions {
  /** Attempts in all, the first included. */
  readonly attempts: number;
  /** The waits between attempts (reset before the first). */
  readonly backoff: Backoff;
  /** Told of each failed attempt (counted from 1), and whether another follows. */
  readonly onFailure?: (outcome: PostOutcome, attempt: number, retrying: boolean) => void;
}

/**
 * {@link postSignedJson} until a 2xx, an answer not worth retrying (see {@link retryableStatus}),
 * `attempts` tries, or `signal` aborts (which also ends a wait between attempts). Resolves to the
 * last outcome; never throws.
 */
export async function postWithRetries(
  url: string,
  body: string,
  options: RetriedPostOptions,
): Promise<PostOutcome> {
  options.backoff.reset();
  let outcome: PostOutcome = { error: 'aborted' };
  for (let attempt = 1; attempt <= options.attempts && options.signal?.aborted !== true; attempt++) {
    outcome = await postSignedJson(url, body, options);
    if (delivered(outcome)) return outcome;
    const worthRetrying = !('status' in outcome) || retryableStatus(outcome.status);
    const retrying = worthRetrying && attempt < options.attempts;
    options.onFailure?.(outcome, attempt, retrying);
    if (!retrying) return outcome;
    // Keeps the process up (a notice due for retry is still owed), but not past an abort.
    await wait(options.backoff.next(), undefined, { signal: options.signal }).catch(() => {});
  }
  return outcome;
}
