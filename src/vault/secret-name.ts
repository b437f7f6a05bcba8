/**
 * @module vault/secret-name
 * Vault secret names. They appear in config (`password: secret:NAME`), CLI arguments, logs and
 * audit records, so they stay a plain lower-case identifier. Pure: the config schema imports it.
 */
import { VaultError } from './errors.ts';

export const SECRET_NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

export const SECRET_NAME_RULE =
  'use a-z, 0-9, _, . and -, start with a letter or digit, at most 63 characters';

export function isSecretName(name: string): boolean {
  return SECRET_NAME_PATTERN.test(name);
}

/** @throws VaultError `invalid_name`, quoting the name (JSON-escaped, cut short: it may be garbage). */
export function assertSecretName(name: string): void {
  if (!isSecretName(name)) {
    throw new VaultError(
      'invalid_name',
      `invalid secret name ${JSON.stringify(name.slice(0, 80))}: ${SECRET_NAME_RULE}`,
    );
  }
}
