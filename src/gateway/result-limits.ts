/**
 * @module gateway/result-limits
 * The bulk-extraction guard's numbers for one session: the tightest limit among the policies that
 * apply, each remembered with the policy that set it, and a per-principal rows-per-minute budget
 * shared by all of that principal's sessions on this gateway.
 */

import type { PolicyLimitsConfig } from '../config/schema.ts';
import { ClientFacingError } from '../core/errors.ts';
import type { ResultLimits } from '../protocols/postgres/ports.ts';

type LimitName = keyof Required<PolicyLimitsConfig>;

const LABELS: Readonly<Record<LimitName, string>> = {
  rowsPerStatement: 'rows per statement',
  rowsPerSession: 'rows per session',
  bytesPerSession: 'result bytes per session',
  rowsPerMinute: 'rows per minute',
  affectedRowsPerSession: 'affected rows per session',
};

/** Rows per principal in a sliding minute, counted in one-second buckets. */
export class RowRateLimiter {
  readonly #windows = new Map<string, { buckets: Int32Array; second: number; total: number }>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Takes `rows` from `key`'s budget of `perMinute`; false (and nothing taken) when over. */
  take(key: string, rows: number, perMinute: number): boolean {
    const second = Math.floor(this.#now() / 1000);
    let window = this.#windows.get(key);
    if (window === undefined) {
      window = { buckets: new Int32Array(60), second, total: 0 };
      this.#windows.set(key, window);
    }
    // Expire the buckets of the seconds that passed (at most the whole window).
    for (let s = window.second + 1; s <= Math.min(second, window.second + 60); s++) {
      const slot = s % 60;
      window.total -= window.buckets[slot] ?? 0;
      window.buckets[slot] = 0;
    }
    window.second = Math.max(window.second, second);
    if (window.total + rows > perMinute) return false;
    const slot = second % 60;
    window.buckets[slot] = (window.buckets[slot] ?? 0) + rows;
    window.total += rows;
    return true;
  }

  /** Forgets principals with nothing counted in the last minute (called from a periodic sweep). */
  prune(): void {
    const second = Math.floor(this.#now() / 1000);
    for (const [key, window] of this.#windows) if (second - window.second >= 60) this.#windows.delete(key);
  }
}

export interface LimitSource {
  readonly name: string;
  readonly limits: PolicyLimitsConfig;
}

/** Undefined when no applicable policy sets any limit, so the session skips counting. */
export function tightestLimits(
  policies: readonly LimitSource[],
): Map<LimitName, { value: number; policy: string }> {
  const tightest = new Map<LimitName, { value: number; policy: string }>();
  for (const policy of policies) {
    for (const [name, value] of Object.entries(policy.limits) as [LimitName, number | undefined][]) {
      if (value === undefined) continue;
      const current = tightest.get(name);
      if (current === undefined || value < current.value) tightest.set(name, { value, policy: policy.name });
    }
  }
  return tightest;
}

export function limitExceeded(
  limit: LimitName,
  set: { value: number; policy: string } | undefined,
): ClientFacingError {
  return new ClientFacingError(
    '53400',
    `sluice: limit exceeded: ${LABELS[limit]} (${set?.value ?? '?'}) of policy "${set?.policy ?? ''}"`,
    {
      hint:
        limit === 'rowsPerMinute'
          ? 'Wait a minute before reading more rows, or ask an operator to raise the limit.'
          : limit === 'affectedRowsPerSession'
            ? 'This session has changed as many rows as its policy allows; open a new session or ask an operator.'
            : 'The statement was cancelled. Narrow it (WHERE, LIMIT), or ask an operator to raise the limit.',
    },
  );
}

export function resultLimits(
  policies: readonly LimitSource[],
  principalId: string,
  rate: RowRateLimiter,
): ResultLimits | undefined {
  const tightest = tightestLimits(policies);
  tightest.delete('affectedRowsPerSession');
  if (tightest.size === 0) return undefined;
  const perMinute = tightest.get('rowsPerMinute')?.value;
  return {
    rowsPerStatement: tightest.get('rowsPerStatement')?.value,
    rowsPerSession: tightest.get('rowsPerSession')?.value,
    bytesPerSession: tightest.get('bytesPerSession')?.value,
    takeRows: perMinute === undefined ? undefined : (rows) => rate.take(principalId, rows, perMinute),
    exceeded: (limit) => limitExceeded(limit, tightest.get(limit)),
  };
}
