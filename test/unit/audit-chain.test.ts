import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ChainedEvent,
  ChainVerifier,
  type ChainVerifierOptions,
  type Checkpoint,
  canonicalJson,
  chainNext,
  checkpointValid,
  eventHash,
  GENESIS_HASH,
  keyIdOf,
  signCheckpoint,
  type VerifyResult,
} from '../../src/audit/chain.ts';
import type { AuditEvent } from '../../src/audit/events.ts';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const publicKeys = new Map([[keyIdOf(publicKey), publicKey]]);

const T0 = Date.parse('2026-11-22T00:00:00.000Z');

/** The n-th event to append (1-based): distinct content and a time one second apart. */
function item(n: number, name = `db-password-${n}`) {
  const event = {
    type: 'secret.set',
    actor: { id: 'u_1', name: 'Ada', kind: 'human', sourceAddress: '10.0.0.7' },
    name,
    version: n,
  } satisfies AuditEvent;
  return { at: new Date(T0 + n * 1000).toISOString(), type: event.type, event };
}

function items(from: number, to: number, name?: (n: number) => string) {
  return Array.from({ length: to - from + 1 }, (_, i) => item(from + i, name?.(from + i)));
}

function recordAt(chain: readonly ChainedEvent[], seq: number): ChainedEvent {
  const record = chain.find((candidate) => candidate.seq === seq);
  if (record === undefined) throw new Error(`no record ${seq}`);
  return record;
}

function checkpointAt(chain: readonly ChainedEvent[], seq: number, key: KeyObject = privateKey): Checkpoint {
  return signCheckpoint(key, {
    seq,
    hash: recordAt(chain, seq).hash,
    at: new Date(T0 + seq * 1000 + 500).toISOString(),
  });
}

function verify(
  records: readonly ChainedEvent[],
  options: Partial<ChainVerifierOptions> & Pick<ChainVerifierOptions, 'checkpoints'>,
): VerifyResult {
  const verifier = new ChainVerifier({ publicKeys, ...options });
  for (const record of records) verifier.push(record);
  return verifier.finish();
}

const CHAIN = chainNext(undefined, items(1, 1000));
const CHECKPOINTS = [250, 500, 1000].map((seq) => checkpointAt(CHAIN, seq));
const R37 = recordAt(CHAIN, 37);
const R38 = recordAt(CHAIN, 38);

/** CHAIN with the record at `seq` replaced by `record` (not rehashed unless the caller did). */
const replaced = (seq: number, record: ChainedEvent) => CHAIN.map((r) => (r.seq === seq ? record : r));

describe('canonicalJson', () => {
  it('sorts object keys by UTF-16 code units at every level (the RFC 8785 sorting example)', () => {
    const value = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    expect(canonicalJson(value).match(/"[^"]*":/g)).toEqual(
      ['\\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'].map((key) => `"${key}":`),
    );
    expect(canonicalJson({ b: { d: 1, c: [{ z: 1, y: 2 }] }, a: null })).toBe(
      '{"a":null,"b":{"c":[{"y":2,"z":1}],"d":1}}',
    );
  });

  it('escapes only what JSON requires, lone surrogates as \\u escapes', () => {
    expect(canonicalJson('"\\\n\t\u0001\u001f é € \u2028 😀')).toBe(
      '"\\"\\\\\\n\\t\\u0001\\u001f é € \u2028 😀"',
    );
    expect(canonicalJson('\ud800')).toBe('"\\ud800"');
    expect(canonicalJson({ 'k"\n': true })).toBe('{"k\\"\\n":true}');
  });

  it('writes numbers in the shortest round-trip form, as JCS does', () => {
    expect(
      canonicalJson([-0, 4.5, 2e-3, 1e30, 1e-27, Number('333333333.33333329'), 1e21, 9007199254740991]),
    ).toBe('[0,4.5,0.002,1e+30,1e-27,333333333.3333333,1e+21,9007199254740991]');
  });

  it('drops undefined properties, with no whitespace anywhere', () => {
    expect(canonicalJson({ a: undefined, b: [1, 'x', false, null, {}], c: { d: undefined } })).toBe(
      '{"b":[1,"x",false,null,{}],"c":{}}',
    );
  });

  it('accepts null-prototype objects and shared (non-cyclic) references', () => {
    const shared = { x: 1 };
    const bare = Object.assign(Object.create(null) as object, { b: 2, a: 1 });
    expect(canonicalJson({ p: shared, q: shared, bare })).toBe(
      '{"bare":{"a":1,"b":2},"p":{"x":1},"q":{"x":1}}',
    );
  });

  it('throws on what is not JSON or would not read back as the same value', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = { back: cyclic };
    for (const bad of [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      { n: Number.NEGATIVE_INFINITY },
      10n,
      () => 1,
      Symbol('s'),
      undefined,
      [1, undefined],
      new Array(2),
      cyclic,
      new Date(T0),
      new Map(),
    ]) {
      expect(() => canonicalJson(bad), String(typeof bad)).toThrow(TypeError);
    }
  });
});

