/**
 * @module audit/exporters/support
 * Small helpers the exporters share: retry backoff, a serial task chain, bounded waits, and error
 * codes that are safe to log.
 */

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
