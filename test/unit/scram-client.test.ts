import { beforeAll, describe, expect, it } from 'vitest';
import {
  MIN_SCRAM_ITERATIONS,
  type ScramClientFinal,
  type ScramClientFirst,
  ScramError,
  scramClientFinal,
  scramClientFirst,
  verifyScramServerFinal,
} from '../../src/protocols/postgres/auth/scram-client.ts';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

/** RFC 7677 section 3. */
const RFC = {
  password: 'pencil',
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

/**
 * The RFC's client-first names the user ("n=user"); ours sends "n=" (PostgreSQL takes the user
 * from the startup packet). The proof covers client-first-bare, so the vector is replayed with the
 * RFC's own first message, built the way scramClientFirst builds ours.
 */
function rfcFirst(): ScramClientFirst {
  const clientFirstBare = `n=user,r=${RFC.clientNonce}`;
  return { clientNonce: RFC.clientNonce, clientFirstBare, message: b(`n,,${clientFirstBare}`) };
}

const nonce = 'fyko+d2lbbFgONRv9qkxdawL';
const serverFirst = (overrides: { r?: string; s?: string; i?: string } = {}): Buffer =>
  b(
    `r=${overrides.r ?? `${nonce}3rfcNHYJY1ZVvWVs7j`},s=${overrides.s ?? 'QSXCR+Q6sek8bf92'},i=${overrides.i ?? '4096'}`,
  );

describe('scramClientFirst', () => {
  it('sends the GS2 header "n,," and an empty user name, as libpq does', async () => {
    const first = scramClientFirst('abc123');
    expect(first.clientNonce).toBe('abc123');
    expect(first.clientFirstBare).toBe('n=,r=abc123');
    expect(first.message.toString('utf8')).toBe('n,,n=,r=abc123');
  });

  it('draws a fresh printable nonce without commas each time', async () => {
    const a = scramClientFirst();
    const c = scramClientFirst();
    expect(a.clientNonce).not.toBe(c.clientNonce);
    expect(a.clientNonce.length).toBeGreaterThanOrEqual(18);
    expect(a.clientNonce).toMatch(/^[\x21-\x2b\x2d-\x7e]+$/);
  });
});

describe('RFC 7677 test vector', () => {
  it('produces the RFC client-final-message', async () => {
    const final = await scramClientFinal(rfcFirst(), b(RFC.serverFirst), RFC.password);
    expect(final.message.toString('utf8')).toBe(RFC.clientFinal);
  });

  it('expects the RFC server signature and accepts the RFC server-final-message', async () => {
    const final = await scramClientFinal(rfcFirst(), b(RFC.serverFirst), RFC.password);
    expect(final.expectedServerSignature.toString('base64')).toBe(RFC.serverFinal.slice(2));
    expect(() => verifyScramServerFinal(final, b(RFC.serverFinal))).not.toThrow();
  });

  it('with our "n=" first message, the proof differs from the RFC one (the bare message is signed)', async () => {
    const ours = await scramClientFinal(scramClientFirst(RFC.clientNonce), b(RFC.serverFirst), RFC.password);
    const text = ours.message.toString('utf8');
    expect(text.startsWith('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=')).toBe(true);
    expect(text).not.toBe(RFC.clientFinal);
    expect(() => verifyScramServerFinal(ours, b(RFC.serverFinal))).toThrow(ScramError);
  });

  it('a different password gives a different proof, refused by the RFC server-final', async () => {
    const final = await scramClientFinal(rfcFirst(), b(RFC.serverFirst), 'pencil2');
    expect(final.message.toString('utf8')).not.toBe(RFC.clientFinal);
    expect(() => verifyScramServerFinal(final, b(RFC.serverFinal))).toThrow(/signature mismatch/);
  });
});

describe('server-first-message checks', () => {
  const first = scramClientFirst(nonce);

  it('accepts a well-formed message at the minimum iteration count', async () => {
    expect(MIN_SCRAM_ITERATIONS).toBe(4096);
    await expect(scramClientFinal(first, serverFirst(), 'pw')).resolves.toBeDefined();
  });

  it('refuses a server nonce that does not extend ours', async () => {
    await expect(scramClientFinal(first, serverFirst({ r: nonce }), 'pw')).rejects.toThrow(/does not extend/);
    await expect(scramClientFinal(first, serverFirst({ r: `X${nonce}abc` }), 'pw')).rejects.toThrow(
      /does not extend/,
    );
    await expect(scramClientFinal(first, serverFirst({ r: 'somethingelseentirely' }), 'pw')).rejects.toThrow(
      ScramError,
    );
  });

  it('refuses an iteration count below 4096', async () => {
    await expect(scramClientFinal(first, serverFirst({ i: '4095' }), 'pw')).rejects.toThrow(
      /iteration count 4095/,
    );
    await expect(scramClientFinal(first, serverFirst({ i: '1' }), 'pw')).rejects.toThrow(ScramError);
    await expect(scramClientFinal(first, serverFirst({ i: '0' }), 'pw')).rejects.toThrow(ScramError);
    await expect(scramClientFinal(first, serverFirst({ i: '-4096' }), 'pw')).rejects.toThrow(ScramError);
  });

  it('refuses an iteration count no real server needs, as a ScramError and before doing the work', async () => {
    // Refused before any hashing: without the ceiling, 2^31-1 would tie up a thread for minutes
    // (see the huge-iterations test in pg-upstream-auth.test.ts).
    for (const i of ['1000001', '2147483647', '2147483648', '1e100']) {
      await expect(scramClientFinal(first, serverFirst({ i }), 'pw'), i).rejects.toThrow(ScramError);
    }
  });

  it('refuses malformed messages', async () => {
    for (const text of [
      '',
      `r=${nonce}abc,i=4096`,
      `r=${nonce}abc,s=QSXCR+Q6sek8bf92`,
      `s=QSXCR+Q6sek8bf92,i=4096`,
      `r=${nonce}abc,s=QSXCR+Q6sek8bf92,i=many`,
      `r=${nonce}abc,s=QSXCR+Q6sek8bf92,i=4096.5`,
      `r=${nonce}abc,s=QSXCR+Q6sek8bf92,i=`,
      `rr=${nonce}abc,s=QSXCR+Q6sek8bf92,i=4096`,
      'garbage',
    ]) {
      await expect(scramClientFinal(first, b(text), 'pw'), text).rejects.toThrow(ScramError);
    }
  });
});

describe('server-final-message checks', () => {
  let final: ScramClientFinal;
  let right: Buffer;
  beforeAll(async () => {
    final = await scramClientFinal(rfcFirst(), b(RFC.serverFirst), RFC.password);
    right = final.expectedServerSignature;
  });

  it('refuses a wrong signature', async () => {
    const wrong = Buffer.from(right);
    wrong[0] = (wrong[0] ?? 0) ^ 1;
    expect(() => verifyScramServerFinal(final, b(`v=${wrong.toString('base64')}`))).toThrow(
      /server signature mismatch/,
    );
  });

  it('refuses a truncated, empty or missing signature', async () => {
    for (const text of [`v=${right.subarray(0, 16).toString('base64')}`, 'v=', 'x=abc']) {
      expect(() => verifyScramServerFinal(final, b(text)), text).toThrow(ScramError);
    }
  });

  it('refuses a signature with extra bytes', async () => {
    const longer = Buffer.concat([right, Buffer.from([0])]);
    expect(() => verifyScramServerFinal(final, b(`v=${longer.toString('base64')}`))).toThrow(ScramError);
  });

  it('reports a server error (e=) as an error, naming it', async () => {
    expect(() => verifyScramServerFinal(final, b('e=invalid-proof'))).toThrow(
      /SCRAM server error: invalid-proof/,
    );
    expect(() => verifyScramServerFinal(final, b('e=other-error'))).toThrow(ScramError);
  });

  it('an e= error wins over a correct signature in the same message', async () => {
    const text = `e=invalid-proof,v=${right.toString('base64')}`;
    expect(() => verifyScramServerFinal(final, b(text))).toThrow(/invalid-proof/);
  });

  it('refuses a malformed message', async () => {
    expect(() => verifyScramServerFinal(final, b('nonsense'))).toThrow(ScramError);
  });
});
