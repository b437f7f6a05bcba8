/**
 * @module audit/chain
 * The tamper-evidence core of the audit log, with no I/O: how stored audit events are linked into
 * a hash chain, how the gateway signs checkpoints over it, and how a stored chain is verified.
 *
 * Each record carries the SHA-256 of the one before it and a SHA-256 over its own canonical
 * encoding, so changing, deleting, reordering or inserting a record breaks a link that the
 * verifier names by sequence number. Hashes alone can be recomputed by whoever can write the
 * store, so every N events or minutes the gateway signs a checkpoint ("the chain up to seq has
 * this hash") with an Ed25519 key the store's writers do not hold; a chain rewritten from some
 * point and rehashed throughout is caught at the first checkpoint after that point.
 *
 * What this cannot detect:
 * - anything after the last checkpoint that keeps the chain linked: truncating the tail, or
 *   rewriting it with recomputed hashes. Checkpoint often enough that this window is acceptable;
 * - a wholesale rewrite by someone holding the signing key, who can sign new checkpoints;
 * - checkpoints removed together with the records they cover: the verifier trusts the checkpoint
 *   list it is given, so checkpoints should also leave the store (SIEM, another system);
 * - in range verification, a wrong `start`: the range is only as trustworthy as the anchor;
 * - removal of the oldest records up to a signed checkpoint, with the checkpoints before it: that
 *   is what retention does (its `audit.pruned` record says how far it went).
 */
import { createHash, createPublicKey, hash, type KeyObject, sign, verify } from 'node:crypto';

/** One stored audit event, linked to the one before it. */
export interface ChainedEvent {
  /** 1, 2, 3… with no gaps. */
  readonly seq: number;
  /** ISO-8601 UTC with milliseconds, e.g. 2026-11-22T01:02:03.456Z. */
  readonly at: string;
  /** The AuditEvent's `type`. */
  readonly type: string;
  /** The AuditEvent as JSON (objects, arrays, strings, finite numbers, booleans, null). */
  readonly event: unknown;
  /** Hex SHA-256 of the previous record; GENESIS_HASH for seq 1. */
  readonly prevHash: string;
  /** Hex SHA-256 over the canonical encoding of {seq, at, type, event, prevHash}. */
  readonly hash: string;
}

/** The `prevHash` of the first record: there is nothing before it to hash. */
export const GENESIS_HASH = '0'.repeat(64);

/** Lowercase hex SHA-256, as `eventHash` produces it. */
const HASH_PATTERN = /^[0-9a-f]{64}$/;

/** The shape `Date#toISOString` produces for years 0000–9999. */
const ISO_UTC_MS_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Deterministic JSON: object keys sorted by UTF-16 code units (as JCS, RFC 8785), no whitespace,
 * undefined properties dropped; throws on non-finite numbers, bigint, functions, cycles.
 *
 * Strings and numbers are written by `JSON.stringify`, whose escaping and shortest round-trip
 * number form are the ones JCS prescribes. Anything whose stored JSON would read back as a
 * different value also throws (undefined in an array or at the top, symbols, class instances
 * such as Date or Map): the hash would otherwise be over a value the store cannot reproduce, and
 * the record would later look tampered with.
 */
export function canonicalJson(value: unknown): string {
  return encode(value, 0);
}

/**
 * Deeper nesting is refused. Audit events nest a few levels; a cycle nests without end, so this
 * also catches cycles, without a set of ancestors to maintain on every call (the encoder runs for
 * every audit event, on the hot path of the store worker).
 */
const MAX_DEPTH = 64;

