/**
 * @module gateway/configured-store
 * Opens the store named in the configuration. The config keeps the store password as a secret
 * reference; it is resolved here, at open time, and only ever travels inside the URL handed to
 * the store driver (whose errors redact it).
 */
import { readFile } from 'node:fs/promises';
import type { StoreConfig } from '../config/schema.ts';
import { resolveSecret } from '../config/secret-ref.ts';
import type { Logger } from '../core/logger.ts';
import type { Store } from '../store/store.ts';
import { openStoreInWorker } from '../store/worker-store.ts';

export async function storeUrl(config: StoreConfig, env: NodeJS.ProcessEnv): Promise<string> {
  if (config.kind === 'pglite') return `pglite://${config.dir}`;
  const { user, host, port, database } = config.target;
  const password = config.password
    ? await resolveSecret(config.password, { env, readFile: (path) => readFile(path, 'utf8') })
    : undefined;
  const userinfo =
    password === undefined
      ? encodeURIComponent(user)
      : `${encodeURIComponent(user)}:${encodeURIComponent(password)}`;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return `postgres://${userinfo}@${hostPart}:${port}/${encodeURIComponent(database)}`;
}

/** In a worker thread: the store's work, audit appends above all, stays off the relaying thread. */
export async function openConfiguredStore(
  config: StoreConfig,
  options: { env: NodeJS.ProcessEnv; logger: Logger },
): Promise<Store> {
  return openStoreInWorker(await storeUrl(config, options.env), { logger: options.logger });
}
