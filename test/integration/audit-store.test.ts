/**
 * The audit repository on both backends (PGlite and the real PostgreSQL on 127.0.0.1:5432, a
 * scratch database per run): records read back exactly as hashed, so every stored hash can be
 * recomputed; appends from two stores sharing one PostgreSQL database, as replicas would, make
 * one gap-free chain; checkpoints and signing keys round trip.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type ChainedEvent, eventHash, GENESIS_HASH } from '../../src/audit/chain.ts';
import type { NewAuditEvent, Store } from '../../src/store/store.ts';
import { everyBackend, openStoreFor, replicasOnOnePostgres } from '../helpers/store-backends.ts';

function newEvent(overrides: Partial<NewAuditEvent> = {}): NewAuditEvent {
  const id = randomUUID();
  return {
    at: new Date().toISOString(),
    type: 'key.created',
    event: { type: 'key.created', keyId: id, name: `key-${id}`, groups: ['dev'] },
    ...overrides,
  };
}

const events = (count: number, overrides: Partial<NewAuditEvent> = {}) =>
  Array.from({ length: count }, () => newEvent(overrides));

/** Fails unless `records` are consecutive from `firstSeq`, each linked to the one before. */
function expectChain(records: readonly ChainedEvent[], firstSeq: number, prevHash: string): void {
  expect(records.map((record) => record.seq)).toEqual(records.map((_, i) => firstSeq + i));
  let previous = prevHash;
  for (const record of records) {
    expect(record.prevHash).toBe(previous);
    expect(eventHash(record)).toBe(record.hash);
    previous = record.hash;
  }
}

const backends = everyBackend('audit');

