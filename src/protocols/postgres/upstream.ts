/**
 * @module protocols/postgres/upstream
 * Logs in to the real PostgreSQL server with the connection's own credential, which the client
 * never sees. TLS is opt-in per connection and, once asked for, never falls back to plaintext.
 * Authentication follows what the server demands, with three refusals that protect the
 * credential from a spoofed or misconfigured target:
 * - a cleartext password is only sent inside TLS;
 * - `requireScram` refuses trust, cleartext and MD5;
 * - a SCRAM exchange must end with the server's proof (see scram-client.ts).
 */
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { GatewayError } from '../../core/errors.ts';
import { md5PasswordResponse } from './auth/md5-password.ts';
import {
  SCRAM_SHA_256,
  type ScramClientFinal,
  scramClientFinal,
  scramClientFirst,
  verifyScramServerFinal,
} from './auth/scram-client.ts';
import type { NoticeFields } from './codec/backend/error-response.ts';
import { decodeBackendMessage } from './codec/backend/index.ts';
import { encodeCancelRequest } from './codec/frontend/cancel-request.ts';
import { encodePasswordMessage } from './codec/frontend/password-message.ts';
import { encodeSASLInitialResponse } from './codec/frontend/sasl-initial-response.ts';
import { encodeSASLResponse } from './codec/frontend/sasl-response.ts';
import { encodeSSLRequest } from './codec/frontend/ssl-request.ts';
import { encodeStartupMessage } from './codec/frontend/startup-message.ts';
import { FrameReader } from './frame-reader.ts';
import { backendLimits, MessageFramer } from './framer.ts';
import type { UpstreamTarget } from './ports.ts';

export type UpstreamFailure =
  | 'unreachable'
  | 'tls'
  | 'auth_rejected'
  | 'auth_method_refused'
  | 'no_password'
  | 'server_error'
  | 'protocol'
  | 'timeout';

/** Why the upstream login failed, in words safe to log (never the password). */
export class UpstreamConnectError extends GatewayError {
  readonly failure: UpstreamFailure;
  /** SQLSTATE the server sent, when it sent one. */
  readonly serverCode: string | undefined;
  constructor(failure: UpstreamFailure, message: string, serverCode?: string, cause?: unknown) {
    super('GW_ERR_UPSTREAM', message, cause === undefined ? undefined : { cause });
    this.failure = failure;
    this.serverCode = serverCode;
  }
}

export interface BackendKey {
  readonly processId: number;
  readonly secretKey: Buffer;
}

export interface UpstreamConnection {
  readonly socket: Socket | TLSSocket;
  /** Holds any bytes the server sent after ReadyForQuery; the relay continues from it. */
  readonly framer: MessageFramer;
  readonly parameters: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  readonly backendKey: BackendKey | undefined;
  readonly transactionStatus: 'I' | 'T' | 'E';
}

export interface UpstreamOptions {
  readonly startupParameters: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly maxMessageBytes: number;
}

const SSL_ACCEPTED = 0x53; // 'S'

function openSocket(target: UpstreamTarget): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: target.host, port: target.port });
    socket.setNoDelay(true);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', (error) =>
      reject(
        new UpstreamConnectError(
          'unreachable',
          `cannot reach ${target.host}:${target.port}: ${error.message}`,
        ),
      ),
    );
  });
}

/** Reads the single-byte answer to SSLRequest; more bytes than that is a plaintext injection (CVE-2021-23222). */
function readSslAnswer(socket: Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      cleanup();
      socket.pause();
      if (chunk.length !== 1)
        reject(new UpstreamConnectError('tls', 'upstream sent unexpected data after SSLRequest'));
      else resolve(chunk[0] ?? 0);
    };
    const onClose = (): void => {
      cleanup();
      reject(new UpstreamConnectError('tls', 'upstream closed the connection during SSL negotiation'));
    };
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

