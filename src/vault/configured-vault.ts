/**
 * @module vault/configured-vault
 * The gateway's vault at startup: opened when a master key is configured (`vault.masterKey`) or
 * in the environment (`SLUICE_MASTER_KEY`), refused when a connection needs it and there is none.
 */
import type { SluiceConfig } from '../config/schema.ts';
import type { Logger } from '../core/logger.ts';
import type { Store } from '../store/store.ts';
import { VaultError } from './errors.ts';
import { MASTER_KEY_ENV, resolveMasterKey } from './master-key.ts';
import { openVault, type Vault } from './vault.ts';

/**
 * @returns the open vault, or `undefined` when no master key is available and no connection
 *   uses a `secret:` password.
 * @throws VaultError `no_master_key`, `wrong_master_key`, `invalid_master_key`; GatewayError
 *   `GW_ERR_CONFIG` when `vault.masterKey` cannot be read.
 */
export async function openConfiguredVault(
  config: Pick<SluiceConfig, 'connections' | 'vault'>,
  store: Store,
  options: { env: NodeJS.ProcessEnv; logger: Logger },
): Promise<Vault | undefined> {
  const uses = config.connections.flatMap((connection) =>
    connection.password?.kind === 'secret'
      ? [{ connection: connection.name, secret: connection.password.name }]
      : [],
  );
  const master = await resolveMasterKey(config.vault?.masterKey, options.env);
  if (!master) {
    const [first] = uses;
    if (!first) return undefined;
    throw new VaultError(
      'no_master_key',
      `connection "${first.connection}" uses password: secret:${first.secret}, but no vault master key is ` +
        `available: set ${MASTER_KEY_ENV}, or vault.masterKey (env:NAME or file:PATH) in the config`,
    );
  }
  const vault = await openVault(store, master.key, { source: master.source });
  master.key.fill(0);
  options.logger.info({ keyId: vault.keyId, source: master.source }, 'vault open');
  const stored = new Set((await vault.list()).map((secret) => secret.name));
  for (const use of uses) {
    if (!stored.has(use.secret)) {
      // Not `secret`: the logger censors fields named like credentials, and a name is not one.
      options.logger.warn(
        { connection: use.connection, secretName: use.secret },
        'connection uses a secret that is not in the vault yet; its upstream logins fail until it is set',
      );
    }
  }
  return vault;
}