describe.each(backends)('$name audit store', (backend) => {
  let store: Store;
  openStoreFor(backend, (opened) => {
    store = opened;
  });

  /** What the log holds so far; tests share the store, so each starts after the previous. */
  const tail = async () => (await store.audit.head()) ?? { seq: 0, hash: GENESIS_HASH };

  it('is empty at first, and appending nothing stores nothing', async () => {
    expect(await store.audit.head()).toBeUndefined();
    expect(await store.audit.range({})).toEqual([]);
    expect(await store.audit.before(1)).toBeUndefined();
    expect(await store.audit.append([])).toEqual([]);
    expect(await store.audit.head()).toBeUndefined();
  });

  it('chains each batch after the head, from the genesis hash', async () => {
    const first = events(3);
    const second = events(2);
    const appended = [...(await store.audit.append(first)), ...(await store.audit.append(second))];
    expect(appended.map(({ at, type, event }) => ({ at, type, event }))).toEqual([...first, ...second]);
    expectChain(appended, 1, GENESIS_HASH);
    expect(await store.audit.head()).toEqual({ seq: 5, hash: appended[4]?.hash });
    expect(await store.audit.range({})).toEqual(appended);
  });

  it('reads back ranges: seq bounds, limit, sinceAt, and the record before a seq', async () => {
    const start = await tail();
    const base = Date.now() + 60_000;
    const appended = await store.audit.append(
      Array.from({ length: 6 }, (_, i) => newEvent({ at: new Date(base + i * 1000).toISOString() })),
    );
    const seqs = (records: readonly ChainedEvent[]) => records.map((record) => record.seq);
    const s = start.seq;

    expect(await store.audit.range({ fromSeq: s + 1 })).toEqual(appended);
    expect(seqs(await store.audit.range({ fromSeq: s + 2, toSeq: s + 4 }))).toEqual([s + 2, s + 3, s + 4]);
    expect(seqs(await store.audit.range({ toSeq: 2 }))).toEqual([1, 2]);
    expect(seqs(await store.audit.range({ fromSeq: s + 2, limit: 2 }))).toEqual([s + 2, s + 3]);
    expect(await store.audit.range({ fromSeq: s + 2, limit: 0 })).toEqual([]);
    expect(await store.audit.range({ fromSeq: s + 7 })).toEqual([]);
    expect(seqs(await store.audit.range({ sinceAt: new Date(base + 4000).toISOString() }))).toEqual([
      s + 5,
      s + 6,
    ]);
    // Any ISO form, between two records.
    const between = new Date(base + 3500).toISOString().replace('Z', '+00:00');
    expect(seqs(await store.audit.range({ sinceAt: between }))).toEqual([s + 5, s + 6]);
    expect(
      seqs(await store.audit.range({ sinceAt: new Date(base + 1000).toISOString(), toSeq: s + 3, limit: 5 })),
    ).toEqual([s + 2, s + 3]);

    expect(await store.audit.before(s + 3)).toEqual(appended[1]);
    expect((await store.audit.before(s + 1))?.hash).toBe(start.hash);
    expect((await store.audit.before(s + 100))?.seq).toBe(s + 6);
    expect(await store.audit.before(1)).toBeUndefined();
  });

  it('defaults to pages of 1000 records', async () => {
    const start = await tail();
    await store.audit.append(events(1001));
    const page = await store.audit.range({ fromSeq: start.seq + 1 });
    expect(page).toHaveLength(1000);
    expectChain(page, start.seq + 1, start.hash);
  });

  it('stores exactly what each hash covers, so every stored hash recomputes', async () => {
    const start = await tail();
    // What jsonb would rewrite or refuse (key order, number forms, NUL and other escapes), and an
    // `at` whose trailing zeros are part of the hashed text, which timestamptz would not keep.
    const tricky: NewAuditEvent[] = [
      newEvent({ at: '2030-01-02T03:04:05.000Z', event: { z: 1, a: 2, m: { y: [3, 1, 2], b: null } } }),
      newEvent({ event: { big: 2 ** 60, small: 1e-7, float: 0.1, exp: 1e21, neg: -5.5 } }),
      newEvent({
        event: { text: 'quote " backslash \\ nul \u0000 tab \t é ✓ 𝄞', empty: '', nested: [[], {}] },
      }),
      newEvent({ type: 'custom.type', event: ['an', 'array', 1, true, false, null] }),
      newEvent({ event: 'a bare string' }),
      newEvent({ event: 42 }),
      newEvent({ event: null }),
    ];
    const appended = await store.audit.append(tricky);
    const stored = await store.audit.range({ fromSeq: start.seq + 1 });
    expect(stored).toEqual(appended);
    expect(stored.map(({ at, type, event }) => ({ at, type, event }))).toEqual(tricky);
    expect(Object.keys(stored[0]?.event as object)).toEqual(['z', 'a', 'm']);
    expectChain(stored, start.seq + 1, start.hash);
    // The whole log, from genesis, still verifies.
    const all: ChainedEvent[] = [];
    for (let fromSeq = 1; ; ) {
      const page = await store.audit.range({ fromSeq, limit: 500 });
      if (page.length === 0) break;
      all.push(...page);
      fromSeq = (page.at(-1)?.seq ?? 0) + 1;
    }
    expectChain(all, 1, GENESIS_HASH);
  });

  it('keeps checkpoints by seq, the first one for a seq', async () => {
    const checkpoint = (seq: number, keyId = 'key-1') => ({
      seq,
      hash: `${seq}`.padStart(64, '0'),
      at: new Date().toISOString(),
      keyId,
      signature: `signature-${seq}-${keyId}`,
    });
    expect(await store.audit.checkpoints()).toEqual([]);
    const later = checkpoint(10);
    const earlier = checkpoint(5, 'key-2');
    await store.audit.addCheckpoint(later);
    await store.audit.addCheckpoint(earlier);
    await store.audit.addCheckpoint(checkpoint(10, 'key-3'));
    expect(await store.audit.checkpoints()).toEqual([earlier, later]);
  });

  it('registers signing keys once; a key id cannot be reused for another key', async () => {
    expect(await store.audit.keys()).toEqual([]);
    const pem = (name: string) => `-----BEGIN PUBLIC KEY-----\n${name}\n-----END PUBLIC KEY-----\n`;
    await store.audit.addKey('key-1', pem('one'));
    await store.audit.addKey('key-1', pem('one'));
    await store.audit.addKey('key-2', pem('two'));
    await expect(store.audit.addKey('key-1', pem('other'))).rejects.toMatchObject({
      code: 'GW_ERR_STORE',
      message: expect.stringContaining('key-1'),
    });
    expect(await store.audit.keys()).toEqual([
      { keyId: 'key-1', publicKeyPem: pem('one') },
      { keyId: 'key-2', publicKeyPem: pem('two') },
    ]);
  });
});

describe('postgres audit store replicas', () => {
  const replicas = replicasOnOnePostgres('sluice_audit');

  it('append concurrently into one gap-free chain', async () => {
    const batches = Array.from({ length: 20 }, () => events(5));
    const results = await Promise.all(
      batches.map((batch, i) => (i % 2 === 0 ? replicas.a : replicas.b).audit.append(batch)),
    );
    // Each batch is stored whole, in order, in consecutive seqs.
    for (const [i, records] of results.entries()) {
      expect(records.map((record) => record.event)).toEqual(batches[i]?.map((item) => item.event));
      expect(records.map((record) => record.seq - (records[0]?.seq ?? 0))).toEqual([0, 1, 2, 3, 4]);
    }
    const stored = await replicas.b.audit.range({});
    expect(stored).toHaveLength(100);
    expectChain(stored, 1, GENESIS_HASH);
    expect(stored).toEqual(results.flat().sort((a, b) => a.seq - b.seq));
    expect(await replicas.a.audit.head()).toEqual({ seq: 100, hash: stored[99]?.hash });
  });
});
