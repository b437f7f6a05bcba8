/**
 * @module audit/recording-files
 * Result previews too large to keep inline in their `statement.completed` record. The masked rows
 * are appended to chunked files, `<dir>/<sessionId>/000001.jsonl`, `000002.jsonl`, … (one JSON
 * line per statement, a new chunk past `chunkBytes`), and the record keeps a reference instead:
 * chunk, offset, length and the SHA-256 of those bytes. The reference is hashed into the chain
 * with the rest of the record, so an edited file is caught when it is read back.
 *
 * Only ever given the preview after the recorder has masked it: these files hold what the log
 * may keep, never what the database returned.
 */
import { createHash } from 'node:crypto';
import { appendFile, mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../core/logger.ts';
import type { ChainedEvent } from './chain.ts';
import type { AuditEvent, RecordedPreview, RecordingFileRef } from './events.ts';

/** A preview with its rows inline, as the recorder builds it. */
export interface InlinePreview {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | null)[])[];
  readonly truncated: boolean;
}

/** What the session recorder needs: where each preview goes. */
export interface PreviewPlacement {
  /** The preview as its record will hold it: inline, or written to a file and referenced. */
  place(sessionId: string, preview: InlinePreview): RecordedPreview;
  /** The session is over: no more previews will be placed for it. */
  ended(sessionId: string): void;
}

export interface RecordingFilesOptions {
  readonly dir: string;
  /** A preview whose rows' JSON is longer goes to a file. */
  readonly inlineMaxBytes: number;
  /** A chunk is closed once the next line would take it past this size. */
  readonly chunkBytes: number;
  readonly logger: Logger;
}

/** Session ids are UUIDs; anything else would not be a safe directory name. */
const SESSION_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;
const CHUNK_PATTERN = /^\d{6}\.jsonl$/;

