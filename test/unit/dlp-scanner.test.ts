import { describe, expect, it } from 'vitest';
import {
  createScanner,
  DEFAULT_DETECTORS,
  maskColumnValue,
  type ScannerConfig,
} from '../../src/dlp/index.ts';

const KEY = Buffer.alloc(32, 7);
const OTHER_KEY = Buffer.alloc(32, 8);

function scanner(overrides: Partial<ScannerConfig> = {}) {
  return createScanner({ detectors: {}, hashKey: KEY, ...overrides });
}

function masked(text: string, overrides: Partial<ScannerConfig> = {}): string | undefined {
  return scanner(overrides).scan(text)?.masked;
}

describe('default maskers on the corpus fixtures', () => {
  it('defaults are partial for card/ssn/phone/iban, email for email, redact for secrets', () => {
    expect(DEFAULT_DETECTORS).toEqual({
      card: 'partial',
      email: 'email',
      ssn: 'partial',
      phone: 'partial',
      iban: 'partial',
      secret: 'redact',
    });
  });

  it.each([
    ['4111111111111111', '************1111'],
    ['5500005555555559', '************5559'],
    ['340000000000009', '***********0009'],
    ['4111 1111 1111 1111', '************1111'],
    ['4111-1111-1111-1111', '************1111'],
    ['123-45-6789', '***-**-6789'],
    ['+1-415-555-0100', '********0100'],
    ['+44 20 7946 0958', '*********0958'],
    ['(415) 555-0100', '******0100'],
    ['alice@example.com', 'a***@example.com'],
    ['sk_live_51HxAbCdEfGhIjKlMnOpQrSt', '[REDACTED:api_key]'],
    ['AKIAIOSFODNN7EXAMPLE', '[REDACTED:aws_access_key]'],
    ['GB82 WEST 1234 5698 7654 32', 'GB****************5432'],
  ])('%s → %s', (value, expected) => {
    expect(masked(value)).toBe(expected);
  });

  it('masks every field of a failing-row DETAIL in place', () => {
    const detail =
      'Failing row contains (1, null, alice@example.com, 4111111111111111, 123-45-6789, +1-415-555-0100, sk_live_51HxAbCdEfGhIjKlMnOpQrSt).';
    const result = scanner().scan(detail);
    expect(result?.masked).toBe(
      'Failing row contains (1, null, a***@example.com, ************1111, ***-**-6789, ********0100, [REDACTED:api_key]).',
    );
    expect(result?.counts).toEqual({ secret: 1, email: 1, card: 1, ssn: 1, phone: 1 });
  });

  it('replaces only the key in an unclassified note (corpus 125)', () => {
    const result = scanner().scan('deploy key AKIAIOSFODNN7EXAMPLE left here');
    expect(result).toEqual({
      masked: 'deploy key [REDACTED:aws_access_key] left here',
      counts: { secret: 1 },
    });
  });

  it.each([
    ['DROP TABLE customers; -- just a note'],
    ['note 123'],
    ['1234567890123456 AS order_no'],
    ['Alice'],
    [''],
    ['2026-04-18 12:34:56.789+00'],
    ['café crème, naïve résumé'],
    ['550e8400-e29b-41d4-a716-446655440000'],
  ])('leaves %s untouched (undefined)', (text) => {
    expect(scanner().scan(text)).toBeUndefined();
  });
});

describe('maskers', () => {
  it('redact labels by detector or secret kind', () => {
    const all = {
      card: 'redact',
      ssn: 'redact',
      phone: 'redact',
      email: 'redact',
      iban: 'redact',
      secret: 'redact',
    } as const;
    expect(masked('4111111111111111', { detectors: all })).toBe('[REDACTED:card]');
    expect(masked('123-45-6789', { detectors: all })).toBe('[REDACTED:ssn]');
    expect(masked('+1-415-555-0100', { detectors: all })).toBe('[REDACTED:phone]');
    expect(masked('alice@example.com', { detectors: all })).toBe('[REDACTED:email]');
    expect(masked('DE89370400440532013000', { detectors: all })).toBe('[REDACTED:iban]');
    expect(masked('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig', { detectors: all })).toBe('[REDACTED:jwt]');
  });

  it('partial on email is the email mask, on secrets a redaction', () => {
    expect(masked('bob@example.org', { detectors: { email: 'partial' } })).toBe('b***@example.org');
    expect(masked('AKIAIOSFODNN7EXAMPLE', { detectors: { secret: 'partial' } })).toBe(
      '[REDACTED:aws_access_key]',
    );
  });

  it('the email masker on a non-email redacts', () => {
    expect(masked('4111111111111111', { detectors: { card: 'email' } })).toBe('[REDACTED:card]');
  });

  it('null makes the whole value SQL NULL and still reports counts', () => {
    const result = scanner({ detectors: { card: 'null' } }).scan('pan 4111111111111111 and bob@example.org');
    expect(result).toEqual({ masked: undefined, counts: { email: 1, card: 1 } });
  });

  it('hash gives stable tokens per key, canonical over separators, different across keys', () => {
    const cfg = { detectors: { card: 'hash', email: 'hash' } } as const;
    const a = masked('4111111111111111', cfg);
    expect(a).toMatch(/^tok_[0-9a-f]{16}$/);
    expect(masked('4111111111111111', cfg)).toBe(a);
    expect(masked('4111 1111 1111 1111', cfg)).toBe(a);
    expect(masked('4111111111111111', { ...cfg, hashKey: OTHER_KEY })).not.toBe(a);
    expect(masked('5500005555555559', cfg)).not.toBe(a);
    expect(masked('Alice@Example.com', cfg)).toBe(masked('alice@example.com', cfg));
  });

  it('a PAN always keeps the same last 4, whatever its spacing or script', () => {
    const forms = [
      '4111111111111111',
      '4111 1111 1111 1111',
      '4111-1111-1111-1111',
      '４１１１１１１１１１１１１１１１',
    ];
    for (const form of forms) expect(masked(form)).toBe('************1111');
  });
});

