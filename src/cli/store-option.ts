/**
 * @module cli/store-option
 * How every command that touches the store finds it: `--store URL`, else the `store` (and
 * `storePassword`) of `--config FILE`, else `$SLUICE_STORE`, else `pglite://./.sluice`.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { loadConfigFile } from '../config/load.ts';
import { parseDuration } from '../core/duration.ts';
import { createLogger } from '../core/logger.ts';
import { storeUrl } from '../gateway/configured-store.ts';
import { DEFAULT_STORE_URL, openStore } from '../store/open-store.ts';
import type { Store } from '../store/store.ts';

export interface StoreOptions {
  store?: string;
  config?: string;
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

/** `--since`: an ISO date/time, or a duration back from now (`24h`); as an ISO timestamp. */
export function parseSince(text: string): string {
  const ago = parseDuration(text);
  if (ago !== undefined) return new Date(Date.now() - ago).toISOString();
  const at = new Date(text);
  if (Number.isNaN(at.getTime()))
    throw new InvalidArgumentError('an ISO date/time or a duration such as 24h');
  return at.toISOString();
}
