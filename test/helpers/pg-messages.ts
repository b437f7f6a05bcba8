/**
 * Test helpers for the PostgreSQL codec and framer: a byte builder that is deliberately
 * independent of ByteWriter (so golden tests check the codec against a second, readable
 * implementation of the spec layout), and one sample of every message type.
 */
import type { BackendMessage } from '../../src/protocols/postgres/codec/backend/index.ts';
import type {
  AuthenticationResponseMessage,
  FrontendMessage,
} from '../../src/protocols/postgres/codec/frontend/index.ts';
import type { InitialMessage } from '../../src/protocols/postgres/codec/frontend/initial-message.ts';

/** Builds a message body field by field, then frames it: `wire().int16(1).cstring('a').frame('T')`. */
export class Wire {
  readonly #parts: Buffer[] = [];

  int8(v: number): this {
    const b = Buffer.alloc(1);
    b.writeUInt8(v);
    return this.#add(b);
  }

  int16(v: number): this {
    const b = Buffer.alloc(2);
    if (v < 0) b.writeInt16BE(v);
    else b.writeUInt16BE(v);
    return this.#add(b);
  }

  int32(v: number): this {
    const b = Buffer.alloc(4);
    if (v < 0) b.writeInt32BE(v);
    else b.writeUInt32BE(v);
    return this.#add(b);
  }

  /** A UTF-8 string and its NUL terminator. */
  cstring(s: string): this {
    return this.#add(Buffer.from(`${s}\0`, 'utf8'));
  }

  /** One ASCII character as a byte, e.g. a tag or a field code. */
  char(c: string): this {
    return this.int8(c.charCodeAt(0));
  }

  bytes(b: Uint8Array | string): this {
    return this.#add(Buffer.from(b));
  }

  /** The body alone: what a decoder receives as `payload`. */
  body(): Buffer {
    return Buffer.concat(this.#parts);
  }

  /** The whole frame: `[tag] + Int32 length (counting itself) + body`; no tag for startup messages. */
  frame(tag?: string): Buffer {
    const body = this.body();
    const length = Buffer.alloc(4);
    length.writeUInt32BE(body.length + 4);
    return Buffer.concat(tag === undefined ? [length, body] : [Buffer.from(tag, 'latin1'), length, body]);
  }

  #add(b: Buffer): this {
    this.#parts.push(b);
    return this;
  }
}

export function wire(): Wire {
  return new Wire();
}

/** The bytes after the header of a whole frame (5 bytes tagged, 4 untagged). */
export function payloadOf(frame: Buffer, tagged = true): Buffer {
  return frame.subarray(tagged ? 5 : 4);
}

function params(entries: Record<string, string>): Record<string, string> {
  return Object.assign(Object.create(null) as Record<string, string>, entries);
}

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

/** One or more samples of every untagged startup-phase message. */
export const initialSamples: InitialMessage[] = [
  {
    type: 'StartupMessage',
    protocolVersion: 196608,
    parameters: params({ user: 'agent', database: 'app', application_name: 'psql', client_encoding: 'UTF8' }),
  },
  { type: 'StartupMessage', protocolVersion: 196610, parameters: params({ user: 'ünïcødé 🐘' }) },
  { type: 'SSLRequest' },
  { type: 'GSSENCRequest' },
  { type: 'CancelRequest', processId: 4242, secretKey: b('\x01\x02\x03\x04') },
  { type: 'CancelRequest', processId: 1, secretKey: Buffer.alloc(256, 7) },
];

/** The typed readings of a 'p' message. */
export const authenticationResponseSamples: AuthenticationResponseMessage[] = [
  { type: 'PasswordMessage', password: 'slk_secret' },
  { type: 'PasswordMessage', password: '' },
  { type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: b('n,,n=,r=abc') },
  { type: 'SASLInitialResponse', mechanism: 'SCRAM-SHA-256', data: null },
  { type: 'SASLResponse', data: b('c=biws,r=abc,p=xyz') },
];

