import { describe, expect, it } from 'vitest';
import { ByteReader } from '../../src/core/bytes/reader.ts';
import { ByteWriter } from '../../src/core/bytes/writer.ts';
import { ProtocolError } from '../../src/core/errors.ts';
import {
  decodeAuthentication,
  encodeAuthentication,
} from '../../src/protocols/postgres/codec/backend/authentication.ts';
import { decodeBackendKeyData } from '../../src/protocols/postgres/codec/backend/backend-key-data.ts';
import { decodeCopyInResponse } from '../../src/protocols/postgres/codec/backend/copy-in-response.ts';
import { decodeDataRow, encodeDataRow } from '../../src/protocols/postgres/codec/backend/data-row.ts';
import {
  decodeErrorResponse,
  encodeErrorResponse,
} from '../../src/protocols/postgres/codec/backend/error-response.ts';
import { decodeFunctionCallResponse } from '../../src/protocols/postgres/codec/backend/function-call-response.ts';
import {
  type BackendMessage,
  decodeBackendMessage,
  encodeBackendMessage,
} from '../../src/protocols/postgres/codec/backend/index.ts';
import { decodeNegotiateProtocolVersion } from '../../src/protocols/postgres/codec/backend/negotiate-protocol-version.ts';
import { decodeNoticeResponse } from '../../src/protocols/postgres/codec/backend/notice-response.ts';
import { decodeNotificationResponse } from '../../src/protocols/postgres/codec/backend/notification-response.ts';
import { decodeParameterDescription } from '../../src/protocols/postgres/codec/backend/parameter-description.ts';
import { decodeReadyForQuery } from '../../src/protocols/postgres/codec/backend/ready-for-query.ts';
import {
  decodeRowDescription,
  encodeRowDescription,
} from '../../src/protocols/postgres/codec/backend/row-description.ts';
import { errorFields } from '../../src/protocols/postgres/codec/error-fields.ts';
import { type Bind, decodeBind, encodeBind } from '../../src/protocols/postgres/codec/frontend/bind.ts';
import {
  decodeCancelRequest,
  encodeCancelRequest,
} from '../../src/protocols/postgres/codec/frontend/cancel-request.ts';
import { decodeClose } from '../../src/protocols/postgres/codec/frontend/close.ts';
import { decodeDescribe } from '../../src/protocols/postgres/codec/frontend/describe.ts';
import { decodeExecute } from '../../src/protocols/postgres/codec/frontend/execute.ts';
import { decodeFunctionCall } from '../../src/protocols/postgres/codec/frontend/function-call.ts';
import { decodeGSSENCRequest } from '../../src/protocols/postgres/codec/frontend/gssenc-request.ts';
import {
  decodeFrontendMessage,
  encodeFrontendMessage,
  type FrontendMessage,
} from '../../src/protocols/postgres/codec/frontend/index.ts';
import {
  decodeInitialMessage,
  encodeInitialMessage,
  type InitialMessage,
  UnsupportedProtocolError,
} from '../../src/protocols/postgres/codec/frontend/initial-message.ts';
import { decodeParse } from '../../src/protocols/postgres/codec/frontend/parse.ts';
import { decodePasswordMessage } from '../../src/protocols/postgres/codec/frontend/password-message.ts';
import { decodeQuery, encodeQuery } from '../../src/protocols/postgres/codec/frontend/query.ts';
import { decodeSASLInitialResponse } from '../../src/protocols/postgres/codec/frontend/sasl-initial-response.ts';
import { decodeSASLResponse } from '../../src/protocols/postgres/codec/frontend/sasl-response.ts';
import { decodeSSLRequest } from '../../src/protocols/postgres/codec/frontend/ssl-request.ts';
import {
  decodeStartupMessage,
  encodeStartupMessage,
} from '../../src/protocols/postgres/codec/frontend/startup-message.ts';
import { BackendTag, FrontendTag } from '../../src/protocols/postgres/codec/message-type.ts';
import {
  authenticationResponseSamples,
  backendSamples,
  frontendSamples,
  initialSamples,
  payloadOf,
  wire,
} from '../helpers/pg-messages.ts';

