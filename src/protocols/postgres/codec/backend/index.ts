/**
 * @module protocols/postgres/codec/backend
 * Messages a server sends, as one union, with one dispatch per direction.
 */
import { ProtocolError } from '../../../../core/errors.ts';
import { type CopyData, decodeCopyData, encodeCopyData } from '../copy-data.ts';
import { type CopyDone, decodeCopyDone, encodeCopyDone } from '../copy-done.ts';
import { unknownMessage } from '../layout.ts';
import { BackendTag } from '../message-type.ts';
import { type Authentication, decodeAuthentication, encodeAuthentication } from './authentication.ts';
import { type BackendKeyData, decodeBackendKeyData, encodeBackendKeyData } from './backend-key-data.ts';
import { type BindComplete, decodeBindComplete, encodeBindComplete } from './bind-complete.ts';
import { type CloseComplete, decodeCloseComplete, encodeCloseComplete } from './close-complete.ts';
import { type CommandComplete, decodeCommandComplete, encodeCommandComplete } from './command-complete.ts';
import {
  type CopyBothResponse,
  decodeCopyBothResponse,
  encodeCopyBothResponse,
} from './copy-both-response.ts';
import { type CopyInResponse, decodeCopyInResponse, encodeCopyInResponse } from './copy-in-response.ts';
import { type CopyOutResponse, decodeCopyOutResponse, encodeCopyOutResponse } from './copy-out-response.ts';
import { type DataRow, decodeDataRow, encodeDataRow } from './data-row.ts';
import {
  decodeEmptyQueryResponse,
  type EmptyQueryResponse,
  encodeEmptyQueryResponse,
} from './empty-query-response.ts';
import { decodeErrorResponse, type ErrorResponse, encodeErrorResponse } from './error-response.ts';
import {
  decodeFunctionCallResponse,
  encodeFunctionCallResponse,
  type FunctionCallResponse,
} from './function-call-response.ts';
import {
  decodeNegotiateProtocolVersion,
  encodeNegotiateProtocolVersion,
  type NegotiateProtocolVersion,
} from './negotiate-protocol-version.ts';
import { decodeNoData, encodeNoData, type NoData } from './no-data.ts';
import { decodeNoticeResponse, encodeNoticeResponse, type NoticeResponse } from './notice-response.ts';
import {
  decodeNotificationResponse,
  encodeNotificationResponse,
  type NotificationResponse,
} from './notification-response.ts';
import {
  decodeParameterDescription,
  encodeParameterDescription,
  type ParameterDescription,
} from './parameter-description.ts';
import { decodeParameterStatus, encodeParameterStatus, type ParameterStatus } from './parameter-status.ts';
import { decodeParseComplete, encodeParseComplete, type ParseComplete } from './parse-complete.ts';
import { decodePortalSuspended, encodePortalSuspended, type PortalSuspended } from './portal-suspended.ts';
import { decodeReadyForQuery, encodeReadyForQuery, type ReadyForQuery } from './ready-for-query.ts';
import { decodeRowDescription, encodeRowDescription, type RowDescription } from './row-description.ts';

export type BackendMessage =
  | Authentication
  | BackendKeyData
  | ParameterStatus
  | ReadyForQuery
  | RowDescription
  | DataRow
  | CommandComplete
  | EmptyQueryResponse
  | ErrorResponse
  | NoticeResponse
  | NotificationResponse
  | ParameterDescription
  | ParseComplete
  | BindComplete
  | CloseComplete
  | NoData
  | PortalSuspended
  | CopyInResponse
  | CopyOutResponse
  | CopyBothResponse
  | CopyData
  | CopyDone
  | FunctionCallResponse
  | NegotiateProtocolVersion;

