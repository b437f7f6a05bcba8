/**
 * The store sink's shutdown against a store that never recovers: close() gives up at its bound,
 * and nothing keeps retrying (or keeps the process alive) after it did.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { StoreAuditSink } from '../../src/audit/store-sink.ts';
import { silentLogger } from '../../src/core/logger.ts';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const key = {
  privateKey,
  publicKey,
  publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
};

describe('StoreAuditSink.close', () => {
  it('gives up after its timeout on a store that keeps failing, and stops retrying', async () => {
    let attempts = 0;
    // A store that is gone for good (dropped under the gateway): a peer no real store plays on cue.
    const log = {
      append: async () => {
        attempts++;
        throw new Error('store down');
      },
      addCheckpoint: async () => {},
    };
    const sink = new StoreAuditSink({ log, key, logger: silentLogger });
    sink.emit({ type: 'auth.failed', protocol: 'postgres', sourceAddress: '127.0.0.1' });
    await sink.close(200);
    expect(attempts).toBeGreaterThan(0);
    const atClose = attempts;
    // Past the first retry delay (500 ms): an abandoned flush would have tried again by now.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(attempts).toBe(atClose);
  });
});
