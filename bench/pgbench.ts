/**
 * One pgbench select-only run against one target, and what it measured: throughput from
 * pgbench's summary, latency percentiles from its per-transaction log (`-l`), whose third column
 * is each transaction's latency in µs.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from './shell.ts';

export const QUERY_MODES = ['simple', 'extended', 'prepared'] as const;
export type QueryMode = (typeof QUERY_MODES)[number];

export interface PgbenchRun {
  readonly env: NodeJS.ProcessEnv;
  readonly clients: number;
  readonly mode: QueryMode;
  readonly seconds: number;
  /** Where the per-transaction logs go; without it, no latency log is written (warm-up). */
  readonly logParentDir?: string;
  readonly signal: AbortSignal;
}

export interface PgbenchOutcome {
  readonly tps: number;
  readonly transactions: number;
  /** Per-transaction latencies in µs, sorted ascending (empty without a log dir). */
  readonly latenciesUs: Float64Array;
}

/** pgbench gets this long beyond its duration to connect and write its summary before it is killed. */
const PGBENCH_SLACK_MS = 60_000;

function pgbenchArgs(run: PgbenchRun, logPrefix: string | undefined): string[] {
  return [
    '-S', // built-in select-only script
    '-n', // no VACUUM before the run: it is not part of the measurement and would go through the proxy
    '-M',
    run.mode,
    '-c',
    String(run.clients),
    '-j',
    String(Math.min(run.clients, 2)),
    '-T',
    String(run.seconds),
    ...(logPrefix ? ['-l', `--log-prefix=${logPrefix}`] : []),
  ];
}

export async function runPgbench(run: PgbenchRun): Promise<PgbenchOutcome> {
  const logDir = run.logParentDir ? await mkdtemp(join(run.logParentDir, 'pgbench-')) : undefined;
  try {
    const { stdout } = await runCommand('pgbench', pgbenchArgs(run, logDir && join(logDir, 'tx')), {
      env: run.env,
      timeoutMs: run.seconds * 1000 + PGBENCH_SLACK_MS,
      signal: run.signal,
    });
    const summary = parseSummary(stdout);
    const latenciesUs = logDir ? await readLatencies(logDir) : new Float64Array();
    return { ...summary, latenciesUs };
  } finally {
    if (logDir) await rm(logDir, { recursive: true, force: true });
  }
}

function parseSummary(stdout: string): { tps: number; transactions: number } {
  const transactions = /number of transactions actually processed: (\d+)/.exec(stdout)?.[1];
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1];
  if (transactions === undefined || tps === undefined) {
    throw new Error(`cannot parse pgbench output:\n${stdout}`);
  }
  return { tps: Number(tps), transactions: Number(transactions) };
}

/** Reads every per-thread log file (`tx.PID`, `tx.PID.1`, …) in `logDir`. */
async function readLatencies(logDir: string): Promise<Float64Array> {
  const latencies: number[] = [];
  for (const file of await readdir(logDir)) {
    const text = await readFile(join(logDir, file), 'utf8');
    for (const line of text.split('\n')) {
      // client_id transaction_no latency_us script_no epoch_s epoch_us
      const latency = line.split(' ', 3)[2];
      if (latency !== undefined) latencies.push(Number(latency));
    }
  }
  return Float64Array.from(latencies).sort();
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}
