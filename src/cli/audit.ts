/**
 * @module cli/audit
 * `sluice audit verify|export|public-key`: check the hash chain and signed checkpoints of the
 * audit log, export it (JSONL that `verify --file` checks offline, or CEF for a SIEM), and print
 * the checkpoint keys a third party verifies with.
 *
 * Exit status of `verify`: 0 intact, 1 tampered (the first bad sequence number is printed),
 * 2 could not be checked (no store, unreadable file…).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { toCef } from '../audit/cef.ts';
import {
  type ChainedEvent,
  ChainVerifier,
  type ChainVerifierOptions,
  type Checkpoint,
  keyIdOf,
  type VerifyResult,
} from '../audit/chain.ts';
import { alteredRecording } from '../audit/recording-files.ts';
import type { Store } from '../store/store.ts';
import { collect, parseSince } from './option-parsers.ts';
import {
  addStoreOptions,
  RECORDINGS_FLAG,
  RECORDINGS_HELP,
  type RecordingOptions,
  recordingsDir,
  type StoreOptions,
  withStore,
} from './store-option.ts';

interface VerifyOptions extends RecordingOptions {
  from?: number;
  to?: number;
  file?: string;
  publicKey?: string[];
  json?: boolean;
}

interface ExportOptions extends StoreOptions {
  since?: string;
  format: 'jsonl' | 'cef';
}

const PAGE = 1000;

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('verify and export the tamper-evident audit log');

  addStoreOptions(
    audit
      .command('verify')
      .description('check the hash chain and signed checkpoints; exit 0 intact, 1 tampered, 2 not checked')
      .option('--from <seq>', 'first sequence number to check (default: 1)', parseSeq)
      .option('--to <seq>', 'last sequence number to check (default: the newest)', parseSeq)
      .option('--file <path>', 'check an export (sluice audit export) instead of the store')
      .option(
        '--public-key <pem>',
        'trust only these checkpoint keys (PEM files; repeatable); default: the keys registered in the store',
        collect,
        [],
      )
      .option('--json', 'print one JSON object')
      .option(RECORDINGS_FLAG, `${RECORDINGS_HELP}; the store's records' files are checked too`),
  ).action(async (opts: VerifyOptions) => {
    let result: VerifyResult;
    try {
      const trusted = await loadKeys(opts.publicKey ?? []);
      result =
        opts.file === undefined
          ? await withStore(opts, async (store) =>
              verifyStore(store, { ...opts, recordingsDir: await recordingsDir(opts) }, trusted),
            )
          : await verifyFile(opts.file, trusted);
    } catch (error) {
      // Not checked is not "intact": a distinct status, so scripts cannot mistake one for the other.
      console.error(`sluice: audit log not checked: ${(error as Error).message}`);
      process.exitCode = 2;
      return;
    }
    report(result, opts.json === true);
    process.exitCode = result.ok ? 0 : 1;
  });

  addStoreOptions(
    audit
      .command('export')
      .description('print the audit log as JSONL (verifiable with verify --file) or CEF')
      .option('--since <when>', 'an ISO date/time, or a duration back from now such as 24h')
      .addOption(new Option('--format <format>', 'output format').choices(['jsonl', 'cef']).default('jsonl')),
  ).action((opts: ExportOptions) =>
    withStore(opts, async (store) => {
      const sinceAt = opts.since === undefined ? undefined : parseSince(opts.since);
      if (opts.format === 'jsonl') {
        for (const checkpoint of await store.audit.checkpoints()) {
          process.stdout.write(`${JSON.stringify({ checkpoint })}\n`);
        }
      }
      for await (const record of pages(store, { sinceAt })) {
        process.stdout.write(`${opts.format === 'jsonl' ? JSON.stringify(record) : toCef(record)}\n`);
      }
    }),
  );

  addStoreOptions(
    audit.command('public-key').description('print the public keys that sign audit checkpoints (PEM)'),
  ).action((opts: StoreOptions) =>
    withStore(opts, async (store) => {
      for (const { keyId, publicKeyPem } of await store.audit.keys()) {
        process.stdout.write(`# key id ${keyId}\n${publicKeyPem.trimEnd()}\n`);
      }
    }),
  );
}

/** The store's records in seq order, a page at a time (the log can be large). */
async function* pages(
  store: Store,
  bounds: { fromSeq?: number | undefined; toSeq?: number | undefined; sinceAt?: string | undefined },
): AsyncGenerator<ChainedEvent> {
  let fromSeq = bounds.fromSeq;
  let sinceAt = bounds.sinceAt;
  for (;;) {
    const page = await store.audit.range({
      ...(fromSeq === undefined ? {} : { fromSeq }),
      ...(bounds.toSeq === undefined ? {} : { toSeq: bounds.toSeq }),
      ...(sinceAt === undefined ? {} : { sinceAt }),
      limit: PAGE,
    });
    yield* page;
    const last = page.at(-1);
    if (last === undefined || page.length < PAGE) return;
    fromSeq = last.seq + 1;
    sinceAt = undefined;
  }
}

