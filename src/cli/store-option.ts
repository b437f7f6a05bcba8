/**
 * @module cli/store-option
 * How every command that touches the store finds it: `--store URL`, else the `store` (and
 * `storePassword`) of `--config FILE`, else `$SLUICE_STORE`, else `pglite://./.sluice`.
 */
import { type Command, Option } from 'commander';
import { loadConfigFile, type StoreConfig } from '../config/load.ts';
import { resolveSecret } from '../config/secret-ref.ts';
import { createLogger } from '../core/logger.ts';
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

/**
 * The config keeps the store as parts, with the password as a secret reference (never inline);
 * this puts the URL back together with the password resolved.
 */
export async function storeUrlFromConfig(store: StoreConfig, env: NodeJS.ProcessEnv): Promise<string> {
  if (store.kind === 'pglite') return `pglite://${store.dir}`;
  const { host, port, user, database } = store.target;
  const password = store.password
    ? `:${encodeURIComponent(await resolveSecret(store.password, { env }))}`
    : '';
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return `postgres://${encodeURIComponent(user)}${password}@${hostPart}:${port}/${encodeURIComponent(database)}`;
}

export async function resolveStoreUrl(
  opts: StoreOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  if (opts.store !== undefined) return opts.store;
  if (opts.config !== undefined)
    return storeUrlFromConfig((await loadConfigFile(opts.config, env)).store, env);
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
