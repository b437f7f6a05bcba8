import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  API_KEY_PATTERN,
  ApiKeyAuthenticator,
  createApiKey,
  generateApiKey,
  isRevokedOrExpired,
} from '../../src/identity/api-keys.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/store.ts';

let dir: string;
let store: Store;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-api-keys-'));
  store = await openStore(`pglite://${dir}`);
});

afterAll(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

let counter = 0;
/** A fresh name per test: keys share one store and names are unique among active keys. */
const uniqueName = () => `k${++counter}-${process.pid}`;

describe('generateApiKey', () => {
  it('is slk_ + base64url of exactly 32 bytes, with a 12-char prefix and an ak_ id', () => {
    const { key, id, prefix } = generateApiKey();
    expect(key).toMatch(API_KEY_PATTERN);
    expect(key).toHaveLength(4 + 43);
    expect(Buffer.from(key.slice(4), 'base64url')).toHaveLength(32);
    // base64url round-trips: no padding, no '+' or '/'.
    expect(Buffer.from(key.slice(4), 'base64url').toString('base64url')).toBe(key.slice(4));
    expect(prefix).toBe(key.slice(0, 12));
    expect(id).toMatch(/^ak_[0-9a-f]{16}$/);
  });

  it('hashes with SHA-256 and the hash reveals nothing of the key', () => {
    const { key, hash } = generateApiKey();
    expect(hash).toBe(createHash('sha256').update(key).digest('hex'));
    expect(hash).not.toContain(key.slice(4, 12));
  });

  it('uses all 256 bits: every bit position takes both values across keys', () => {
    // With 256 truly random bits, a position stuck at one value over 300 keys has probability
    // 2 * 2^-300; a generator with fewer random bytes (or a fixed tail) fails this at once.
    const seenOne = new Uint8Array(32);
    const seenZero = new Uint8Array(32);
    const keys = new Set<string>();
    for (let i = 0; i < 300; i += 1) {
      const { key } = generateApiKey();
      keys.add(key);
      const bytes = Buffer.from(key.slice(4), 'base64url');
      for (let b = 0; b < 32; b += 1) {
        const byte = bytes[b] ?? 0;
        seenOne[b] = (seenOne[b] ?? 0) | byte;
        seenZero[b] = (seenZero[b] ?? 0) | (~byte & 0xff);
      }
    }
    expect(keys.size).toBe(300);
    expect([...seenOne]).toEqual(new Array(32).fill(0xff));
    expect([...seenZero]).toEqual(new Array(32).fill(0xff));
  });
});

describe('createApiKey', () => {
  it('stores the hash, not the key, and dedupes groups', async () => {
    const name = uniqueName();
    const { record, key } = await createApiKey(store, { name, groups: ['ci', 'deploy', 'ci'] });
    expect(record.hash).not.toBe(key);
    expect(record.hash).toBe(createHash('sha256').update(key).digest('hex'));
    expect(record.prefix).toBe(key.slice(0, 12));
    expect(record.groups).toEqual(['ci', 'deploy']);
    expect(record.expiresAt).toBeNull();
  });

  it('computes expiresAt from now', async () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const { record } = await createApiKey(store, {
      name: uniqueName(),
      groups: [],
      expiresInMs: 60_000,
      now,
    });
    expect(record.expiresAt?.toISOString()).toBe('2030-01-01T00:01:00.000Z');
  });

  it.each([
    ['an empty name', { name: '', groups: ['ci'] }],
    ['a 65-char name', { name: 'a'.repeat(65), groups: ['ci'] }],
    ['a name with a space', { name: 'my key', groups: ['ci'] }],
    ['an empty group', { name: 'ok', groups: [''] }],
    ['a group with a comma', { name: 'ok', groups: ['a,b'] }],
    ['a zero lifetime', { name: 'ok', groups: ['ci'], expiresInMs: 0 }],
    ['a negative lifetime', { name: 'ok', groups: ['ci'], expiresInMs: -5 }],
  ])('rejects %s', async (_label, input) => {
    await expect(createApiKey(store, input)).rejects.toMatchObject({ code: 'GW_ERR_CONFIG' });
  });

  it('accepts a 64-char name from the full alphabet', async () => {
    const name = `Az09._-${'x'.repeat(57)}`;
    await expect(createApiKey(store, { name, groups: ['g'] })).resolves.toMatchObject({ record: { name } });
  });
});

