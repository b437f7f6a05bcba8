import { describe, expect, it } from 'vitest';
import { detectCards, issuerAccepts, luhnValid } from '../../src/dlp/detectors/card.ts';
import { detectEmails } from '../../src/dlp/detectors/email.ts';
import { detectIbans, mod97 } from '../../src/dlp/detectors/iban.ts';
import { detectPhones } from '../../src/dlp/detectors/phone.ts';
import { detectSecrets } from '../../src/dlp/detectors/secret.ts';
import { detectSsns } from '../../src/dlp/detectors/ssn.ts';
import { createScanner } from '../../src/dlp/index.ts';
import type { Match } from '../../src/dlp/types.ts';

type Detect = (text: string, out: Match[]) => void;

/** The matched substrings, in order. */
function found(detect: Detect, text: string): string[] {
  const out: Match[] = [];
  detect(text, out);
  return out.map((m) => text.slice(m.start, m.end));
}

function labels(detect: Detect, text: string): string[] {
  const out: Match[] = [];
  detect(text, out);
  return out.map((m) => m.label);
}

describe('card detector', () => {
  it.each([
    ['4111111111111111'],
    ['5500005555555559'],
    ['340000000000009'],
    ['4111 1111 1111 1111'],
    ['4111-1111-1111-1111'],
    ['3400 000000 00009'],
    ['2221000000000009'],
    ['6011111111111117'],
    ['3530111333300000'],
    ['30569309025904'],
    ['6200000000000005'],
    ['4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1'],
  ])('finds %s', (pan) => {
    expect(found(detectCards, pan)).toEqual([pan]);
    expect(found(detectCards, `card: ${pan}.`)).toEqual([pan]);
  });

  it('finds a PAN inside a longer grouped run and in a failing-row detail', () => {
    expect(found(detectCards, '4111 1111 1111 1111 2026')).toEqual(['4111 1111 1111 1111']);
    expect(found(detectCards, '12 4111 1111 1111 1111')).toEqual(['4111 1111 1111 1111']);
    expect(found(detectCards, '(1, null, alice@example.com, 4111111111111111, 123-45-6789)')).toEqual([
      '4111111111111111',
    ]);
    expect(found(detectCards, 'PAN4111111111111111')).toEqual(['4111111111111111']);
  });

  it.each([
    ['1234567890123456', 'an order number: no issuer, fails Luhn'],
    ['4111111111111112', 'a Visa prefix with a wrong check digit'],
    ['41111111111111111', '17 digits is not a Visa length'],
    ['94111111111111111', 'a PAN inside a longer number'],
    ['41111111111111110000', '20 digits'],
    ['0.4111111111111111', 'a decimal fraction'],
    ['4111111111111111.25', 'the integer part of a decimal'],
    ['a4111111111111111f', 'digits inside a hex string'],
    ['4111 11 11 1111 1111', 'two-digit groups'],
    ['4111  1111  1111  1111', 'double spaces'],
    ['9999999999999995', 'Luhn-valid but no known issuer'],
    ['2026-04-18 12:34:56.789', 'a timestamp'],
    ['3400000000000090', 'Amex prefix with 16 digits'],
  ])('does not find %s (%s)', (text) => {
    expect(found(detectCards, text)).toEqual([]);
  });

  it('has a correct Luhn check and issuer table', () => {
    expect(luhnValid('79927398713', 0, 11)).toBe(true);
    expect(luhnValid('79927398710', 0, 11)).toBe(false);
    expect(issuerAccepts(4111, 16)).toBe(true);
    expect(issuerAccepts(5100, 16)).toBe(true);
    expect(issuerAccepts(5100, 15)).toBe(false);
    expect(issuerAccepts(2720, 16)).toBe(true);
    expect(issuerAccepts(2721, 16)).toBe(false);
    expect(issuerAccepts(3528, 16)).toBe(true);
    expect(issuerAccepts(3527, 16)).toBe(false);
    expect(issuerAccepts(3050, 14)).toBe(true);
    expect(issuerAccepts(3060, 14)).toBe(false);
    expect(issuerAccepts(1234, 16)).toBe(false);
    expect(issuerAccepts(7000, 16)).toBe(false);
  });
});

