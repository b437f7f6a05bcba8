import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/core/errors.ts';
import { encodeBackendMessage } from '../../src/protocols/postgres/codec/backend/index.ts';
import { encodeFrontendMessage } from '../../src/protocols/postgres/codec/frontend/index.ts';
import {
  backendLimits,
  type Frame,
  type FramerMode,
  frontendLimits,
  MessageFramer,
  STARTUP_MAX_LENGTH,
} from '../../src/protocols/postgres/framer.ts';
import { wire } from '../helpers/pg-messages.ts';

const LIMITS = { maxQueryBytes: 1024 * 1024, maxMessageBytes: 64 * 1024 * 1024 };

/** What a frame shows now, as text: cheap to compare, and immune to later mutation of its memory. */
type Seen = string;

function snapshot(frame: Frame): Seen {
  return `${frame.tag} ${frame.bytes.toString('hex')} ${frame.payload.toString('hex')}`;
}

/**
 * Feeds chunks the way the session does: push, then drain; after the first frame of an untagged
 * stream (the StartupMessage) switch to tagged before asking for the next one.
 */
function reframe(chunks: readonly Buffer[], mode: FramerMode, limits = frontendLimits(LIMITS)): Seen[] {
  const framer = new MessageFramer(limits, mode);
  const seen: Seen[] = [];
  for (const chunk of chunks) {
    framer.push(chunk);
    for (let frame = framer.next(); frame !== undefined; frame = framer.next()) {
      seen.push(snapshot(frame));
      framer.mode = 'tagged';
    }
  }
  expect(framer.pendingBytes).toBe(0);
  return seen;
}

function splitAt(stream: Buffer, ...cuts: number[]): Buffer[] {
  const points = [0, ...cuts, stream.length];
  return points.slice(1).map((end, i) => stream.subarray(points[i], end));
}

const startup = wire()
  .int32(196608)
  .cstring('user')
  .cstring('agent')
  .cstring('database')
  .cstring('app')
  .int8(0)
  .frame();

const clientFrames = [
  startup,
  encodeFrontendMessage({ type: 'PasswordMessage', password: 'slk_0123456789abcdef' }),
  encodeFrontendMessage({
    type: 'Parse',
    name: 's1',
    query: 'SELECT * FROM customers WHERE id = $1',
    parameterTypes: [23],
  }),
  encodeFrontendMessage({
    type: 'Bind',
    portal: '',
    statement: 's1',
    parameterFormats: [0],
    parameters: [Buffer.from('42'), null],
    resultFormats: [],
  }),
  encodeFrontendMessage({ type: 'Describe', kind: 'P', name: '' }),
  encodeFrontendMessage({ type: 'Execute', portal: '', maxRows: 0 }),
  encodeFrontendMessage({ type: 'Sync' }),
  encodeFrontendMessage({ type: 'Query', query: 'COPY t FROM STDIN' }),
  encodeFrontendMessage({ type: 'CopyData', data: Buffer.from('1\talice\n2\tbob\n') }),
  encodeFrontendMessage({ type: 'CopyDone' }),
  encodeFrontendMessage({ type: 'Terminate' }),
];
const clientStream = Buffer.concat(clientFrames);

const rows = Array.from({ length: 5 }, (_, i) =>
  encodeBackendMessage({
    type: 'DataRow',
    values: [Buffer.from(String(i)), i % 2 ? null : Buffer.from(`user${i}@example.com`)],
  }),
);
const serverFrames = [
  encodeBackendMessage({
    type: 'RowDescription',
    fields: [
      { name: 'id', tableOid: 16384, columnAttr: 1, typeOid: 23, typeSize: 4, typeModifier: -1, format: 0 },
      {
        name: 'email',
        tableOid: 16384,
        columnAttr: 3,
        typeOid: 25,
        typeSize: -1,
        typeModifier: -1,
        format: 0,
      },
    ],
  }),
  ...rows,
  encodeBackendMessage({ type: 'CommandComplete', tag: 'SELECT 5' }),
  encodeBackendMessage({ type: 'ReadyForQuery', status: 'I' }),
];
const serverStream = Buffer.concat(serverFrames);

