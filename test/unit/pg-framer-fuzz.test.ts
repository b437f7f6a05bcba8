import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/core/errors.ts';
import {
  type BackendMessage,
  decodeBackendMessage,
  encodeBackendMessage,
} from '../../src/protocols/postgres/codec/backend/index.ts';
import {
  decodeFrontendMessage,
  encodeFrontendMessage,
  type FrontendMessage,
} from '../../src/protocols/postgres/codec/frontend/index.ts';
import { decodeInitialMessage } from '../../src/protocols/postgres/codec/frontend/initial-message.ts';
import type { StartupMessage } from '../../src/protocols/postgres/codec/frontend/startup-message.ts';
import {
  backendLimits,
  type Frame,
  type FramerMode,
  type FramerOptions,
  frontendLimits,
  MessageFramer,
  STARTUP_MAX_LENGTH,
  STARTUP_MIN_LENGTH,
} from '../../src/protocols/postgres/framer.ts';

/** Raise with FUZZ_RUNS=100000 for a longer local run. */
const NUM_RUNS = Number(process.env.FUZZ_RUNS ?? 300);

// ---------------------------------------------------------------------------------------------
// Splitting and driving the framer the way the session does
// ---------------------------------------------------------------------------------------------

const cutsArb = fc.array(fc.nat(), { maxLength: 12 });

function split(stream: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => (stream.length === 0 ? 0 : c % (stream.length + 1))))].sort(
    (a, b) => a - b,
  );
  const chunks: Buffer[] = [];
  let at = 0;
  for (const point of [...points, stream.length]) {
    chunks.push(stream.subarray(at, point));
    at = point;
  }
  return chunks;
}

interface Outcome {
  frames: Frame[];
  error: unknown;
}

/** Pushes each chunk and drains; switches to tagged after the first frame, as the session does. */
function drive(
  chunks: readonly Buffer[],
  mode: FramerMode,
  options: FramerOptions,
  afterDrain?: (f: MessageFramer) => void,
): Outcome {
  const framer = new MessageFramer(options, mode);
  const frames: Frame[] = [];
  try {
    for (const chunk of chunks) {
      framer.push(chunk);
      for (let frame = framer.next(); frame !== undefined; frame = framer.next()) {
        frames.push(frame);
        framer.mode = 'tagged';
      }
      afterDrain?.(framer);
    }
  } catch (error) {
    return { frames, error };
  }
  return { frames, error: undefined };
}

/** A deliberately naive framer over the whole stream at once: the reference the real one must match. */
function reference(
  stream: Buffer,
  startMode: FramerMode,
  options: FramerOptions,
): { frames: string[]; error: boolean } {
  const frames: string[] = [];
  let mode = startMode;
  let at = 0;
  for (;;) {
    const headerSize = mode === 'tagged' ? 5 : 4;
    if (stream.length - at < headerSize) return { frames, error: false };
    let size: number;
    if (mode === 'untagged') {
      size = stream.readUInt32BE(at);
      if (size < STARTUP_MIN_LENGTH || size > STARTUP_MAX_LENGTH) return { frames, error: true };
    } else {
      const length = stream.readUInt32BE(at + 1);
      if (length < 4 || length > options.maxLength(stream.readUInt8(at))) return { frames, error: true };
      size = length + 1;
    }
    if (stream.length - at < size) return { frames, error: false };
    frames.push(`${mode === 'tagged' ? stream.readUInt8(at) : 0}:${stream.toString('hex', at, at + size)}`);
    at += size;
    mode = 'tagged';
  }
}

/** Tag 0 is also a (bogus) tagged message type, so whether a frame is untagged comes from the caller. */
function describeFrame(frame: Frame, untagged: boolean): string {
  const headerSize = untagged ? 4 : 5;
  expect(frame.payload.equals(frame.bytes.subarray(headerSize))).toBe(true);
  return `${frame.tag}:${frame.bytes.toString('hex')}`;
}

// ---------------------------------------------------------------------------------------------
// Property 1: arbitrary bytes
// ---------------------------------------------------------------------------------------------

const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};

