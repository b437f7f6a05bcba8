import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mod97 } from '../../src/dlp/detectors/iban.ts';
import { createScanner } from '../../src/dlp/index.ts';
import { bytesMayMatch } from '../../src/dlp/prefilter.ts';

/**
 * mayMatch is the gate in front of scan() on the data path: a false there means the value is sent
 * unscanned. These properties check that it never says false when scan() would find something.
 */

const scanner = createScanner({ detectors: {}, hashKey: Buffer.alloc(32, 1) });

function luhnComplete(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return `${body}${(10 - (sum % 10)) % 10}`;
}

const digits = (min: number, max: number) => fc.stringMatching(new RegExp(`^[0-9]{${min},${max}}$`));

const BRANDS: readonly (readonly [string, number])[] = [
  ['4', 16],
  ['4', 13],
  ['4', 19],
  ['51', 16],
  ['55', 16],
  ['2221', 16],
  ['34', 15],
  ['37', 15],
  ['6011', 16],
  ['65', 19],
  ['3528', 16],
  ['36', 14],
  ['62', 17],
  ['50', 18],
];

const pan = fc
  .tuple(fc.constantFrom(...BRANDS), digits(18, 18), fc.constantFrom('', ' ', '-', 'spaced'))
  .map(([[prefix, length], fill, sep]) => {
    const number = luhnComplete(prefix + fill.slice(0, length - prefix.length - 1));
    if (sep === '') return number;
    if (sep === 'spaced') return number.split('').join(' ');
    return number.match(/.{1,4}/g)?.join(sep) ?? number;
  });

const ssn = fc
  .tuple(fc.integer({ min: 1, max: 899 }), fc.integer({ min: 1, max: 99 }), fc.integer({ min: 1, max: 9999 }))
  .filter(([area]) => area !== 666)
  .chain(([a, g, s]) =>
    fc
      .constantFrom('-', ' ')
      .map(
        (sep) =>
          `${String(a).padStart(3, '0')}${sep}${String(g).padStart(2, '0')}${sep}${String(s).padStart(4, '0')}`,
      ),
  );

const e164 = fc
  .tuple(fc.integer({ min: 1, max: 9 }), digits(7, 14), fc.constantFrom('', ' ', '-', '.'))
  .map(([first, rest, sep]) => `+${first}${rest.match(/.{1,3}/g)?.join(sep) ?? rest}`);

const nanp = fc
  .tuple(fc.integer({ min: 200, max: 999 }), fc.integer({ min: 200, max: 999 }), digits(4, 4))
  .chain(([a, e, l]) =>
    fc.constantFrom(`(${a}) ${e}-${l}`, `${a}-${e}-${l}`, `${a}.${e}.${l}`, `1-${a}-${e}-${l}`),
  );

const email = fc
  .tuple(
    fc.stringMatching(/^[a-z0-9._+-]{1,12}$/),
    fc.stringMatching(/^[a-z0-9]{1,10}$/),
    fc.stringMatching(/^[a-z]{2,6}$/),
  )
  .filter(([local]) => /[a-z0-9]/.test(local))
  .map(([local, domain, tld]) => `${local}@${domain}.${tld}`);

const IBAN_COUNTRIES: readonly (readonly [string, number])[] = [
  ['DE', 22],
  ['NO', 15],
  ['FR', 27],
  ['GB', 22],
  ['PL', 28],
];

const iban = fc
  .tuple(fc.constantFrom(...IBAN_COUNTRIES), digits(30, 30), fc.boolean())
  .map(([[cc, length], fill, spaced]) => {
    const bban = fill.slice(0, length - 4);
    const probe = `${cc}00${bban}`;
    const check = String(98 - mod97(probe, 0, probe.length)).padStart(2, '0');
    const compact = `${cc}${check}${bban}`;
    return spaced ? (compact.match(/.{1,4}/g)?.join(' ') ?? compact) : compact;
  });