async function negotiateTls(socket: Socket, target: UpstreamTarget): Promise<TLSSocket> {
  socket.write(encodeSSLRequest({ type: 'SSLRequest' }));
  if ((await readSslAnswer(socket)) !== SSL_ACCEPTED) {
    throw new UpstreamConnectError('tls', 'upstream refused TLS; no plaintext fallback');
  }
  const verify = target.tls.mode === 'verify-full';
  const serverName = target.tls.serverName ?? target.host;
  const secure = tlsConnect({
    socket,
    host: serverName,
    ...(isIP(serverName) === 0 ? { servername: serverName } : {}),
    ...(target.tls.ca ? { ca: target.tls.ca } : {}),
    minVersion: 'TLSv1.2',
    rejectUnauthorized: verify,
    // `require` means encryption without identity (libpq's sslmode=require); verify-full checks both.
    ...(verify ? {} : { checkServerIdentity: () => undefined }),
  });
  return new Promise((resolve, reject) => {
    secure.once('secureConnect', () => {
      secure.off('error', onError);
      resolve(secure);
    });
    const onError = (error: Error): void =>
      reject(new UpstreamConnectError('tls', `upstream TLS handshake failed: ${error.message}`));
    secure.once('error', onError);
  });
}

function serverError(fields: NoticeFields, during: string): UpstreamConnectError {
  const code = fields.C;
  const failure: UpstreamFailure = code === '28P01' || code === '28000' ? 'auth_rejected' : 'server_error';
  return new UpstreamConnectError(failure, `upstream refused ${during}: ${fields.M ?? 'no message'}`, code);
}

/** Opens, secures and authenticates one upstream connection, ending at its first ReadyForQuery. */
export async function connectUpstream(
  target: UpstreamTarget,
  options: UpstreamOptions,
): Promise<UpstreamConnection> {
  const plain = await openSocket(target);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    plain.destroy();
  }, options.timeoutMs);
  try {
    const socket = target.tls.mode === 'disable' ? plain : await negotiateTls(plain, target);
    const framer = new MessageFramer(backendLimits({ maxMessageBytes: options.maxMessageBytes }), 'tagged');
    const reader = new FrameReader(socket, framer, 'upstream');
    socket.resume();
    try {
      const established = await login(socket, reader, target, options, target.tls.mode !== 'disable');
      // Paused until the session attaches its relay handlers, so no byte can slip past unframed.
      socket.pause();
      return { socket, framer, ...established };
    } finally {
      reader.detach();
    }
  } catch (error) {
    plain.destroy();
    if (timedOut)
      throw new UpstreamConnectError(
        'timeout',
        `upstream login did not finish within ${options.timeoutMs} ms`,
      );
    if (error instanceof UpstreamConnectError) throw error;
    throw new UpstreamConnectError(
      'protocol',
      `upstream login failed: ${(error as Error).message}`,
      undefined,
      error,
    );
  } finally {
    clearTimeout(timer);
  }
}