function encode(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${value} is not a JSON number`);
      return JSON.stringify(value);
    case 'object':
      if (value === null) return 'null';
      if (depth >= MAX_DEPTH)
        throw new TypeError(`canonicalJson: nested deeper than ${MAX_DEPTH} levels (or a cycle)`);
      return Array.isArray(value) ? encodeArray(value, depth + 1) : encodeObject(value, depth + 1);
    default:
      throw new TypeError(`canonicalJson: a ${typeof value} is not JSON`);
  }
}

function encodeArray(items: readonly unknown[], depth: number): string {
  let out = '[';
  // Indexes rather than iteration so holes are seen (as undefined) instead of skipped.
  for (let index = 0; index < items.length; index += 1) {
    const item = items[index];
    if (item === undefined) throw new TypeError(`canonicalJson: undefined at array index ${index}`);
    out += index === 0 ? encode(item, depth) : `,${encode(item, depth)}`;
  }
  return `${out}]`;
}

function encodeObject(object: object, depth: number): string {
  const prototype: unknown = Object.getPrototypeOf(object);
  if (prototype !== Object.prototype && prototype !== null) {
    const name = (object.constructor as { name?: unknown } | undefined)?.name;
    throw new TypeError(`canonicalJson: a ${typeof name === 'string' ? name : 'class instance'} is not JSON`);
  }
  const record = object as Record<string, unknown>;
  let out = '{';
  // The default sort compares UTF-16 code units, which is the order JCS specifies.
  for (const key of Object.keys(record).sort()) {
    const item = record[key];
    if (item === undefined) continue;
    out += `${out.length === 1 ? '' : ','}${quotedKey(key)}:${encode(item, depth)}`;
  }
  return `${out}}`;
}

/** Event schemas repeat a few dozen keys endlessly: their quoted forms are kept (a bounded number). */
const quotedKeys = new Map<string, string>();
const MAX_QUOTED_KEYS = 1024;

function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = JSON.stringify(key);
    if (quotedKeys.size < MAX_QUOTED_KEYS) quotedKeys.set(key, quoted);
  }
  return quoted;
}

function sha256Hex(text: string): string {
  // The one-shot form: about half the cost of createHash for a record-sized input.
  return hash('sha256', text, 'hex');
}

/** The record's hash. Only the five linked fields are read, so a whole ChainedEvent may be passed. */
export function eventHash(record: Omit<ChainedEvent, 'hash'>): string {
  const { seq, at, type, event, prevHash } = record;
  // canonicalJson({ seq, at, type, event, prevHash }), spelled out: the keys in sorted order.
  return sha256Hex(
    `{"at":${encode(at, 1)},"event":${encode(event, 1)},"prevHash":${encode(prevHash, 1)},` +
      `"seq":${encode(seq, 1)},"type":${encode(type, 1)}}`,
  );
}

/** True for a timestamp exactly as `Date#toISOString` writes it (UTC, milliseconds, a real date). */
export function isAuditTimestamp(at: unknown): at is string {
  if (typeof at !== 'string' || !ISO_UTC_MS_PATTERN.test(at)) return false;
  const ms = Date.parse(at);
  // The round trip rejects dates the pattern allows but the calendar does not (2026-02-30).
  return !Number.isNaN(ms) && new Date(ms).toISOString() === at;
}

/** Why `type` disagrees with the event's own `type`, if it does (only events that carry one). */
function typeMismatch(type: string, event: unknown): string | undefined {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return undefined;
  const eventType: unknown = (event as { type?: unknown }).type;
  if (typeof eventType !== 'string' || eventType === type) return undefined;
  return `type ${JSON.stringify(type)} differs from the event's type ${JSON.stringify(eventType)}`;
}

function isPositiveSeq(seq: unknown): seq is number {
  return typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 1;
}

/**
 * Links new events after `head` (undefined: the chain is empty).
 *
 * Throws (RangeError) on input the verifier would later reject as tampering, so a writer's bug
 * surfaces at write time: a malformed head, an `at` that is not `Date#toISOString` output, a
 * `type` that differs from the event's, or an event `canonicalJson` refuses.
 */
export function chainNext(
  head: { readonly seq: number; readonly hash: string } | undefined,
  items: readonly { readonly at: string; readonly type: string; readonly event: unknown }[],
): ChainedEvent[] {
  if (head !== undefined && (!isPositiveSeq(head.seq) || !HASH_PATTERN.test(head.hash))) {
    throw new RangeError(`chainNext: head ${JSON.stringify(head)} is not a stored record's seq and hash`);
  }
  let seq = head?.seq ?? 0;
  let prevHash = head?.hash ?? GENESIS_HASH;
  const linked: ChainedEvent[] = [];
  for (const { at, type, event } of items) {
    if (!isAuditTimestamp(at))
      throw new RangeError(`chainNext: ${JSON.stringify(at)} is not an ISO-8601 UTC time`);
    const mismatch = typeMismatch(type, event);
    if (mismatch !== undefined) throw new RangeError(`chainNext: ${mismatch}`);
    seq += 1;
    const unhashed = { seq, at, type, event, prevHash };
    const record = { ...unhashed, hash: eventHash(unhashed) };
    linked.push(record);
    prevHash = record.hash;
  }
  return linked;
}

