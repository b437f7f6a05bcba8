/**
 * Recording files: previews past the inline threshold go to chunked, owner-only files and come
 * back through their reference; smaller ones stay inline; an edited file is reported, never
 * shown; retention deletes the sessions last written before the cutoff.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RecordedPreview } from '../../src/audit/events.ts';
import {
  type InlinePreview,
  pruneRecordingFiles,
  RecordingFileWriter,
  resolvePreview,
} from '../../src/audit/recording-files.ts';
import { createLogger } from '../../src/core/logger.ts';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-recordings-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function writer(inlineMaxBytes: number, chunkBytes = 1024 * 1024) {
  return new RecordingFileWriter({
    dir,
    inlineMaxBytes,
    chunkBytes,
    logger: createLogger({ level: 'silent' }),
  });
}

function preview(rowCount: number, value = 'masked ************1111'): InlinePreview {
  return {
    columns: ['id', 'card'],
    rows: Array.from({ length: rowCount }, (_, i) => [String(i), value]),
    truncated: false,
  };
}

function fileRef(recorded: RecordedPreview) {
  if (!('file' in recorded)) throw new Error('expected a file reference');
  return recorded.file;
}

describe('recording files', () => {
  it('keeps a preview under the threshold inline and writes no file', async () => {
    const files = writer(4096);
    const small = preview(2);
    expect(files.place(randomUUID(), small)).toBe(small);
    await files.flush();
    expect(await readdir(dir)).toEqual([]);
  });

  it('writes a larger preview to an owner-only chunk and reads its rows back through the reference', async () => {
    const files = writer(64);
    const sessionId = randomUUID();
    const large = preview(20);
    const recorded = files.place(sessionId, large);
    expect(recorded).toEqual({
      columns: ['id', 'card'],
      rowCount: 20,
      truncated: false,
      file: { chunk: '000001.jsonl', offset: 0, length: expect.any(Number), sha256: expect.any(String) },
    });
    expect('rows' in recorded).toBe(false);
    await files.flush();
    expect((await stat(join(dir, sessionId))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, sessionId, '000001.jsonl'))).mode & 0o777).toBe(0o600);
    expect(await resolvePreview(dir, sessionId, recorded)).toEqual({ ...large, file: fileRef(recorded) });
  });

  it('appends each preview at its offset and starts a new chunk past the chunk size', async () => {
    const files = writer(16, 250);
    const sessionId = randomUUID();
    const placed = [preview(10, 'a'), preview(10, 'b'), preview(10, 'c')].map((p) => ({
      inline: p,
      recorded: files.place(sessionId, p),
    }));
    await files.flush();
    const refs = placed.map(({ recorded }) => fileRef(recorded));
    expect(refs.map((ref) => ref.chunk)).toEqual(['000001.jsonl', '000001.jsonl', '000002.jsonl']);
    expect(refs[1]?.offset).toBe((refs[0]?.length ?? 0) + 1);
    for (const { inline, recorded } of placed) {
      expect((await resolvePreview(dir, sessionId, recorded)).rows).toEqual(inline.rows);
    }
  });

  it('reports an edited file instead of returning its rows', async () => {
    const files = writer(64);
    const sessionId = randomUUID();
    const recorded = files.place(sessionId, preview(20));
    await files.flush();
    const path = join(dir, sessionId, '000001.jsonl');
    const bytes = await readFile(path);
    bytes[10] = bytes[10] === 0x31 ? 0x32 : 0x31;
    await writeFile(path, bytes);
    const resolved = await resolvePreview(dir, sessionId, recorded);
    expect(resolved.rows).toEqual([]);
    expect(resolved.problem).toEqual({
      message: expect.stringContaining('does not match the hash in its record'),
      missing: false,
    });
  });

  it('reports a missing file and refuses a reference that would leave the directory', async () => {
    const recorded = writer(64).place(randomUUID(), preview(20));
    const missing = await resolvePreview(dir, randomUUID(), recorded);
    expect(missing.problem).toEqual({ message: expect.stringContaining('is absent'), missing: true });
    const escaping = { ...recorded, file: { ...fileRef(recorded), chunk: '../../etc/passwd' } };
    expect((await resolvePreview(dir, randomUUID(), escaping)).problem).toEqual({
      message: expect.stringContaining('malformed'),
      missing: false,
    });
    const notAReference = { ...recorded, file: null } as unknown as RecordedPreview;
    expect((await resolvePreview(dir, randomUUID(), notAReference)).problem?.missing).toBe(false);
  });
});

describe('recording retention', () => {
  it('deletes sessions last written before the cutoff and keeps newer ones', async () => {
    const files = writer(16);
    const [old, recent] = [randomUUID(), randomUUID()];
    files.place(old, preview(5));
    files.place(recent, preview(5));
    await files.flush();
    const now = Date.parse('2026-11-22T00:00:00.000Z');
    const day = 86_400_000;
    await utimes(join(dir, old, '000001.jsonl'), new Date(now - 10 * day), new Date(now - 10 * day));
    await utimes(join(dir, recent, '000001.jsonl'), new Date(now - day), new Date(now - day));
    expect(await pruneRecordingFiles(dir, new Date(now - 7 * day))).toBe(1);
    expect(await readdir(dir)).toEqual([recent]);
  });

  it('has nothing to delete when no recording was ever written', async () => {
    expect(await pruneRecordingFiles(join(dir, 'absent'), new Date())).toBe(0);
  });
});