async function login(
  socket: Socket,
  reader: FrameReader,
  target: UpstreamTarget,
  options: UpstreamOptions,
  encrypted: boolean,
): Promise<Omit<UpstreamConnection, 'socket' | 'framer'>> {
  socket.write(
    encodeStartupMessage({
      type: 'StartupMessage',
      protocolVersion: 0x0003_0000,
      parameters: { user: target.user, database: target.database, ...options.startupParameters },
    }),
  );
  const parameters: Array<{ name: string; value: string }> = [];
  let backendKey: BackendKey | undefined;
  let scram:
    | { first: ReturnType<typeof scramClientFirst>; final?: ScramClientFinal; verified: boolean }
    | undefined;

  const password = async (method: string): Promise<string> => {
    let value: string | undefined;
    try {
      value = await target.password();
    } catch (error) {
      // resolveSecret's messages name the reference (env var, file), never the value.
      throw new UpstreamConnectError(
        'no_password',
        `cannot read the password for connection "${target.connectionName}": ${(error as Error).message}`,
      );
    }
    if (value === undefined) {
      throw new UpstreamConnectError(
        'no_password',
        `upstream asked for ${method} but connection "${target.connectionName}" has no password`,
      );
    }
    return value;
  };
  const refuse = (method: string, why: string): UpstreamConnectError =>
    new UpstreamConnectError(
      'auth_method_refused',
      `upstream asked for ${method} authentication, refused: ${why}`,
    );

  for (;;) {
    const frame = await reader.next();
    const message = decodeBackendMessage(frame.tag, frame.payload);
    switch (message.type) {
      case 'AuthenticationOk':
        if (target.requireScram && !scram?.verified)
          throw refuse('trust', 'the connection requires scram-sha-256');
        if (scram && !scram.verified) throw refuse('SCRAM', 'the server skipped its proof');
        break;
      case 'AuthenticationCleartextPassword':
        if (target.requireScram) throw refuse('cleartext', 'the connection requires scram-sha-256');
        if (!encrypted)
          throw refuse(
            'cleartext',
            'the password would cross the network unencrypted; enable tls for this connection',
          );
        socket.write(
          encodePasswordMessage({ type: 'PasswordMessage', password: await password('a password') }),
        );
        break;
      case 'AuthenticationMD5Password':
        if (target.requireScram) throw refuse('MD5', 'the connection requires scram-sha-256');
        socket.write(
          encodePasswordMessage({
            type: 'PasswordMessage',
            password: md5PasswordResponse(target.user, await password('an MD5 password'), message.salt),
          }),
        );
        break;
      case 'AuthenticationSASL': {
        if (!message.mechanisms.includes(SCRAM_SHA_256))
          throw refuse(message.mechanisms.join('/'), 'unsupported SASL mechanism');
        await password('SCRAM');
        scram = { first: scramClientFirst(), verified: false };
        socket.write(
          encodeSASLInitialResponse({
            type: 'SASLInitialResponse',
            mechanism: SCRAM_SHA_256,
            data: scram.first.message,
          }),
        );
        break;
      }
      case 'AuthenticationSASLContinue': {
        if (!scram || scram.final)
          throw new UpstreamConnectError('protocol', 'unexpected SASLContinue from upstream');
        scram.final = await scramClientFinal(scram.first, message.data, await password('SCRAM'));
        socket.write(encodeSASLResponse({ type: 'SASLResponse', data: scram.final.message }));
        break;
      }
      case 'AuthenticationSASLFinal':
        if (!scram?.final) throw new UpstreamConnectError('protocol', 'unexpected SASLFinal from upstream');
        try {
          verifyScramServerFinal(scram.final, message.data);
        } catch (error) {
          throw new UpstreamConnectError('auth_rejected', (error as Error).message);
        }
        scram.verified = true;
        break;
      case 'AuthenticationOther':
        throw refuse(`method ${message.code}`, 'unsupported authentication method');
      case 'ErrorResponse':
        throw serverError(message.fields, 'the login');
      case 'NoticeResponse':
      case 'NegotiateProtocolVersion':
        break;
      case 'ParameterStatus':
        parameters.push({ name: message.name, value: message.value });
        break;
      case 'BackendKeyData':
        backendKey = { processId: message.processId, secretKey: Buffer.from(message.secretKey) };
        break;
      case 'ReadyForQuery':
        return { parameters, backendKey, transactionStatus: message.status };
      default:
        throw new UpstreamConnectError('protocol', `unexpected ${message.type} from upstream during login`);
    }
  }
}

/** How long to wait for the server to close a cancel connection, i.e. to have signalled the backend. */
const CANCEL_PROCESSED_TIMEOUT_MS = 2000;

/**
 * Sends a CancelRequest for one upstream backend on a new connection, as the protocol requires.
 * The server never answers; it closes the connection once it has signalled the backend. Resolves
 * only then (or after a short timeout), so a caller that waits for it knows the signal is not
 * still in flight towards the backend's next statement.
 */
export async function sendUpstreamCancel(target: UpstreamTarget, key: BackendKey): Promise<void> {
  const plain = await openSocket(target);
  try {
    const socket = target.tls.mode === 'disable' ? plain : await negotiateTls(plain, target);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CANCEL_PROCESSED_TIMEOUT_MS);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      socket.once('close', done);
      socket.once('end', done);
      socket.once('error', done);
      socket.end(
        encodeCancelRequest({ type: 'CancelRequest', processId: key.processId, secretKey: key.secretKey }),
      );
      socket.resume();
    });
  } finally {
    plain.destroy();
  }
}