/** A signed statement "the chain up to seq has this hash", made by the gateway every N events / minutes. */
export interface Checkpoint {
  readonly seq: number;
  readonly hash: string;
  readonly at: string;
  readonly keyId: string;
  /** Base64 Ed25519 over canonicalJson({seq, hash, at, keyId}). */
  readonly signature: string;
}

/** First 16 hex chars of SHA-256 over the SPKI DER of the public key. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

function signedBytes(checkpoint: Omit<Checkpoint, 'signature'>): Buffer {
  const { seq, hash, at, keyId } = checkpoint;
  return Buffer.from(canonicalJson({ seq, hash, at, keyId }), 'utf8');
}

/** Signs `head` with an Ed25519 private key. Throws on another key type or a malformed head. */
export function signCheckpoint(
  privateKey: KeyObject,
  head: { readonly seq: number; readonly hash: string; readonly at: string },
): Checkpoint {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new TypeError('signCheckpoint: checkpoints are signed with an Ed25519 private key');
  }
  if (!isPositiveSeq(head.seq) || !HASH_PATTERN.test(head.hash) || !isAuditTimestamp(head.at)) {
    throw new RangeError(
      `signCheckpoint: ${JSON.stringify(head)} is not a chain head and an ISO-8601 UTC time`,
    );
  }
  const statement = {
    seq: head.seq,
    hash: head.hash,
    at: head.at,
    keyId: keyIdOf(createPublicKey(privateKey)),
  };
  return { ...statement, signature: sign(null, signedBytes(statement), privateKey).toString('base64') };
}

/** Whether `checkpoint` was signed by `publicKey` (and names it). False, never a throw, for malformed data. */
export function checkpointValid(checkpoint: Checkpoint, publicKey: KeyObject): boolean {
  try {
    if (publicKey.type !== 'public' || publicKey.asymmetricKeyType !== 'ed25519') return false;
    if (checkpoint.keyId !== keyIdOf(publicKey)) return false;
    const signature = Buffer.from(checkpoint.signature, 'base64');
    // Buffer's decoder skips characters outside base64, so require the canonical spelling.
    if (signature.toString('base64') !== checkpoint.signature) return false;
    return verify(null, signedBytes(checkpoint), publicKey, signature);
  } catch {
    // Checkpoints read from a store may have any shape: a field canonicalJson or Buffer rejects.
    return false;
  }
}

export type VerifyResult =
  | {
      readonly ok: true;
      readonly events: number;
      readonly lastSeq: number;
      readonly lastHash: string;
      readonly checkpointsVerified: number;
    }
  | { readonly ok: false; readonly firstBadSeq: number; readonly reason: string };

export interface ChainVerifierOptions {
  /** Public keys by key id (from `keyIdOf`); checkpoints signed by other keys are a failure. */
  readonly publicKeys: ReadonlyMap<string, KeyObject>;
  /**
   * Checkpoints up to the end of what will be pushed: one beyond the last record pushed means
   * records were truncated. Those at or before `start.seq` are outside the range and ignored.
   */
  readonly checkpoints: readonly Checkpoint[];
  /**
   * Verifying a range: the record before the first one pushed (its seq and hash); absent: from
   * genesis (seq 1). `anchored`: the log was pruned and `start` was read from the first record's
   * own `prevHash`, so that record must carry a signed checkpoint, which vouches for it.
   */
  readonly start?: { readonly seq: number; readonly hash: string; readonly anchored?: boolean };
}

type Failure = { readonly ok: false; readonly firstBadSeq: number; readonly reason: string };

const failure = (firstBadSeq: number, reason: string): Failure => ({ ok: false, firstBadSeq, reason });

/** Streaming verification: push records in the order they are stored (by seq), then finish(). */
export class ChainVerifier {
  readonly #publicKeys: ReadonlyMap<string, KeyObject>;
  /** Checkpoints not yet reached, by seq; what is left at the end lies beyond the last record. */
  readonly #pending = new Map<number, Checkpoint[]>();
  #lastSeq: number;
  #lastHash: string;
  #events = 0;
  #checkpointsVerified = 0;
  /** The last checkpoint that matched: a rewrite caught by a later one happened after it. */
  #lastMatchedCheckpoint: number | undefined;
  /** The first record of a pruned log, which a checkpoint must sign. */
  readonly #anchorSeq: number | undefined;
  #failure: Failure | undefined;

