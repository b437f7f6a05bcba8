/**
 * Audit retention on both store backends: records older than the cutoff are removed only up to
 * the newest signed checkpoint older than it (whose record stays as the anchor), the pass is
 * recorded as `audit.pruned`, and the pruned log still verifies, from that checkpoint, while
 * tampering with what is left is still found. Times are given, never waited for.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChainedEvent, keyIdOf, signCheckpoint } from '../../src/audit/chain.ts';
import type { AuditEvent } from '../../src/audit/events.ts';
import { applyRetention } from '../../src/audit/retention.ts';
import { verifyStore } from '../../src/cli/audit.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { SluiceConfig } from '../../src/config/schema.ts';
import { createLogger } from '../../src/core/logger.ts';
import { startGateway } from '../../src/gateway/gateway.ts';
import { createApiKey } from '../../src/identity/api-keys.ts';
import type { Store } from '../../src/store/store.ts';
import { openStoreInWorker } from '../../src/store/worker-store.ts';
import { recordCredential } from '../helpers/credential-log.ts';
import { gatewayClient } from '../helpers/pg-client.ts';
import { adminQuery, createTestDatabase, PG_HOST, PG_PORT, type TestDatabase } from '../helpers/postgres.ts';
import { openStoreFor, pgliteBackend, postgresBackend } from '../helpers/store-backends.ts';

const DAY = 86_400_000;
const NOW = new Date('2026-11-22T00:00:00.000Z');
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const trusted = new Map([[keyIdOf(publicKey), publicKey]]);

/** `count` records `daysAgo` days before NOW, and a signed checkpoint on the last one. */
async function appendSigned(store: Store, count: number, daysAgo: number): Promise<ChainedEvent[]> {
  const at = new Date(NOW.getTime() - daysAgo * DAY).toISOString();
  const records = await store.audit.append(
    Array.from({ length: count }, () => {
      const keyId = randomUUID();
      return { at, type: 'key.created', event: { type: 'key.created', keyId, name: keyId, groups: [] } };
    }),
  );
  const head = records.at(-1);
  if (head !== undefined) {
    await store.audit.addCheckpoint(signCheckpoint(privateKey, { seq: head.seq, hash: head.hash, at }));
  }
  return records;
}

/** A retention pass whose `audit.pruned` event is appended to the chain, as the gateway's sink would. */
async function retain(
  store: Store,
  keep: { eventsMs?: number; recordingsMs?: number },
  recordingsDir: string,
): Promise<AuditEvent[]> {
  const emitted: AuditEvent[] = [];
  await applyRetention(
    {
      log: store.audit,
      audit: { emit: (event) => emitted.push(event) },
      recordingsDir,
      ...keep,
      logger: createLogger({ level: 'silent' }),
    },
    NOW,
  );
  await store.audit.append(emitted.map((event) => ({ at: NOW.toISOString(), type: event.type, event })));
  return emitted;
}

const seqs = async (store: Store) => (await store.audit.range({})).map((record) => record.seq);

