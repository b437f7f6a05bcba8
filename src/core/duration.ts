/**
 * @module core/duration
 * Human durations used in config and CLI flags: `500ms`, `10s`, `5m`, `2h`, `30d`, or `0`.
 */

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a duration into milliseconds; returns `undefined` for anything else (callers word the error). */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (text.trim() === '0') return 0;
  if (!match) return undefined;
  const [, amount, unit] = match;
  const ms = Number(amount) * (UNIT_MS[unit ?? ''] ?? Number.NaN);
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

const FORMAT_UNITS: readonly [string, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];

/** The largest unit that divides evenly, in the form {@link parseDuration} reads (`90s`, `10m`). */
export function formatDuration(ms: number): string {
  const [unit, size] = FORMAT_UNITS.find(([, size]) => ms % size === 0) ?? ['ms', 1];
  return `${ms / size}${unit}`;
}
