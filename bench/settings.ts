/** What one `npm run bench` does, from its command line and BENCH_* environment variables. */
import { QUERY_MODES, type QueryMode } from './pgbench.ts';

export interface BenchSettings {
  /** Length of each measured pgbench run. */
  readonly seconds: number;
  /** Length of the one warm-up run per target. */
  readonly warmupSeconds: number;
  readonly clientCounts: readonly number[];
  readonly modes: readonly QueryMode[];
  /** pgbench -i scale: 10 ⇒ 1 M rows in pgbench_accounts, comfortably cached. */
  readonly scale: number;
  readonly writeDocs: boolean;
  /** The command line that reproduces this run, for the docs. */
  readonly command: string;
  /** Hard bound on the whole run, cleanup included. */
  readonly timeLimitMs: number;
}

const USAGE = `usage: npm run bench [-- --write-docs]
  --write-docs      rewrite the results section of docs/benchmarks.md
environment:
  BENCH_SECONDS=N   seconds per measured cell (default 10)
  BENCH_QUICK=1     3 s per cell, 1 s warm-ups (a smoke run)`;

/** Targets the bound is sized for (all eight, pgbouncer included). */
const MAX_TARGETS = 8;
/** Fixed allowance for creating the database and starting the proxies. */
const SETUP_ALLOWANCE_S = 120;

/** pgbench -T only takes whole seconds. */
function positiveInteger(name: string, value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0)
    throw new Error(`${name} must be a whole number ≥ 1\n${USAGE}`);
  return number;
}

function reproducingCommand(env: NodeJS.ProcessEnv, args: readonly string[]): string {
  const vars = ['BENCH_QUICK', 'BENCH_SECONDS']
    .filter((name) => env[name])
    .map((name) => `${name}=${env[name]}`);
  return [...vars, 'npm run bench', ...(args.length > 0 ? ['--', ...args] : [])].join(' ');
}

export function readSettings(args: readonly string[], env: NodeJS.ProcessEnv): BenchSettings {
  for (const arg of args) {
    if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    if (arg !== '--write-docs') throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  const quick = env.BENCH_QUICK === '1';
  const seconds = env.BENCH_SECONDS ? positiveInteger('BENCH_SECONDS', env.BENCH_SECONDS) : quick ? 3 : 10;
  const warmupSeconds = quick ? 1 : 2;
  const clientCounts = [1, 8];
  const modes = QUERY_MODES;
  const plannedSeconds = MAX_TARGETS * (warmupSeconds + clientCounts.length * modes.length * seconds);
  return {
    seconds,
    warmupSeconds,
    clientCounts,
    modes,
    scale: 10,
    writeDocs: args.includes('--write-docs'),
    command: reproducingCommand(env, args),
    // Half again the planned pgbench time covers connection setup, CPU reads and log parsing.
    timeLimitMs: (SETUP_ALLOWANCE_S + 1.5 * plannedSeconds) * 1000,
  };
}
