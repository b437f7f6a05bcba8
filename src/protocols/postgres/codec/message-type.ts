/**
 * @module protocols/postgres/codec/message-type
 * Message type bytes of protocol 3.0. Frontend and backend share some letters with different
 * meanings ('S' is Sync from the client and ParameterStatus from the server), so they are two maps.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

export const FrontendTag = {
  Query: 0x51, // 'Q'
  Parse: 0x50, // 'P'
  Bind: 0x42, // 'B'
  Describe: 0x44, // 'D'
  Execute: 0x45, // 'E'
  Close: 0x43, // 'C'
  Sync: 0x53, // 'S'
  Flush: 0x48, // 'H'
  Terminate: 0x58, // 'X'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  CopyFail: 0x66, // 'f'
  FunctionCall: 0x46, // 'F'
  /** PasswordMessage, SASLInitialResponse, SASLResponse and GSSResponse all use 'p'. */
  AuthenticationResponse: 0x70, // 'p'
} as const;

export type FrontendTag = (typeof FrontendTag)[keyof typeof FrontendTag];

export const BackendTag = {
  Authentication: 0x52, // 'R'
  BackendKeyData: 0x4b, // 'K'
  ParameterStatus: 0x53, // 'S'
  ReadyForQuery: 0x5a, // 'Z'
  RowDescription: 0x54, // 'T'
  DataRow: 0x44, // 'D'
  CommandComplete: 0x43, // 'C'
  EmptyQueryResponse: 0x49, // 'I'
  ErrorResponse: 0x45, // 'E'
  NoticeResponse: 0x4e, // 'N'
  NotificationResponse: 0x41, // 'A'
  ParameterDescription: 0x74, // 't'
  ParseComplete: 0x31, // '1'
  BindComplete: 0x32, // '2'
  CloseComplete: 0x33, // '3'
  NoData: 0x6e, // 'n'
  PortalSuspended: 0x73, // 's'
  CopyInResponse: 0x47, // 'G'
  CopyOutResponse: 0x48, // 'H'
  CopyBothResponse: 0x57, // 'W'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  FunctionCallResponse: 0x56, // 'V'
  NegotiateProtocolVersion: 0x76, // 'v'
} as const;

export type BackendTag = (typeof BackendTag)[keyof typeof BackendTag];

/** A tag as `'Q' (0x51)` for error messages; non-printable bytes only as hex. */
export function describeTag(tag: number): string {
  const hex = `0x${tag.toString(16).padStart(2, '0')}`;
  return tag >= 0x21 && tag <= 0x7e ? `'${String.fromCharCode(tag)}' (${hex})` : hex;
}
