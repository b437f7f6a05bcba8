/**
 * `npm run bench [-- --write-docs]`: pgbench select-only through each target (direct, a plain
 * Node TCP relay, pgbouncer if installed, the gateway with client TLS off and on), in every query
 * mode at 1 and 8 clients. See docs/benchmarks.md for what is measured and why.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureAnalysis } from './analysis.ts';
import { measureAuditPipeline } from './audit.ts';
import { type CleanupScope, runWithCleanup } from './cleanup.ts';
import { BENCH_DATABASE, createBenchDatabase, dropBenchDatabase } from './database.ts';
import { describeMachine } from './machine.ts';
import { measureMasking } from './masking.ts';
import { percentile, runPgbench } from './pgbench.ts';
import {
  auditLines,
  docsSection,
  markdownTable,
  progressLine,
  verdictLines,
  writeDocsSection,
} from './report.ts';
import type { Cell, CellResult } from './results.ts';
import { type BenchSettings, readSettings } from './settings.ts';
import { gatewayTarget, startTargets, type Target } from './targets.ts';

const DOCS_PATH = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));

/** Recorded with the results: a busy machine explains noisy ratios. */
function oneMinuteLoad(): string {
  return (loadavg()[0] ?? 0).toFixed(1);
}

/** Every clients × mode combination, in run order. */
function cellsOf(settings: BenchSettings): Cell[] {
  return settings.clientCounts.flatMap((clients) => settings.modes.map((mode) => ({ clients, mode })));
}

/**
 * The targets starting at a different one for each cell, so that slow drift on a busy 2-core
 * machine (thermal, other tenants, PostgreSQL's own caches) is spread over all targets instead
 * of always favouring whichever runs first.
 */
function rotated<T>(items: readonly T[], by: number): T[] {
  const shift = by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/** One short run per target, so JIT, TLS session setup and caches are warm before measuring. */
async function warmUp(
  targets: readonly Target[],
  settings: BenchSettings,
  signal: AbortSignal,
): Promise<void> {
  for (const target of targets) {
    console.log(`warm-up: ${target.name}`);
    await runPgbench({
      env: target.env,
      clients: 8,
      mode: 'simple',
      seconds: settings.warmupSeconds,
      signal,
    });
  }
}

/** Runs one cell against one target; the proxy's CPU is read right before and right after. */
async function measureCell(
  target: Target,
  cell: Cell,
  settings: BenchSettings,
  workDir: string,
  signal: AbortSignal,
): Promise<CellResult> {
  const key = { ...cell, target: target.name };
  try {
    const cpuBefore = await target.proxy?.cpuMicros();
    const outcome = await runPgbench({
      env: target.env,
      ...cell,
      seconds: settings.seconds,
      logParentDir: workDir,
      signal,
    });
    const cpuAfter = await target.proxy?.cpuMicros();
    const cpuMicros = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore;
    return {
      ...key,
      ok: true,
      measurement: {
        tps: outcome.tps,
        transactions: outcome.transactions,
        p50Ms: percentile(outcome.latenciesUs, 0.5) / 1000,
        p99Ms: percentile(outcome.latenciesUs, 0.99) / 1000,
        cpuMicrosPerTransaction:
          cpuMicros === undefined || outcome.transactions === 0
            ? undefined
            : cpuMicros / outcome.transactions,
      },
    };
  } catch (error) {
    if (signal.aborted) throw error;
    return { ...key, ok: false, error: (error as Error).message };
  }
}

/** Masking throughput against direct and a gateway started with masking off just for this. */
async function maskingLines(
  targets: readonly Target[],
  context: { workDir: string; defer: CleanupScope['defer'] },
  signal: AbortSignal,
): Promise<string[]> {
  const direct = targets.find((t) => t.name === 'direct');
  const maskingOn = targets.find((t) => t.name === 'gateway-tls-off');
  if (!direct || !maskingOn || signal.aborted) return [];
  console.log('masking throughput …');
  const maskingOff = await gatewayTarget(context, 'gateway-no-masking');
  const lines = await measureMasking({ direct, maskingOff, maskingOn });
  for (const line of lines) console.log(line);
  return lines;
}

async function bench(settings: BenchSettings, { defer, signal }: CleanupScope): Promise<void> {
  const cells = cellsOf(settings);
  const workDir = await mkdtemp(join(tmpdir(), 'sluice-bench-'));
  defer('remove the temporary directory', () => rm(workDir, { recursive: true, force: true }));

  console.log(`creating ${BENCH_DATABASE} (pgbench -i -s ${settings.scale}) …`);
  defer(`drop ${BENCH_DATABASE}`, dropBenchDatabase);
  await createBenchDatabase(settings.scale, signal);
  const machine = await describeMachine();

  const { targets, notes } = await startTargets({ workDir, defer });
  notes.push(...(await measureAnalysis()), ...(await measureAuditPipeline(workDir)));
  for (const note of notes) console.log(note);
  const cellCount = cells.length * targets.length;
  console.log(
    `${cellCount} cells × ${settings.seconds} s ≈ ${Math.ceil((cellCount * settings.seconds) / 60)} min ` +
      `(targets: ${targets.map((target) => target.name).join(', ')})`,
  );
  await warmUp(targets, settings, signal);

  const loadBefore = oneMinuteLoad();
  const results: CellResult[] = [];
  for (const [index, cell] of cells.entries()) {
    for (const target of rotated(targets, index)) {
      const result = await measureCell(target, cell, settings, workDir, signal);
      results.push(result);
      console.log(`[${String(results.length).padStart(2)}/${cellCount}] ${progressLine(result)}`);
    }
  }

  notes.push(...(await maskingLines(targets, { workDir, defer }, signal)));
  notes.push(
    `1-minute load average ${loadBefore} before the cells, ${oneMinuteLoad()} after ` +
      `(${machine.cores} cores; anything else running competes with pgbench, PostgreSQL and the proxy)`,
  );
  const targetOrder = targets.map((target) => target.name);
  const table = markdownTable(results, targetOrder);
  const verdicts = [...verdictLines(results, settings, targetOrder), ...auditLines(results, settings)];
  console.log(`\n${table}\n\n${verdicts.join('\n')}\n\n${notes.join('\n')}`);
  if (settings.writeDocs) {
    const section = docsSection({ table, verdicts, notes, machine, settings, date: new Date() });
    await writeDocsSection(DOCS_PATH, section);
    console.log(`\nwrote the results section of ${DOCS_PATH}`);
  }
}

const settings = readSettings(process.argv.slice(2), process.env);
runWithCleanup((scope) => bench(settings, scope), settings.timeLimitMs);