/** One or more samples of every tagged frontend message. */
export const frontendSamples: FrontendMessage[] = [
  { type: 'Query', query: 'SELECT 1' },
  { type: 'Query', query: '' },
  { type: 'Parse', name: 'stmt_1', query: 'SELECT $1::int, $2', parameterTypes: [23, 0, 4294967295] },
  { type: 'Parse', name: '', query: 'SELECT 1', parameterTypes: [] },
  {
    type: 'Bind',
    portal: 'p1',
    statement: 'stmt_1',
    parameterFormats: [0, 1],
    parameters: [b('42'), null, Buffer.alloc(0)],
    resultFormats: [1],
  },
  { type: 'Bind', portal: '', statement: '', parameterFormats: [], parameters: [], resultFormats: [] },
  { type: 'Describe', kind: 'S', name: 'stmt_1' },
  { type: 'Describe', kind: 'P', name: '' },
  { type: 'Execute', portal: '', maxRows: 0 },
  { type: 'Execute', portal: 'p1', maxRows: -1 },
  { type: 'Close', kind: 'P', name: 'p1' },
  { type: 'Close', kind: 'S', name: '' },
  { type: 'Sync' },
  { type: 'Flush' },
  { type: 'Terminate' },
  { type: 'CopyData', data: b('1\talice\n') },
  { type: 'CopyData', data: Buffer.alloc(0) },
  { type: 'CopyDone' },
  { type: 'CopyFail', message: 'aborted by user' },
  { type: 'FunctionCall', functionOid: 89, argumentFormats: [], arguments: [], resultFormat: 0 },
  {
    type: 'FunctionCall',
    functionOid: 4294967295,
    argumentFormats: [1],
    arguments: [b('x'), null],
    resultFormat: 1,
  },
  { type: 'AuthenticationResponse', data: b('secret\0') },
];

/** One or more samples of every backend message. */
export const backendSamples: BackendMessage[] = [
  { type: 'AuthenticationOk' },
  { type: 'AuthenticationCleartextPassword' },
  { type: 'AuthenticationMD5Password', salt: b('salt') },
  { type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] },
  { type: 'AuthenticationSASL', mechanisms: [] },
  { type: 'AuthenticationSASLContinue', data: b('r=abc,s=c2FsdA==,i=4096') },
  { type: 'AuthenticationSASLFinal', data: b('v=xyz') },
  { type: 'AuthenticationOther', code: 7, data: Buffer.alloc(0) },
  { type: 'AuthenticationOther', code: 8, data: b('gss-token') },
  { type: 'BackendKeyData', processId: 12345, secretKey: b('\xde\xad\xbe\xef') },
  { type: 'BackendKeyData', processId: 1, secretKey: Buffer.alloc(32, 9) },
  { type: 'ParameterStatus', name: 'server_version', value: '16.4' },
  { type: 'ReadyForQuery', status: 'I' },
  { type: 'ReadyForQuery', status: 'T' },
  { type: 'ReadyForQuery', status: 'E' },
  {
    type: 'RowDescription',
    fields: [
      { name: 'id', tableOid: 16384, columnAttr: 1, typeOid: 23, typeSize: 4, typeModifier: -1, format: 0 },
      {
        name: 'email',
        tableOid: 4294967295,
        columnAttr: -7,
        typeOid: 25,
        typeSize: -1,
        typeModifier: 68,
        format: 1,
      },
    ],
  },
  { type: 'RowDescription', fields: [] },
  { type: 'DataRow', values: [b('1'), null, b('alice@example.com'), Buffer.alloc(0)] },
  { type: 'DataRow', values: [] },
  { type: 'CommandComplete', tag: 'SELECT 3' },
  { type: 'EmptyQueryResponse' },
  {
    type: 'ErrorResponse',
    fields: {
      S: 'ERROR',
      V: 'ERROR',
      C: '42P01',
      M: 'relation "nope" does not exist',
      P: '15',
      F: 'parse_relation.c',
    },
  },
  { type: 'ErrorResponse', fields: { S: 'FATAL', M: 'no code field' } },
  {
    type: 'NoticeResponse',
    fields: { S: 'NOTICE', V: 'NOTICE', C: '00000', M: 'hi', Z: 'unknown code kept' },
  },
  { type: 'NotificationResponse', processId: 99, channel: 'jobs', payload: '{"id":1}' },
  { type: 'ParameterDescription', parameterTypes: [23, 25, 4294967295] },
  { type: 'ParseComplete' },
  { type: 'BindComplete' },
  { type: 'CloseComplete' },
  { type: 'NoData' },
  { type: 'PortalSuspended' },
  { type: 'CopyInResponse', format: 0, columnFormats: [0, 0, 0] },
  { type: 'CopyOutResponse', format: 1, columnFormats: [1, 1] },
  { type: 'CopyBothResponse', format: 0, columnFormats: [] },
  { type: 'CopyData', data: b('row\n') },
  { type: 'CopyDone' },
  { type: 'FunctionCallResponse', result: b('PostgreSQL 16') },
  { type: 'FunctionCallResponse', result: null },
  { type: 'NegotiateProtocolVersion', newestMinorVersion: 0, unrecognizedOptions: ['_pq_.compression'] },
  { type: 'NegotiateProtocolVersion', newestMinorVersion: 2, unrecognizedOptions: [] },
];