/** Decodes one frame's payload (the bytes after the length). */
export function decodeBackendMessage(tag: number, payload: Buffer): BackendMessage {
  switch (tag) {
    case BackendTag.Authentication:
      return decodeAuthentication(payload);
    case BackendTag.BackendKeyData:
      return decodeBackendKeyData(payload);
    case BackendTag.ParameterStatus:
      return decodeParameterStatus(payload);
    case BackendTag.ReadyForQuery:
      return decodeReadyForQuery(payload);
    case BackendTag.RowDescription:
      return decodeRowDescription(payload);
    case BackendTag.DataRow:
      return decodeDataRow(payload);
    case BackendTag.CommandComplete:
      return decodeCommandComplete(payload);
    case BackendTag.EmptyQueryResponse:
      return decodeEmptyQueryResponse(payload);
    case BackendTag.ErrorResponse:
      return decodeErrorResponse(payload);
    case BackendTag.NoticeResponse:
      return decodeNoticeResponse(payload);
    case BackendTag.NotificationResponse:
      return decodeNotificationResponse(payload);
    case BackendTag.ParameterDescription:
      return decodeParameterDescription(payload);
    case BackendTag.ParseComplete:
      return decodeParseComplete(payload);
    case BackendTag.BindComplete:
      return decodeBindComplete(payload);
    case BackendTag.CloseComplete:
      return decodeCloseComplete(payload);
    case BackendTag.NoData:
      return decodeNoData(payload);
    case BackendTag.PortalSuspended:
      return decodePortalSuspended(payload);
    case BackendTag.CopyInResponse:
      return decodeCopyInResponse(payload);
    case BackendTag.CopyOutResponse:
      return decodeCopyOutResponse(payload);
    case BackendTag.CopyBothResponse:
      return decodeCopyBothResponse(payload);
    case BackendTag.CopyData:
      return decodeCopyData(payload);
    case BackendTag.CopyDone:
      return decodeCopyDone(payload);
    case BackendTag.FunctionCallResponse:
      return decodeFunctionCallResponse(payload);
    case BackendTag.NegotiateProtocolVersion:
      return decodeNegotiateProtocolVersion(payload);
    default:
      throw new ProtocolError(`Unknown backend message type 0x${tag.toString(16).padStart(2, '0')}`);
  }
}

/** The whole frame (tag and length included) for any backend message. */
export function encodeBackendMessage(msg: BackendMessage): Buffer {
  switch (msg.type) {
    case 'AuthenticationOk':
    case 'AuthenticationCleartextPassword':
    case 'AuthenticationMD5Password':
    case 'AuthenticationSASL':
    case 'AuthenticationSASLContinue':
    case 'AuthenticationSASLFinal':
    case 'AuthenticationOther':
      return encodeAuthentication(msg);
    case 'BackendKeyData':
      return encodeBackendKeyData(msg);
    case 'ParameterStatus':
      return encodeParameterStatus(msg);
    case 'ReadyForQuery':
      return encodeReadyForQuery(msg);
    case 'RowDescription':
      return encodeRowDescription(msg);
    case 'DataRow':
      return encodeDataRow(msg);
    case 'CommandComplete':
      return encodeCommandComplete(msg);
    case 'EmptyQueryResponse':
      return encodeEmptyQueryResponse(msg);
    case 'ErrorResponse':
      return encodeErrorResponse(msg);
    case 'NoticeResponse':
      return encodeNoticeResponse(msg);
    case 'NotificationResponse':
      return encodeNotificationResponse(msg);
    case 'ParameterDescription':
      return encodeParameterDescription(msg);
    case 'ParseComplete':
      return encodeParseComplete(msg);
    case 'BindComplete':
      return encodeBindComplete(msg);
    case 'CloseComplete':
      return encodeCloseComplete(msg);
    case 'NoData':
      return encodeNoData(msg);
    case 'PortalSuspended':
      return encodePortalSuspended(msg);
    case 'CopyInResponse':
      return encodeCopyInResponse(msg);
    case 'CopyOutResponse':
      return encodeCopyOutResponse(msg);
    case 'CopyBothResponse':
      return encodeCopyBothResponse(msg);
    case 'CopyData':
      return encodeCopyData(msg);
    case 'CopyDone':
      return encodeCopyDone(msg);
    case 'FunctionCallResponse':
      return encodeFunctionCallResponse(msg);
    case 'NegotiateProtocolVersion':
      return encodeNegotiateProtocolVersion(msg);
    default:
      return unknownMessage(msg);
  }
}