describe('normalization', () => {
  it.each([
    ['fullwidth digits', '４１１１１１１１１１１１１１１１'],
    ['zero-width space inside a PAN', '4111\u200b1111\u200b1111\u200b1111'],
    ['zero-width joiner and BOM', '41\u200d11111111\ufeff111111'],
    ['word joiner', '4111\u2060111111111111'],
    ['bidi override around a PAN', '\u202e4111111111111111\u202c'],
    ['bidi isolates and marks', '\u20664111\u200e111111111111\u200f\u2069'],
    ['Arabic-Indic digits', '٤١١١١١١١١١١١١١١١'],
    ['no-break spaces as separators', '4111\u00a01111\u00a01111\u00a01111'],
    ['fullwidth dashes', '4111－1111－1111－1111'],
  ])('%s: the whole value is masked', (_name, value) => {
    const result = scanner().scan(`card ${value} here`);
    expect(result?.masked).toBe('************1111');
    expect(result?.counts).toEqual({ card: 1 });
  });

  it('masks the whole value with the first finding’s masker', () => {
    expect(masked('mail a\u200blice@example.com then 4111111111111111')).toBe('a***@example.com');
    expect(masked('ssn １２３-４５-６７８９', { detectors: { ssn: 'redact' } })).toBe('[REDACTED:ssn]');
    expect(masked('key ＡＫＩＡＩＯＳＦＯＤＮＮ７ＥＸＡＭＰＬＥ')).toBe('[REDACTED:aws_access_key]');
  });

  it('non-ASCII text that normalization does not change is masked in place', () => {
    expect(masked('Zoë paid with 4111111111111111 ✓ merci')).toBe('Zoë paid with ************1111 ✓ merci');
    // An em dash is folded to '-' for detection, so that value changes and is masked whole.
    expect(masked('Zoë paid with 4111111111111111 — merci')).toBe('************1111');
  });

  it('non-ASCII text with nothing sensitive is untouched', () => {
    expect(scanner().scan('４２ apples\u200b and ｐｅａｒｓ')).toBeUndefined();
  });
});

describe('custom patterns', () => {
  it('finds and redacts a custom pattern, counted under custom:<name>', () => {
    const s = scanner({ custom: [{ name: 'employee_id', pattern: 'EMP-[0-9]{6}' }] });
    expect(s.scan('owner EMP-123456 and EMP-654321')).toEqual({
      masked: 'owner [REDACTED:employee_id] and [REDACTED:employee_id]',
      counts: { 'custom:employee_id': 2 },
    });
    expect(s.scan('owner EMP-12345')).toBeUndefined();
  });

  it('custom patterns take a masker', () => {
    const s = scanner({ custom: [{ name: 'badge', pattern: '(?i)badge#\\d+', masker: 'hash' }] });
    expect(s.scan('BADGE#77')?.masked).toMatch(/^tok_[0-9a-f]{16}$/);
    const n = scanner({ custom: [{ name: 'badge', pattern: 'badge#\\d+', masker: 'null' }] });
    expect(n.scan('badge#77')?.masked).toBeUndefined();
  });

  it('custom patterns run on the normalized text', () => {
    const s = scanner({ custom: [{ name: 'emp', pattern: 'EMP-[0-9]{6}' }] });
    expect(s.scan('EMP-１２３４５６')?.masked).toBe('[REDACTED:emp]');
  });

  it('a catastrophic-backtracking pattern on a long input finishes fast (re2js)', () => {
    const s = scanner({ custom: [{ name: 'evil', pattern: '(a+)+$' }] });
    const input = `${'a'.repeat(50_000)}!`;
    const t0 = performance.now();
    expect(s.scan(input)).toBeUndefined();
    expect(performance.now() - t0).toBeLessThan(2_000);
    // The same pattern with the built-in backtracking engine would not finish on this input.
    expect(s.scan('aaa')?.masked).toBe('[REDACTED:evil]');
  });

  it.each([
    ['(unclosed', 'does not compile'],
    ['(?<=x)y', 'does not compile'],
    ['(a)\\1', 'does not compile'],
    ['a*', 'matches the empty string'],
  ])('rejects %s with a clear error', (pattern, message) => {
    expect(() => scanner({ custom: [{ name: 'bad', pattern }] })).toThrow(
      new RegExp(`DLP custom pattern "bad" ${message}`),
    );
  });

  it('rejects bad names, duplicates, unknown maskers and detectors, and short hash keys', () => {
    expect(() => scanner({ custom: [{ name: 'has space', pattern: 'x' }] })).toThrow(/name/);
    expect(() =>
      scanner({
        custom: [
          { name: 'x', pattern: 'x' },
          { name: 'x', pattern: 'y' },
        ],
      }),
    ).toThrow(/defined twice/);
    expect(() => scanner({ detectors: { card: 'mask' as never } })).toThrow(/unknown masker "mask"/);
    expect(() => scanner({ detectors: { bogus: 'redact' } as never })).toThrow(/unknown detector "bogus"/);
    expect(() => scanner({ detectors: { card: 'hash' }, hashKey: Buffer.alloc(8) })).toThrow(/16 bytes/);
    expect(() => scanner({ hashKey: Buffer.alloc(0) })).not.toThrow();
  });
});