describe.each([pgliteBackend('sluice-retention'), postgresBackend('sluice_retention')])(
  '$kind audit retention',
  (backend) => {
    let store: Store;
    let recordingsDir: string;
    openStoreFor(backend, (opened) => {
      store = opened;
    });
    beforeAll(async () => {
      recordingsDir = await mkdtemp(join(tmpdir(), 'sluice-retention-'));
      // seq 1–4 and 5–8 ten and nine days ago (checkpoints at 4 and 8), 9–12 one day ago (at 12).
      await appendSigned(store, 4, 10);
      await appendSigned(store, 4, 9);
      await appendSigned(store, 4, 1);
    });
    afterAll(async () => {
      await rm(recordingsDir, { recursive: true, force: true });
    });

    it('removes nothing while no signed checkpoint is older than the cutoff', async () => {
      expect(await retain(store, { eventsMs: 30 * DAY }, recordingsDir)).toEqual([]);
      expect(await seqs(store)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    });

    it('removes records up to the newest checkpoint older than the cutoff, keeping its record, and says so in the chain', async () => {
      const emitted = await retain(store, { eventsMs: 7 * DAY }, recordingsDir);
      expect(emitted).toEqual([
        {
          type: 'audit.pruned',
          throughSeq: 7,
          throughAt: new Date(NOW.getTime() - 9 * DAY).toISOString(),
          anchorSeq: 8,
          eventsBefore: new Date(NOW.getTime() - 7 * DAY).toISOString(),
          recordingsBefore: null,
          sessionRecordingsRemoved: 0,
        },
      ]);
      expect(await seqs(store)).toEqual([8, 9, 10, 11, 12, 13]);
      expect((await store.audit.checkpoints()).map((checkpoint) => checkpoint.seq)).toEqual([8, 12]);
      expect(await readdir(recordingsDir)).toEqual([]);
    });

    it('removes the recording files of sessions last written before their cutoff, keeps newer ones, and says so', async () => {
      const [old, recent] = [randomUUID(), randomUUID()];
      for (const [sessionId, daysAgo] of [
        [old, 40],
        [recent, 2],
      ] as const) {
        await mkdir(join(recordingsDir, sessionId));
        const chunk = join(recordingsDir, sessionId, '000001.jsonl');
        await writeFile(chunk, '[["************1111"]]\n');
        const at = new Date(NOW.getTime() - daysAgo * DAY);
        await utimes(chunk, at, at);
      }
      const emitted = await retain(store, { recordingsMs: 30 * DAY }, recordingsDir);
      expect(emitted).toEqual([
        expect.objectContaining({
          type: 'audit.pruned',
          throughSeq: null,
          recordingsBefore: new Date(NOW.getTime() - 30 * DAY).toISOString(),
          sessionRecordingsRemoved: 1,
        }),
      ]);
      expect(await readdir(recordingsDir)).toEqual([recent]);
    });

    it('verifies the pruned log from the anchoring checkpoint', async () => {
      expect(await verifyStore(store, {}, trusted)).toEqual({
        ok: true,
        events: 7,
        lastSeq: 14,
        lastHash: expect.any(String),
        checkpointsVerified: 2,
      });
    });
  },
);

describe('tampering after pruning (PostgreSQL store)', () => {
  const backend = postgresBackend('sluice_retention_t');
  let store: Store;
  openStoreFor(backend, (opened) => {
    store = opened;
  });
  beforeAll(async () => {
    // seq 1–4 ten days ago, 5–8 one day ago; pruning at seven days keeps 4 (signed) onwards.
    await appendSigned(store, 4, 10);
    await appendSigned(store, 4, 1);
    await retain(store, { eventsMs: 7 * DAY }, tmpdir());
  });

  /** Applies a raw edit to the store, verifies, and restores the tables exactly. */
  async function verifyAfter(edit: string) {
    await adminQuery(
      `CREATE TABLE sluice.events_backup AS TABLE sluice.audit_events;
       CREATE TABLE sluice.checkpoints_backup AS TABLE sluice.audit_checkpoints`,
      backend.database,
    );
    try {
      await adminQuery(edit, backend.database);
      return await verifyStore(store, {}, trusted);
    } finally {
      await adminQuery(
        `TRUNCATE sluice.audit_events, sluice.audit_checkpoints;
         INSERT INTO sluice.audit_events SELECT * FROM sluice.events_backup;
         INSERT INTO sluice.audit_checkpoints SELECT * FROM sluice.checkpoints_backup;
         DROP TABLE sluice.events_backup, sluice.checkpoints_backup`,
        backend.database,
      );
    }
  }

  it('is intact untouched', async () => {
    expect(await seqs(store)).toEqual([4, 5, 6, 7, 8, 9]);
    expect((await verifyStore(store, {}, trusted)).ok).toBe(true);
  });

  it('finds a changed record after the anchor', async () => {
    const result = await verifyAfter(
      `UPDATE sluice.audit_events SET event = replace(event, '"groups":[]', '"groups":["admin"]') WHERE seq = 6`,
    );
    expect(result).toMatchObject({ ok: false, firstBadSeq: 6 });
  });

  it('finds a changed anchor record', async () => {
    const result = await verifyAfter(
      `UPDATE sluice.audit_events SET event = replace(event, '"groups":[]', '"groups":["admin"]') WHERE seq = 4`,
    );
    expect(result).toMatchObject({ ok: false, firstBadSeq: 4 });
  });

  it('finds records removed past the anchor, when no checkpoint vouches for the new first record', async () => {
    const result = await verifyAfter('DELETE FROM sluice.audit_events WHERE seq = 4');
    expect(result).toMatchObject({ ok: false, firstBadSeq: 1 });
    expect(result.ok ? '' : result.reason).toContain('no signed checkpoint anchors record 5');
  });
});

describe('a gateway with audit.retention', () => {
  /** The gateway's config on `dataDir` (TLS listener, no admin API), with `audit` settings added. */
  function gatewayConfig(dataDir: string, target: TestDatabase, audit: string): SluiceConfig {
    return parseConfig(
      `listen:
  postgres: 127.0.0.1:0
admin:
  enabled: false
tls:
  mode: auto
dataDir: ${dataDir}
connections:
  - name: app
    type: postgres
    url: postgres://${target.role}@${PG_HOST}:${PG_PORT}/${target.name}
policies:
  - name: everyone
    subjects: { groups: [retention] }
    connections: [app]
audit:
  checkpointEvery: 1
${audit}`,
      'retention test config',
    );
  }

  it('prunes at startup up to a signed checkpoint, records the pass, and the log still verifies', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sluice-retention-gw-'));
    const target = await createTestDatabase('sluice_retention_t');
    const logger = createLogger({ level: 'silent' });
    const store = await openStoreInWorker(`pglite://${join(dataDir, 'store')}`, { logger });
    try {
      const first = await startGateway(gatewayConfig(dataDir, target, ''), {
        logger,
        store,
        env: process.env,
      });
      const { key } = await createApiKey(store, { name: 'retention', groups: ['retention'] });
      recordCredential(key);
      const client = gatewayClient(first.postgres, key);
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      await first.close();
      const before = await store.audit.range({});
      expect(before.map((record) => record.type)).toContain('statement.decided');
      // Everything so far becomes older than the cutoff; the restart's pass prunes it.
      await new Promise((resolve) => setTimeout(resolve, 1100));

      const second = await startGateway(gatewayConfig(dataDir, target, '  retention: { events: 1s }\n'), {
        logger,
        store,
        env: process.env,
      });
      await second.close();
      const after = await store.audit.range({});
      const pruned = after.find((record) => record.type === 'audit.pruned');
      const newestCheckpointed = Math.max(...(await store.audit.checkpoints()).map((c) => c.seq));
      if (pruned === undefined) throw new Error('no audit.pruned record after the restart');
      expect(pruned.event).toMatchObject({ type: 'audit.pruned', throughSeq: expect.any(Number) });
      const { throughSeq, anchorSeq } = pruned.event as { throughSeq: number; anchorSeq: number };
      // Records before the anchor are gone; the anchor and everything after it remain.
      expect(after[0]?.seq).toBe(anchorSeq);
      expect(throughSeq).toBe(anchorSeq - 1);
      expect(anchorSeq).toBeGreaterThan(1);
      expect(anchorSeq).toBeLessThanOrEqual(newestCheckpointed);
      expect(await verifyStore(store, {}, undefined)).toMatchObject({ ok: true });
    } finally {
      await store.close();
      await target.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
