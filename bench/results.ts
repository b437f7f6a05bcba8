/** What one cell (clients × mode × target) measured, and lookups across cells. */
import type { QueryMode } from './pgbench.ts';
import type { TargetName } from './targets.ts';

export interface Cell {
  readonly clients: number;
  readonly mode: QueryMode;
}

export interface Measurement {
  readonly tps: number;
  readonly transactions: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Proxy CPU time during the cell ÷ transactions; undefined for `direct` (no proxy). */
  readonly cpuMicrosPerTransaction: number | undefined;
}

export type CellResult = Cell & { readonly target: TargetName } & (
    | { readonly ok: true; readonly measurement: Measurement }
    | { readonly ok: false; readonly error: string }
  );

export function measurementOf(
  results: readonly CellResult[],
  cell: Cell,
  target: TargetName,
): Measurement | undefined {
  const result = results.find(
    (candidate) =>
      candidate.clients === cell.clients && candidate.mode === cell.mode && candidate.target === target,
  );
  return result?.ok ? result.measurement : undefined;
}

/** `value ÷ baseline`, or undefined when either side is missing. */
export function ratio(value: number | undefined, baseline: number | undefined): number | undefined {
  if (value === undefined || baseline === undefined || baseline === 0) return undefined;
  return value / baseline;
}
