/**
 * How many audit events per second the pipeline sustains: statement-decision events pushed
 * through the store sink (canonical JSON, SHA-256 chain, batched appends, signed checkpoints)
 * into a PGlite store opened in its worker thread as the gateway opens it, and how fast `verify`
 * re-checks them.
 */
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { ChainVerifier, keyIdOf } from '../src/audit/chain.ts';
import type { SigningKey } from '../src/audit/signing-key.ts';
import { StoreAuditSink } from '../src/audit/store-sink.ts';
import { silentLogger } from '../src/core/logger.ts';
import { openStore } from '../src/store/open-store.ts';
import { openStoreInWorker } from '../src/store/worker-store.ts';

const EVENTS = 50_000;

export async function measureAuditPipeline(workDir: string): Promise<string[]> {
  const url = `pglite://${join(workDir, 'audit-bench')}`;
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const writeSeconds = await timeWrites(url, {
    privateKey,
    publicKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  });
  // Verified as `sluice audit verify` does: the store opened in the CLI's own thread.
  const store = await openStore(url);
  try {
    const verifier = new ChainVerifier({
      publicKeys: new Map([[keyIdOf(publicKey), publicKey]]),
      checkpoints: await store.audit.checkpoints(),
    });
    const verifyStart = process.hrtime.bigint();
    for (let from = 1; ; from += 5000) {
      const page = await store.audit.range({ fromSeq: from, limit: 5000 });
      for (const record of page) verifier.push(record);
      if (page.length < 5000) break;
    }
    const result = verifier.finish();
    const verifySeconds = Number(process.hrtime.bigint() - verifyStart) / 1e9;
    return [
      `audit pipeline (${EVENTS.toLocaleString('en-US')} statement events into a PGlite store in its worker thread, chained, batched, checkpointed): ` +
        `${Math.round(EVENTS / writeSeconds).toLocaleString('en-US')} events/s written; ` +
        `verify ${Math.round(EVENTS / verifySeconds).toLocaleString('en-US')} events/s (${result.ok ? 'intact' : 'FAILED'})`,
    ];
  } finally {
    await store.close();
  }
}

/** Seconds to emit and flush EVENTS statement events through the sink, as the gateway runs it. */
async function timeWrites(url: string, key: SigningKey): Promise<number> {
  // In its worker thread, as the gateway opens it: chaining and inserts happen there.
  const store = await openStoreInWorker(url, { logger: silentLogger });
  try {
    const sink = new StoreAuditSink({ log: store.audit, key, logger: silentLogger });
    const start = process.hrtime.bigint();
    for (let i = 0; i < EVENTS; i++) {
      sink.emit({
        type: 'statement.decided',
        sessionId: 'bench-session',
        principalId: 'key:bench',
        connection: 'bench',
        text: `SELECT abalance FROM pgbench_accounts WHERE aid = ${i};`,
        truncated: false,
        kinds: ['SelectStmt'],
        decision: 'allow',
        policy: 'bench',
        rule: 'default',
        approvalId: null,
      });
    }
    await sink.flush();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    await sink.close();
    return seconds;
  } finally {
    await store.close();
  }
}
