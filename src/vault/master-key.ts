/**
 * @module vault/master-key
 * The vault's master key: 32 random bytes, written as 64 hex digits or as base64 (what
 * `openssl rand -base64 32` prints). It comes from `vault.masterKey` in the config (`env:NAME` or
 * `file:PATH`), else from the `SLUICE_MASTER_KEY` environment variable. It never lives in the
 * store: the store only ever sees what the key encrypted.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { formatSecretRef, resolveSecret, type SecretRef } from '../config/secret-ref.ts';
import { KEY_BYTES } from './envelope.ts';
import { VaultError } from './errors.ts';

export const MASTER_KEY_ENV = 'SLUICE_MASTER_KEY';

export interface MasterKey {
  readonly key: Buffer;
  /** Where it came from, for messages: `SLUICE_MASTER_KEY`, `env:NAME` or `file:PATH`. */
  readonly source: string;
}

const HEX = /^[0-9a-fA-F]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]+|[A-Za-z0-9_-]+)={0,2}$/;

/**
 * Decodes a master key; surrounding whitespace (a file's final newline) is ignored.
 * @throws VaultError `invalid_master_key`, naming `source` and the decoded length, never the text.
 */
export function parseMasterKey(text: string, source: string): Buffer {
  const trimmed = text.trim();
  const expected = `${source}: the master key must be ${KEY_BYTES} bytes written as 64 hex digits or as base64 (e.g. the output of \`openssl rand -base64 32\`)`;
  let key: Buffer;
  if (trimmed.length === KEY_BYTES * 2 && HEX.test(trimmed)) key = Buffer.from(trimmed, 'hex');
  else if (BASE64.test(trimmed)) key = Buffer.from(trimmed, 'base64');
  else if (trimmed === '') throw new VaultError('invalid_master_key', `${expected}; it is empty`);
  else throw new VaultError('invalid_master_key', `${expected}; it is neither`);
  if (key.length !== KEY_BYTES) {
    const got = key.length;
    key.fill(0);
    throw new VaultError('invalid_master_key', `${expected}; it decodes to ${got} bytes`);
  }
  return key;
}

/** A new random master key, base64-encoded. */
export function generateMasterKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/** Writes a new random master key to `path` (mode 0600); refuses to overwrite an existing file. */
export async function createMasterKeyFile(path: string): Promise<void> {
  await writeFile(path, `${generateMasterKey()}\n`, { mode: 0o600, flag: 'wx' });
}

/**
 * The key behind an `env:` or `file:` reference.
 * @throws GatewayError `GW_ERR_CONFIG` when it cannot be read, VaultError when it is malformed.
 */
export async function masterKeyFromRef(
  ref: SecretRef,
  env: NodeJS.ProcessEnv = process.env,
): Promise<MasterKey> {
  if (ref.kind === 'secret') {
    throw new VaultError('invalid_master_key', 'the vault master key cannot be a secret: reference');
  }
  const source = formatSecretRef(ref);
  const text = await resolveSecret(ref, { env, readFile: (path) => readFile(path, 'utf8') });
  return { key: parseMasterKey(text, source), source };
}

/**
 * The configured master key: `ref` (the config's `vault.masterKey`) when given, else
 * `$SLUICE_MASTER_KEY` when set and non-empty, else `undefined` (no vault).
 */
export async function resolveMasterKey(
  ref: SecretRef | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<MasterKey | undefined> {
  if (ref) return masterKeyFromRef(ref, env);
  const text = env[MASTER_KEY_ENV];
  if (text === undefined || text === '') return undefined;
  return { key: parseMasterKey(text, MASTER_KEY_ENV), source: MASTER_KEY_ENV };
}