/** Frame-shaped garbage: plausible headers whose lengths are sometimes right, sometimes not. */
const frameishArb = fc
  .record({
    tag: fc.integer({ min: 0, max: 255 }),
    body: fc.uint8Array({ maxLength: 80 }),
    delta: fc.oneof(
      fc.constant(0),
      fc.constant(0),
      fc.integer({ min: -6, max: 6 }),
      fc.nat({ max: 0xffffffff }),
    ),
  })
  .map(({ tag, body, delta }) => Buffer.concat([Buffer.from([tag]), u32(body.length + 4 + delta), body]));

const untaggedPrefixArb = fc
  .record({
    body: fc.uint8Array({ minLength: 4, maxLength: 60 }),
    delta: fc.oneof(fc.constant(0), fc.integer({ min: -8, max: 8 })),
  })
  .map(({ body, delta }) => Buffer.concat([u32(body.length + 4 + delta), body]));

const bytesArb = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  fc.array(frameishArb, { maxLength: 8 }).map((frames) => Buffer.concat(frames)),
);

const optionsArb: fc.Arbitrary<{ options: FramerOptions; maxFrame: number }> = fc.oneof(
  fc.integer({ min: 4, max: 120 }).map((cap) => ({ options: { maxLength: () => cap }, maxFrame: cap + 1 })),
  fc.constant({ options: frontendLimits({ maxQueryBytes: 40, maxMessageBytes: 100 }), maxFrame: 10_001 }),
  fc.constant({ options: backendLimits({ maxMessageBytes: 100 }), maxFrame: 10_001 }),
);

