import { describe, expect, it } from 'vitest';
import { AuthThrottle, credentialPrefix } from '../../src/identity/auth-throttle.ts';

const options = { freeFailures: 2, baseDelayMs: 100, maxDelayMs: 1000, forgetAfterMs: 60_000, maxTracked: 5 };

describe('AuthThrottle', () => {
  it('lets the first failures through, then doubles the delay up to the cap', () => {
    let now = 0;
    const throttle = new AuthThrottle(options, () => now);
    const delays = Array.from({ length: 8 }, () => throttle.failed('10.0.0.1', 'slk_aaaaaaaa'));
    expect(delays).toEqual([0, 0, 100, 200, 400, 800, 1000, 1000]);
    now += 60_001;
    expect(throttle.failed('10.0.0.1', 'slk_aaaaaaaa')).toBe(0);
  });

  it('keys failures by address and by prefix independently', () => {
    const throttle = new AuthThrottle(options, () => 0);
    for (let i = 0; i < 4; i++) throttle.failed('10.0.0.1', `slk_${i}`.padEnd(12, 'x'));
    // Same address, fresh prefix: the address history still counts.
    expect(throttle.failed('10.0.0.1', 'slk_fresh___')).toBe(400);
    // Distributed guessing at one key: the prefix history counts from any address.
    for (let i = 0; i < 4; i++) throttle.failed(`10.0.1.${i}`, 'slk_target__');
    expect(throttle.failed('10.0.2.1', 'slk_target__')).toBe(400);
    // An unrelated address and key is not slowed at all.
    expect(throttle.failed('10.9.9.9', 'slk_other___')).toBe(0);
  });

  it('a success clears the key but not the address', () => {
    const throttle = new AuthThrottle(options, () => 0);
    for (let i = 0; i < 4; i++) throttle.failed('10.0.0.1', 'slk_aaaaaaaa');
    throttle.succeeded('slk_aaaaaaaa');
    expect(throttle.failed('10.0.0.2', 'slk_aaaaaaaa')).toBe(0);
    expect(throttle.failed('10.0.0.1', 'slk_bbbbbbbb')).toBe(400);
  });

  it('keeps memory bounded under a spoofed-address flood', () => {
    const throttle = new AuthThrottle(options, () => 0);
    for (let i = 0; i < 1000; i++) throttle.failed(`10.1.${i >> 8}.${i & 255}`, 'other');
    expect(throttle.trackedEntries).toBeLessThanOrEqual(2 * options.maxTracked);
  });
});

describe('credentialPrefix', () => {
  it('groups by the non-secret part of a credential', () => {
    expect(credentialPrefix('slk_AbCdEfGhIjKlMnOp')).toBe('slk_AbCdEfGh');
    const payload = Buffer.from(JSON.stringify({ iss: 'https://idp.example', sub: 'x' })).toString(
      'base64url',
    );
    expect(credentialPrefix(`eyJhbGciOiJSUzI1NiJ9.${payload}.c2ln`)).toBe('jwt:https://idp.example');
    expect(credentialPrefix('eyJhbGciOi.bm90IGpzb24.c2ln')).toBe('jwt');
    expect(credentialPrefix('hunter2')).toBe('other');
  });
});
