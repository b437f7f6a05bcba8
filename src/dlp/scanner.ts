/**
 * @module The value scanner: runs the enabled detectors over one text value and masks what they find.
 * Pure (no I/O, no logging) and linear in the length of the value.
 */
import { detectCards } from './detectors/card.ts';
import { type CompiledPattern, compilePattern, detectCustom } from './detectors/custom.ts';
import { detectEmails } from './detectors/email.ts';
import { detectIbans } from './detectors/iban.ts';
import { detectPhones } from './detectors/phone.ts';
import { detectSecrets } from './detectors/secret.ts';
import { detectSsns } from './detectors/ssn.ts';
import { mask, redacted, type Source } from './maskers.ts';
import { normalizeForDetection } from './normalize.ts';
import {
  AT_SIGN,
  bytesMayMatch,
  DIGITS8,
  DIGITS9,
  DIGITS13,
  NON_ASCII,
  SECRET,
  stringFlags,
} from './prefilter.ts';
import type { DetectorName, MaskerName, Match } from './types.ts';

export interface CustomPattern {
  readonly name: string;
  readonly pattern: string;
  readonly masker?: MaskerName;
}

export interface ScannerConfig {
  /** Detectors on, each with its masker; defaults: card/ssn/phone/iban partial, email email, secret redact. */
  readonly detectors: Readonly<Partial<Record<DetectorName, MaskerName | false>>>;
  readonly custom?: readonly CustomPattern[];
  /** HMAC key for the `hash` masker. */
  readonly hashKey: Buffer;
}

export interface ScanResult {
  /** The text with every finding masked, or undefined when a finding's masker is `null` (the caller sends SQL NULL). */
  readonly masked: string | undefined;
  /** Findings per detector (`card`, `custom:<name>`…), for reporting. */
  readonly counts: Readonly<Record<string, number>>;
}

export interface TextScanner {
  /** undefined when nothing was found: the common case allocates nothing. */
  scan(text: string): ScanResult | undefined;
  /**
   * Cheap conservative pre-check on UTF-8 bytes [start, end): false means scan() would certainly
   * find nothing (e.g. fewer than 8 digits, no '@', no secret prefix, pure ASCII). Must be a single
   * pass over the bytes with no allocation; it is called for every value on the data path.
   */
  mayMatch(bytes: Buffer, start: number, end: number): boolean;
}

export const DEFAULT_DETECTORS: Readonly<Record<DetectorName, MaskerName>> = Object.freeze({
  card: 'partial',
  email: 'email',
  ssn: 'partial',
  phone: 'partial',
  iban: 'partial',
  secret: 'redact',
});

const MASKERS: ReadonlySet<string> = new Set<MaskerName>(['redact', 'partial', 'hash', 'email', 'null']);
const MIN_HASH_KEY_BYTES = 16;

/** One enabled detector. Order matters: for findings with the same span, the earlier slot wins. */
interface Slot {
  readonly source: Source;
  readonly countKey: string;
  readonly masker: MaskerName;
  /** prefilter flags of which at least one must be set; 0 means always run. */
  readonly needs: number;
  readonly detect: (text: string, out: Match[]) => void;
}

const BUILT_IN: readonly {
  readonly name: DetectorName;
  readonly needs: number;
  readonly detect: (text: string, out: Match[]) => void;
}[] = [
  { name: 'secret', needs: SECRET, detect: detectSecrets },
  { name: 'email', needs: AT_SIGN, detect: detectEmails },
  { name: 'iban', needs: DIGITS8, detect: detectIbans },
  { name: 'card', needs: DIGITS13, detect: detectCards },
  { name: 'ssn', needs: DIGITS9, detect: detectSsns },
  { name: 'phone', needs: DIGITS8, detect: detectPhones },
];

function checkMasker(masker: unknown, where: string): MaskerName {
  if (typeof masker !== 'string' || !MASKERS.has(masker)) {
    throw new Error(
      `DLP ${where}: unknown masker ${JSON.stringify(masker)} (redact, partial, hash, email, null)`,
    );
  }
  return masker as MaskerName;
}

function buildSlots(config: ScannerConfig): Slot[] {
  const known = new Set<string>(BUILT_IN.map((d) => d.name));
  for (const name of Object.keys(config.detectors)) {
    if (!known.has(name)) throw new Error(`DLP: unknown detector ${JSON.stringify(name)}`);
  }
  const slots: Slot[] = [];
  for (const { name, needs, detect } of BUILT_IN) {
    const setting = config.detectors[name];
    if (setting === false) continue;
    const masker = setting === undefined ? DEFAULT_DETECTORS[name] : checkMasker(setting, `detector ${name}`);
    slots.push({ source: name, countKey: name, masker, needs, detect });
  }
  const names = new Set<string>();
  for (const custom of config.custom ?? []) {
    const compiled: CompiledPattern = compilePattern(custom.name, custom.pattern);
    if (names.has(custom.name)) throw new Error(`DLP custom pattern "${custom.name}" is defined twice`);
    names.add(custom.name);
    const masker =
      custom.masker === undefined ? 'redact' : checkMasker(custom.masker, `custom pattern ${custom.name}`);
    const label = custom.name;
    slots.push({
      source: 'custom',
      countKey: `custom:${custom.name}`,
      masker,
      needs: 0,
      detect: (text, out) => detectCustom(text, compiled, label, out),
    });
  }
  return slots;
}