describe('email detector', () => {
  it.each([
    ['alice@example.com', 'alice@example.com'],
    ['mail alice.b+tag@mail.example.co.uk now', 'alice.b+tag@mail.example.co.uk'],
    ['write to bob@example.org.', 'bob@example.org'],
    ['<carol_x@sub-domain.example.io>', 'carol_x@sub-domain.example.io'],
    ['..dot@example.com', 'dot@example.com'],
    ['a@b.xn--p1ai', 'a@b.xn--p1ai'],
    ['x@example.com.123', 'x@example.com'],
  ])('finds the address in %s', (text, address) => {
    expect(found(detectEmails, text)).toEqual([address]);
  });

  it.each([
    ['a@b'],
    ['user@localhost'],
    ['x@1.2'],
    ['@example.com'],
    ['alice@.com'],
    ['alice@-bad.com'],
    ['price @ 5.00'],
    ['alice@example.c'],
    ['a@b@c'],
  ])('does not find an address in %s', (text) => {
    expect(found(detectEmails, text)).toEqual([]);
  });

  it('finds two addresses and handles repeated @ in linear time', () => {
    expect(found(detectEmails, 'a@x.com,b@y.org')).toEqual(['a@x.com', 'b@y.org']);
    const long = `${'a@'.repeat(200_000)}example.com`;
    const t0 = performance.now();
    expect(found(detectEmails, long)).toEqual(['a@example.com']);
    expect(performance.now() - t0).toBeLessThan(500);
  });
});

describe('ssn detector', () => {
  it.each([['123-45-6789'], ['123 45 6789'], ['ssn: 078-05-1120;'], ['(111-22-3333)']])(
    'finds %s',
    (text) => {
      expect(found(detectSsns, text)).toHaveLength(1);
    },
  );

  it.each([
    ['123456789', 'nine bare digits'],
    ['666-12-3456', 'area 666'],
    ['000-12-3456', 'area 000'],
    ['900-12-3456', 'area 9xx'],
    ['987-65-4321', 'area 9xx (the corpus row 2 value; lineage masking covers that column)'],
    ['123-00-6789', 'group 00'],
    ['123-45-0000', 'serial 0000'],
    ['123-45 6789', 'mixed separators'],
    ['1-123-45-6789', 'the tail of a longer dashed number'],
    ['123-45-6789-1', 'the head of a longer dashed number'],
    ['1123-45-6789', 'four-digit area'],
    ['2026-04-18', 'a date'],
  ])('does not find %s (%s)', (text) => {
    expect(found(detectSsns, text)).toEqual([]);
  });
});

describe('phone detector', () => {
  it.each([
    ['+1-415-555-0100'],
    ['+44 20 7946 0958'],
    ['+14155550100'],
    ['+44 (0)20 7946 0958'],
    ['+1 (415) 555-0100'],
    ['+33.1.23.45.67.89'],
    ['(415) 555-0100'],
    ['(415)555-0100'],
    ['415-555-0100'],
    ['415.555.0100'],
    ['1-415-555-0100'],
  ])('finds %s', (phone) => {
    expect(found(detectPhones, `call ${phone} today`)).toEqual([phone]);
  });

  it.each([
    ['2026-04-18', 'a date'],
    ['2026-04-18T10:00:00+02:00', 'a timestamp with offset'],
    ['12:30:45', 'a time'],
    ['192.168.100.200', 'an IPv4 address'],
    ['10.0.0.1', 'an IPv4 address'],
    ['1.2.3', 'a version'],
    ['v2.14.1021', 'a version'],
    ['4155550100', 'a plain integer'],
    ['123456789012', 'a long integer'],
    ['550e8400-e29b-41d4-a716-446655440000', 'a UUID'],
    ['12345678-1234-5678-1234-567812345678', 'an all-digit UUID'],
    ['+1234567', 'E.164 with 7 digits'],
    ['+1234567890123456', 'E.164 with 16 digits'],
    ['1+12345678', 'arithmetic'],
    ['1.0.0+20130313144700', 'semver build metadata'],
    ['115-555-0100', 'area code starting with 1'],
    ['415-155-0100', 'exchange starting with 1'],
    ['415-555.0100', 'mixed separators'],
    ['415-555-0100-7', 'the head of a longer dashed number'],
    ['9-415-555-0100', 'the tail of a longer dashed number'],
    ['415 555 0100', 'space-separated digits'],
  ])('does not find %s (%s)', (text) => {
    expect(found(detectPhones, text)).toEqual([]);
  });
});

