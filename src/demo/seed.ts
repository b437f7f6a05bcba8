/**
 * @module demo/seed
 * A realistic, entirely fake dataset for `sluice demo`: customers with names, emails, card
 * numbers (Luhn-valid, real IIN ranges), SSNs (valid area/group/serial rules), phone numbers and
 * API-key-shaped secrets, plus their orders. Deterministic (seeded PRNG), so the demo and the
 * docs show the same rows every time.
 */

/** Mulberry32: small, fast, good enough for fake data; never for anything secret. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const FIRST = [
  'Alice',
  'Bob',
  'Carol',
  'Dmitri',
  'Esther',
  'Farid',
  'Grace',
  'Hiro',
  'Ines',
  'Jonas',
  'Kemi',
  'Luca',
  'Maya',
  'Nils',
  'Olga',
  'Priya',
  'Quentin',
  'Rosa',
  'Sven',
  'Tariq',
  'Uma',
  'Victor',
  'Wen',
  'Ximena',
  'Yusuf',
  'Zoe',
];
const LAST = [
  'Anderson',
  'Brooks',
  'Chen',
  'Dubois',
  'Eriksen',
  'Fernandes',
  'Garcia',
  'Hughes',
  'Ibrahim',
  'Johansson',
  'Kowalski',
  'Lopez',
  'Moreau',
  'Nakamura',
  'Okafor',
  'Petrov',
  'Quinn',
  'Rossi',
  'Schmidt',
  'Tanaka',
];
const DOMAINS = ['example.com', 'example.org', 'mail.example.net'];
const PRODUCTS = [
  'Standing desk',
  'Monitor arm',
  'Mechanical keyboard',
  'USB-C dock',
  'Noise-cancelling headphones',
  'Ergonomic chair',
  'Webcam',
  'Desk lamp',
];
/** Card prefixes from real issuer ranges (Visa 4, Mastercard 51–55, Amex 34/37), lengths per brand. */
const CARD_BRANDS = [
  { prefix: '4', length: 16 },
  { prefix: '51', length: 16 },
  { prefix: '55', length: 16 },
  { prefix: '37', length: 15 },
];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function digits(random: () => number, count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) out += Math.floor(random() * 10).toString();
  return out;
}

/** Appends the Luhn check digit, so the demo's card numbers look real to a PAN detector. */
export function withLuhnCheckDigit(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let digit = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return body + ((10 - (sum % 10)) % 10).toString();
}

function cardNumber(random: () => number): string {
  const brand = pick(random, CARD_BRANDS);
  return withLuhnCheckDigit(brand.prefix + digits(random, brand.length - brand.prefix.length - 1));
}

/** Area 001–665 or 667–899, group 01–99, serial 0001–9999: the SSA's validity rules. */
function ssn(random: () => number): string {
  let area = 1 + Math.floor(random() * 898);
  if (area === 666) area = 667;
  const group = 1 + Math.floor(random() * 99);
  const serial = 1 + Math.floor(random() * 9999);
  return `${String(area).padStart(3, '0')}-${String(group).padStart(2, '0')}-${String(serial).padStart(4, '0')}`;
}

function phone(random: () => number): string {
  return `+1-${200 + Math.floor(random() * 700)}-555-${digits(random, 4)}`;
}

const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function apiKey(random: () => number): string {
  let tail = '';
  for (let i = 0; i < 24; i++) tail += pick(random, [...KEY_ALPHABET]);
  return `sk_live_${tail}`;
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

export interface DemoSeedOptions {
  readonly customers: number;
  readonly orders: number;
}

/** The DDL and INSERTs for the demo database, as one SQL script. */
export function demoSeedSql(options: DemoSeedOptions = { customers: 200, orders: 1000 }): string {
  const random = prng(20261121);
  const customers: string[] = [];
  for (let id = 1; id <= options.customers; id++) {
    const first = pick(random, FIRST);
    const last = pick(random, LAST);
    const email = `${first.toLowerCase()}.${last.toLowerCase()}${id}@${pick(random, DOMAINS)}`;
    customers.push(
      `(${id}, ${literal(`${first} ${last}`)}, ${literal(email)}, ${literal(cardNumber(random))}, ${literal(ssn(random))}, ${literal(phone(random))}, ${literal(apiKey(random))})`,
    );
  }
  const orders: string[] = [];
  for (let id = 1; id <= options.orders; id++) {
    const customer = 1 + Math.floor(random() * options.customers);
    const cents = 1500 + Math.floor(random() * 150_000);
    const day = 1 + Math.floor(random() * 300);
    orders.push(
      `(${id}, ${customer}, ${literal(pick(random, PRODUCTS))}, ${(cents / 100).toFixed(2)}, date '2026-01-01' + ${day})`,
    );
  }
  return `
CREATE TABLE customers (
  id integer PRIMARY KEY,
  name text NOT NULL,
  email text NOT NULL,
  card_number text NOT NULL,
  ssn text NOT NULL,
  phone text NOT NULL,
  api_key text NOT NULL
);
CREATE TABLE orders (
  id integer PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES customers(id),
  product text NOT NULL,
  amount numeric(10,2) NOT NULL,
  ordered_on date NOT NULL
);
INSERT INTO customers VALUES
${customers.join(',\n')};
INSERT INTO orders VALUES
${orders.join(',\n')};
`;
}
