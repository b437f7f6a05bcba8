/**
 * @module gateway/result-masker
 * The session's {@link ResultMasker}: the DLP content detectors (dlp/) applied to every value and
 * every piece of free text flowing back, with types preserved. A value of a text-like type in
 * text format is masked in place (`************1111`); any other value in which a detector fires
 * becomes SQL NULL, which every type and both formats accept, so clients never fail to decode a
 * masked result. Binary numbers are decoded to their decimal text first, so a card number stored
 * as `int8` and fetched in binary is still found.
 */
import type { Logger } from '../core/logger.ts';
import type { FieldRule } from '../core/result-plan.ts';
import { maskColumnValue, type TextScanner } from '../dlp/index.ts';
import type { MaskCounts, ResultMasker } from '../protocols/postgres/ports.ts';
import type { ColumnShape } from '../protocols/postgres/result-shapes.ts';

/** Types whose text form (and, except jsonb, binary form) is the value's UTF-8 text. */
const TEXT_LIKE = new Set([
  25, // text
  1043, // varchar
  1042, // bpchar
  19, // name
  18, // char
  114, // json
  142, // xml
  705, // unknown
  3802, // jsonb (binary: a version byte, then the text)
]);

/** Arrays of text-like types: their text form stays a valid literal when masked in place. */
const TEXT_LIKE_ARRAYS = new Set([1009, 1015, 1014, 1003, 199, 143, 3807]);

const JSONB = 3802;

export interface ResultMaskerOptions {
  readonly scanner: TextScanner;
  /** Key of `hash` tokens for column rules (the scanner holds the same key for its findings). */
  readonly hashKey: Buffer;
  /** Values longer than this are never passed through unscanned: they are redacted whole. */
  readonly scanCapBytes: number;
  readonly logger: Logger;
  readonly context: Readonly<Record<string, string>>;
}

export class DlpResultMasker implements ResultMasker {
  readonly #scanner: TextScanner;
  readonly #hashKey: Buffer;
  readonly #scanCap: number;
  readonly #log: Logger;
  readonly #context: Readonly<Record<string, string>>;
  /** Findings per detector since the last reported result. */
  #counts = new Map<string, number>();
  #values = 0;

  constructor(options: ResultMaskerOptions) {
    this.#scanner = options.scanner;
    this.#hashKey = options.hashKey;
    this.#scanCap = options.scanCapBytes;
    this.#log = options.logger;
    this.#context = options.context;
  }