describe('ApiKeyAuthenticator', () => {
  it('accepts a valid key as a service principal and records the use', async () => {
    const { record, key } = await createApiKey(store, { name: uniqueName(), groups: ['ci', 'deploy'] });
    const principal = await new ApiKeyAuthenticator(store).authenticate(key);
    expect(principal).toEqual({
      id: `key:${record.id}`,
      kind: 'service',
      name: record.name,
      groups: ['ci', 'deploy'],
      claims: {},
      expiresAt: undefined,
    });
    await vi.waitFor(async () =>
      expect((await store.apiKeys.findById(record.id))?.lastUsedAt).toBeInstanceOf(Date),
    );
  });

  it('carries the expiry into the principal', async () => {
    const now = new Date();
    const { key, record } = await createApiKey(store, {
      name: uniqueName(),
      groups: ['ci'],
      expiresInMs: 3_600_000,
      now,
    });
    const principal = await new ApiKeyAuthenticator(store, () => now).authenticate(key);
    expect(principal?.expiresAt).toEqual(record.expiresAt);
  });

  it('rejects a key that was never stored', async () => {
    await createApiKey(store, { name: uniqueName(), groups: ['ci'] });
    expect(await new ApiKeyAuthenticator(store).authenticate(generateApiKey().key)).toBeUndefined();
  });

  it('rejects a valid key with any single character changed', async () => {
    const { key } = await createApiKey(store, { name: uniqueName(), groups: ['ci'] });
    const authenticator = new ApiKeyAuthenticator(store);
    for (const position of [0, 4, 11, 12, 30, key.length - 1]) {
      const original = key[position];
      const altered = key.slice(0, position) + (original === 'A' ? 'B' : 'A') + key.slice(position + 1);
      expect(await authenticator.authenticate(altered), `position ${position}`).toBeUndefined();
    }
    expect(await authenticator.authenticate(key)).toBeDefined();
  });

  it('rejects a revoked key', async () => {
    const { key, record } = await createApiKey(store, { name: uniqueName(), groups: ['ci'] });
    const authenticator = new ApiKeyAuthenticator(store);
    expect(await authenticator.authenticate(key)).toBeDefined();
    await store.apiKeys.revoke(record.id);
    expect(await authenticator.authenticate(key)).toBeUndefined();
  });

  it('rejects a key from the instant it expires', async () => {
    const now = new Date('2030-06-01T12:00:00Z');
    const { key } = await createApiKey(store, { name: uniqueName(), groups: ['ci'], expiresInMs: 1000, now });
    const at = (ms: number) => new ApiKeyAuthenticator(store, () => new Date(now.getTime() + ms));
    expect(await at(999).authenticate(key)).toBeDefined();
    expect(await at(1000).authenticate(key)).toBeUndefined();
  });

  it.each([
    ['an empty string', ''],
    ['the bare prefix', 'slk_'],
    ['a password', 'hunter2'],
    ['a key of the wrong length', `slk_${'A'.repeat(42)}`],
    ['megabytes of garbage', 'x'.repeat(1_000_000)],
  ])('rejects %s', async (_label, credential) => {
    expect(await new ApiKeyAuthenticator(store).authenticate(credential)).toBeUndefined();
  });

  it('rejects a stored record whose secret is not shaped like a key', async () => {
    // Only generateApiKey output should ever authenticate, even if a record was written by hand.
    const hash = createHash('sha256').update('letmein').digest('hex');
    await store.apiKeys.create({
      id: 'ak_handmade',
      name: uniqueName(),
      prefix: 'letmein',
      hash,
      groups: [],
      expiresAt: null,
    });
    expect(await new ApiKeyAuthenticator(store).authenticate('letmein')).toBeUndefined();
  });

  it('rejects a stored hash presented as the credential', async () => {
    const { record } = await createApiKey(store, { name: uniqueName(), groups: ['ci'] });
    expect(await new ApiKeyAuthenticator(store).authenticate(record.hash)).toBeUndefined();
  });

  it('looks the credential up even when its shape is already wrong (no timing shortcut)', async () => {
    const findByHash = vi.spyOn(store.apiKeys, 'findByHash');
    try {
      const authenticator = new ApiKeyAuthenticator(store);
      for (const credential of ['', 'garbage', 'slk_short']) await authenticator.authenticate(credential);
      expect(findByHash).toHaveBeenCalledTimes(3);
    } finally {
      findByHash.mockRestore();
    }
  });

  it('stillValid follows revocation and expiry, and knows only key principals', async () => {
    const now = new Date();
    const { key, record } = await createApiKey(store, {
      name: uniqueName(),
      groups: ['ci'],
      expiresInMs: 60_000,
      now,
    });
    const authenticator = new ApiKeyAuthenticator(store, () => now);
    const principal = await authenticator.authenticate(key);
    expect(principal).toBeDefined();
    const id = principal?.id ?? '';
    expect(await authenticator.stillValid(id)).toBe(true);
    expect(await authenticator.stillValid(id, new Date(now.getTime() + 60_000))).toBe(false);
    expect(await authenticator.stillValid(`oidc:${record.id}`)).toBe(false);
    expect(await authenticator.stillValid('key:ak_0000000000000000')).toBe(false);
    await store.apiKeys.revoke(record.id);
    expect(await authenticator.stillValid(id)).toBe(false);
  });
});

describe('isRevokedOrExpired', () => {
  const base = {
    id: 'ak_1',
    name: 'n',
    prefix: 'slk_',
    hash: '',
    groups: [],
    createdAt: new Date(0),
    expiresAt: null,
    revokedAt: null,
    lastUsedAt: null,
  };
  const now = new Date(10_000);
  it.each([
    ['active, no expiry', base, false],
    ['expiring later', { ...base, expiresAt: new Date(10_001) }, false],
    ['expiring now', { ...base, expiresAt: new Date(10_000) }, true],
    ['revoked', { ...base, revokedAt: new Date(5_000) }, true],
  ])('%s', (_label, record, expected) => {
    expect(isRevokedOrExpired(record, now)).toBe(expected);
  });
});
