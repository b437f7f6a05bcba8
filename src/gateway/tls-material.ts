/**
 * @module gateway/tls-material
 * The gateway's server certificate. `mode: auto` generates a self-signed certificate once and
 * keeps it in the data dir (key readable by the owner only), so restarts keep the same identity
 * and clients can pin it with sslmode=verify-full and sslrootcert=<dataDir>/tls/cert.pem.
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { generate } from 'selfsigned';

export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  /** Where the certificate is on disk, to print for `sslrootcert=`. */
  readonly certPath: string;
}

export type TlsSource =
  | { readonly mode: 'auto' }
  | { readonly mode: 'files'; readonly cert: string; readonly key: string };

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export async function loadTlsMaterial(source: TlsSource, dataDir: string): Promise<TlsMaterial> {
  if (source.mode === 'files') {
    const [cert, key] = await Promise.all([readFile(source.cert, 'utf8'), readFile(source.key, 'utf8')]);
    return { cert, key, certPath: source.cert };
  }
  const dir = join(dataDir, 'tls');
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  if ((await exists(certPath)) && (await exists(keyPath))) {
    const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
    return { cert, key, certPath };
  }
  const pems = await generate([{ name: 'commonName', value: 'sluice' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 825 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(keyPath, pems.private, { mode: 0o600 });
  await writeFile(certPath, pems.cert, { mode: 0o644 });
  return { cert: pems.cert, key: pems.private, certPath };
}

export function secureContextFor(material: TlsMaterial): SecureContext {
  return createSecureContext({ cert: material.cert, key: material.key, minVersion: 'TLSv1.2' });
}
