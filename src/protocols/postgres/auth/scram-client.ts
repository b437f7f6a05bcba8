/**
 * @module protocols/postgres/auth/scram-client
 * The client half of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it, used when the
 * gateway logs in to an upstream with a vault credential. Pure functions, no I/O: the upstream
 * connector feeds in server messages and sends what comes out.
 *
 * Why we verify the server signature: SCRAM is mutual. A rogue upstream that merely says
 * "AuthenticationOk" after our proof, without proving it knows the password, is refused, so a
 * spoofed target cannot pose as the real database.
 * @see https://www.postgresql.org/docs/current/sasl-authentication.html
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';

/**
 * PostgreSQL's default is 4096. A server asking for fewer iterations makes an offline guess of the
 * password cheap for whoever captured the exchange, so we refuse rather than comply.
 */
export const MIN_SCRAM_ITERATIONS = 4096;

/**
 * The server picks the iteration count and the client pays for it. Without a ceiling a rogue
 * upstream asking for 2^31 iterations ties up a hashing thread for minutes on every login
 * attempt. A million (about 0.3 s) is far above what any real deployment configures.
 */
export const MAX_SCRAM_ITERATIONS = 1_000_000;

/** Gs2 header "n,," : no channel binding, no authzid (PostgreSQL takes the user from startup). */
const GS2_HEADER = 'n,,';

export interface ScramClientFirst {
  readonly clientNonce: string;
  readonly clientFirstBare: string;
  /** Bytes for SASLInitialResponse. */
  readonly message: Buffer;
}

export interface ScramClientFinal {
  /** Bytes for SASLResponse. */
  readonly message: Buffer;
  /** Base64 server signature we expect in AuthenticationSASLFinal. */
  readonly expectedServerSignature: Buffer;
}

export class ScramError extends Error {}

export function scramClientFirst(nonce: string = randomBytes(18).toString('base64')): ScramClientFirst {
  // PostgreSQL ignores the SCRAM user name (it uses the startup user), so send it empty as libpq does.
  const clientFirstBare = `n=,r=${nonce}`;
  return { clientNonce: nonce, clientFirstBare, message: Buffer.from(GS2_HEADER + clientFirstBare, 'utf8') };
}

/** Parses `k=v,k=v` SCRAM attributes; values may contain '=' (base64), so split on the first. */
function parseAttributes(text: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq !== 1) throw new ScramError('malformed SCRAM message');
    attributes.set(part.slice(0, 1), part.slice(2));
  }
  return attributes;
}

function hmac(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text, 'utf8').digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] ?? 0) ^ (b[i] ?? 0);
  return out;
}

/**
 * Answers AuthenticationSASLContinue (server-first-message) with the client proof. The key
 * derivation runs on libuv's thread pool, so a login never stalls other sessions' relaying.
 */
export async function scramClientFinal(
  first: ScramClientFirst,
  serverFirst: Buffer,
  password: string,
): Promise<ScramClientFinal> {
  const serverFirstText = serverFirst.toString('utf8');
  const attributes = parseAttributes(serverFirstText);
  const serverNonce = attributes.get('r');
  const saltBase64 = attributes.get('s');
  const iterations = Number(attributes.get('i'));
  if (!serverNonce || !saltBase64 || !Number.isInteger(iterations)) {
    throw new ScramError('malformed SCRAM server-first-message');
  }
  if (!serverNonce.startsWith(first.clientNonce) || serverNonce.length <= first.clientNonce.length) {
    throw new ScramError('SCRAM server nonce does not extend the client nonce');
  }
  if (iterations < MIN_SCRAM_ITERATIONS) {
    throw new ScramError(`SCRAM iteration count ${iterations} is below the minimum ${MIN_SCRAM_ITERATIONS}`);
  }
  if (iterations > MAX_SCRAM_ITERATIONS) {
    throw new ScramError(`SCRAM iteration count ${iterations} is above the maximum ${MAX_SCRAM_ITERATIONS}`);
  }
  const salt = Buffer.from(saltBase64, 'base64');
  const saltedPassword = await pbkdf2Async(password, salt, iterations, 32, 'sha256');
  const clientKey = hmac(saltedPassword, 'Client Key');
  const storedKey = createHash('sha256').update(clientKey).digest();
  const clientFinalWithoutProof = `c=${Buffer.from(GS2_HEADER).toString('base64')},r=${serverNonce}`;
  const authMessage = `${first.clientFirstBare},${serverFirstText},${clientFinalWithoutProof}`;
  const proof = xor(clientKey, hmac(storedKey, authMessage));
  const serverKey = hmac(saltedPassword, 'Server Key');
  return {
    message: Buffer.from(`${clientFinalWithoutProof},p=${proof.toString('base64')}`, 'utf8'),
    expectedServerSignature: hmac(serverKey, authMessage),
  };
}

/** Checks AuthenticationSASLFinal; throws unless the server proved knowledge of the password. */
export function verifyScramServerFinal(final: ScramClientFinal, serverFinal: Buffer): void {
  const attributes = parseAttributes(serverFinal.toString('utf8'));
  const error = attributes.get('e');
  if (error !== undefined) throw new ScramError(`SCRAM server error: ${error}`);
  const signature = Buffer.from(attributes.get('v') ?? '', 'base64');
  const expected = final.expectedServerSignature;
  if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
    throw new ScramError('SCRAM server signature mismatch: the upstream did not prove it knows the password');
  }
}