function expected(frames: readonly Buffer[], firstUntagged: boolean): Seen[] {
  return frames.map((bytes, i) => {
    const untagged = firstUntagged && i === 0;
    const tag = untagged ? 0 : (bytes[0] ?? -1);
    return `${tag} ${bytes.toString('hex')} ${bytes.subarray(untagged ? 4 : 5).toString('hex')}`;
  });
}

describe('reframing a recorded stream', () => {
  const streams = [
    {
      name: 'client (startup, then tagged)',
      stream: clientStream,
      frames: clientFrames,
      mode: 'untagged' as const,
    },
    { name: 'server (rows)', stream: serverStream, frames: serverFrames, mode: 'tagged' as const },
  ];

  it.each(streams)('$name: in one chunk', ({ stream, frames, mode }) => {
    expect(reframe([stream], mode, backendOrFrontend(mode))).toEqual(expected(frames, mode === 'untagged'));
  });

  it.each(streams)('$name: split at every point', ({ stream, frames, mode }) => {
    const want = expected(frames, mode === 'untagged');
    for (let i = 0; i <= stream.length; i++) {
      expect(reframe(splitAt(stream, i), mode, backendOrFrontend(mode)), `split at ${i}`).toEqual(want);
    }
  });

  it.each(streams)('$name: split three ways at sampled points', ({ stream, frames, mode }) => {
    const want = expected(frames, mode === 'untagged');
    for (let i = 0; i <= stream.length; i += 3) {
      for (let j = i; j <= stream.length; j += 7) {
        expect(reframe(splitAt(stream, i, j), mode, backendOrFrontend(mode)), `split at ${i},${j}`).toEqual(
          want,
        );
      }
    }
  });

  it.each(streams)('$name: one byte at a time', ({ stream, frames, mode }) => {
    const bytes = Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1));
    expect(reframe(bytes, mode, backendOrFrontend(mode))).toEqual(expected(frames, mode === 'untagged'));
  });
});

function backendOrFrontend(mode: FramerMode) {
  return mode === 'untagged' ? frontendLimits(LIMITS) : backendLimits(LIMITS);
}

function framer(mode: FramerMode = 'tagged', limits = frontendLimits(LIMITS)): MessageFramer {
  return new MessageFramer(limits, mode);
}

/** Whether `view` lies inside `chunk`'s memory (small buffers share Node's pool, so `.buffer` alone says little). */
function within(view: Buffer, chunk: Buffer): boolean {
  return (
    view.buffer === chunk.buffer &&
    view.byteOffset >= chunk.byteOffset &&
    view.byteOffset + view.length <= chunk.byteOffset + chunk.length
  );
}

function thrown(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return error as ProtocolError;
  }
  throw new Error('expected a ProtocolError');
}