function chunkName(chunk: number): string {
  return `${String(chunk).padStart(6, '0')}.jsonl`;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The session's recording directory; throws for an id that could leave `dir`. */
function sessionDir(dir: string, sessionId: string): string {
  if (!SESSION_ID_PATTERN.test(sessionId)) throw new RangeError('not a session id');
  return join(dir, sessionId);
}

/**
 * Writes large previews to chunked files. `place` decides offsets synchronously (the record is
 * emitted at once, in order) and queues the bytes; a single background loop appends them, one
 * append per file for everything queued meanwhile, so no statement waits on the disk.
 */
export class RecordingFileWriter implements PreviewPlacement {
  readonly #options: RecordingFilesOptions;
  /** Per open session: its current chunk and that chunk's size so far. */
  readonly #sessions = new Map<string, { chunk: number; size: number }>();
  #queue: { path: string; bytes: Buffer }[] = [];
  #draining: Promise<void> | undefined;

  constructor(options: RecordingFilesOptions) {
    this.#options = options;
  }

  place(sessionId: string, preview: InlinePreview): RecordedPreview {
    const json = JSON.stringify(preview.rows);
    // Measured without copying: most previews are small and stay inline.
    const length = Buffer.byteLength(json, 'utf8');
    if (length <= this.#options.inlineMaxBytes) return preview;
    const line = Buffer.from(`${json}\n`, 'utf8');
    const position = this.#sessions.get(sessionId) ?? { chunk: 1, size: 0 };
    if (position.size > 0 && position.size + line.length > this.#options.chunkBytes) {
      position.chunk += 1;
      position.size = 0;
    }
    const file: RecordingFileRef = {
      chunk: chunkName(position.chunk),
      offset: position.size,
      length,
      sha256: sha256Hex(line.subarray(0, length)),
    };
    position.size += line.length;
    this.#sessions.set(sessionId, position);
    this.#queue.push({ path: join(sessionDir(this.#options.dir, sessionId), file.chunk), bytes: line });
    this.#draining ??= this.#drain();
    return { columns: preview.columns, rowCount: preview.rows.length, truncated: preview.truncated, file };
  }

  ended(sessionId: string): void {
    this.#sessions.delete(sessionId);
  }

  /** Resolves once everything placed so far is on disk (or failed, logged). */
  async flush(): Promise<void> {
    while (this.#draining !== undefined) await this.#draining;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      for (const [path, parts] of groupByPath(batch)) await this.#append(path, Buffer.concat(parts));
    }
    this.#draining = undefined;
  }

  async #append(path: string, bytes: Buffer): Promise<void> {
    try {
      await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
      await appendFile(path, bytes, { mode: 0o600 });
    } catch (error) {
      // The record already points at these bytes; reading it back will report them missing.
      this.#options.logger.error({ err: (error as Error).message, path }, 'recording file write failed');
    }
  }
}

/** Queued writes per file, in order; one append each. */
function groupByPath(batch: readonly { path: string; bytes: Buffer }[]): Map<string, Buffer[]> {
  const byPath = new Map<string, Buffer[]>();
  for (const { path, bytes } of batch) {
    const parts = byPath.get(path);
    if (parts === undefined) byPath.set(path, [bytes]);
    else parts.push(bytes);
  }
  return byPath;
}

/** Why a file-backed preview cannot be shown. */
export interface RecordingProblem {
  readonly message: string;
  /**
   * The file is absent: retention removes old recording files (and a store may be read where
   * the files are not), so this alone is not evidence of tampering; different bytes are.
   */
  readonly missing: boolean;
}

/** A preview read back: its rows, or why they cannot be shown (`rows` is then empty). */
export interface ResolvedPreview extends InlinePreview {
  readonly file?: RecordingFileRef;
  readonly problem?: RecordingProblem;
}

/**
 * The preview's rows, read from its recording file when the record points at one. Bytes whose
 * SHA-256 differs from the record's are never returned: they are not what was recorded.
 */
export async function resolvePreview(
  dir: string,
  sessionId: string,
  preview: RecordedPreview,
): Promise<ResolvedPreview> {
  if (!('file' in preview)) return preview;
  const { columns, truncated, file } = preview;
  const read = await readRecordedRows(dir, sessionId, file);
  if ('rows' in read) return { columns, rows: read.rows, truncated, file };
  return { columns, rows: [], truncated, file, problem: read };
}

/** The referenced rows, or what is wrong with the file. */
async function readRecordedRows(
  dir: string,
  sessionId: string,
  file: RecordingFileRef,
): Promise<RecordingProblem | { rows: InlinePreview['rows'] }> {
  if (!isFileRef(file) || !SESSION_ID_PATTERN.test(sessionId)) {
    return {
      message: "a recording file reference is malformed: the record's reference was changed",
      missing: false,
    };
  }
  const where = `recording file ${sessionId}/${file.chunk} at offset ${file.offset}`;
  const altered = (message: string) => ({ message: `${where} ${message}`, missing: false });
  let bytes: Buffer;
  try {
    bytes = await readRange(join(dir, sessionId, file.chunk), file.offset, file.length);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { message: `${where} is absent (removed by retention?)`, missing: true };
    return altered(`cannot be read: ${code ?? (error as Error).message}`);
  }
  if (bytes.length !== file.length) return altered('is shorter than recorded: it was truncated');
  if (sha256Hex(bytes) !== file.sha256) {
    return altered('does not match the hash in its record: it was changed after it was written');
  }
  return { rows: JSON.parse(bytes.toString('utf8')) as InlinePreview['rows'] };
}

/** A reference as the writer makes it; records read from a store may hold anything. */
function isFileRef(value: unknown): value is RecordingFileRef {
  const ref = value as Partial<Record<keyof RecordingFileRef, unknown>> | null;
  return (
    typeof ref === 'object' &&
    ref !== null &&
    typeof ref.chunk === 'string' &&
    CHUNK_PATTERN.test(ref.chunk) &&
    Number.isSafeInteger(ref.offset) &&
    (ref.offset as number) >= 0 &&
    Number.isSafeInteger(ref.length) &&
    (ref.length as number) >= 0 &&
    typeof ref.sha256 === 'string'
  );
}

type FilePreview = Extract<RecordedPreview, { readonly file: RecordingFileRef }>;

/** The record's session and file-backed preview, if it has one. */
function filePreviewOf(record: ChainedEvent): { sessionId: string; preview: FilePreview } | undefined {
  const event = record.event as { type?: unknown; sessionId?: unknown; preview?: unknown } | null;
  if (event?.type !== 'statement.completed' || typeof event.sessionId !== 'string') return undefined;
  const { preview } = event;
  if (typeof preview !== 'object' || preview === null || !('file' in preview)) return undefined;
  return { sessionId: event.sessionId, preview: preview as FilePreview };
}

/**
 * A session's records with every file-backed preview read back in place (its `file` reference
 * kept, and a `problem` instead of rows when the file does not match). Hashes are the stored ones.
 */
export async function withResolvedPreviews(
  dir: string,
  records: readonly ChainedEvent[],
): Promise<ChainedEvent[]> {
  return Promise.all(
    records.map(async (record) => {
      const found = filePreviewOf(record);
      if (found === undefined) return record;
      const preview = await resolvePreview(dir, found.sessionId, found.preview);
      return { ...record, event: { ...(record.event as AuditEvent), preview } };
    }),
  );
}

/**
 * Why the recording file a record points at no longer matches it; undefined when it matches, is
 * absent (retention), or the record has none.
 */
export async function alteredRecording(dir: string, record: ChainedEvent): Promise<string | undefined> {
  const found = filePreviewOf(record);
  if (found === undefined) return undefined;
  const { problem } = await resolvePreview(dir, found.sessionId, found.preview);
  return problem === undefined || problem.missing ? undefined : problem.message;
}

async function readRange(path: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * Deletes the recording directories of sessions whose files were all last written before
 * `before`; returns how many. A directory that is not a session's is left alone.
 */
export async function pruneRecordingFiles(dir: string, before: Date): Promise<number> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  let removed = 0;
  for (const sessionId of entries.filter((name) => SESSION_ID_PATTERN.test(name))) {
    const lastWrite = await lastWritten(join(dir, sessionId));
    if (lastWrite !== undefined && lastWrite < before.getTime()) {
      await rm(join(dir, sessionId), { recursive: true, force: true });
      removed += 1;
    }
  }
  return removed;
}

/** The newest modification time of a session directory's chunks; undefined when it has none. */
async function lastWritten(sessionPath: string): Promise<number | undefined> {
  const chunks = (await readdir(sessionPath).catch(() => [])).filter((name) => CHUNK_PATTERN.test(name));
  const times = await Promise.all(chunks.map(async (name) => (await stat(join(sessionPath, name))).mtimeMs));
  return times.length === 0 ? undefined : Math.max(...times);
}