/**
 * Builds a scanner for one configuration. Instances are reusable and not re-entrant (scratch arrays
 * are shared between calls), which suits a single-threaded data path.
 * @throws Error for an unknown detector or masker, a custom pattern that does not compile or matches
 * the empty string, a duplicate custom name, or a `hash` masker with a key under 16 bytes.
 */
/**
 * `text` with every finding masked, for text that must always be shown as text (records, approver
 * views): a finding whose masker is `null` turns the whole text into `nulled`.
 */
export function maskText(scanner: TextScanner, text: string, nulled = '[REDACTED]'): string {
  const found = scanner.scan(text);
  return found === undefined ? text : (found.masked ?? nulled);
}

export function createScanner(config: ScannerConfig): TextScanner {
  const slots = buildSlots(config);
  if (slots.some((s) => s.masker === 'hash') && config.hashKey.length < MIN_HASH_KEY_BYTES) {
    throw new Error(`DLP: the hash masker needs a hashKey of at least ${MIN_HASH_KEY_BYTES} bytes`);
  }
  const hashKey = Buffer.from(config.hashKey);
  const hasCustom = slots.some((s) => s.needs === 0);
  const builtInFlags = slots.reduce((acc, s) => acc | s.needs, 0);
  const matches: Match[] = [];
  const owners: number[] = [];

  function maskOne(slotIndex: number, m: Match, subject: string): string {
    const slot = slots[slotIndex] as Slot;
    if (slot.masker === 'null') return '';
    return mask(slot.masker, slot.source, m.label, subject.slice(m.start, m.end), hashKey);
  }

  return {
    scan(text: string): ScanResult | undefined {
      let flags = stringFlags(text);
      if ((flags & builtInFlags) === 0 && (flags & NON_ASCII) === 0 && !hasCustom) return undefined;
      let subject = text;
      if ((flags & NON_ASCII) !== 0) {
        subject = normalizeForDetection(text);
        if (subject !== text) flags = stringFlags(subject);
      }
      matches.length = 0;
      owners.length = 0;
      for (let s = 0; s < slots.length; s++) {
        const slot = slots[s] as Slot;
        if (slot.needs !== 0 && (flags & slot.needs) === 0) continue;
        slot.detect(subject, matches);
        while (owners.length < matches.length) owners.push(s);
      }
      if (matches.length === 0) return undefined;
      return buildResult(subject, subject !== text);
    },

    mayMatch(bytes: Buffer, start: number, end: number): boolean {
      if (hasCustom) return true;
      if (builtInFlags === 0) return false;
      return bytesMayMatch(bytes, start, end);
    },
  };

  function buildResult(subject: string, normalized: boolean): ScanResult {
    const counts: Record<string, number> = {};
    let nulled = false;
    const order: number[] = [];
    for (let k = 0; k < matches.length; k++) {
      const slot = slots[owners[k] ?? 0] as Slot;
      counts[slot.countKey] = (counts[slot.countKey] ?? 0) + 1;
      if (slot.masker === 'null') nulled = true;
      order.push(k);
    }
    if (nulled) return { masked: undefined, counts };
    const get = (k: number): Match => matches[k] as Match;
    order.sort((a, b) => get(a).start - get(b).start || get(b).end - get(a).end || a - b);
    const first = order[0] ?? 0;
    // Offsets into the normalized text do not map back to the original: mask the whole value.
    if (normalized) return { masked: maskOne(owners[first] ?? 0, get(first), subject), counts };
    let out = '';
    let pos = 0;
    let k = 0;
    while (k < order.length) {
      const primary = order[k] ?? 0;
      const p = get(primary);
      let clusterEnd = p.end;
      k++;
      while (k < order.length && get(order[k] ?? 0).start < clusterEnd) {
        clusterEnd = Math.max(clusterEnd, get(order[k] ?? 0).end);
        k++;
      }
      out += subject.slice(pos, p.start);
      // Overlapping findings are replaced together; the earliest, longest one names the redaction.
      out += clusterEnd === p.end ? maskOne(owners[primary] ?? 0, p, subject) : redacted(p.label);
      pos = clusterEnd;
    }
    out += subject.slice(pos);
    return { masked: out, counts };
  }
}