type Decoder = (payload: Buffer) => unknown;

interface Case {
  label: string;
  message: { type: string };
  frame: Buffer;
  tagged: boolean;
  /** The tag byte the frame must start with (tagged frames only). */
  tag: number;
  decode: Decoder;
  /** The name that must appear in `Malformed <name>`. */
  name: string;
  /**
   * The last field runs to the frame end (raw data, SASL data, a cancel key), so a prefix or
   * trailing byte can itself be valid; those messages get their own malformed cases below.
   */
  openEnded: boolean;
}

const OPEN_ENDED = new Set([
  'CopyData',
  'SASLResponse',
  'AuthenticationResponse',
  'AuthenticationSASLContinue',
  'AuthenticationSASLFinal',
  'AuthenticationOther',
  'CancelRequest',
  'BackendKeyData',
]);

const AUTHENTICATION_TYPES = new Set([
  'AuthenticationOk',
  'AuthenticationCleartextPassword',
  'AuthenticationMD5Password',
  'AuthenticationSASL',
  'AuthenticationSASLContinue',
  'AuthenticationSASLFinal',
  'AuthenticationOther',
]);

const initialDecoders: Record<InitialMessage['type'], Decoder> = {
  StartupMessage: decodeStartupMessage,
  SSLRequest: decodeSSLRequest,
  GSSENCRequest: decodeGSSENCRequest,
  CancelRequest: decodeCancelRequest,
};

const authenticationResponseDecoders: Record<string, Decoder> = {
  PasswordMessage: decodePasswordMessage,
  SASLInitialResponse: decodeSASLInitialResponse,
  SASLResponse: decodeSASLResponse,
};

function label(message: { type: string }, index: number): string {
  return `${message.type} #${index}`;
}

const cases: Case[] = [
  ...initialSamples.map((message, i) => ({
    label: label(message, i),
    message,
    frame: encodeInitialMessage(message),
    tagged: false,
    tag: 0,
    decode: initialDecoders[message.type],
    name: message.type,
    openEnded: OPEN_ENDED.has(message.type),
  })),
  ...authenticationResponseSamples.map((message, i) => ({
    label: label(message, i),
    message,
    frame: encodeFrontendMessage(message),
    tagged: true,
    tag: FrontendTag.AuthenticationResponse,
    decode: authenticationResponseDecoders[message.type] ?? decodePasswordMessage,
    name: message.type,
    openEnded: OPEN_ENDED.has(message.type),
  })),
  ...frontendSamples.map((message: FrontendMessage, i) => ({
    label: label(message, i),
    message,
    frame: encodeFrontendMessage(message),
    tagged: true,
    tag: FrontendTag[message.type],
    decode: (payload: Buffer) => decodeFrontendMessage(FrontendTag[message.type], payload),
    name: message.type,
    openEnded: OPEN_ENDED.has(message.type),
  })),
  ...backendSamples.map((message: BackendMessage, i) => {
    const isAuth = AUTHENTICATION_TYPES.has(message.type);
    const tag = isAuth ? BackendTag.Authentication : BackendTag[message.type as keyof typeof BackendTag];
    return {
      label: `backend ${label(message, i)}`,
      message,
      frame: encodeBackendMessage(message),
      tagged: true,
      tag,
      decode: (payload: Buffer) => decodeBackendMessage(tag, payload),
      name: isAuth ? 'Authentication' : message.type,
      openEnded: OPEN_ENDED.has(message.type),
    };
  }),
];

/** Asserts that `fn` throws exactly `ProtocolError('Malformed <name>')`. */
function expectMalformed(fn: () => unknown, name: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ProtocolError);
  expect((thrown as ProtocolError).message).toBe(`Malformed ${name}`);
  expect((thrown as ProtocolError).code).toBe('GW_ERR_PROTOCOL');
}