describe('eventHash', () => {
  // Fixed vectors: any change to the encoding or hashing breaks every stored chain, so it must fail here.
  const record = {
    seq: 1,
    at: '2026-11-22T01:02:03.456Z',
    type: 'key.revoked',
    event: {
      type: 'key.revoked',
      actor: { id: 'u_1', name: 'Ada', kind: 'human', sourceAddress: '10.0.0.7' },
      keyId: 'ak_x',
      name: 'ci-deploy',
    } satisfies AuditEvent,
    prevHash: GENESIS_HASH,
  };

  it('is SHA-256 over the canonical encoding of the five linked fields', () => {
    expect(GENESIS_HASH).toBe('0'.repeat(64));
    expect(canonicalJson(record)).toBe(
      '{"at":"2026-11-22T01:02:03.456Z","event":{"actor":{"id":"u_1","kind":"human","name":"Ada",' +
        '"sourceAddress":"10.0.0.7"},"keyId":"ak_x","name":"ci-deploy","type":"key.revoked"},' +
        `"prevHash":"${GENESIS_HASH}","seq":1,"type":"key.revoked"}`,
    );
    expect(eventHash(record)).toBe('627731065b99312b5f5d4e111c8255eda7c93ceab32d1fb5d2856f7c517a041e');
  });

  it('ignores the hash field and key order of what it is given', () => {
    const { event, ...rest } = record;
    expect(eventHash({ ...record, hash: 'anything' } as ChainedEvent)).toBe(eventHash(record));
    expect(eventHash({ event, ...rest })).toBe(eventHash(record));
  });

  it('keyIdOf and Ed25519 checkpoints are stable for a fixed key', () => {
    const seed = Buffer.alloc(32, 7);
    const pkcs8Prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
    const fixedKey = createPrivateKey({
      key: Buffer.concat([pkcs8Prefix, seed]),
      format: 'der',
      type: 'pkcs8',
    });
    const checkpoint = signCheckpoint(fixedKey, {
      seq: 1,
      hash: eventHash(record),
      at: '2026-11-22T01:05:00.000Z',
    });
    expect(checkpoint).toEqual({
      seq: 1,
      hash: '627731065b99312b5f5d4e111c8255eda7c93ceab32d1fb5d2856f7c517a041e',
      at: '2026-11-22T01:05:00.000Z',
      keyId: '324be2dea8bc4446',
      signature: 'aDeP+iw4H1fYVLBy8EUvTpU3158h4SQiDh9WZ/a9j4faOig2pMabFN+wwO+i9XZa45Kouv381V2bJiBMVEjNDQ==',
    });
    expect(checkpointValid(checkpoint, createPublicKey(fixedKey))).toBe(true);
  });
});

describe('chainNext', () => {
  it('starts an empty chain at seq 1 after the genesis hash', () => {
    const [first, second] = chainNext(undefined, items(1, 2));
    expect(first).toMatchObject({ seq: 1, prevHash: GENESIS_HASH, ...item(1) });
    expect(first?.hash).toBe(first && eventHash(first));
    expect(second).toMatchObject({ seq: 2, prevHash: first?.hash });
  });

  it('continues from a head exactly as one call would have', () => {
    const head = recordAt(CHAIN, 10);
    expect(chainNext(head, items(11, 20))).toEqual(CHAIN.slice(10, 20));
    expect(chainNext(head, [])).toEqual([]);
  });

  it('refuses what the verifier would reject: bad head, bad time, mismatched type', () => {
    expect(() => chainNext({ seq: 0, hash: GENESIS_HASH }, items(1, 1))).toThrow(RangeError);
    expect(() => chainNext({ seq: 3, hash: 'ABC' }, items(4, 4))).toThrow(RangeError);
    for (const at of ['2026-11-22T01:02:03Z', '2026-11-22T01:02:03.456+01:00', '2026-02-30T00:00:00.000Z']) {
      expect(() => chainNext(undefined, [{ ...item(1), at }]), at).toThrow(RangeError);
    }
    expect(() => chainNext(undefined, [{ ...item(1), type: 'key.created' }])).toThrow(/differs/);
  });
});

