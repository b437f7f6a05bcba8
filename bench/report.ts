/**
 * Turns results into the markdown table, the verdict lines against the goals, and the
 * generated section of docs/benchmarks.md.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Machine } from './machine.ts';
import { QUERY_MODES } from './pgbench.ts';
import { type Cell, type CellResult, measurementOf, ratio } from './results.ts';
import type { BenchSettings } from './settings.ts';
import type { TargetName } from './targets.ts';

/** The goals for the gateway with client TLS off, against the plain relay, at 8 clients. */
export const GOALS = { clients: 8, minTpsRatio: 0.9, maxCpuRatio: 1.5 } as const;

const DOCS_START = '<!-- bench:start -->';
const DOCS_END = '<!-- bench:end -->';

const format = {
  tps: (value: number) => String(Math.round(value)),
  ratio: (value: number | undefined) => (value === undefined ? '—' : `${value.toFixed(2)}×`),
  ms: (value: number) => (Number.isNaN(value) ? '—' : value.toFixed(3)),
  micros: (value: number | undefined) => (value === undefined ? '—' : value.toFixed(1)),
};

/** One progress line, printed as each cell finishes. */
export function progressLine(result: CellResult): string {
  const where = `-c ${result.clients} -M ${result.mode.padEnd(8)} ${result.target.padEnd(15)}`;
  if (!result.ok) return `${where} FAILED: ${result.error}`;
  const { tps, p50Ms, p99Ms, cpuMicrosPerTransaction } = result.measurement;
  const cpu =
    cpuMicrosPerTransaction === undefined ? '' : `  CPU ${format.micros(cpuMicrosPerTransaction)} µs/txn`;
  return `${where} ${format.tps(tps).padStart(7)} TPS  p50 ${format.ms(p50Ms)} ms  p99 ${format.ms(p99Ms)} ms${cpu}`;
}

function tableRow(result: CellResult, results: readonly CellResult[]): string {
  const head = `| ${result.clients} | ${result.mode} | ${result.target} `;
  if (!result.ok) return `${head}| failed: ${result.error.split('\n')[0]} | | | | | | |`;
  const m = result.measurement;
  const direct = measurementOf(results, result, 'direct');
  const relay = measurementOf(results, result, 'relay');
  return (
    `${head}| ${format.tps(m.tps)} | ${format.ratio(ratio(m.tps, direct?.tps))} ` +
    `| ${format.ratio(ratio(m.tps, relay?.tps))} | ${format.ms(m.p50Ms)} | ${format.ms(m.p99Ms)} ` +
    `| ${format.micros(m.cpuMicrosPerTransaction)} ` +
    `| ${format.ratio(ratio(m.cpuMicrosPerTransaction, relay?.cpuMicrosPerTransaction))} |`
  );
}

/** Rows by clients, then mode, then target in the fixed order (not the rotated run order). */
export function markdownTable(results: readonly CellResult[], targetOrder: readonly TargetName[]): string {
  const sorted = [...results].sort(
    (a, b) =>
      a.clients - b.clients ||
      QUERY_MODES.indexOf(a.mode) - QUERY_MODES.indexOf(b.mode) ||
      targetOrder.indexOf(a.target) - targetOrder.indexOf(b.target),
  );
  return [
    '| clients | mode | target | TPS | × direct | × relay | p50 ms | p99 ms | proxy CPU µs/txn | CPU × relay |',
    '|---:|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...sorted.map((result) => tableRow(result, results)),
  ].join('\n');
}

function verdict(results: readonly CellResult[], cell: Cell, target: TargetName): string {
  const subject = `${target} vs relay, -S -c ${cell.clients} -M ${cell.mode}:`;
  const measured = measurementOf(results, cell, target);
  const relay = measurementOf(results, cell, 'relay');
  const tpsRatio = ratio(measured?.tps, relay?.tps);
  const cpuRatio = ratio(measured?.cpuMicrosPerTransaction, relay?.cpuMicrosPerTransaction);
  if (tpsRatio === undefined || cpuRatio === undefined) return `${subject} not measured (a cell failed)`;
  const tpsMet = tpsRatio >= GOALS.minTpsRatio ? 'met' : 'MISSED';
  const cpuMet = cpuRatio <= GOALS.maxCpuRatio ? 'met' : 'MISSED';
  return (
    `${subject} TPS ${format.ratio(tpsRatio)} (goal ≥ ${GOALS.minTpsRatio}×: ${tpsMet}), ` +
    `CPU/txn ${format.ratio(cpuRatio)} (goal ≤ ${GOALS.maxCpuRatio}×: ${cpuMet})`
  );
}

