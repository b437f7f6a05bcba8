/**
 * @module audit/signing-key
 * The Ed25519 key that signs the audit log's checkpoints. By default it is generated once and kept
 * in the data dir (`audit/signing-key.pem`, owner-only), so restarts keep signing with the same
 * key; `audit.signingKey` (env: or file:) supplies one instead, e.g. the same key for every replica.
 * Its public half is registered in the store and can be exported (`sluice audit public-key`) so a
 * third party can verify an export offline.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveSecret, type SecretRef } from '../config/secret-ref.ts';
import { GatewayError } from '../core/errors.ts';

export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** SPKI PEM, what verifiers are given. */
  readonly publicKeyPem: string;
}

function fromPem(pem: string, source: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw new GatewayError('GW_ERR_CONFIG', `${source}: not a PEM private key`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new GatewayError('GW_ERR_CONFIG', `${source}: the audit signing key must be Ed25519`);
  }
  const publicKey = createPublicKey(privateKey);
  return {
    privateKey,
    publicKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** The configured key, or the data dir's (created on first use). */
export async function loadSigningKey(
  ref: SecretRef | undefined,
  dataDir: string,
  env: NodeJS.ProcessEnv,
): Promise<SigningKey> {
  if (ref !== undefined) {
    const pem = await resolveSecret(ref, { env, readFile: (path) => readFile(path, 'utf8') });
    return fromPem(pem, 'audit.signingKey');
  }
  const dir = join(dataDir, 'audit');
  const path = join(dir, 'signing-key.pem');
  const existing = await readFile(path, 'utf8').catch(() => undefined);
  if (existing !== undefined) return fromPem(existing, path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  // `wx`: two processes starting on one data dir must not overwrite each other's key.
  await writeFile(path, pem, { mode: 0o600, flag: 'wx' }).catch(async () => undefined);
  return fromPem(await readFile(path, 'utf8'), path);
}