describe('iban detector', () => {
  it.each([
    ['GB82WEST12345698765432'],
    ['GB82 WEST 1234 5698 7654 32'],
    ['DE89370400440532013000'],
    ['DE89 3704 0044 0532 0130 00'],
    ['FR1420041010050500013M02606'],
    ['NO9386011117947'],
  ])('finds %s', (iban) => {
    expect(found(detectIbans, `pay to ${iban}, thanks`)).toEqual([iban]);
  });

  it.each([
    ['GB83WEST12345698765432', 'a wrong check'],
    ['GB82WEST1234569876543', 'one character short for GB'],
    ['GB82WEST123456987654321', 'one character long for GB'],
    ['XGB82WEST12345698765432', 'inside a longer word'],
    ['gb82west12345698765432', 'lowercase'],
    ['ZZ12ABCDEFGHIJKLMNOP', 'unknown country without digits or check'],
  ])('does not find %s (%s)', (text) => {
    expect(found(detectIbans, text)).toEqual([]);
  });

  it('computes mod 97', () => {
    expect(mod97('GB82WEST12345698765432', 0, 22)).toBe(1);
    expect(mod97('GB82 WEST 1234 5698 7654 32', 0, 27)).toBe(1);
    expect(mod97('GB83WEST12345698765432', 0, 22)).not.toBe(1);
  });
});

describe('secret detector', () => {
  const ghp = `ghp_${'a1B2'.repeat(9)}`;
  it.each([
    ['AKIAIOSFODNN7EXAMPLE', 'aws_access_key'],
    ['ASIAIOSFODNN7EXAMPLE', 'aws_access_key'],
    [ghp, 'github_token'],
    [`github_pat_11ABCDEFG0${'x'.repeat(60)}`, 'github_token'],
    ['glpat-abcdefghij0123456789', 'gitlab_token'],
    ['xoxb-123456789012-abcdefABCDEF', 'slack_token'],
    ['sk_live_51HxAbCdEfGhIjKlMnOpQrSt', 'api_key'],
    ['rk_live_0123456789abcdefXYZ', 'api_key'],
    ['sk_test_0123456789abcdefXYZ', 'api_key'],
    ['eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk', 'jwt'],
    ['eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.', 'jwt'],
    ['-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----', 'private_key'],
    ['-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1r\n-----END OPENSSH PRIVATE KEY-----', 'private_key'],
  ])('finds %s as %s', (secret, label) => {
    const text = `x = "${secret}";`;
    expect(found(detectSecrets, text)).toEqual([secret]);
    expect(labels(detectSecrets, text)).toEqual([label]);
  });

  it('takes a PEM block without END line to the end of the text', () => {
    const text = 'key: -----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK';
    expect(found(detectSecrets, text)).toEqual([text.slice(5)]);
  });

  it.each([
    ['AKIAIOSFODNN7EXAMPL', 'AKIA too short'],
    ['AKIAIOSFODNN7EXAMPLEX', 'AKIA too long'],
    ['XAKIAIOSFODNN7EXAMPLE', 'inside a longer word'],
    ['AKIAiosfodnn7example', 'lowercase body'],
    [`ghp_${'a'.repeat(35)}`, 'GitHub token too short'],
    ['glpat-short', 'GitLab token too short'],
    ['sk_live_short', 'Stripe key too short'],
    ['task_live_0123456789abcdefXYZ', 'sk_ inside a word'],
    ['eyJhbGciOiJIUzI1NiJ9', 'a JWT header alone'],
    ['-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----', 'a certificate'],
    ['-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----', 'a public key'],
    ['DROP TABLE customers; -- just a note', 'SQL text'],
  ])('does not find %s (%s)', (text) => {
    expect(found(detectSecrets, text)).toEqual([]);
  });
});

describe('card: hex digests are not PANs', () => {
  const scanner = createScanner({ detectors: {}, hashKey: Buffer.alloc(32) });

  it.each([
    '59112692262234e3fad47fa8eabf03a4',
    '6f3e29a35278d71c7f65495871231324',
    'c1714160652ca6408774473810765950',
    `${'a'.repeat(24)}4111111111111111`.slice(0, 40),
  ])('%s passes unaltered', (digest) => {
    expect(scanner.scan(digest)).toBeUndefined();
  });

  it('a letter glued to a real PAN still leaves it detected', () => {
    expect(scanner.scan('x4111111111111111')?.masked).toBe('x************1111');
    expect(scanner.scan('f4111111111111111')?.masked).toBe('f************1111');
  });
});