describe('every message type is covered', () => {
  it('has samples of all 14 tagged frontend, 4 startup-phase, 3 typed auth-response and 30 backend types', () => {
    const types = new Set(cases.map((c) => `${c.tagged ? '' : 'untagged:'}${c.message.type}`));
    expect([...types].sort()).toEqual(
      [
        'Query',
        'Parse',
        'Bind',
        'Describe',
        'Execute',
        'Close',
        'Sync',
        'Flush',
        'Terminate',
        'CopyData',
        'CopyDone',
        'CopyFail',
        'FunctionCall',
        'AuthenticationResponse',
        'untagged:StartupMessage',
        'untagged:SSLRequest',
        'untagged:GSSENCRequest',
        'untagged:CancelRequest',
        'PasswordMessage',
        'SASLInitialResponse',
        'SASLResponse',
        'AuthenticationOk',
        'AuthenticationCleartextPassword',
        'AuthenticationMD5Password',
        'AuthenticationSASL',
        'AuthenticationSASLContinue',
        'AuthenticationSASLFinal',
        'AuthenticationOther',
        'BackendKeyData',
        'ParameterStatus',
        'ReadyForQuery',
        'RowDescription',
        'DataRow',
        'CommandComplete',
        'EmptyQueryResponse',
        'ErrorResponse',
        'NoticeResponse',
        'NotificationResponse',
        'ParameterDescription',
        'ParseComplete',
        'BindComplete',
        'CloseComplete',
        'NoData',
        'PortalSuspended',
        'CopyInResponse',
        'CopyOutResponse',
        'CopyBothResponse',
        'FunctionCallResponse',
        'NegotiateProtocolVersion',
      ].sort(),
    );
  });
});

describe.each(cases)('$label', (c) => {
  it('round-trips: decode(encode(x)) equals x', () => {
    expect(c.decode(payloadOf(c.frame, c.tagged))).toStrictEqual(c.message);
  });

  it('frames with the right tag and a length that counts itself but not the tag', () => {
    const headerAt = c.tagged ? 1 : 0;
    if (c.tagged) expect(c.frame[0]).toBe(c.tag);
    expect(c.frame.readInt32BE(headerAt)).toBe(c.frame.length - headerAt);
  });
});

describe.each(cases.filter((c) => !c.openEnded))('$label (closed layout)', (c) => {
  it('rejects every truncation as Malformed', () => {
    const payload = payloadOf(c.frame, c.tagged);
    for (let n = 0; n < payload.length; n++) expectMalformed(() => c.decode(payload.subarray(0, n)), c.name);
  });

  it('rejects trailing bytes as Malformed', () => {
    const payload = Buffer.concat([payloadOf(c.frame, c.tagged), Buffer.from([0])]);
    expectMalformed(() => c.decode(payload), c.name);
  });
});