describe('configuration', () => {
  it('false turns a detector off', () => {
    const s = scanner({ detectors: { card: false } });
    expect(s.scan('4111111111111111')).toBeUndefined();
    expect(s.scan('123-45-6789')?.masked).toBe('***-**-6789');
  });

  it('with every detector off and no custom pattern, mayMatch is false and scan finds nothing', () => {
    const off = { card: false, email: false, ssn: false, phone: false, iban: false, secret: false } as const;
    const s = scanner({ detectors: off });
    const text = 'alice@example.com 4111111111111111 é';
    expect(s.mayMatch(Buffer.from(text), 0, Buffer.byteLength(text))).toBe(false);
    expect(s.scan(text)).toBeUndefined();
  });

  it('overlapping findings are replaced together', () => {
    // A custom pattern overlapping the end of a card: the union is replaced, nothing of either leaks.
    const s = scanner({ custom: [{ name: 'tail', pattern: '1111 x+' }] });
    const out = s.scan('pan 4111 1111 1111 1111 xx end')?.masked;
    expect(out).toBe('pan [REDACTED:card] end');
  });
});

describe('mayMatch examples', () => {
  const s = scanner();
  const may = (text: string, pad = '') => {
    const buf = Buffer.from(`${pad}${text}${pad}`);
    return s.mayMatch(buf, Buffer.byteLength(pad), buf.length - Buffer.byteLength(pad));
  };
  it.each([
    ['note 123'],
    ['Alice'],
    ['DROP TABLE customers; -- just a note'],
    ['2026-04'],
    [''],
    ['12345678'],
    ['2026-11-21'],
    ['d41d8cd98f00b204e9800998ecf8427e'],
    ['12:34:56.789012'],
  ])('false for %s', (text) => {
    expect(may(text)).toBe(false);
  });
  it.each([
    ['alice@example.com'],
    ['123456789'],
    ['+12345678'],
    ['4111 1111 1111 1111'],
    ['(415) 555-0100'],
    ['GB82'],
    ['AKIA'],
    ['sk_'],
    ['eyJ'],
    ['-----'],
    ['ghp_'],
    ['é'],
  ])('true for %s', (text) => {
    expect(may(text)).toBe(true);
  });
  it('only looks at [start, end)', () => {
    expect(may('Alice', '4111111111111111 @ AKIA')).toBe(false);
    const buf = Buffer.from('xxAKIA');
    expect(s.mayMatch(buf, 0, 4)).toBe(false);
    expect(s.mayMatch(buf, 2, 6)).toBe(true);
  });
  it('is always true with a custom pattern', () => {
    const c = scanner({ custom: [{ name: 'n', pattern: 'Alice' }] });
    expect(c.mayMatch(Buffer.from('Alice'), 0, 5)).toBe(true);
  });
});

describe('maskColumnValue: whole values of a sensitive column', () => {
  const key = Buffer.alloc(32, 7);

  it.each([
    ['partial', '987-65-4321', '***-**-4321'],
    ['partial', '4111111111111111', '************1111'],
    ['partial', 'alice@example.com', 'a***@example.com'],
    ['partial', 'ab', 'ab'],
    ['email', 'bob@example.org', 'b***@example.org'],
    ['email', 'not an email', '[REDACTED:col]'],
    ['redact', 'anything', '[REDACTED:col]'],
  ] as const)('%s(%s) → %s', (masker, value, expected) => {
    expect(maskColumnValue(masker, 'col', value, key)).toBe(expected);
  });

  it('hash tokens are stable per key and differ across keys', () => {
    const a = maskColumnValue('hash', 'ssn', '123-45-6789', key);
    expect(a).toMatch(/^tok_[0-9a-f]{16}$/);
    expect(maskColumnValue('hash', 'ssn', '123-45-6789', key)).toBe(a);
    expect(maskColumnValue('hash', 'ssn', '123-45-6789', Buffer.alloc(32, 8))).not.toBe(a);
  });
});
