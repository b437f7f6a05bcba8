import { describe, expect, it } from 'vitest';
import {
  MIN_SCRAM_ITERATIONS,
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
  it('sends the GS2 header "n,," and an empty user name, as libpq does', () => {
    const first = scramClientFirst('abc123');
    expect(first.clientNonce).toBe('abc123');
    expect(first.clientFirstBare).toBe('n=,r=abc123');
    expect(first.message.toString('utf8')).toBe('n,,n=,r=abc123');
  });

  it('draws a fresh printable nonce without commas each time', () => {
    const a = scramClientFirst();
    const c = scramClientFirst();
    expect(a.clientNonce).not.toBe(c.clientNonce);
    expect(a.clientNonce.length).toBeGreaterThanOrEqual(18);
    expect(a.clientNonce).toMatch(/^[\x21-\x2b\x2d-\x7e]+$/);
  });
});

describe('RFC 7677 test vector', () => {
  it('produces the RFC client-final-message', () => {
    const final = scramClientFinal(rfcFirst(), b(RFC.serverFirst), RFC.password);
    expect(final.message.toString('utf8')).toBe(RFC.clientFinal);
  });

  it('expects the RFC server signature and accepts the RFC server-final-message', () => {
    const final = scramClientFinal(rfcFirst(), b(RFC.serverFirst), RFC.password);
    expect(final.expectedServerSignature.toString('base64')).toBe(RFC.serverFinal.slice(2));
    expect(() => verifyScramServerFinal(final, b(RFC.serverFinal))).not.toThrow();
  });

  it('with our "n=" first message, the proof differs from the RFC one (the bare message is signed)', () => {
    const ours = scramClientFinal(scramClientFirst(RFC.clientNonce), b(RFC.serverFirst), RFC.password);
    const text = ours.message.toString('utf8');
    expect(text.startsWith('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=')).toBe(true);
    expect(text).not.toBe(RFC.clientFinal);
    expect(() => verifyScramServerFinal(ours, b(RFC.serverFinal))).toThrow(ScramError);
  });

  it('a different password gives a different proof, refused by the RFC server-final', () => {
    const final = scramClientFinal(rfcFirst(), b(RFC.serverFirst), 'pencil2');
    expect(final.message.toString('utf8')).not.toBe(RFC.clientFinal);
    expect(() => verifyScramServerFinal(final, b(RFC.serverFinal))).toThrow(/signature mismatch/);
  });
});

describe('server-first-message checks', () => {
  const first = scramClientFirst(nonce);

  it('accepts a well-formed message at the minimum iteration count', () => {
    expect(MIN_SCRAM_ITERATIONS).toBe(4096);
    expect(() => scramClientFinal(first, serverFirst(), 'pw')).not.toThrow();
  });

  it('refuses a server nonce that does not extend ours', () => {
    expect(() => scramClientFinal(first, serverFirst({ r: nonce }), 'pw')).toThrow(/does not extend/);
    expect(() => scramClientFinal(first, serverFirst({ r: `X${nonce}abc` }), 'pw')).toThrow(
      /does not extend/,
    );
    expect(() => scramClientFinal(first, serverFirst({ r: 'somethingelseentirely' }), 'pw')).toThrow(
      ScramError,
    );
  });

  it('refuses an iteration count below 4096', () => {
    expect(() => scramClientFinal(first, serverFirst({ i: '4095' }), 'pw')).toThrow(/iteration count 4095/);
    expect(() => scramClientFinal(first, serverFirst({ i: '1' }), 'pw')).toThrow(ScramError);
    expect(() => scramClientFinal(first, serverFirst({ i: '0' }), 'pw')).toThrow(ScramError);
    expect(() => scramClientFinal(first, serverFirst({ i: '-4096' }), 'pw')).toThrow(ScramError);
  });

  it('refuses an iteration count no real server needs, as a ScramError and before doing the work', () => {
    // Only counts PBKDF2 rejects at once are used here: a count just below 2^31 would block this
    // worker for minutes (see the huge-iterations test in pg-upstream-auth.test.ts).
    for (const i of ['2147483648', '1e100']) {
      expect(() => scramClientFinal(first, serverFirst({ i }), 'pw'), i).toThrow(ScramError);
    }
  });

  it('refuses malformed messages', () => {
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
      expect(() => scramClientFinal(first, b(text), 'pw'), text).toThrow(ScramError);
    }
  });
});

describe('server-final-message checks', () => {
  const final = scramClientFinal(rfcFirst(), b(RFC.serverFirst), RFC.password);
  const right = final.expectedServerSignature;

  it('refuses a wrong signature', () => {
    const wrong = Buffer.from(right);
    wrong[0] = (wrong[0] ?? 0) ^ 1;
    expect(() => verifyScramServerFinal(final, b(`v=${wrong.toString('base64')}`))).toThrow(
      /server signature mismatch/,
    );
  });

  it('refuses a truncated, empty or missing signature', () => {
    for (const text of [`v=${right.subarray(0, 16).toString('base64')}`, 'v=', 'x=abc']) {
      expect(() => verifyScramServerFinal(final, b(text)), text).toThrow(ScramError);
    }
  });

  it('refuses a signature with extra bytes', () => {
    const longer = Buffer.concat([right, Buffer.from([0])]);
    expect(() => verifyScramServerFinal(final, b(`v=${longer.toString('base64')}`))).toThrow(ScramError);
  });

  it('reports a server error (e=) as an error, naming it', () => {
    expect(() => verifyScramServerFinal(final, b('e=invalid-proof'))).toThrow(
      /SCRAM server error: invalid-proof/,
    );
    expect(() => verifyScramServerFinal(final, b('e=other-error'))).toThrow(ScramError);
  });

  it('an e= error wins over a correct signature in the same message', () => {
    const text = `e=invalid-proof,v=${right.toString('base64')}`;
    expect(() => verifyScramServerFinal(final, b(text))).toThrow(/invalid-proof/);
  });

  it('refuses a malformed message', () => {
    expect(() => verifyScramServerFinal(final, b('nonsense'))).toThrow(ScramError);
  });
});