const alnum = (n: number) => fc.stringMatching(new RegExp(`^[A-Za-z0-9]{${n}}$`));
const secret = fc.oneof(
  fc.stringMatching(/^[A-Z0-9]{16}$/).map((b) => `AKIA${b}`),
  fc.stringMatching(/^[A-Z0-9]{16}$/).map((b) => `ASIA${b}`),
  fc.tuple(fc.constantFrom('p', 'o', 'u', 's', 'r'), alnum(36)).map(([k, b]) => `gh${k}_${b}`),
  alnum(30).map((b) => `github_pat_${b}`),
  alnum(20).map((b) => `glpat-${b}`),
  alnum(12).map((b) => `xoxb-${b}`),
  fc.tuple(fc.constantFrom('sk_live_', 'rk_live_', 'sk_test_'), alnum(24)).map(([p, b]) => p + b),
  fc.tuple(alnum(12), alnum(12), alnum(8)).map(([h, p, s]) => `eyJ${h}.${p}.${s}`),
  alnum(20).map((b) => `-----BEGIN RSA PRIVATE KEY-----\n${b}\n-----END RSA PRIVATE KEY-----`),
);

const sensitive = fc.oneof(pan, ssn, e164, nanp, email, iban, secret);

const FULLWIDTH = (s: string) =>
  s.replace(/[0-9A-Za-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
const INVISIBLES = [
  '\u200b',
  '\u200c',
  '\u200d',
  '\u2060',
  '\ufeff',
  '\u200e',
  '\u200f',
  '\u202a',
  '\u202e',
  '\u2066',
];

const variant = fc
  .tuple(
    sensitive,
    fc.constantFrom('plain', 'fullwidth', 'invisible', 'bidi'),
    fc.nat(),
    fc.constantFrom(...INVISIBLES),
  )
  .map(([value, kind, pos, mark]) => {
    switch (kind) {
      case 'fullwidth':
        return FULLWIDTH(value);
      case 'invisible': {
        const at = pos % (value.length + 1);
        return value.slice(0, at) + mark + value.slice(at);
      }
      case 'bidi':
        return `\u202e${value}\u202c`;
      default:
        return value;
    }
  });

const ALPHABET = [
  ...'0123456789 @.-+()_:,;\'"\n\tabcxyzAKISeyJghpskrl',
  'é',
  '４',
  '\u200b',
  '\u202e',
  '—',
  '😀',
];
const noise = fc.string({ unit: fc.constantFrom(...ALPHABET), maxLength: 40 });
const words = fc.stringMatching(/^[a-z ]{0,20}$/);

/** mayMatch over the text's bytes placed inside random padding. */
function mayMatchInBuffer(text: string, pad: string): boolean {
  const body = Buffer.from(text);
  const padding = Buffer.from(pad);
  const buf = Buffer.concat([padding, body, padding]);
  return scanner.mayMatch(buf, padding.length, padding.length + body.length);
}

describe('mayMatch soundness', () => {
  it('is true whenever scan finds a sensitive value embedded in random text', () => {
    fc.assert(
      fc.property(noise, variant, noise, noise, (before, value, after, pad) => {
        const text = `${before}${value}${after}`;
        if (scanner.scan(text) !== undefined) expect(mayMatchInBuffer(text, pad)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('the generated values are found (so the property above is not vacuous)', () => {
    fc.assert(
      fc.property(words, variant, words, (before, value, after) => {
        const text = `${before} ${value} ${after}`;
        expect(scanner.scan(text)).toBeDefined();
        expect(mayMatchInBuffer(text, '')).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('is true whenever scan finds anything in arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...ALPHABET), maxLength: 80 }), noise, (text, pad) => {
        if (scanner.scan(text) !== undefined) expect(mayMatchInBuffer(text, pad)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('on ASCII text the byte pre-check never says no where scan finds something, and sees every secret prefix', () => {
    const ascii = fc.string({ unit: fc.constantFrom(...ALPHABET.filter((c) => c < '\x80')), maxLength: 60 });
    const prefixes = fc.constantFrom(
      'AKIA',
      'ASIA',
      'ghp_',
      'github_pat_',
      'glpat-',
      'xoxb-',
      'sk_',
      'rk_',
      'eyJ',
      '-----',
    );
    fc.assert(
      fc.property(ascii, fc.option(prefixes), ascii, (before, prefix, after) => {
        const text = `${before}${prefix ?? ''}${after}`;
        const buf = Buffer.from(text);
        if (!bytesMayMatch(buf, 0, buf.length)) expect(scanner.scan(text)).toBeUndefined();
        if (prefix !== null) expect(bytesMayMatch(buf, 0, buf.length)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('is true for any non-ASCII byte', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }), (text) => {
        fc.pre([...text].some((ch) => (ch.codePointAt(0) ?? 0) > 0x7f));
        expect(mayMatchInBuffer(text, 'x')).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