describe('golden bytes, built by hand from the spec layout', () => {
  it('Query', () => {
    const bytes = wire().cstring('SELECT 1').frame('Q');
    expect([...bytes.subarray(0, 5)]).toEqual([0x51, 0, 0, 0, 13]);
    expect(encodeQuery({ type: 'Query', query: 'SELECT 1' })).toEqual(bytes);
    expect(decodeQuery(payloadOf(bytes))).toStrictEqual({ type: 'Query', query: 'SELECT 1' });
  });

  it('Bind with a NULL parameter and a binary result', () => {
    const bytes = wire()
      .cstring('') // portal
      .cstring('s1') // statement
      .int16(1) // one parameter format code ...
      .int16(0) // ... text, for all parameters
      .int16(2) // two parameter values
      .int32(2)
      .bytes('42')
      .int32(-1) // NULL: no value bytes follow
      .int16(1) // one result format code ...
      .int16(1) // ... binary
      .frame('B');
    const message: Bind = {
      type: 'Bind',
      portal: '',
      statement: 's1',
      parameterFormats: [0],
      parameters: [Buffer.from('42'), null],
      resultFormats: [1],
    };
    expect(encodeBind(message)).toEqual(bytes);
    expect(decodeBind(payloadOf(bytes))).toStrictEqual(message);
  });

  it('RowDescription', () => {
    const bytes = wire()
      .int16(1)
      .cstring('id')
      .int32(16384) // table OID
      .int16(1) // attribute number
      .int32(23) // int4
      .int16(4) // typlen
      .int32(-1) // typmod
      .int16(0) // text
      .frame('T');
    const message = {
      type: 'RowDescription' as const,
      fields: [
        { name: 'id', tableOid: 16384, columnAttr: 1, typeOid: 23, typeSize: 4, typeModifier: -1, format: 0 },
      ],
    };
    expect(encodeRowDescription(message)).toEqual(bytes);
    expect(decodeRowDescription(payloadOf(bytes))).toStrictEqual(message);
  });

  it('DataRow with a NULL column', () => {
    const bytes = wire().int16(2).int32(5).bytes('alice').int32(-1).frame('D');
    const message = { type: 'DataRow' as const, values: [Buffer.from('alice'), null] };
    expect(encodeDataRow(message)).toEqual(bytes);
    expect(decodeDataRow(payloadOf(bytes))).toStrictEqual(message);
  });

  it('ErrorResponse built with errorFields (S and V both set, in field order)', () => {
    const bytes = wire()
      .char('S')
      .cstring('FATAL')
      .char('V')
      .cstring('FATAL')
      .char('C')
      .cstring('28P01')
      .char('M')
      .cstring('sluice: authentication failed')
      .char('H')
      .cstring('check the API key')
      .int8(0)
      .frame('E');
    const fields = errorFields({
      severity: 'FATAL',
      code: '28P01',
      message: 'sluice: authentication failed',
      detail: undefined,
      hint: 'check the API key',
    });
    expect(Object.hasOwn(fields, 'D')).toBe(false);
    expect(encodeErrorResponse({ type: 'ErrorResponse', fields })).toEqual(bytes);
    expect(decodeErrorResponse(payloadOf(bytes))).toStrictEqual({ type: 'ErrorResponse', fields });
  });

  it('StartupMessage', () => {
    const bytes = wire()
      .int32(196608)
      .cstring('user')
      .cstring('agent')
      .cstring('database')
      .cstring('app')
      .int8(0)
      .frame();
    expect(bytes.readInt32BE(0)).toBe(bytes.length);
    const parameters: Record<string, string> = Object.create(null);
    parameters.user = 'agent';
    parameters.database = 'app';
    const message = { type: 'StartupMessage' as const, protocolVersion: 196608, parameters };
    expect(encodeStartupMessage(message)).toEqual(bytes);
    const decoded = decodeStartupMessage(payloadOf(bytes, false));
    expect(decoded).toStrictEqual(message);
    expect(Object.keys(decoded.parameters)).toEqual(['user', 'database']);
    expect(Object.getPrototypeOf(decoded.parameters)).toBeNull();
  });

  it('CancelRequest (16 bytes with a 4-byte key)', () => {
    const bytes = wire()
      .int32(80877102)
      .int32(4242)
      .bytes(new Uint8Array([1, 2, 3, 4]))
      .frame();
    expect(bytes.length).toBe(16);
    const message = { type: 'CancelRequest' as const, processId: 4242, secretKey: Buffer.from([1, 2, 3, 4]) };
    expect(encodeCancelRequest(message)).toEqual(bytes);
    expect(decodeInitialMessage(payloadOf(bytes, false))).toStrictEqual(message);
  });

  it('SSLRequest and GSSENCRequest', () => {
    expect(encodeInitialMessage({ type: 'SSLRequest' })).toEqual(wire().int32(80877103).frame());
    expect([...encodeInitialMessage({ type: 'SSLRequest' })]).toEqual([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
    expect(encodeInitialMessage({ type: 'GSSENCRequest' })).toEqual(wire().int32(80877104).frame());
  });

  it('fixed frames: Sync, ParseComplete, ReadyForQuery', () => {
    expect(encodeFrontendMessage({ type: 'Sync' })).toEqual(wire().frame('S'));
    expect(encodeBackendMessage({ type: 'ParseComplete' })).toEqual(wire().frame('1'));
    expect(encodeBackendMessage({ type: 'ReadyForQuery', status: 'T' })).toEqual(wire().char('T').frame('Z'));
  });

  it('AuthenticationSASL and AuthenticationMD5Password', () => {
    const sasl = wire().int32(10).cstring('SCRAM-SHA-256').int8(0).frame('R');
    expect(encodeAuthentication({ type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256'] })).toEqual(sasl);
    const md5 = wire().int32(5).bytes('salt').frame('R');
    expect(decodeAuthentication(payloadOf(md5))).toStrictEqual({
      type: 'AuthenticationMD5Password',
      salt: Buffer.from('salt'),
    });
  });
});

describe('malformed input', () => {
  const cases: [label: string, name: string, decode: Decoder, payload: Buffer][] = [
    ['Query without its NUL', 'Query', decodeQuery, wire().bytes('SELECT 1').body()],
    // PROTO-NUL: an embedded NUL must not let the gateway see "SELECT 1" and forward the tail.
    [
      'Query with an embedded NUL',
      'Query',
      decodeQuery,
      wire().cstring('SELECT 1').cstring('; DELETE FROM stats').body(),
    ],
    [
      'Query with invalid UTF-8',
      'Query',
      decodeQuery,
      wire()
        .bytes(new Uint8Array([0x53, 0xc3, 0x28]))
        .int8(0)
        .body(),
    ],
    [
      'Query with an overlong "/" encoding',
      'Query',
      decodeQuery,
      wire()
        .bytes(new Uint8Array([0xc0, 0xaf]))
        .int8(0)
        .body(),
    ],
    [
      'Parse declaring 2 types but carrying 1',
      'Parse',
      decodeParse,
      wire().cstring('').cstring('q').int16(2).int32(23).body(),
    ],
    [
      'Bind with value length -2',
      'Bind',
      decodeBind,
      wire().cstring('').cstring('').int16(0).int16(1).int32(-2).int16(0).body(),
    ],
    [
      'Bind with a value longer than the frame',
      'Bind',
      decodeBind,
      wire().cstring('').cstring('').int16(0).int16(1).int32(100).bytes('ab').body(),
    ],
    [
      'Bind without result format count',
      'Bind',
      decodeBind,
      wire().cstring('').cstring('').int16(0).int16(0).body(),
    ],
    ['Describe with kind X', 'Describe', decodeDescribe, wire().char('X').cstring('').body()],
    ['Close with kind lowercase p', 'Close', decodeClose, wire().char('p').cstring('').body()],
    ['Execute without maxRows', 'Execute', decodeExecute, wire().cstring('').body()],
    [
      'FunctionCall without result format',
      'FunctionCall',
      decodeFunctionCall,
      wire().int32(89).int16(0).int16(0).body(),
    ],
    [
      'StartupMessage with a duplicate user',
      'StartupMessage',
      decodeStartupMessage,
      wire().int32(196608).cstring('user').cstring('a').cstring('user').cstring('admin').int8(0).body(),
    ],
    [
      'StartupMessage without its terminator',
      'StartupMessage',
      decodeStartupMessage,
      wire().int32(196608).cstring('user').cstring('a').body(),
    ],
    [
      'StartupMessage with a name but no value',
      'StartupMessage',
      decodeStartupMessage,
      wire().int32(196608).cstring('user').int8(0).body(),
    ],
    [
      'StartupMessage with bytes after the terminator',
      'StartupMessage',
      decodeStartupMessage,
      wire().int32(196608).cstring('user').cstring('a').int8(0).bytes('x').body(),
    ],
    ['SSLRequest with the wrong code', 'SSLRequest', decodeSSLRequest, wire().int32(80877104).body()],
    [
      'CancelRequest with a 3-byte key',
      'CancelRequest',
      decodeCancelRequest,
      wire().int32(80877102).int32(1).bytes('abc').body(),
    ],
    [
      'CancelRequest with a 257-byte key',
      'CancelRequest',
      decodeCancelRequest,
      wire().int32(80877102).int32(1).bytes(Buffer.alloc(257)).body(),
    ],
    [
      'PasswordMessage without its NUL',
      'PasswordMessage',
      decodePasswordMessage,
      wire().bytes('hunter2').body(),
    ],
    [
      'SASLInitialResponse with data length -2',
      'SASLInitialResponse',
      decodeSASLInitialResponse,
      wire().cstring('SCRAM-SHA-256').int32(-2).body(),
    ],
    [
      'SASLInitialResponse with data shorter than declared',
      'SASLInitialResponse',
      decodeSASLInitialResponse,
      wire().cstring('SCRAM-SHA-256').int32(10).bytes('n,,').body(),
    ],
    ['Authentication with no code', 'Authentication', decodeAuthentication, wire().body()],
    [
      'AuthenticationOk with trailing bytes',
      'Authentication',
      decodeAuthentication,
      wire().int32(0).int8(0).body(),
    ],
    [
      'AuthenticationMD5Password with a 3-byte salt',
      'Authentication',
      decodeAuthentication,
      wire().int32(5).bytes('abc').body(),
    ],
    [
      'AuthenticationMD5Password with a 5-byte salt',
      'Authentication',
      decodeAuthentication,
      wire().int32(5).bytes('abcde').body(),
    ],
    [
      'AuthenticationSASL without its list terminator',
      'Authentication',
      decodeAuthentication,
      wire().int32(10).cstring('SCRAM-SHA-256').body(),
    ],
    [
      'BackendKeyData with a 3-byte key',
      'BackendKeyData',
      decodeBackendKeyData,
      wire().int32(1).bytes('abc').body(),
    ],
    [
      'BackendKeyData with a 257-byte key',
      'BackendKeyData',
      decodeBackendKeyData,
      wire().int32(1).bytes(Buffer.alloc(257)).body(),
    ],
    ['ReadyForQuery with status X', 'ReadyForQuery', decodeReadyForQuery, wire().char('X').body()],
    [
      'RowDescription declaring 2 fields but carrying 1',
      'RowDescription',
      decodeRowDescription,
      wire().int16(2).cstring('id').int32(0).int16(0).int32(23).int16(4).int32(-1).int16(0).body(),
    ],
    ['DataRow with value length -5', 'DataRow', decodeDataRow, wire().int16(1).int32(-5).body()],
    [
      'DataRow declaring 3 columns but carrying 2',
      'DataRow',
      decodeDataRow,
      wire().int16(3).int32(-1).int32(-1).body(),
    ],
    [
      'ErrorResponse with a duplicate field',
      'ErrorResponse',
      decodeErrorResponse,
      wire().char('M').cstring('a').char('M').cstring('b').int8(0).body(),
    ],
    [
      'ErrorResponse without its terminator',
      'ErrorResponse',
      decodeErrorResponse,
      wire().char('M').cstring('a').body(),
    ],
    [
      'NoticeResponse with an unterminated value',
      'NoticeResponse',
      decodeNoticeResponse,
      wire().char('M').bytes('a').body(),
    ],
    [
      'NotificationResponse without a payload',
      'NotificationResponse',
      decodeNotificationResponse,
      wire().int32(1).cstring('jobs').body(),
    ],
    [
      'ParameterDescription declaring 2 types but carrying 1',
      'ParameterDescription',
      decodeParameterDescription,
      wire().int16(2).int32(23).body(),
    ],
    ['CopyInResponse with format 2', 'CopyInResponse', decodeCopyInResponse, wire().int8(2).int16(0).body()],
    [
      'CopyInResponse with missing column formats',
      'CopyInResponse',
      decodeCopyInResponse,
      wire().int8(0).int16(2).int16(0).body(),
    ],
    [
      'FunctionCallResponse with length -2',
      'FunctionCallResponse',
      decodeFunctionCallResponse,
      wire().int32(-2).body(),
    ],
    [
      'NegotiateProtocolVersion with a negative option count',
      'NegotiateProtocolVersion',
      decodeNegotiateProtocolVersion,
      wire().int32(0).int32(-1).body(),
    ],
    [
      'NegotiateProtocolVersion declaring 2 options but carrying 1',
      'NegotiateProtocolVersion',
      decodeNegotiateProtocolVersion,
      wire().int32(0).int32(2).cstring('_pq_.x').body(),
    ],
  ];

  it.each(cases)('%s → Malformed %s', (_label, name, decode, payload) => {
    expectMalformed(() => decode(payload), name);
  });

  it('checks bounds against the frame end, not the end of the underlying chunk', () => {
    // The next frame in the same chunk holds exactly the bytes a sloppy reader would borrow.
    const chunk = Buffer.concat([
      wire().int16(1).int32(5).bytes('ab').frame('D'),
      wire().bytes('cde').frame('d'),
    ]);
    const dataRowPayload = chunk.subarray(5, 5 + 2 + 4 + 2);
    expectMalformed(() => decodeDataRow(dataRowPayload), 'DataRow');

    const queries = Buffer.concat([wire().bytes('SELECT 1').frame('Q'), wire().cstring('').frame('Q')]);
    expectMalformed(() => decodeQuery(queries.subarray(5, 13)), 'Query');
  });

  it('decodes an ErrorResponse without a C field (judging it is the session’s job)', () => {
    const payload = wire().char('S').cstring('ERROR').char('M').cstring('no code').int8(0).body();
    expect(decodeErrorResponse(payload).fields).toStrictEqual({ S: 'ERROR', M: 'no code' });
  });

  it('keeps an unknown field code and re-encodes it', () => {
    const payload = wire().char('M').cstring('m').char('Z').cstring('future').int8(0).body();
    const decoded = decodeNoticeResponse(payload);
    expect(decoded.fields.Z).toBe('future');
    expect(payloadOf(encodeBackendMessage(decoded))).toEqual(payload);
  });

  it('reports an unknown tag by its hex value', () => {
    expect(() => decodeFrontendMessage(0x59, Buffer.alloc(0))).toThrow(
      new ProtocolError('Unknown frontend message type 0x59'),
    );
    expect(() => decodeBackendMessage(0x00, Buffer.alloc(0))).toThrow(
      new ProtocolError('Unknown backend message type 0x00'),
    );
  });

  it('dispatches initial messages on their first Int32 and refuses other protocol versions', () => {
    expect(decodeInitialMessage(wire().int32(80877103).body())).toStrictEqual({ type: 'SSLRequest' });
    expect(decodeInitialMessage(wire().int32(80877104).body())).toStrictEqual({ type: 'GSSENCRequest' });
    expect(decodeInitialMessage(wire().int32(196610).int8(0).body())).toMatchObject({
      protocolVersion: 196610,
    });
    // A distinct error, so the session can answer FATAL 0A000 as PostgreSQL does.
    expect(() => decodeInitialMessage(wire().int32(0x40000).int8(0).body())).toThrow(
      new UnsupportedProtocolError(4, 0),
    );
    expect(() => decodeInitialMessage(wire().int32(0x40000).int8(0).body())).toThrow(
      'Unsupported frontend protocol 4.0',
    );
    expect(() => decodeInitialMessage(wire().int32(80877105).body())).toThrow(
      new UnsupportedProtocolError(1234, 5681),
    );
    expect(() => decodeInitialMessage(wire().int32(0x20000).body())).toThrow(ProtocolError);
    expectMalformed(() => decodeInitialMessage(Buffer.from([0, 3])), 'StartupMessage');
  });
});

describe('encoder guards', () => {
  it('refuses a string with an embedded NUL instead of smuggling a second field', () => {
    expect(() => encodeQuery({ type: 'Query', query: 'SELECT 1\0; DROP TABLE x' })).toThrow(RangeError);
  });

  it('handles 65,535 Bind parameters (unsigned counts) and refuses 65,536', () => {
    const parameters: (Buffer | null)[] = Array.from({ length: 65_535 }, (_, i) =>
      i % 2 ? null : Buffer.from([i & 0xff]),
    );
    const message = {
      type: 'Bind' as const,
      portal: '',
      statement: 's',
      parameterFormats: [1],
      parameters,
      resultFormats: [],
    };
    const frame = encodeBind(message);
    expect(frame.readUInt16BE(5 + 1 + 2 + 4)).toBe(65_535);
    expect(decodeBind(payloadOf(frame))).toStrictEqual(message);
    expect(() => encodeBind({ ...message, parameters: [...parameters, null] })).toThrow(RangeError);
  });

  it('refuses values that would decode as something else', () => {
    expect(() =>
      encodeStartupMessage({ type: 'StartupMessage', protocolVersion: 196608, parameters: { '': 'x' } }),
    ).toThrow(RangeError);
    expect(() => encodeAuthentication({ type: 'AuthenticationSASL', mechanisms: [''] })).toThrow(RangeError);
    expect(() =>
      encodeAuthentication({ type: 'AuthenticationOther', code: 0, data: Buffer.alloc(0) }),
    ).toThrow(RangeError);
    expect(() => encodeAuthentication({ type: 'AuthenticationMD5Password', salt: Buffer.alloc(5) })).toThrow(
      RangeError,
    );
    expect(() =>
      encodeCancelRequest({ type: 'CancelRequest', processId: 1, secretKey: Buffer.alloc(3) }),
    ).toThrow(RangeError);
    expect(() => encodeErrorResponse({ type: 'ErrorResponse', fields: { MM: 'x' } })).toThrow(RangeError);
  });
});

describe('ByteReader', () => {
  it('bounds every read by the window end, not the buffer end', () => {
    const buf = Buffer.from([0, 0, 0, 0, 0, 7, 1, 2, 3, 4]);
    const reader = new ByteReader(buf, 2, 6);
    expect(reader.remaining).toBe(4);
    expect(reader.int32()).toBe(7);
    expect(reader.remaining).toBe(0);
    expect(() => reader.uint8()).toThrow(new ProtocolError('truncated'));
  });

  it('does not find a NUL that lies past the window end', () => {
    const buf = Buffer.from('abc\0', 'latin1');
    expect(() => new ByteReader(buf, 0, 3).cstring()).toThrow(new ProtocolError('unterminated string'));
    expect(new ByteReader(buf).cstring()).toBe('abc');
  });

  it('reads signed and unsigned integers', () => {
    const reader = new ByteReader(
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    );
    expect([reader.int16(), reader.uint16(), reader.int32(), reader.uint32()]).toEqual([
      -1, 65535, -1, 4294967295,
    ]);
  });

  it('returns zero-copy views from bytes() and rest()', () => {
    const buf = Buffer.from('headerbody');
    const reader = new ByteReader(buf);
    const head = reader.bytes(6);
    const rest = reader.rest();
    expect(head.buffer).toBe(buf.buffer);
    expect(head.byteOffset).toBe(buf.byteOffset);
    expect(rest.toString()).toBe('body');
    expect(rest.byteOffset).toBe(buf.byteOffset + 6);
    expect(reader.remaining).toBe(0);
    expect(() => reader.bytes(1)).toThrow(ProtocolError);
  });

  it('rejects a window outside the buffer', () => {
    expect(() => new ByteReader(Buffer.alloc(4), 0, 5)).toThrow(RangeError);
  });
});

describe('ByteWriter', () => {
  it('writes each field type big-endian and frames with or without a tag', () => {
    const body = new ByteWriter(0)
      .uint8(1)
      .int16(-2)
      .uint16(65535)
      .int32(-3)
      .uint32(4294967295)
      .cstring('é')
      .string('x');
    const expected = wire()
      .int8(1)
      .int16(-2)
      .int16(65535)
      .int32(-3)
      .int32(4294967295)
      .cstring('é')
      .bytes('x');
    expect(body.finish(0x54)).toEqual(expected.frame('T'));
    expect(new ByteWriter().int32(5).finish()).toEqual(wire().int32(5).frame());
  });

  it('grows by doubling past its initial capacity without losing bytes', () => {
    const big = Buffer.alloc(100_000, 0xab);
    const frame = new ByteWriter(1).uint8(7).bytes(big).uint8(9).finish(0x64);
    expect(frame.length).toBe(5 + 100_002);
    expect(frame.readInt32BE(1)).toBe(100_006);
    expect(frame[5]).toBe(7);
    expect(frame.subarray(6, 6 + big.length).equals(big)).toBe(true);
    expect(frame[frame.length - 1]).toBe(9);
  });

  it('refuses an embedded NUL in a cstring', () => {
    expect(() => new ByteWriter().cstring('a\0b')).toThrow(RangeError);
  });
});
