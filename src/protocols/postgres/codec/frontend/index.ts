/**
 * @module protocols/postgres/codec/frontend
 * Messages a client sends, as one union, with one dispatch per direction.
 * The untagged startup-phase messages live in {@link decodeInitialMessage}.
 */
import { ProtocolError } from '../../../../core/errors.ts';
import { type CopyData, decodeCopyData, encodeCopyData } from '../copy-data.ts';
import { type CopyDone, decodeCopyDone, encodeCopyDone } from '../copy-done.ts';
import { unknownMessage } from '../layout.ts';
import { FrontendTag } from '../message-type.ts';
import {
  type AuthenticationResponse,
  decodeAuthenticationResponse,
  encodeAuthenticationResponse,
} from './authentication-response.ts';
import { type Bind, decodeBind, encodeBind } from './bind.ts';
import { type Close, decodeClose, encodeClose } from './close.ts';
import { type CopyFail, decodeCopyFail, encodeCopyFail } from './copy-fail.ts';
import { type Describe, decodeDescribe, encodeDescribe } from './describe.ts';
import { decodeExecute, type Execute, encodeExecute } from './execute.ts';
import { decodeFlush, encodeFlush, type Flush } from './flush.ts';
import { decodeFunctionCall, encodeFunctionCall, type FunctionCall } from './function-call.ts';
import { encodeInitialMessage, type InitialMessage } from './initial-message.ts';
import { decodeParse, encodeParse, type Parse } from './parse.ts';
import { encodePasswordMessage, type PasswordMessage } from './password-message.ts';
import { decodeQuery, encodeQuery, type Query } from './query.ts';
import { encodeSASLInitialResponse, type SASLInitialResponse } from './sasl-initial-response.ts';
import { encodeSASLResponse, type SASLResponse } from './sasl-response.ts';
import { decodeSync, encodeSync, type Sync } from './sync.ts';
import { decodeTerminate, encodeTerminate, type Terminate } from './terminate.ts';

/** Every tagged message a client can send, as {@link decodeFrontendMessage} returns it. */
export type FrontendMessage =
  | Query
  | Parse
  | Bind
  | Describe
  | Execute
  | Close
  | Sync
  | Flush
  | Terminate
  | CopyData
  | CopyDone
  | CopyFail
  | FunctionCall
  | AuthenticationResponse;

/** The typed readings of an {@link AuthenticationResponse}, which the gateway also sends upstream. */
export type AuthenticationResponseMessage = PasswordMessage | SASLInitialResponse | SASLResponse;

/** Everything {@link encodeFrontendMessage} can write, untagged startup-phase messages included. */
export type EncodableFrontendMessage = FrontendMessage | AuthenticationResponseMessage | InitialMessage;

/** Decodes one tagged frame's payload (the bytes after the length). */
export function decodeFrontendMessage(tag: number, payload: Buffer): FrontendMessage {
  switch (tag) {
    case FrontendTag.Query:
      return decodeQuery(payload);
    case FrontendTag.Parse:
      return decodeParse(payload);
    case FrontendTag.Bind:
      return decodeBind(payload);
    case FrontendTag.Describe:
      return decodeDescribe(payload);
    case FrontendTag.Execute:
      return decodeExecute(payload);
    case FrontendTag.Close:
      return decodeClose(payload);
    case FrontendTag.Sync:
      return decodeSync(payload);
    case FrontendTag.Flush:
      return decodeFlush(payload);
    case FrontendTag.Terminate:
      return decodeTerminate(payload);
    case FrontendTag.CopyData:
      return decodeCopyData(payload);
    case FrontendTag.CopyDone:
      return decodeCopyDone(payload);
    case FrontendTag.CopyFail:
      return decodeCopyFail(payload);
    case FrontendTag.FunctionCall:
      return decodeFunctionCall(payload);
    case FrontendTag.AuthenticationResponse:
      return decodeAuthenticationResponse(payload);
    default:
      throw new ProtocolError(`Unknown frontend message type 0x${tag.toString(16).padStart(2, '0')}`);
  }
}

/** The whole frame (tag and length included) for any frontend message. */
export function encodeFrontendMessage(msg: EncodableFrontendMessage): Buffer {
  switch (msg.type) {
    case 'Query':
      return encodeQuery(msg);
    case 'Parse':
      return encodeParse(msg);
    case 'Bind':
      return encodeBind(msg);
    case 'Describe':
      return encodeDescribe(msg);
    case 'Execute':
      return encodeExecute(msg);
    case 'Close':
      return encodeClose(msg);
    case 'Sync':
      return encodeSync(msg);
    case 'Flush':
      return encodeFlush(msg);
    case 'Terminate':
      return encodeTerminate(msg);
    case 'CopyData':
      return encodeCopyData(msg);
    case 'CopyDone':
      return encodeCopyDone(msg);
    case 'CopyFail':
      return encodeCopyFail(msg);
    case 'FunctionCall':
      return encodeFunctionCall(msg);
    case 'AuthenticationResponse':
      return encodeAuthenticationResponse(msg);
    case 'PasswordMessage':
      return encodePasswordMessage(msg);
    case 'SASLInitialResponse':
      return encodeSASLInitialResponse(msg);
    case 'SASLResponse':
      return encodeSASLResponse(msg);
    case 'StartupMessage':
    case 'SSLRequest':
    case 'GSSENCRequest':
    case 'CancelRequest':
      return encodeInitialMessage(msg);
    default:
      return unknownMessage(msg);
  }
}
