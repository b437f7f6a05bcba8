/**
 * @module vault/envelope
 * The vault's cryptography, and nothing else: AES-256-GCM with a random 96-bit nonce for every
 * encryption, and envelope encryption for secret values.
 *
 * - Every secret version gets a fresh random 256-bit data key. The value is encrypted under it
 *   with the secret's name and version as additional authenticated data (AAD), so a row's
 *   ciphertext moved to another name or version fails authentication instead of decrypting.
 * - The data key is encrypted ("wrapped") under the master key, with the master key id as AAD.
 * - The master key id is `hex(SHA-256(HMAC-SHA-256(master, "sluice-key-id")))[0:16]`: it names
 *   a key in messages and rows without revealing anything about it.
 *
 * Ciphertexts are stored with their 16-byte GCM tag appended. A failed authentication always
 * throws: nothing here ever returns bytes that did not authenticate.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';

export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const ALGORITHM = 'aes-256-gcm';

export interface Sealed {
  nonce: Buffer;
  /** Ciphertext followed by the GCM tag. */
  ciphertext: Buffer;
}

export interface SealedSecret {
  keyNonce: Buffer;
  wrappedKey: Buffer;
  valueNonce: Buffer;
  ciphertext: Buffer;
}

/** Raised when a ciphertext does not authenticate: wrong key, altered bytes or a moved row. */
export class AuthenticationFailure extends Error {
  constructor() {
    super('AES-256-GCM authentication failed');
    this.name = 'AuthenticationFailure';
  }
}

export function masterKeyId(masterKey: Buffer): string {
  const mac = createHmac('sha256', masterKey).update('sluice-key-id', 'utf8').digest();
  return createHash('sha256').update(mac).digest('hex').slice(0, 16);
}

export function seal(key: Buffer, plaintext: Buffer, aad: Buffer): Sealed {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { nonce, ciphertext };
}

/** @throws AuthenticationFailure unless `sealed` was made by {@link seal} with this key and AAD. */
export function unseal(key: Buffer, sealed: Sealed, aad: Buffer): Buffer {
  const { nonce, ciphertext } = sealed;
  if (nonce.length !== NONCE_BYTES || ciphertext.length < TAG_BYTES) throw new AuthenticationFailure();
  const decipher = createDecipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - TAG_BYTES));
  const body = decipher.update(ciphertext.subarray(0, ciphertext.length - TAG_BYTES));
  try {
    return Buffer.concat([body, decipher.final()]);
  } catch {
    throw new AuthenticationFailure();
  } finally {
    // Unauthenticated plaintext never leaves; on success the caller holds a copy.
    body.fill(0);
  }
}

const text = (...parts: string[]): Buffer => Buffer.from(parts.join('\0'), 'utf8');

/** AAD of a secret value: the row's identity. */
export const valueAad = (name: string, version: number): Buffer =>
  text('sluice:secret-value:v1', name, String(version));

/** AAD of a wrapped data key: the id of the master key that wraps it. */
export const dataKeyAad = (keyId: string): Buffer => text('sluice:data-key:v1', keyId);

/** AAD of the vault check record. */
export const checkAad = (keyId: string): Buffer => text('sluice:vault-check:v1', keyId);

/** The plaintext of the vault check record. */
export const CHECK_PLAINTEXT = Buffer.from('sluice vault check v1', 'utf8');

export function sealSecret(
  masterKey: Buffer,
  keyId: string,
  name: string,
  version: number,
  value: Buffer,
): SealedSecret {
  const dataKey = randomBytes(KEY_BYTES);
  try {
    const wrapped = seal(masterKey, dataKey, dataKeyAad(keyId));
    const sealed = seal(dataKey, value, valueAad(name, version));
    return {
      keyNonce: wrapped.nonce,
      wrappedKey: wrapped.ciphertext,
      valueNonce: sealed.nonce,
      ciphertext: sealed.ciphertext,
    };
  } finally {
    dataKey.fill(0);
  }
}

/** @throws AuthenticationFailure when any part does not authenticate. */
export function unsealSecret(
  masterKey: Buffer,
  keyId: string,
  name: string,
  version: number,
  sealed: SealedSecret,
): Buffer {
  const dataKey = unseal(
    masterKey,
    { nonce: sealed.keyNonce, ciphertext: sealed.wrappedKey },
    dataKeyAad(keyId),
  );
  try {
    if (dataKey.length !== KEY_BYTES) throw new AuthenticationFailure();
    return unseal(
      dataKey,
      { nonce: sealed.valueNonce, ciphertext: sealed.ciphertext },
      valueAad(name, version),
    );
  } finally {
    dataKey.fill(0);
  }
}