describe('length checks at the header', () => {
  it('refuses a Query claiming ~2 GB before buffering it, and stays dead afterwards', () => {
    const f = framer();
    f.push(Buffer.concat([Buffer.from([0x51, 0x7f, 0xff, 0xff, 0xf0]), Buffer.alloc(10, 0x41)]));
    expect(f.pendingBytes).toBe(15);
    const error = thrown(() => f.next());
    expect(error.code).toBe('GW_ERR_MESSAGE_TOO_LARGE');
    expect(error.message).toContain("'Q'");
    expect(f.pendingBytes).toBeLessThan(64);
    expect(thrown(() => f.next()).message).toBe('framer unusable after protocol error');
    expect(thrown(() => f.push(Buffer.from([0]))).message).toBe('framer unusable after protocol error');
  });

  it('never preallocates from a declared length that is within the cap', () => {
    const f = framer('tagged', backendLimits({ maxMessageBytes: 1024 * 1024 * 1024 }));
    const before = process.memoryUsage().arrayBuffers;
    f.push(Buffer.concat([Buffer.from([0x44, 0x3f, 0xff, 0xff, 0xff]), Buffer.alloc(10)]));
    expect(f.next()).toBeUndefined();
    expect(f.pendingBytes).toBe(15);
    // A preallocation from the header would show up as ~1 GB here.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 1024 * 1024);
  });

  it.each([0, 3])('refuses tagged length %d', (length) => {
    const f = framer();
    f.push(Buffer.concat([Buffer.from([0x51]), wire().int32(length).body()]));
    const error = thrown(() => f.next());
    expect(error.code).toBe('GW_ERR_PROTOCOL');
    expect(error.message).toContain(`length ${length}`);
  });

  it.each([3, 7, 0x7fffffff, 0xffffffff])('refuses untagged length %d', (length) => {
    const f = framer('untagged');
    f.push(Buffer.concat([wire().int32(length).body(), wire().int32(0x30000).body()]));
    expect(() => f.next()).toThrow(ProtocolError);
  });

  it('accepts untagged lengths 8 and 10,000 exactly', () => {
    const f = framer('untagged');
    f.push(wire().int32(80877103).frame());
    expect(f.next()?.bytes.length).toBe(8);
    const big = Buffer.alloc(STARTUP_MAX_LENGTH);
    big.writeUInt32BE(STARTUP_MAX_LENGTH);
    f.push(big);
    expect(f.next()?.payload.length).toBe(STARTUP_MAX_LENGTH - 4);
    const tooBig = Buffer.alloc(8);
    tooBig.writeUInt32BE(STARTUP_MAX_LENGTH + 1);
    f.push(tooBig);
    expect(thrown(() => f.next()).code).toBe('GW_ERR_MESSAGE_TOO_LARGE');
  });

  it('caps Query at maxQueryBytes of text, small messages at 10,000 and the rest at maxMessageBytes', () => {
    const limits = frontendLimits({ maxQueryBytes: 100, maxMessageBytes: 50_000 });
    const header = (tag: string, length: number) =>
      Buffer.concat([Buffer.from(tag), wire().int32(length).body()]);
    const verdict = (tag: string, length: number): string => {
      const f = new MessageFramer(limits, 'tagged');
      f.push(header(tag, length));
      try {
        f.next();
        return 'ok';
      } catch (error) {
        return (error as ProtocolError).code;
      }
    };
    expect(verdict('Q', 4 + 100 + 1)).toBe('ok');
    expect(verdict('Q', 4 + 101 + 1)).toBe('GW_ERR_MESSAGE_TOO_LARGE');
    expect(verdict('P', 4 + 100 + 2 + 2)).toBe('ok');
    expect(verdict('P', 500_000)).toBe('GW_ERR_MESSAGE_TOO_LARGE');
    expect(verdict('S', 10_000)).toBe('ok');
    for (const tag of ['S', 'H', 'X', 'c', 'D', 'C', 'E', 'Y'])
      expect(verdict(tag, 10_001), tag).toBe('GW_ERR_MESSAGE_TOO_LARGE');
    for (const tag of ['B', 'd', 'F', 'f', 'p']) {
      expect(verdict(tag, 50_000), tag).toBe('ok');
      expect(verdict(tag, 50_001), tag).toBe('GW_ERR_MESSAGE_TOO_LARGE');
    }
  });

  it('caps backend data messages at maxMessageBytes and fixed-size ones at 10,000', () => {
    const limits = backendLimits({ maxMessageBytes: 50_000 });
    for (const tag of 'DdTECNAStRGHWVv') expect(limits.maxLength(tag.charCodeAt(0)), tag).toBe(50_000);
    for (const tag of 'Z123nsKIc') expect(limits.maxLength(tag.charCodeAt(0)), tag).toBe(10_000);
  });

  it('refuses nonsensical limits', () => {
    expect(() => frontendLimits({ maxQueryBytes: 0, maxMessageBytes: 1 })).toThrow(RangeError);
    expect(() => backendLimits({ maxMessageBytes: Number.NaN })).toThrow(RangeError);
    expect(backendLimits({ maxMessageBytes: 2 ** 40 }).maxLength(0x44)).toBe(0x7fffffff);
  });
});

