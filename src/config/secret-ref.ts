/**
 * @module config/secret-ref
 * Secrets never appear in the config file itself, only references to where they live:
 * `env:NAME` (a process environment variable), `file:PATH` (a file, e.g. a mounted Kubernetes
 * secret) or `secret:NAME` (the gateway's vault). References are resolved when the secret is
 * needed, not when the config is loaded, so a rotated file is picked up without a restart.
 *
 * Every error here names the reference, never the value behind it.
 */
import { readFile as readFileFromDisk } from 'node:fs/promises';
import { GatewayError } from '../core/errors.ts';

export type SecretRef = { kind: 'env' | 'file' | 'secret'; name: string };

/** The vault port; the encrypted store implements it once it exists. */
export interface SecretVault {
  get(name: string): Promise<string>;
}

export interface SecretSources {
  /** Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Defaults to reading the file as UTF-8; tests inject their own. */
  readFile?: (path: string) => Promise<string>;
  vault?: SecretVault;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Vault names become identifiers in the CLI and audit log, so keep them to a plain alphabet.
const VAULT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/**
 * Parses `env:NAME`, `file:PATH` or `secret:NAME`. Returns `undefined` for anything else, including
 * what looks like an inline secret; callers word the error without echoing the text.
 *
 * @example parseSecretRef('env:APP_DB_PASSWORD') // { kind: 'env', name: 'APP_DB_PASSWORD' }
 */
export function parseSecretRef(text: string): SecretRef | undefined {
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  const prefix = text.slice(0, colon);
  const name = text.slice(colon + 1);
  switch (prefix) {
    case 'env':
      return ENV_NAME.test(name) ? { kind: 'env', name } : undefined;
    case 'file':
      return name.trim() === name && name.length > 0 ? { kind: 'file', name } : undefined;
    case 'secret':
      return VAULT_NAME.test(name) ? { kind: 'secret', name } : undefined;
    default:
      return undefined;
  }
}

export function formatSecretRef(ref: SecretRef): string {
  return `${ref.kind}:${ref.name}`;
}

/**
 * Fetches the secret a reference points to. A `file:` reference is read on every call, and one
 * trailing line ending is dropped (files written with `echo` end in one).
 *
 * @throws GatewayError `GW_ERR_CONFIG` when the variable is unset or empty, the file cannot be read
 *   or is empty, or a `secret:` reference is used without a vault.
 */
export async function resolveSecret(ref: SecretRef, sources: SecretSources = {}): Promise<string> {
  const label = formatSecretRef(ref);
  let value: string;
  switch (ref.kind) {
    case 'env': {
      const found = (sources.env ?? process.env)[ref.name];
      if (found === undefined) throw configError(`${label}: environment variable ${ref.name} is not set`);
      value = found;
      break;
    }
    case 'file': {
      const read = sources.readFile ?? ((path: string) => readFileFromDisk(path, 'utf8'));
      try {
        value = (await read(ref.name)).replace(/\r?\n$/, '');
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // Only the errno code: a parse error from a custom reader could quote file content.
        throw configError(`${label}: cannot read the file${code ? ` (${code})` : ''}`);
      }
      break;
    }
    case 'secret':
      if (!sources.vault) throw configError(`${label} needs the vault (not available yet)`);
      value = await sources.vault.get(ref.name);
      break;
  }
  // An empty password would silently turn into "no password"; treat it as a mistake.
  if (value === '') throw configError(`${label} is empty`);
  return value;
}

function configError(message: string): GatewayError {
  return new GatewayError('GW_ERR_CONFIG', message);
}