/**
 * One line per proxy per mode at the goal's client count. The goals are stated for the gateway
 * with TLS off; the other proxies are held to the same bar for reference.
 */
export function verdictLines(
  results: readonly CellResult[],
  settings: BenchSettings,
  targetOrder: readonly TargetName[],
): string[] {
  const compared = targetOrder.filter((target) => target !== 'direct' && target !== 'relay');
  return compared.flatMap((target) =>
    settings.modes.map((mode) => verdict(results, { clients: GOALS.clients, mode }, target)),
  );
}

/**
 * The cost of recording every statement in the audit log: the gateway as configured by default
 * (embedded PGlite store) and with its store in PostgreSQL, each against the same gateway with
 * `audit.statements: false` (target ≥ 0.9×).
 */
export function auditLines(results: readonly CellResult[], settings: BenchSettings): string[] {
  const stores = [
    { on: 'gateway-tls-off', store: 'PGlite store' },
    { on: 'gateway-pg-store', store: 'PostgreSQL store' },
  ] as const;
  return stores.flatMap(({ on, store }) =>
    settings.modes.map((mode) => {
      const cell = { clients: GOALS.clients, mode };
      const tps = ratio(
        measurementOf(results, cell, on)?.tps,
        measurementOf(results, cell, 'gateway-no-audit')?.tps,
      );
      const subject = `statement audit on (${store}, ${on}) vs off (gateway-no-audit), -S -c ${cell.clients} -M ${mode}:`;
      if (tps === undefined) return `${subject} not measured (a cell failed)`;
      return `${subject} TPS ${format.ratio(tps)} (target ≥ 0.9×: ${tps >= 0.9 ? 'met' : 'MISSED'})`;
    }),
  );
}

function machineLine(machine: Machine): string {
  return [
    `${machine.cores} cores (${machine.cpuModel})`,
    machine.kernel,
    `Node ${machine.node}`,
    machine.postgres,
    machine.pgbench,
    ...(machine.pgbouncer ? [machine.pgbouncer] : []),
  ].join(', ');
}

/** The generated part of docs/benchmarks.md. */
export function docsSection(input: {
  readonly table: string;
  readonly verdicts: readonly string[];
  readonly notes: readonly string[];
  readonly machine: Machine;
  readonly settings: BenchSettings;
  readonly date: Date;
}): string {
  const { settings } = input;
  return [
    DOCS_START,
    `Generated ${input.date.toISOString().slice(0, 16).replace('T', ' ')} UTC by \`${settings.command}\`.`,
    '',
    `- Machine: ${machineLine(input.machine)}`,
    `- Each cell: \`pgbench -S -n -M MODE -c N -j min(N,2) -T ${settings.seconds}\` (scale ${settings.scale}), ` +
      `after one ${settings.warmupSeconds} s warm-up per target`,
    ...input.notes.map((note) => `- ${note}`),
    '',
    input.table,
    '',
    `Goals (gateway with TLS off vs relay, \`-S -c ${GOALS.clients}\`; other proxies shown against the same bar):`,
    '',
    ...input.verdicts.map((line) => `- ${line}`),
    DOCS_END,
  ].join('\n');
}

/** Replaces the text between the markers (inclusive) in `path`. */
export async function writeDocsSection(path: string, section: string): Promise<void> {
  const text = await readFile(path, 'utf8');
  const start = text.indexOf(DOCS_START);
  const end = text.indexOf(DOCS_END);
  if (start < 0 || end < start) throw new Error(`${path} has no ${DOCS_START} … ${DOCS_END} section`);
  await writeFile(path, text.slice(0, start) + section + text.slice(end + DOCS_END.length));
}
