/**
 * @module cli/store-option
 * How every command that touches the store finds it: `--store URL`, else the `store` (and
 * `storePassword`) of `--config FILE`, else `$SLUICE_STORE`, else `pglite://./.sluice`.
 */
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { loadConfigFile } from '../config/load.ts';
import { createLogger } from '../core/logger.ts';
import { storeUrl } from '../gateway/configured-store.ts';
import { DEFAULT_STORE_URL, openStore } from '../store/open-store.ts';
import type { Store } from '../store/store.ts';

export interface StoreOptions {
  store?: string;
  config?: string;
}

/** Commands that read recording files (see docs/audit.md#recording-files). */
export interface RecordingOptions extends StoreOptions {
  recordings?: string;
}

export const RECORDINGS_FLAG = '--recordings <dir>';
export const RECORDINGS_HELP =
  "the recording files' directory (default: audit.recordings.dir of --config, else <data dir>/recordings)";

const PGLITE_SCHEME = 'pglite://';
const DEFAULT_DATA_DIR = './.sluice';

/** As the gateway would choose it: the config's, else the data dir's, which is a PGlite store's directory. */
export async function recordingsDir(
  opts: RecordingOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  if (opts.recordings !== undefined) return opts.recordings;
  if (opts.config !== undefined) return (await loadConfigFile(opts.config, env)).audit.recordings.dir;
  const url = await resolveStoreUrl(opts, env);
  return join(
    url.startsWith(PGLITE_SCHEME) ? url.slice(PGLITE_SCHEME.length) : DEFAULT_DATA_DIR,
    'recordings',
  );
}

export function addStoreOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--store <url>',
        `pglite://DIR or postgres://USER@HOST:PORT/DB (default: $SLUICE_STORE, else ${DEFAULT_STORE_URL})`,
      ).conflicts('config'),
    )
    .option('--config <file>', 'take the store from this sluice.yaml');
}

export async function resolveStoreUrl(
  opts: StoreOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  if (opts.store !== undefined) return opts.store;
  if (opts.config !== undefined) return storeUrl((await loadConfigFile(opts.config, env)).store, env);
  return env.SLUICE_STORE || DEFAULT_STORE_URL;
}

export async function openStoreFromOptions(
  opts: StoreOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Store> {
  // stdout carries the command's output (often JSON); log lines go to stderr, quiet unless asked.
  const logger = createLogger({ level: env.SLUICE_LOG_LEVEL ?? 'warn', destination: process.stderr });
  return openStore(await resolveStoreUrl(opts, env), { logger });
}

/** Runs `work` with the store open, closing it afterwards whatever happens. */
export async function withStore<T>(opts: StoreOptions, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStoreFromOptions(opts);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}