describe('checkpoints', () => {
  it('verify with the signing key only, over every signed field', () => {
    const checkpoint = checkpointAt(CHAIN, 250);
    expect(checkpoint.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(checkpointValid(checkpoint, publicKey)).toBe(true);
    expect(checkpointValid(checkpoint, generateKeyPairSync('ed25519').publicKey)).toBe(false);
    for (const forged of [
      { ...checkpoint, seq: 251 },
      { ...checkpoint, hash: R37.hash },
      { ...checkpoint, at: '2027-01-01T00:00:00.000Z' },
      { ...checkpoint, signature: `${checkpoint.signature.slice(0, -3)}!${checkpoint.signature.slice(-3)}` },
      { ...checkpoint, signature: 42 as unknown as string },
    ]) {
      expect(checkpointValid(forged, publicKey)).toBe(false);
    }
  });

  it('are signed only with an Ed25519 private key and over a real head', () => {
    expect(() => signCheckpoint(publicKey, { seq: 1, hash: GENESIS_HASH, at: item(1).at })).toThrow(
      TypeError,
    );
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    expect(() => signCheckpoint(rsa, { seq: 1, hash: GENESIS_HASH, at: item(1).at })).toThrow(TypeError);
    expect(() => signCheckpoint(privateKey, { seq: 1.5, hash: GENESIS_HASH, at: item(1).at })).toThrow(
      RangeError,
    );
  });
});

describe('ChainVerifier', () => {
  it('passes a valid chain of 1000 with checkpoints at 250, 500 and 1000', () => {
    expect(verify(CHAIN, { checkpoints: CHECKPOINTS })).toEqual({
      ok: true,
      events: 1000,
      lastSeq: 1000,
      lastHash: recordAt(CHAIN, 1000).hash,
      checkpointsVerified: 3,
    });
  });

  it('passes an empty chain with no checkpoints', () => {
    expect(verify([], { checkpoints: [] })).toEqual({
      ok: true,
      events: 0,
      lastSeq: 0,
      lastHash: GENESIS_HASH,
      checkpointsVerified: 0,
    });
  });

  const tampered: [string, () => readonly ChainedEvent[], number, RegExp][] = [
    [
      'a field of record 37’s event modified',
      () => replaced(37, { ...R37, event: { ...(R37.event as object), version: 999 } }),
      37,
      /record 37 was modified/,
    ],
    [
      'record 37’s time modified',
      () => replaced(37, { ...R37, at: '2026-11-22T00:00:36.999Z' }),
      37,
      /modified/,
    ],
    ['record 37’s type modified', () => replaced(37, { ...R37, type: 'secret.rotated' }), 37, /modified/],
    ['record 37 deleted', () => CHAIN.filter((r) => r.seq !== 37), 37, /record 37 is missing/],
    [
      'records 37 and 38 swapped in storage order',
      () => [...CHAIN.slice(0, 36), R38, R37, ...CHAIN.slice(38)],
      37,
      /record 37 is missing/,
    ],
    [
      'records 37 and 38 swapped in content, seqs kept',
      () => replaced(37, { ...R38, seq: 37 }).map((r) => (r.seq === 38 ? { ...R37, seq: 38 } : r)),
      37,
      /record 37/,
    ],
    [
      'a forged record inserted between 37 and 38, reusing seq 38 and linked to 37',
      () => {
        const [forged] = chainNext(R37, [item(38, 'forged')]);
        if (forged === undefined) throw new Error('no forged record');
        return [...CHAIN.slice(0, 37), forged, ...CHAIN.slice(37)];
      },
      38,
      /seq 38 follows seq 38: a repeated or reordered record/,
    ],
    [
      'everything from 300 on rewritten with recomputed hashes',
      () => [
        ...CHAIN.slice(0, 299),
        ...chainNext(
          recordAt(CHAIN, 299),
          items(300, 1000, (n) => `rewritten-${n}`),
        ),
      ],
      500,
      /the chain was rewritten before checkpoint 500 \(after checkpoint 250\)/,
    ],
  ];

  it.each(tampered)('%s: fails at seq %2$i', (_name, records, firstBadSeq, reason) => {
    const result = verify(records(), { checkpoints: CHECKPOINTS });
    expect(result).toMatchObject({ ok: false, firstBadSeq });
    expect(result.ok || result.reason).toMatch(reason);
  });

  it('fails a checkpoint signed by an unknown key', () => {
    const stranger = generateKeyPairSync('ed25519').privateKey;
    const checkpoints = [CHECKPOINTS[0], checkpointAt(CHAIN, 500, stranger), CHECKPOINTS[2]].filter(
      (c) => c !== undefined,
    );
    expect(verify(CHAIN, { checkpoints })).toMatchObject({
      ok: false,
      firstBadSeq: 500,
      reason: expect.stringMatching(/checkpoint at seq 500 is signed by unknown key [0-9a-f]{16}/),
    });
  });

  it('fails a checkpoint with a bad signature', () => {
    const good = checkpointAt(CHAIN, 500);
    const flipped = Buffer.from(good.signature, 'base64');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    for (const bad of [
      { ...good, signature: flipped.toString('base64') },
      { ...good, seq: 501 },
    ]) {
      expect(verify(CHAIN, { checkpoints: [bad] })).toMatchObject({
        ok: false,
        firstBadSeq: bad.seq,
        reason: expect.stringMatching(/invalid signature/),
      });
    }
  });

  it('fails records truncated after a checkpoint, naming the first missing seq', () => {
    expect(verify(CHAIN.slice(0, 600), { checkpoints: CHECKPOINTS })).toEqual({
      ok: false,
      firstBadSeq: 601,
      reason: 'records after seq 600 are missing (checkpoint at seq 1000)',
    });
    expect(verify([], { checkpoints: CHECKPOINTS })).toMatchObject({ ok: false, firstBadSeq: 1 });
  });

  it('cannot see a tail truncated after the last checkpoint (documented limit)', () => {
    const result = verify(CHAIN.slice(0, 600), { checkpoints: CHECKPOINTS.slice(0, 2) });
    expect(result).toMatchObject({ ok: true, lastSeq: 600, checkpointsVerified: 2 });
  });

  it('reports only the first problem', () => {
    const records = replaced(37, { ...R37, at: '2026-11-22T00:00:36.999Z' }).filter((r) => r.seq !== 40);
    expect(verify(records, { checkpoints: CHECKPOINTS })).toMatchObject({ ok: false, firstBadSeq: 37 });
  });

  it('fails a record whose type disagrees with its event, even when rehashed', () => {
    const { hash: _, ...unhashed } = R37;
    const relabelled = { ...unhashed, type: 'secret.rotated' };
    const records = replaced(37, { ...relabelled, hash: eventHash(relabelled) }).slice(0, 37);
    expect(verify(records, { checkpoints: [] })).toMatchObject({
      ok: false,
      firstBadSeq: 37,
      reason: expect.stringMatching(/differs from the event's type/),
    });
  });

  it('never throws on malformed stored data', () => {
    const bad = [
      { ...R37, seq: '37' },
      { ...R37, event: { n: Number.NaN } },
    ] as unknown as ChainedEvent[];
    for (const record of bad) {
      const result = verify([...CHAIN.slice(0, 36), record], { checkpoints: [] });
      expect(result).toMatchObject({ ok: false, firstBadSeq: 37 });
    }
  });

  describe('range verification with start', () => {
    const start = { seq: 400, hash: recordAt(CHAIN, 400).hash };

    it('verifies records after start and the checkpoints inside the range', () => {
      expect(verify(CHAIN.slice(400), { checkpoints: CHECKPOINTS, start })).toEqual({
        ok: true,
        events: 600,
        lastSeq: 1000,
        lastHash: recordAt(CHAIN, 1000).hash,
        checkpointsVerified: 2,
      });
      expect(verify([], { checkpoints: [], start })).toMatchObject({
        ok: true,
        events: 0,
        lastHash: start.hash,
      });
    });

    it('fails when the first record does not follow start', () => {
      expect(
        verify(CHAIN.slice(400), { checkpoints: CHECKPOINTS, start: { ...start, hash: R37.hash } }),
      ).toEqual({
        ok: false,
        firstBadSeq: 401,
        reason: "record 401 does not link to the chain: its prevHash is not record 400's hash",
      });
      expect(verify(CHAIN.slice(401), { checkpoints: CHECKPOINTS, start })).toMatchObject({
        ok: false,
        firstBadSeq: 401,
      });
    });

    it('still catches a rewrite inside the range at the next checkpoint', () => {
      const rewritten = chainNext(
        recordAt(CHAIN, 450),
        items(451, 1000, (n) => `rewritten-${n}`),
      );
      expect(
        verify([...CHAIN.slice(400, 450), ...rewritten], { checkpoints: CHECKPOINTS, start }),
      ).toMatchObject({
        ok: false,
        firstBadSeq: 500,
        reason: expect.stringMatching(/rewritten before checkpoint 500/),
      });
    });
  });

  describe('a pruned log, anchored at its first record', () => {
    /** What retention leaves: records from a checkpoint's on, started from the first one's own link. */
    const pruned = (first: number) => ({
      records: CHAIN.slice(first - 1),
      start: { seq: first - 1, hash: recordAt(CHAIN, first).prevHash, anchored: true },
    });

    it('verifies from a first record that a signed checkpoint vouches for', () => {
      const { records, start } = pruned(250);
      expect(verify(records, { checkpoints: CHECKPOINTS, start })).toMatchObject({
        ok: true,
        events: 751,
        lastSeq: 1000,
        checkpointsVerified: 3,
      });
    });

    it('fails when no checkpoint vouches for the first record', () => {
      const { records, start } = pruned(251);
      expect(verify(records, { checkpoints: CHECKPOINTS, start })).toEqual({
        ok: false,
        firstBadSeq: 1,
        reason:
          'records before seq 251 are missing, and no signed checkpoint anchors record 251 (retention keeps one)',
      });
    });

    it('fails when the anchor record was rewritten with a link of its own', () => {
      const [forged] = chainNext({ seq: 249, hash: 'f'.repeat(64) }, [item(250, 'forged')]);
      const { records, start } = pruned(250);
      expect(
        verify([forged as ChainedEvent, ...records.slice(1)], {
          checkpoints: CHECKPOINTS,
          start: { ...start, hash: 'f'.repeat(64) },
        }),
      ).toMatchObject({ ok: false, firstBadSeq: 250 });
    });
  });

  describe('properties', () => {
    const SMALL = chainNext(undefined, items(1, 60));
    const SMALL_CHECKPOINTS = [20, 40, 60].map((seq) => checkpointAt(SMALL, seq));
    const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);

    /** A change to one field of a record, never a no-op. */
    const modification = fc.oneof(
      fc.record({
        field: fc.constant('seq' as const),
        value: fc.oneof(fc.integer({ min: -5, max: 70 }), fc.double()),
      }),
      fc.record({
        field: fc.constant('at' as const),
        value: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      }),
      fc.record({ field: fc.constant('type' as const), value: fc.string() }),
      fc.record({ field: fc.constant('event' as const), value: fc.jsonValue() }),
      fc.record({ field: fc.constant('prevHash' as const), value: hex64 }),
      fc.record({ field: fc.constant('hash' as const), value: hex64 }),
    );

    it('a modified field of any record is detected at that record’s seq or earlier', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 60 }), modification, (seq, { field, value }) => {
          const original = recordAt(SMALL, seq);
          fc.pre(
            field === 'event'
              ? canonicalJson(original.event) !== canonicalJson(value)
              : !Object.is(original[field], value),
          );
          const records = SMALL.map((r) => (r.seq === seq ? { ...r, [field]: value } : r));
          const result = verify(records, { checkpoints: SMALL_CHECKPOINTS });
          expect(result.ok).toBe(false);
          expect(result.ok || result.firstBadSeq).toBeLessThanOrEqual(seq);
        }),
      );
    });

    it('a rewrite from any record with recomputed hashes is caught by the next checkpoint', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 60 }), (from) => {
          const head = from === 1 ? undefined : recordAt(SMALL, from - 1);
          const records = [
            ...SMALL.slice(0, from - 1),
            ...chainNext(
              head,
              items(from, 60, (n) => `forged-${n}`),
            ),
          ];
          const next = Math.ceil(from / 20) * 20;
          expect(verify(records, { checkpoints: SMALL_CHECKPOINTS })).toMatchObject({
            ok: false,
            firstBadSeq: next,
            reason: expect.stringMatching(`rewritten before checkpoint ${next}`),
          });
        }),
      );
    });
  });
});