  constructor(options: ChainVerifierOptions) {
    this.#publicKeys = options.publicKeys;
    this.#lastSeq = options.start?.seq ?? 0;
    this.#lastHash = options.start?.hash ?? GENESIS_HASH;
    this.#anchorSeq = options.start?.anchored ? this.#lastSeq + 1 : undefined;
    for (const checkpoint of options.checkpoints) {
      if (checkpoint.seq <= this.#lastSeq) continue;
      const atSeq = this.#pending.get(checkpoint.seq);
      if (atSeq === undefined) this.#pending.set(checkpoint.seq, [checkpoint]);
      else atSeq.push(checkpoint);
    }
  }

  /** Never throws for bad data; records the first problem only and ignores records after it. */
  push(record: ChainedEvent): void {
    if (this.#failure === undefined) this.#failure = this.#check(record);
  }

  finish(): VerifyResult {
    if (this.#failure !== undefined) return this.#failure;
    const beyond = [...this.#pending.keys()].filter((seq) => seq > this.#lastSeq);
    if (beyond.length > 0) {
      return failure(
        this.#lastSeq + 1,
        `records after seq ${this.#lastSeq} are missing (checkpoint at seq ${Math.max(...beyond)})`,
      );
    }
    return {
      ok: true,
      events: this.#events,
      lastSeq: this.#lastSeq,
      lastHash: this.#lastHash,
      checkpointsVerified: this.#checkpointsVerified,
    };
  }

  #check(record: ChainedEvent): Failure | undefined {
    const expected = this.#lastSeq + 1;
    const { seq } = record;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq)) {
      const found = typeof seq === 'string' ? JSON.stringify(seq) : String(seq);
      return failure(expected, `the record after seq ${this.#lastSeq} has an invalid seq ${found}`);
    }
    if (seq < expected) {
      return failure(seq, `seq ${seq} follows seq ${this.#lastSeq}: a repeated or reordered record`);
    }
    // A higher seq: what is missing starts at the one expected.
    if (seq > expected)
      return failure(expected, `record ${expected} is missing (the next record has seq ${seq})`);
    if (record.prevHash !== this.#lastHash) {
      const previous = seq === 1 ? 'the genesis hash' : `record ${seq - 1}'s hash`;
      return failure(seq, `record ${seq} does not link to the chain: its prevHash is not ${previous}`);
    }
    let hash: string;
    try {
      hash = eventHash(record);
    } catch (error) {
      return failure(seq, `record ${seq} cannot be hashed: ${(error as Error).message}`);
    }
    if (record.hash !== hash)
      return failure(seq, `record ${seq} was modified: its hash does not match its fields`);
    const mismatch = typeMismatch(record.type, record.event);
    if (mismatch !== undefined) return failure(seq, `record ${seq}: ${mismatch}`);
    this.#lastSeq = seq;
    this.#lastHash = hash;
    this.#events += 1;
    return this.#checkCheckpoints(seq, hash);
  }

  #checkCheckpoints(seq: number, hash: string): Failure | undefined {
    const checkpoints = this.#pending.get(seq);
    if (checkpoints === undefined) {
      // Without a signature, the first record of a pruned log is only its own word for its link.
      if (seq !== this.#anchorSeq) return undefined;
      return failure(
        1,
        `records before seq ${seq} are missing, and no signed checkpoint anchors record ${seq} (retention keeps one)`,
      );
    }
    this.#pending.delete(seq);
    for (const checkpoint of checkpoints) {
      const publicKey = this.#publicKeys.get(checkpoint.keyId);
      if (publicKey === undefined) {
        return failure(seq, `checkpoint at seq ${seq} is signed by unknown key ${String(checkpoint.keyId)}`);
      }
      if (!checkpointValid(checkpoint, publicKey)) {
        return failure(seq, `checkpoint at seq ${seq} has an invalid signature (key ${checkpoint.keyId})`);
      }
      if (checkpoint.hash !== hash) {
        const since =
          this.#lastMatchedCheckpoint === undefined
            ? ''
            : ` (after checkpoint ${this.#lastMatchedCheckpoint})`;
        return failure(
          seq,
          `the chain was rewritten before checkpoint ${seq}${since}: record ${seq}'s hash is not the signed one`,
        );
      }
      this.#checkpointsVerified += 1;
    }
    this.#lastMatchedCheckpoint = seq;
    return undefined;
  }
}