/**
 * Verifies the store's log (or the `--from`/`--to` range of it) against `trusted` keys, else the
 * registered ones, and, given `recordingsDir`, that each recording file still holds the bytes its
 * record's hash names (an absent file is not checked: retention removes them).
 */
export async function verifyStore(
  store: Store,
  opts: Pick<VerifyOptions, 'from' | 'to'> & { recordingsDir?: string },
  trusted: Map<string, KeyObject> | undefined,
): Promise<VerifyResult> {
  const publicKeys = trusted ?? keyMap((await store.audit.keys()).map((k) => k.publicKeyPem));
  const verifier = new ChainVerifier({
    publicKeys,
    checkpoints: (await store.audit.checkpoints()).filter((c) => opts.to === undefined || c.seq <= opts.to),
    ...(await startOf(store, opts.from)),
  });
  let altered: Extract<VerifyResult, { ok: false }> | undefined;
  for await (const record of pages(store, { fromSeq: opts.from, toSeq: opts.to })) {
    verifier.push(record);
    if (altered !== undefined || opts.recordingsDir === undefined) continue;
    const problem = await alteredRecording(opts.recordingsDir, record);
    if (problem !== undefined)
      altered = { ok: false, firstBadSeq: record.seq, reason: `record ${record.seq}'s ${problem}` };
  }
  const result = verifier.finish();
  // A broken chain at or before the altered file's record is the first problem to report.
  if (altered === undefined || (!result.ok && result.firstBadSeq <= altered.firstBadSeq)) return result;
  return altered;
}

/**
 * Where verification starts: after the record before `--from`; else, in a log whose oldest records
 * retention removed, from the first one kept, which a signed checkpoint must vouch for.
 */
async function startOf(store: Store, from: number | undefined): Promise<Partial<ChainVerifierOptions>> {
  if (from !== undefined) {
    const before = from > 1 ? await store.audit.before(from) : undefined;
    return before === undefined ? {} : { start: { seq: before.seq, hash: before.hash } };
  }
  const [first] = await store.audit.range({ limit: 1 });
  if (first === undefined || first.seq === 1) return {};
  return { start: { seq: first.seq - 1, hash: first.prevHash, anchored: true } };
}

/** An export: checkpoint lines, then records; a partial export starts from its first record's link. */
async function verifyFile(path: string, trusted: Map<string, KeyObject> | undefined): Promise<VerifyResult> {
  if (trusted === undefined) {
    throw new Error(
      'verifying a file needs the signing keys: pass --public-key (from sluice audit public-key)',
    );
  }
  const checkpoints: Checkpoint[] = [];
  const records: ChainedEvent[] = [];
  for await (const line of createInterface({
    input: createReadStream(path),
    crlfDelay: Number.POSITIVE_INFINITY,
  })) {
    if (line.trim() === '') continue;
    const parsed = JSON.parse(line) as { checkpoint?: Checkpoint } & ChainedEvent;
    if (parsed.checkpoint !== undefined) checkpoints.push(parsed.checkpoint);
    else records.push(parsed);
  }
  const first = records[0];
  const lastSeq = records.at(-1)?.seq ?? 0;
  const verifier = new ChainVerifier({
    publicKeys: trusted,
    checkpoints: checkpoints.filter((c) => c.seq >= (first?.seq ?? 1) && c.seq <= lastSeq),
    ...(first === undefined || first.seq === 1
      ? {}
      : { start: { seq: first.seq - 1, hash: first.prevHash } }),
  });
  for (const record of records) verifier.push(record);
  return verifier.finish();
}

function report(result: VerifyResult, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(result));
  } else if (result.ok) {
    console.log(
      `ok: ${result.events} events intact up to seq ${result.lastSeq}; ${result.checkpointsVerified} signed checkpoints verified`,
    );
  } else {
    console.log(`TAMPERED: first bad sequence number ${result.firstBadSeq}: ${result.reason}`);
  }
}

async function loadKeys(paths: readonly string[]): Promise<Map<string, KeyObject> | undefined> {
  if (paths.length === 0) return undefined;
  return keyMap(await Promise.all(paths.map((path) => readFile(path, 'utf8'))));
}

/** Public keys by key id; a file may hold several PEM blocks (as `public-key` prints them). */
function keyMap(pems: readonly string[]): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  for (const text of pems) {
    for (const pem of text.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? []) {
      const key = createPublicKey(pem);
      keys.set(keyIdOf(key), key);
    }
  }
  return keys;
}

function parseSeq(text: string): number {
  const seq = Number(text);
  if (!Number.isSafeInteger(seq) || seq < 1) throw new InvalidArgumentError('a sequence number (1, 2, …)');
  return seq;
}
