/**
 * How many audit events per second the pipeline sustains: statement-decision events pushed
 * through the store sink (canonical JSON, SHA-256 chain, batched appends, signed checkpoints)
 * into a PGlite store opened in its worker thread as the gateway opens it, and how fast `verify`
 * re-checks them.
 */
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { ChainVerifier, keyIdOf } from '../src/audit/chain.ts';
import { StoreAuditSink } from '../src/audit/store-sink.ts';
import { silentLogger } from '../src/core/logger.ts';
import { openStoreInWorker } from '../src/store/worker-store.ts';

const EVENTS = 50_000;

export async function measureAuditPipeline(workDir: string): Promise<string[]> {
  // In its worker thread, as the gateway opens it: chaining and inserts happen there.
  const store = await openStoreInWorker(`pglite://${join(workDir, 'audit-bench')}`, { logger: silentLogger });
  try {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const key = {
      privateKey,
      publicKey,
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    };
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
    const writeSeconds = Number(process.hrtime.bigint() - start) / 1e9;
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
    await sink.close();
    return [
      `audit pipeline (${EVENTS.toLocaleString('en-US')} statement events into a PGlite store in its worker thread, chained, batched, checkpointed): ` +
        `${Math.round(EVENTS / writeSeconds).toLocaleString('en-US')} events/s written; ` +
        `verify ${Math.round(EVENTS / verifySeconds).toLocaleString('en-US')} events/s (${result.ok ? 'intact' : 'FAILED'})`,
    ];
  } finally {
    await store.close();
  }
}