describe('buffering', () => {
  it('holds a truncated frame and reports what it holds', () => {
    const query = encodeFrontendMessage({ type: 'Query', query: 'SELECT 1' });
    const f = framer();
    f.push(query.subarray(0, 3));
    expect(f.next()).toBeUndefined();
    expect(f.pendingBytes).toBe(3);
    f.push(query.subarray(3, 9));
    expect(f.next()).toBeUndefined();
    expect(f.pendingBytes).toBe(9);
    f.push(query.subarray(9));
    expect(f.next()?.bytes).toEqual(query);
    expect(f.pendingBytes).toBe(0);
    expect(f.next()).toBeUndefined();
  });

  it('counts several pushed chunks before next() is called', () => {
    const f = framer();
    f.push(Buffer.from([0x53, 0, 0]));
    f.push(Buffer.alloc(0));
    f.push(Buffer.from([0, 4, 0x48]));
    expect(f.pendingBytes).toBe(6);
    expect(f.next()?.tag).toBe(0x53);
    expect(f.pendingBytes).toBe(1);
  });

  it('returns frames inside one chunk as adjacent views of that chunk', () => {
    const chunk = Buffer.concat(serverFrames);
    const f = framer('tagged', backendLimits(LIMITS));
    f.push(chunk);
    const frames: Frame[] = [];
    for (let frame = f.next(); frame; frame = f.next()) frames.push(frame);
    expect(frames).toHaveLength(serverFrames.length);
    expect(frames[0]?.bytes.byteOffset).toBe(chunk.byteOffset);
    for (let i = 1; i < frames.length; i++) {
      const a = frames[i - 1]?.bytes;
      const b = frames[i]?.bytes;
      expect(
        a?.buffer === b?.buffer && (a?.byteOffset ?? 0) + (a?.length ?? 0) === b?.byteOffset,
        `frame ${i}`,
      ).toBe(true);
      expect(b?.buffer).toBe(chunk.buffer);
    }
    const last = frames.at(-1)?.bytes;
    expect((last?.byteOffset ?? 0) + (last?.length ?? 0)).toBe(chunk.byteOffset + chunk.length);
  });

  it('copies only a frame that spans chunks, and the frame after it is a view again', () => {
    const [a, b, c] = [rows[0], rows[1], rows[2]] as [Buffer, Buffer, Buffer];
    const first = Buffer.concat([a, b.subarray(0, 4)]);
    const second = Buffer.concat([b.subarray(4), c]);
    const f = framer('tagged', backendLimits(LIMITS));
    f.push(first);
    f.push(second);
    const [fa, fb, fc] = [f.next(), f.next(), f.next()];
    expect(fb?.bytes).toEqual(b);
    expect(fa && within(fa.bytes, first)).toBe(true);
    expect(fb && (within(fb.bytes, first) || within(fb.bytes, second))).toBe(false);
    expect(fc && within(fc.bytes, second)).toBe(true);
    expect(fc?.bytes.byteOffset).toBe(second.byteOffset + b.length - 4);
  });

  it('never mutates frames it has handed out', () => {
    // Consecutive spanning frames are the case an in-place compaction or a reused copy buffer breaks.
    const big = (n: number) => encodeFrontendMessage({ type: 'CopyData', data: Buffer.alloc(40_000, n) });
    const frames = [big(1), big(2), encodeFrontendMessage({ type: 'Sync' }), big(3), big(4)];
    const stream = Buffer.concat(frames);
    const f = framer();
    const kept: { frame: Frame; copy: Buffer }[] = [];
    for (let at = 0; at < stream.length; at += 1500) {
      f.push(stream.subarray(at, at + 1500));
      for (let frame = f.next(); frame; frame = f.next())
        kept.push({ frame, copy: Buffer.from(frame.bytes) });
    }
    // Then reuse memory aggressively: later allocations must not land on handed-out frames.
    for (let i = 0; i < 50; i++)
      f.push(encodeFrontendMessage({ type: 'CopyData', data: Buffer.alloc(30_000, 0xee) }));
    while (f.next());
    expect(kept).toHaveLength(frames.length);
    kept.forEach(({ frame, copy }, i) => {
      expect(frame.bytes.equals(copy), `frame ${i} changed after it was handed out`).toBe(true);
      expect(copy.equals(frames[i] ?? Buffer.alloc(0)), `frame ${i}`).toBe(true);
    });
  });

  it('does not let the mode change in the middle of a frame', () => {
    const f = framer();
    f.push(encodeFrontendMessage({ type: 'Query', query: 'SELECT 1' }).subarray(0, 8));
    expect(f.next()).toBeUndefined();
    expect(() => {
      f.mode = 'untagged';
    }).toThrow(Error);
    expect(f.mode).toBe('tagged');
  });
});