describe('framer fuzz: arbitrary bytes in arbitrary splits', () => {
  it('throws nothing but ProtocolError, holds at most one frame, and matches a naive reference framer', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        untaggedPrefixArb,
        bytesArb,
        optionsArb,
        cutsArb,
        (startUntagged, prefix, bytes, { options, maxFrame }, cuts) => {
          const mode: FramerMode = startUntagged ? 'untagged' : 'tagged';
          const stream = startUntagged ? Buffer.concat([prefix, bytes]) : bytes;
          const cap = startUntagged ? Math.max(maxFrame, STARTUP_MAX_LENGTH) : maxFrame;
          const outcome = drive(split(stream, cuts), mode, options, (framer) => {
            // After draining, whatever is held is the start of one frame no larger than the cap.
            expect(framer.pendingBytes).toBeLessThan(cap);
          });
          if (outcome.error !== undefined) {
            expect(outcome.error).toBeInstanceOf(ProtocolError);
          }
          const want = reference(stream, mode, options);
          expect(outcome.frames.map((frame, i) => describeFrame(frame, startUntagged && i === 0))).toEqual(
            want.frames,
          );
          expect(outcome.error !== undefined).toBe(want.error);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('stays dead after an error, whatever comes next', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (more) => {
        const framer = new MessageFramer({ maxLength: () => 10 }, 'tagged');
        framer.push(Buffer.from([0x51, 0, 0, 0, 11]));
        expect(() => framer.next()).toThrow(ProtocolError);
        expect(() => framer.push(Buffer.from(more))).toThrow(ProtocolError);
        expect(() => framer.next()).toThrow(ProtocolError);
      }),
      { numRuns: 50 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Property 2: valid messages survive encode → concatenate → split → reframe → decode
// ---------------------------------------------------------------------------------------------

/** Records with a normal prototype, as decoders build them (fast-check may otherwise use null). */
function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
}

const strArb = fc.string({ unit: 'binary', maxLength: 16 }).map((s) => s.replaceAll('\0', ''));
const nonEmptyStrArb = strArb.filter((s) => s.length > 0);
const bytesValueArb = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));
const nullableArb = fc.option(bytesValueArb, { nil: null });
const int16Arb = fc.integer({ min: -0x8000, max: 0x7fff });
const int32Arb = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const uint32Arb = fc.integer({ min: 0, max: 0xffffffff });
const formatsArb = fc.array(int16Arb, { maxLength: 4 });
const kindArb = fc.constantFrom('S' as const, 'P' as const);

const frontendArb: fc.Arbitrary<FrontendMessage> = fc.oneof(
  rec({ type: fc.constant('Query' as const), query: strArb }),
  rec({
    type: fc.constant('Parse' as const),
    name: strArb,
    query: strArb,
    parameterTypes: fc.array(uint32Arb, { maxLength: 4 }),
  }),
  rec({
    type: fc.constant('Bind' as const),
    portal: strArb,
    statement: strArb,
    parameterFormats: formatsArb,
    parameters: fc.array(nullableArb, { maxLength: 5 }),
    resultFormats: formatsArb,
  }),
  rec({ type: fc.constant('Describe' as const), kind: kindArb, name: strArb }),
  rec({ type: fc.constant('Execute' as const), portal: strArb, maxRows: int32Arb }),
  rec({ type: fc.constant('Close' as const), kind: kindArb, name: strArb }),
  fc.constantFrom<FrontendMessage>(
    { type: 'Sync' },
    { type: 'Flush' },
    { type: 'Terminate' },
    { type: 'CopyDone' },
  ),
  rec({ type: fc.constant('CopyData' as const), data: bytesValueArb }),
  rec({ type: fc.constant('CopyFail' as const), message: strArb }),
  rec({
    type: fc.constant('FunctionCall' as const),
    functionOid: uint32Arb,
    argumentFormats: formatsArb,
    arguments: fc.array(nullableArb, { maxLength: 4 }),
    resultFormat: int16Arb,
  }),
  rec({ type: fc.constant('AuthenticationResponse' as const), data: bytesValueArb }),
);

const startupArb: fc.Arbitrary<StartupMessage> = fc
  .record({
    protocolVersion: fc.constantFrom(196608, 196610),
    pairs: fc.uniqueArray(fc.tuple(nonEmptyStrArb, strArb), { maxLength: 5, selector: ([name]) => name }),
  })
  .map(({ protocolVersion, pairs }) => {
    const parameters: Record<string, string> = Object.create(null);
    for (const [name, value] of pairs) parameters[name] = value;
    return { type: 'StartupMessage', protocolVersion, parameters };
  });

const fieldsArb = fc
  .dictionary(fc.constantFrom(...'SVCMDHPpqWstcdnFLRZ'), strArb, { maxKeys: 6 })
  .map((fields) => ({ ...fields }));

const fieldDescriptionArb = rec({
  name: strArb,
  tableOid: uint32Arb,
  columnAttr: int16Arb,
  typeOid: uint32Arb,
  typeSize: int16Arb,
  typeModifier: int32Arb,
  format: int16Arb,
});

const copyFormatArb = { format: fc.constantFrom(0 as const, 1 as const), columnFormats: formatsArb };

const backendArb: fc.Arbitrary<BackendMessage> = fc.oneof(
  fc.constantFrom<BackendMessage>(
    { type: 'AuthenticationOk' },
    { type: 'AuthenticationCleartextPassword' },
    { type: 'EmptyQueryResponse' },
    { type: 'ParseComplete' },
    { type: 'BindComplete' },
    { type: 'CloseComplete' },
    { type: 'NoData' },
    { type: 'PortalSuspended' },
    { type: 'CopyDone' },
  ),
  rec({
    type: fc.constant('AuthenticationMD5Password' as const),
    salt: fc.uint8Array({ minLength: 4, maxLength: 4 }).map((a) => Buffer.from(a)),
  }),
  rec({
    type: fc.constant('AuthenticationSASL' as const),
    mechanisms: fc.array(nonEmptyStrArb, { maxLength: 3 }),
  }),
  rec({ type: fc.constant('AuthenticationSASLContinue' as const), data: bytesValueArb }),
  rec({ type: fc.constant('AuthenticationSASLFinal' as const), data: bytesValueArb }),
  rec({
    type: fc.constant('AuthenticationOther' as const),
    code: fc.constantFrom(2, 7, 8, 9, 42, -1),
    data: bytesValueArb,
  }),
  rec({
    type: fc.constant('BackendKeyData' as const),
    processId: int32Arb,
    secretKey: fc.uint8Array({ minLength: 4, maxLength: 256 }).map((a) => Buffer.from(a)),
  }),
  rec({ type: fc.constant('ParameterStatus' as const), name: strArb, value: strArb }),
  rec({
    type: fc.constant('ReadyForQuery' as const),
    status: fc.constantFrom('I' as const, 'T' as const, 'E' as const),
  }),
  rec({
    type: fc.constant('RowDescription' as const),
    fields: fc.array(fieldDescriptionArb, { maxLength: 4 }),
  }),
  rec({ type: fc.constant('DataRow' as const), values: fc.array(nullableArb, { maxLength: 6 }) }),
  rec({ type: fc.constant('CommandComplete' as const), tag: strArb }),
  rec({ type: fc.constant('ErrorResponse' as const), fields: fieldsArb }),
  rec({ type: fc.constant('NoticeResponse' as const), fields: fieldsArb }),
  rec({
    type: fc.constant('NotificationResponse' as const),
    processId: int32Arb,
    channel: strArb,
    payload: strArb,
  }),
  rec({
    type: fc.constant('ParameterDescription' as const),
    parameterTypes: fc.array(uint32Arb, { maxLength: 4 }),
  }),
  rec({ type: fc.constant('CopyInResponse' as const), ...copyFormatArb }),
  rec({ type: fc.constant('CopyOutResponse' as const), ...copyFormatArb }),
  rec({ type: fc.constant('CopyBothResponse' as const), ...copyFormatArb }),
  rec({ type: fc.constant('CopyData' as const), data: bytesValueArb }),
  rec({ type: fc.constant('FunctionCallResponse' as const), result: nullableArb }),
  rec({
    type: fc.constant('NegotiateProtocolVersion' as const),
    newestMinorVersion: int32Arb,
    unrecognizedOptions: fc.array(strArb, { maxLength: 3 }),
  }),
);

const LIMITS = { maxQueryBytes: 1024 * 1024, maxMessageBytes: 16 * 1024 * 1024 };

describe('framer fuzz: valid message lists', () => {
  it('client streams (StartupMessage, then tagged messages) reframe and decode to the same list', () => {
    fc.assert(
      fc.property(
        startupArb,
        fc.array(frontendArb, { maxLength: 12 }),
        cutsArb,
        (startup, messages, cuts) => {
          const stream = Buffer.concat([
            encodeFrontendMessage(startup),
            ...messages.map((message) => encodeFrontendMessage(message)),
          ]);
          const { frames, error } = drive(split(stream, cuts), 'untagged', frontendLimits(LIMITS));
          expect(error).toBeUndefined();
          const [first, ...rest] = frames;
          expect(first && decodeInitialMessage(first.payload)).toStrictEqual(startup);
          expect(rest.map((frame) => decodeFrontendMessage(frame.tag, frame.payload))).toStrictEqual(
            messages,
          );
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('server streams reframe and decode to the same list', () => {
    fc.assert(
      fc.property(fc.array(backendArb, { maxLength: 12 }), cutsArb, (messages, cuts) => {
        const stream = Buffer.concat(messages.map((message) => encodeBackendMessage(message)));
        const { frames, error } = drive(split(stream, cuts), 'tagged', backendLimits(LIMITS));
        expect(error).toBeUndefined();
        expect(frames.map((frame) => decodeBackendMessage(frame.tag, frame.payload))).toStrictEqual(messages);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Property 3: decoders (both directions) on arbitrary payloads
// ---------------------------------------------------------------------------------------------

describe('decoder fuzz: arbitrary payloads', () => {
  /** Either a value or a ProtocolError; anything else (RangeError, TypeError) is a decoder bug. */
  function attempt<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (error) {
      expect(error).toBeInstanceOf(ProtocolError);
      return undefined;
    }
  }

  const payloadArb = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    // Mostly zeros and small counts, so more payloads get past the first field.
    fc.array(fc.constantFrom(0, 0, 0, 1, 2, 4, 0x41, 0xff), { maxLength: 64 }).map((a) => Uint8Array.from(a)),
  );

  it('throw only ProtocolError, and whatever decodes re-encodes to something that decodes the same', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), payloadArb, (tag, bytes) => {
        const payload = Buffer.from(bytes);
        const frontend = attempt(() => decodeFrontendMessage(tag, payload));
        if (frontend) {
          const again = encodeFrontendMessage(frontend);
          expect(decodeFrontendMessage(tag, again.subarray(5))).toStrictEqual(frontend);
        }
        const backend = attempt(() => decodeBackendMessage(tag, payload));
        if (backend) {
          const again = encodeBackendMessage(backend);
          expect(decodeBackendMessage(tag, again.subarray(5))).toStrictEqual(backend);
        }
        const initial = attempt(() => decodeInitialMessage(payload));
        if (initial) {
          const again = encodeFrontendMessage(initial);
          expect(decodeInitialMessage(again.subarray(4))).toStrictEqual(initial);
        }
      }),
      { numRuns: NUM_RUNS * 10 },
    );
  });
});
