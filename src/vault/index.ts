/**
 * @module vault
 * The vault's public surface, for the gateway, the CLI and the admin API.
 */
export { openConfiguredVault } from './configured-vault.ts';
export { masterKeyId } from './envelope.ts';
export { VaultError, type VaultErrorReason } from './errors.ts';
export {
  createMasterKeyFile,
  generateMasterKey,
  MASTER_KEY_ENV,
  type MasterKey,
  masterKeyFromRef,
  parseMasterKey,
  resolveMasterKey,
} from './master-key.ts';
export { assertSecretName, isSecretName, SECRET_NAME_PATTERN, SECRET_NAME_RULE } from './secret-name.ts';
export {
  MAX_SECRET_BYTES,
  type OpenVaultOptions,
  openVault,
  type SecretInfo,
  type SecretVersionInfo,
  type Vault,
} from './vault.ts';