  value(
    bytes: Buffer,
    start: number,
    end: number,
    shape: ColumnShape | undefined,
    rule?: FieldRule,
  ): Buffer | null | undefined {
    if (rule !== undefined) return this.#byColumnRule(bytes, start, end, shape, rule);
    const inPlace = shape !== undefined && isTextLike(shape);
    if (end - start > this.#scanCap) {
      this.#count({ oversize: 1 });
      return inPlace && shape?.format === 0 ? Buffer.from('[REDACTED:oversize]') : null;
    }
    if (inPlace) return this.#maskText(bytes, start, end, shape.typeOid === JSONB && shape.format === 1);
    // Not known to be text: any finding, under any reading of the bytes, replaces the whole value.
    const found =
      this.#finds(bytes, start, end) ||
      (shape?.format !== 0 &&
        binaryNumberReadings(bytes, start, end, shape?.typeOid).some((text) => this.#findsIn(text)));
    return found ? null : undefined;
  }

  /**
   * A value a column rule covers, masked whatever its content. Derived values are redacted whole;
   * a direct value gets its column's masker. Only plain text (not jsonb's binary form, not arrays
   * or composites) can carry a masked string; anything else becomes NULL.
   */
  #byColumnRule(
    bytes: Buffer,
    start: number,
    end: number,
    shape: ColumnShape | undefined,
    rule: FieldRule,
  ): Buffer | null {
    this.#count({ [`column:${rule.column}`]: 1 });
    const plainText =
      shape?.typeOid !== undefined &&
      TEXT_LIKE.has(shape.typeOid) &&
      !(shape.typeOid === JSONB && shape.format === 1);
    const label = rule.column.slice(rule.column.lastIndexOf('.') + 1);
    if (!plainText) return null;
    if (rule.kind === 'derived') return Buffer.from(`[REDACTED:${label}]`);
    if (rule.masker === 'null') return null;
    return Buffer.from(
      maskColumnValue(rule.masker, label, bytes.toString('utf8', start, end), this.#hashKey),
    );
  }

  text(text: string): string | undefined {
    const result = this.#scanner.scan(text);
    if (result === undefined) return undefined;
    this.#count(result.counts);
    return result.masked ?? `[REDACTED:${Object.keys(result.counts)[0] ?? 'value'}]`;
  }

  resultEnded(): MaskCounts | undefined {
    if (this.#values === 0) return undefined;
    const detectors = Object.fromEntries(this.#counts);
    this.#log.info({ ...this.#context, maskedValues: this.#values, detectors }, 'values masked');
    this.#counts = new Map();
    this.#values = 0;
    return detectors;
  }

  /** Text-like value: masked in place; a `null` masker (or jsonb's version byte) keeps the shape. */
  #maskText(bytes: Buffer, start: number, end: number, jsonbBinary: boolean): Buffer | null | undefined {
    const from = jsonbBinary ? start + 1 : start;
    if (!this.#scanner.mayMatch(bytes, from, end)) return undefined;
    const result = this.#scanner.scan(bytes.toString('utf8', from, end));
    if (result === undefined) return undefined;
    this.#count(result.counts);
    if (result.masked === undefined) return null;
    const text = Buffer.from(result.masked, 'utf8');
    return jsonbBinary ? Buffer.concat([bytes.subarray(start, from), text]) : text;
  }

  #finds(bytes: Buffer, start: number, end: number): boolean {
    // latin1 keeps one character per byte, so binary values are scanned byte for byte too.
    return this.#scanner.mayMatch(bytes, start, end) && this.#findsIn(bytes.toString('latin1', start, end));
  }

  #findsIn(text: string): boolean {
    const result = this.#scanner.scan(text);
    if (result === undefined) return false;
    this.#count(result.counts);
    return true;
  }

  #count(counts: Readonly<Record<string, number>>): void {
    this.#values++;
    for (const [name, n] of Object.entries(counts)) this.#counts.set(name, (this.#counts.get(name) ?? 0) + n);
  }
}

function isTextLike(shape: ColumnShape): boolean {
  if (shape.typeOid === undefined) return false;
  if (TEXT_LIKE.has(shape.typeOid)) return true;
  return shape.format === 0 && TEXT_LIKE_ARRAYS.has(shape.typeOid);
}

/**
 * The decimal texts a binary value could stand for (int2/4/8, float8, numeric). With the type
 * unknown, every width that could be an integer or a float is read, since a caller choosing
 * binary results must not hide a card number in eight raw bytes.
 */
function binaryNumberReadings(
  bytes: Buffer,
  start: number,
  end: number,
  typeOid: number | undefined,
): string[] {
  const len = end - start;
  const known = (oid: number) => typeOid === undefined || typeOid === oid;
  const readings: string[] = [];
  if (known(1700)) {
    const numeric = numericText(bytes, start, end);
    if (numeric !== undefined) readings.push(numeric);
  }
  if (len === 8 && known(20)) readings.push(bytes.readBigInt64BE(start).toString());
  if (len === 8 && known(701)) {
    // Only whole numbers below 2^53 are exact; a PAN stored as float8 is one of them.
    const float = bytes.readDoubleBE(start);
    if (Number.isSafeInteger(float)) readings.push(String(float));
  }
  if (len === 4 && known(23)) readings.push(String(bytes.readInt32BE(start)));
  if (len === 2 && known(21)) readings.push(String(bytes.readInt16BE(start)));
  return readings;
}

/**
 * NUMERIC's binary form: Int16 ndigits, Int16 weight, UInt16 sign, Int16 dscale, then ndigits
 * Int16 base-10000 digits. Only the integer part matters for detection.
 */
function numericText(bytes: Buffer, start: number, end: number): string | undefined {
  if (end - start < 8) return undefined;
  const ndigits = bytes.readInt16BE(start);
  const weight = bytes.readInt16BE(start + 2);
  if (ndigits < 0 || ndigits > 1000 || end - start !== 8 + 2 * ndigits || weight < -1 || weight > 1000) {
    return undefined;
  }
  let text = '';
  for (let i = 0; i <= weight; i++) {
    const digit = i < ndigits ? bytes.readInt16BE(start + 8 + 2 * i) : 0;
    text += i === 0 ? String(digit) : String(digit).padStart(4, '0');
  }
  return text === '' ? '0' : text;
}
