/**
 * @module protocols/postgres/session
 * One client connection, from the first byte to the last. Two phases:
 *
 * 1. Handshake (async, under one deadline): SSLRequest → TLS, GSSENCRequest → 'N',
 *    CancelRequest → cancel registry, StartupMessage → allow-listed parameters,
 *    AuthenticationCleartextPassword inside TLS → credential → Principal → authorize the
 *    connection → log in upstream with the connection's own credential → our own
 *    BackendKeyData → ReadyForQuery.
 * 2. Relay (sync, per chunk): both directions are framed and every client message is decoded
 *    before it is forwarded, so nothing unparsed reaches the server. Unmodified frames are
 *    forwarded as zero-copy runs. Backpressure pauses the reading side.
 *
 * Every refusal is a native ErrorResponse with a SQLSTATE; protocol garbage closes the connection;
 * nothing here throws past the session, so one bad client cannot hurt the process.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import { ClientFacingError, ProtocolError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { OutputBatch } from '../../core/output-batch.ts';
import type { Principal } from '../../identity/principal.ts';
import type { IssuedKey } from './cancel.ts';
import { decodeCommandComplete } from './codec/backend/command-complete.ts';
import { decodeCopyOutResponse } from './codec/backend/copy-out-response.ts';
import { decodeDataRow, encodeDataRow } from './codec/backend/data-row.ts';
import {
  decodeErrorResponse,
  encodeErrorResponse,
  type NoticeFields,
} from './codec/backend/error-response.ts';
import {
  decodeFunctionCallResponse,
  encodeFunctionCallResponse,
} from './codec/backend/function-call-response.ts';
import { encodeBackendMessage } from './codec/backend/index.ts';
import { decodeNoticeResponse, encodeNoticeResponse } from './codec/backend/notice-response.ts';
import {
  decodeNotificationResponse,
  encodeNotificationResponse,
} from './codec/backend/notification-response.ts';
import { decodeParameterStatus } from './codec/backend/parameter-status.ts';
import { decodeReadyForQuery } from './codec/backend/ready-for-query.ts';
import { decodeRowDescription } from './codec/backend/row-description.ts';
import type { FrontendMessage } from './codec/frontend/index.ts';
import { decodeFrontendMessage, encodeFrontendMessage } from './codec/frontend/index.ts';
import {
  decodeInitialMessage,
  type InitialMessage,
  UnsupportedProtocolError,
} from './codec/frontend/initial-message.ts';
import { decodePasswordMessage } from './codec/frontend/password-message.ts';
import type { StartupMessage } from './codec/frontend/startup-message.ts';
import { BackendTag, FrontendTag } from './codec/message-type.ts';
import { FrameReader } from './frame-reader.ts';
import { frontendLimits, MessageFramer } from './framer.ts';
import type {
  FinalVerdict,
  PostgresSessionPorts,
  ResultLimits,
  ResultMasker,
  SessionLimits,
  SessionTimeouts,
  StatementGate,
  StatementHold,
  UpstreamTarget,
} from './ports.ts';
import { ReadyTracker } from './ready-tracker.ts';
import { type ColumnShape, ResultShapeTracker } from './result-shapes.ts';
import { parseStartupParameters, type StartupRequest } from './startup-parameters.ts';
import { toErrorResponse, toNoticeResponse } from './to-error-response.ts';
import {
  connectUpstream,
  sendUpstreamCancel,
  UpstreamConnectError,
  type UpstreamConnection,
} from './upstream.ts';

const PROTOCOL = 'postgres';
/** Refused statements awaiting their server error; more than this unsynced is not a real client. */
const MAX_PENDING_REFUSALS = 10_000;
/** Settings the gateway's parser depends on (SECURITY.md §2): the session ends if they change. */
const PINNED_PARAMETERS: Readonly<Record<string, string>> = {
  standard_conforming_strings: 'on',
  client_encoding: 'UTF8',
};
const SSL_YES = Buffer.from('S');
const SSL_NO = Buffer.from('N');

export interface PostgresSessionOptions {
  /** `off` only on loopback listeners (config enforces it). */
  readonly tls: 'required' | 'off';
  readonly secureContext: SecureContext | undefined;
  readonly timeouts: SessionTimeouts;
  readonly limits: SessionLimits;
}

/** The same words for every credential failure, so a caller cannot tell which check failed. */
const AUTH_FAILED = new ClientFacingError('28P01', 'sluice: password authentication failed', {
  hint: 'Use a Sluice API key (slk_…) or an OIDC token from a configured issuer as the password, over TLS (sslmode=require).',
});

function upstreamError(target: UpstreamTarget, error: UpstreamConnectError): ClientFacingError {
  const connection = `connection "${target.connectionName}"`;
  const detail = error.serverCode
    ? { detail: `The database server answered with SQLSTATE ${error.serverCode}.` }
    : {};
  switch (error.failure) {
    case 'auth_rejected':
    case 'auth_method_refused':
    case 'no_password':
      return new ClientFacingError(
        '08001',
        `sluice: the database behind ${connection} refused the gateway's login`,
        {
          hint: "An operator should check the connection's credentials and auth settings in the gateway configuration.",
          ...detail,
        },
      );
    case 'tls':
      return new ClientFacingError('08001', `sluice: TLS to the database behind ${connection} failed`, {
        hint: "An operator should check the connection's tls settings and the server certificate.",
      });
    case 'unreachable':
    case 'timeout':
      return new ClientFacingError('08001', `sluice: cannot reach the database behind ${connection}`, {
        hint: 'Try again; if it persists, an operator should check that the database is up.',
      });
    case 'server_error':
    case 'protocol':
      return new ClientFacingError(
        '08001',
        `sluice: the database behind ${connection} refused the connection`,
        detail,
      );
  }
}

/** How the listener learns that a session left the unauthenticated state, or ended. */
export interface SessionLifecycle {
  authenticated(session: PostgresSession): void;
  /** `authenticated` tells whether `authenticated()` was reported for this session. */
  closed(session: PostgresSession, authenticated: boolean): void;
}

export class PostgresSession {
  readonly id = randomUUID();
  readonly #raw: Socket;
  #client: Socket | TLSSocket;
  readonly #ports: PostgresSessionPorts;
  readonly #options: PostgresSessionOptions;
  readonly #framer: MessageFramer;
  readonly #log: Logger;
  readonly #lifecycle: SessionLifecycle;
  readonly #openedAt = Date.now();

  #phase: 'handshake' | 'relay' | 'closed' = 'handshake';
  /** True once the client speaks framed protocol, so errors can be sent as ErrorResponse. */
  #clientFramed = false;
  #handshakeTimer: NodeJS.Timeout | undefined;
  #upstream: UpstreamConnection | undefined;
  #target: UpstreamTarget | undefined;
  #issuedKey: IssuedKey | undefined;
  #principal: Principal | undefined;
  #gate: StatementGate | undefined;
  #limits: ResultLimits | undefined;
  #masker: ResultMasker | undefined;
  /** Column types and formats of the rows streaming back; only kept when masking. */
  #shapes: ResultShapeTracker | undefined;
  #grant: string | undefined;
  /**
   * A Query or Execute waiting for a human decision (review): it and every client message after
   * it stay unsent until the decision, so the connection simply waits.
   */
  #held: { readonly hold: StatementHold } | undefined;

  /**
   * A refused statement is replaced, in place, by one the server rejects with a syntax error
   * naming a per-session token; that error comes back in order and is swapped for the refusal.
   * So the server itself does everything an error implies (skip to Sync, abort the transaction,
   * one ReadyForQuery), and the refused SQL never reaches it.
   */
  readonly #refusalToken = `sluice_blocked_${randomBytes(8).toString('hex')}_`;
  #refusalSeq = 0;
  readonly #pendingRefusals = new Map<string, ClientFacingError>();

  /** Result rows and bytes relayed (for the limits), and the statement's own row count. */
  #statementRows = 0;
  #sessionRows = 0;
  #sessionBytes = 0;
  /**
   * Set when a limit was hit: rows are dropped, the statement is cancelled, its ending is
   * replaced by this error, and client messages wait until the server is ready again.
   */
  #limitStop: { error: ClientFacingError; reported: boolean; cancelDone: boolean } | undefined;

  /** ReadyForQuery messages the server still owes; zero means the connection is idle. */
  readonly #ready = new ReadyTracker();
  #transactionStatus: 'I' | 'T' | 'E' = 'I';
  #lastActivity = Date.now();
  /** When a partial client message started waiting for its remaining bytes (0 when none). */
  #partialSince = 0;
  #upstreamSentFatal = false;
  readonly #toUpstream = new OutputBatch();
  readonly #toClient = new OutputBatch();
  #clientPaused = false;
  #upstreamPaused = false;
  #bytesFromClient = 0;
  #bytesToClient = 0;
  #statements = 0;
  /** The statement whose result is streaming back: when it was sent, rows and bytes so far. */
  #resultStartedAt = 0;
  #resultRows = 0;
  #resultBytes = 0;
  /** The current result's column names and first rows, for the recording (masked, as sent). */
  #previewColumns: string[] = [];
  #previewRows: (string | null)[][] = [];
  /** Rows of each result the gate wants recorded (0: none); read once, it is checked per row. */
  #previewLimit = 0;
  /** What has been reported to metrics so far; the sweep reports the difference. */
  #reported = { bytesFromClient: 0, bytesToClient: 0, statements: 0 };

  constructor(
    socket: Socket,
    ports: PostgresSessionPorts,
    options: PostgresSessionOptions,
    lifecycle: SessionLifecycle,
  ) {
    this.#raw = socket;
    this.#client = socket;
    this.#ports = ports;
    this.#options = options;
    this.#lifecycle = lifecycle;
    this.#framer = new MessageFramer(frontendLimits(options.limits), 'untagged');
    this.#log = ports.logger.child({
      session: this.id,
      remote: `${socket.remoteAddress}:${socket.remotePort}`,
    });
    socket.setNoDelay(true);
  }

  start(): void {
    this.#ports.metrics.connectionOpened(PROTOCOL);
    this.#raw.on('error', (error) => this.#log.debug({ err: error.message }, 'client socket error'));
    this.#raw.once('close', () => this.#close('client closed'));
    this.#handshakeTimer = setTimeout(() => this.#handshakeTimedOut(), this.#options.timeouts.authMs);
    this.#handshake().catch((error: unknown) => this.#fail(error));
  }

  /** Called about once a second by the listener: idle, idle-in-transaction and assembly deadlines. */
  checkDeadlines(now: number): void {
    if (this.#phase !== 'relay') return;
    this.#reportCounters();
    // A held statement waits for its own (approval) deadline, not the idle ones.
    if (this.#held) return;
    const { idleMs, idleInTransactionMs, messageAssemblyMs } = this.#options.timeouts;
    if (this.#partialSince !== 0 && now - this.#partialSince > messageAssemblyMs) {
      this.#terminate(
        new ClientFacingError('08P01', 'sluice: an incomplete message was not completed in time'),
        'assembly timeout',
      );
      return;
    }
    if (this.#ready.outstanding > 0) return;
    const idleFor = now - this.#lastActivity;
    if (this.#transactionStatus === 'I') {
      if (idleMs > 0 && idleFor > idleMs) {
        this.#terminate(
          new ClientFacingError('57P05', 'sluice: terminating connection due to idle-session timeout'),
          'idle timeout',
        );
      }
    } else if (idleInTransactionMs > 0 && idleFor > idleInTransactionMs) {
      // Closing the upstream connection rolls the transaction back and releases its locks.
      this.#terminate(
        new ClientFacingError('25P03', 'sluice: terminating connection due to idle-in-transaction timeout'),
        'idle in transaction timeout',
      );
    }
  }

  /** Who this session belongs to, once authenticated (the revalidation sweep reads it). */
  get principal(): Principal | undefined {
    return this.#principal;
  }

  /** The access grant the session was opened under, if any (it ends with the grant). */
  get grant(): string | undefined {
    return this.#grant;
  }

  /** Ends the session with a FATAL error (shutdown, credential expiry, deadlines). */
  terminate(error: ClientFacingError): void {
    this.#terminate(error, 'terminated by gateway');
  }

  #reportCounters(): void {
    const { metrics } = this.#ports;
    const reported = this.#reported;
    metrics.bytes(PROTOCOL, 'client_to_upstream', this.#bytesFromClient - reported.bytesFromClient);
    metrics.bytes(PROTOCOL, 'upstream_to_client', this.#bytesToClient - reported.bytesToClient);
    metrics.statements(PROTOCOL, this.#statements - reported.statements);
    this.#reported = {
      bytesFromClient: this.#bytesFromClient,
      bytesToClient: this.#bytesToClient,
      statements: this.#statements,
    };
  }

  // ---- handshake -------------------------------------------------------------------------------

  async #handshake(): Promise<void> {
    let reader = new FrameReader(this.#client, this.#framer, 'client');
    for (;;) {
      const frame = await reader.next();
      const message = this.#decodeInitial(frame.payload);
      switch (message.type) {
        case 'SSLRequest':
          if (this.#client !== this.#raw)
            throw new ProtocolError('SSLRequest inside an established TLS session');
          if (!this.#options.secureContext) {
            this.#client.write(SSL_NO);
            break;
          }
          // Bytes after the SSLRequest were sent in plaintext before the handshake: an injection
          // attempt (CVE-2021-23214 class). They must never be read as protocol.
          if (this.#framer.pendingBytes > 0)
            throw new ProtocolError('received unencrypted data after SSL request');
          reader.detach();
          this.#client = await this.#startTls(this.#options.secureContext);
          reader = new FrameReader(this.#client, this.#framer, 'client');
          break;
        case 'GSSENCRequest':
          if (this.#client !== this.#raw) throw new ProtocolError('GSSENCRequest inside TLS');
          this.#client.write(SSL_NO);
          break;
        case 'CancelRequest': {
          reader.detach();
          const outcome = await this.#ports.cancels.handle(
            message.processId,
            message.secretKey,
            this.#raw.remoteAddress ?? '',
          );
          this.#log.debug({ outcome }, 'cancel request');
          this.#client.end();
          return;
        }
        case 'StartupMessage':
          await this.#startup(message, reader);
          return;
      }
    }
  }

  #decodeInitial(payload: Buffer): InitialMessage {
    try {
      return decodeInitialMessage(payload);
    } catch (error) {
      if (!(error instanceof UnsupportedProtocolError)) throw error;
      // The client speaks framed protocol from here on, so it can read a FATAL, as from PostgreSQL.
      this.#clientFramed = true;
      throw new ClientFacingError(
        '0A000',
        `sluice: unsupported frontend protocol ${error.major}.${error.minor}: the gateway supports 3.0`,
      );
    }
  }

  #startTls(secureContext: SecureContext): Promise<TLSSocket> {
    this.#raw.write(SSL_YES);
    const secure = new TLSSocket(this.#raw, { isServer: true, secureContext, ALPNProtocols: ['postgresql'] });
    secure.on('error', (error) => this.#log.debug({ err: error.message }, 'client TLS error'));
    return new Promise((resolve, reject) => {
      secure.once('secure', () => resolve(secure));
      secure.once('close', () => reject(new ProtocolError('client closed during the TLS handshake')));
    });
  }

  async #startup(message: StartupMessage, reader: FrameReader): Promise<void> {
    const minor = message.protocolVersion & 0xffff;
    this.#clientFramed = true;
    if (this.#options.tls === 'required' && this.#client === this.#raw) {
      this.#ports.metrics.authFailure(PROTOCOL, 'tls_required');
      throw new ClientFacingError('28000', 'sluice: TLS required', {
        hint: 'Connect with sslmode=require (or verify-full with the gateway CA).',
      });
    }
    const request = parseStartupParameters(message.parameters);
    if (request instanceof ClientFacingError) {
      this.#ports.metrics.authFailure(PROTOCOL, 'startup');
      throw request;
    }
    this.#framer.mode = 'tagged';
    if (minor > 0 || request.unsupportedProtocolOptions.length > 0) {
      this.#client.write(
        encodeBackendMessage({
          type: 'NegotiateProtocolVersion',
          newestMinorVersion: 0,
          unrecognizedOptions: [...request.unsupportedProtocolOptions],
        }),
      );
    }
    this.#client.write(encodeBackendMessage({ type: 'AuthenticationCleartextPassword' }));
    const frame = await reader.next();
    if (frame.tag !== FrontendTag.AuthenticationResponse)
      throw new ProtocolError('expected a password message');
    const { password } = decodePasswordMessage(frame.payload);
    const principal = await this.#ports.authenticator.authenticate(password);
    if (!principal) {
      this.#ports.metrics.authFailure(PROTOCOL, 'credential');
      this.#log.info(
        { user: request.userLabel, connection: request.connectionName },
        'authentication failed',
      );
      // Held back at most until shortly before the handshake deadline, so the caller still gets
      // the uniform 28P01 rather than a timeout that would tell throttled from plain failures.
      const remaining = this.#options.timeouts.authMs - (Date.now() - this.#openedAt) - 250;
      const holdBack = Math.min(
        this.#ports.authFailures.failed(this.#raw.remoteAddress ?? '', password),
        remaining,
      );
      if (holdBack > 0) await new Promise((resolve) => setTimeout(resolve, holdBack));
      throw AUTH_FAILED;
    }
    this.#ports.authFailures.succeeded(password);
    this.#principal = principal;
    const tls = this.#client instanceof TLSSocket ? this.#client : undefined;
    const decision = await this.#ports.authorize(principal, request.connectionName, {
      id: this.id,
      sourceAddress: this.#raw.remoteAddress ?? '',
      tls: tls && { protocol: tls.getProtocol() ?? '', cipher: tls.getCipher()?.name ?? '' },
    });
    if (!decision.allowed) {
      this.#ports.metrics.authFailure(PROTOCOL, 'not_authorized');
      this.#log.info(
        { principal: principal.id, connection: request.connectionName, sqlstate: decision.error.sqlstate },
        'connection refused',
      );
      throw decision.error;
    }
    this.#target = decision.target;
    this.#gate = decision.gate;
    this.#grant = decision.grant;
    this.#previewLimit = decision.gate.previewRows;
    this.#limits = decision.gate.limits;
    this.#masker = decision.gate.masker;
    if (this.#masker) this.#shapes = new ResultShapeTracker();
    await this.#openUpstream(request, decision.target);
    if (this.#phase !== 'handshake') {
      // The deadline fired (or the client left) while the upstream login was in flight.
      this.#upstream?.socket.destroy();
      return;
    }
    reader.detach();
    this.#log.info(
      {
        principal: principal.id,
        name: principal.name,
        connection: decision.target.connectionName,
        policy: decision.policy,
      },
      'session opened',
    );
    this.#startRelay();
  }

  async #openUpstream(request: StartupRequest, target: UpstreamTarget): Promise<void> {
    try {
      this.#upstream = await connectUpstream(target, {
        startupParameters: request.upstreamParameters,
        timeoutMs: this.#options.timeouts.authMs,
        maxMessageBytes: this.#options.limits.maxMessageBytes,
      });
      this.#ports.upstreamHealth?.connected(target.connectionName);
    } catch (error) {
      if (!(error instanceof UpstreamConnectError)) throw error;
      this.#ports.metrics.error(PROTOCOL, 'upstream_connect');
      this.#ports.upstreamHealth?.failed(target.connectionName, error.failure);
      this.#log.warn(
        { connection: target.connectionName, failure: error.failure, err: error.message },
        'upstream login failed',
      );
      throw upstreamError(target, error);
    }
  }

  // ---- relay -----------------------------------------------------------------------------------

  #startRelay(): void {
    const upstream = this.#upstream;
    if (!upstream || this.#phase !== 'handshake') return;
    clearTimeout(this.#handshakeTimer);
    this.#phase = 'relay';
    this.#lifecycle.authenticated(this);
    this.#gate?.opened();
    const greeting = new OutputBatch();
    greeting.add(encodeBackendMessage({ type: 'AuthenticationOk' }));
    for (const { name, value } of upstream.parameters) {
      const unpinned = unpinnedSetting(name, value);
      if (unpinned) {
        this.#fail(unpinned);
        return;
      }
      greeting.add(encodeBackendMessage({ type: 'ParameterStatus', name, value }));
    }
    const upstreamKey = upstream.backendKey;
    // No upstream key means the server cannot be cancelled; then we send none either, as
    // PostgreSQL's own poolers do, rather than a key that would silently do nothing.
    if (upstreamKey && this.#target) {
      const target = this.#target;
      this.#issuedKey = this.#ports.cancels.issue({
        cancelUpstream: async () => {
          // A held statement is not running upstream: cancelling withdraws it from review.
          if (this.#held) this.#held.hold.withdraw('cancel');
          else await sendUpstreamCancel(target, upstreamKey);
        },
      });
      greeting.add(encodeBackendMessage({ type: 'BackendKeyData', ...this.#issuedKey }));
    }
    greeting.add(encodeBackendMessage({ type: 'ReadyForQuery', status: upstream.transactionStatus }));
    this.#transactionStatus = upstream.transactionStatus;
    greeting.writeTo(this.#client);

    this.#client.on('data', this.#onClientData);
    this.#client.on('drain', this.#resumeUpstream);
    upstream.socket.on('data', this.#onUpstreamData);
    upstream.socket.on('drain', this.#resumeClient);
    upstream.socket.on('error', (error) => this.#log.debug({ err: error.message }, 'upstream socket error'));
    upstream.socket.once('close', () => this.#upstreamClosed());
    upstream.socket.resume();
    // Anything the client pipelined behind its password is already framed and waiting.
    try {
      this.#forwardClientFrames();
      this.#forwardUpstreamFrames();
    } catch (error) {
      this.#fail(error);
    }
  }

  #onClientData = (chunk: Buffer): void => {
    this.#lastActivity = Date.now();
    this.#bytesFromClient += chunk.length;
    // try/catch inline rather than a callback: no closure allocated per chunk on the hot path.
    try {
      this.#framer.push(chunk);
      this.#forwardClientFrames();
    } catch (error) {
      this.#fail(error);
    }
  };

  #forwardClientFrames(): void {
    const upstream = this.#upstream;
    const gate = this.#gate;
    if (!upstream || !gate) return;
    if (this.#limitStop || this.#held) {
      // While a limit stop drains, the next messages wait: a late cancel must not hit them.
      // While a statement is held, nothing after it may overtake it.
      this.#pauseClient();
      return;
    }
    for (let frame = this.#framer.next(); frame; frame = this.#framer.next()) {
      // Decoding validates every message before the server sees it (fail closed on garbage).
      const message = decodeFrontendMessage(frame.tag, frame.payload);
      if (this.#shapes) trackClientShape(this.#shapes, message);
      switch (message.type) {
        case 'Query': {
          this.#ready.query();
          this.#statementSent();
          const verdict = gate.query(message.query);
          if (verdict.allowed === 'held') {
            this.#hold(verdict.hold, frame.bytes, 'query');
            return;
          }
          this.#shapes?.query(verdict.allowed ? verdict.plans : undefined);
          if (!verdict.allowed) {
            this.#toUpstream.add(this.#standIn('query', verdict.error));
            continue;
          }
          break;
        }
        case 'Execute': {
          this.#ready.extended();
          this.#statementSent();
          const verdict = gate.execute(message.portal);
          if (verdict.allowed === 'held') {
            this.#hold(verdict.hold, frame.bytes, 'execute');
            return;
          }
          break;
        }
        case 'Bind':
          gate.bind(message.portal, message.statement, message.parameters, message.parameterFormats);
          this.#ready.extended();
          break;
        case 'Close':
          if (message.kind === 'S') gate.closeStatement(message.name);
          this.#ready.extended();
          break;
        case 'Describe':
        case 'Flush':
          this.#ready.extended();
          break;
        case 'CopyDone':
        case 'CopyFail':
          this.#ready.copyEnd();
          break;
        case 'Parse':
          // The framer's Parse cap leaves room for 65,535 parameter type OIDs, so the SQL text
          // itself is held to the same limit as a simple Query here.
          if (
            frame.bytes.length > this.#options.limits.maxQueryBytes &&
            Buffer.byteLength(message.query) > this.#options.limits.maxQueryBytes
          ) {
            throw new ProtocolError(
              'Parse query text exceeds the configured maximum',
              'GW_ERR_MESSAGE_TOO_LARGE',
            );
          }
          this.#ready.extended();
          if (!this.#parseAllowed(message.name, message.query, gate)) continue;
          break;
        case 'Sync':
          this.#ready.sync();
          break;
        case 'FunctionCall': {
          this.#ready.functionCall();
          this.#statementSent();
          const verdict = gate.functionCall();
          if (!verdict.allowed) {
            // A failed FunctionCall and a failed Query get the same replies: ErrorResponse, then
            // ReadyForQuery (or nothing, inside a failed extended batch).
            this.#toUpstream.add(this.#standIn('query', verdict.error));
            continue;
          }
          break;
        }
        case 'Terminate':
          this.#toUpstream.addRange(frame.source, frame.start, frame.end);
          this.#toUpstream.writeTo(upstream.socket);
          this.#close('client terminated');
          return;
        case 'AuthenticationResponse':
          throw new ProtocolError('unexpected authentication message after login');
        default:
          break;
      }
      this.#toUpstream.addRange(frame.source, frame.start, frame.end);
    }
    this.#partialSince = this.#framer.pendingBytes > 0 ? this.#partialSince || Date.now() : 0;
    if (!this.#toUpstream.writeTo(upstream.socket)) this.#pauseClient();
  }

  /**
   * Holds a Query or Execute for review: everything before it goes upstream now, the client is
   * told why it waits, and reading stops until the outcome.
   */
  #hold(hold: StatementHold, bytes: Buffer, kind: 'query' | 'execute'): void {
    const upstream = this.#upstream;
    if (!upstream) return;
    // The frame is a view of the framer's buffer, which later reads may reuse.
    const message = Buffer.from(bytes);
    this.#held = { hold };
    this.#toUpstream.writeTo(upstream.socket);
    this.#pauseClient();
    if (hold.notice) this.#toClient.add(toNoticeResponse(hold.notice));
    this.#toClient.writeTo(this.#client);
    this.#log.info({ kind }, 'statement held');
    void hold.outcome.then((verdict) => this.#released(verdict, message, kind));
  }

  /** The review's outcome: the held message goes upstream as sent, or a stand-in refuses it. */
  #released(verdict: FinalVerdict, message: Buffer, kind: 'query' | 'execute'): void {
    this.#held = undefined;
    if (this.#phase !== 'relay') return;
    if (kind === 'query') this.#shapes?.query(verdict.allowed ? verdict.plans : undefined);
    this.#toUpstream.add(verdict.allowed ? message : this.#standIn(kind, verdict.error));
    this.#log.info(
      { kind, outcome: verdict.allowed ? 'approved' : verdict.error.sqlstate },
      'statement released',
    );
    this.#resumeClient();
    try {
      this.#forwardClientFrames();
    } catch (error) {
      this.#fail(error);
    }
  }

  /**
   * A message the server fails in place of a refused one (see #refusal). A failed Execute is
   * replaced by a failing Parse of a throwaway name: the server answers both with one error and
   * skips to Sync, and a named Parse that fails leaves nothing behind.
   */
  #standIn(kind: 'query' | 'execute', error: ClientFacingError): Buffer {
    const token = this.#refusal(error);
    return kind === 'query'
      ? encodeFrontendMessage({ type: 'Query', query: token })
      : encodeFrontendMessage({ type: 'Parse', name: token, query: token, parameterTypes: [] });
  }

  /** Keeps the row (as the client gets it) while the recording wants more of this result. */
  #keepPreview(tag: number, payload: Buffer): void {
    if (this.#previewRows.length >= this.#previewLimit) return;
    if (tag === BackendTag.DataRow) {
      this.#previewRows.push(decodeDataRow(payload).values.map(previewValue));
    } else {
      this.#previewRows.push([previewValue(payload)]);
    }
  }

  /** A statement message is on its way: its duration counts from here (or from the previous result's end). */
  #statementSent(): void {
    this.#statements++;
    if (this.#ready.outstanding <= 1) this.#resultStartedAt = Date.now();
  }

  /** A statement's result ended: tell the gate (audit) what the client saw. */
  #statementEnded(sqlstate: string | undefined): void {
    const now = Date.now();
    const keep = this.#previewLimit;
    // Also after an error or a limit stop: what was masked until then belongs to this statement.
    const masks = this.#masker?.resultEnded();
    this.#gate?.completed({
      rows: this.#resultRows,
      bytes: this.#resultBytes,
      sqlstate,
      durationMs: this.#resultStartedAt === 0 ? 0 : now - this.#resultStartedAt,
      preview:
        keep > 0 && (this.#previewRows.length > 0 || this.#previewColumns.length > 0)
          ? { columns: this.#previewColumns, rows: this.#previewRows, truncated: this.#resultRows > keep }
          : undefined,
      masks,
    });
    this.#resultRows = 0;
    this.#resultBytes = 0;
    this.#resultStartedAt = now;
    this.#previewColumns = [];
    this.#previewRows = [];
  }

  /** A refused Parse is replaced by a stand-in under the same name (see #refusal). */
  #parseAllowed(name: string, sql: string, gate: StatementGate): boolean {
    const verdict = gate.parse(name, sql);
    this.#shapes?.parse(name, verdict.allowed ? verdict.plans?.[0] : undefined);
    if (verdict.allowed) return true;
    const query = this.#refusal(verdict.error);
    this.#toUpstream.add(encodeFrontendMessage({ type: 'Parse', name, query, parameterTypes: [] }));
    return false;
  }

  #pauseClient(): void {
    if (this.#clientPaused) return;
    this.#clientPaused = true;
    this.#client.pause();
  }

  /** Registers a refusal and returns the SQL that makes the server fail in its place. */
  #refusal(error: ClientFacingError): string {
    if (this.#pendingRefusals.size >= MAX_PENDING_REFUSALS) {
      throw new ProtocolError('too many refused statements without a Sync');
    }
    const token = `${this.#refusalToken}${++this.#refusalSeq}`;
    this.#pendingRefusals.set(token, error);
    return token;
  }

  /** The refusal whose stand-in statement caused this server error, if any. */
  #takeRefusal(fields: NoticeFields): ClientFacingError | undefined {
    const message = fields.M ?? '';
    const at = message.indexOf(this.#refusalToken);
    if (at < 0) return undefined;
    const token = /^sluice_blocked_[0-9a-f]+_\d+/.exec(message.slice(at))?.[0] ?? '';
    const error = this.#pendingRefusals.get(token);
    this.#pendingRefusals.delete(token);
    return error;
  }

  #onUpstreamData = (chunk: Buffer): void => {
    this.#bytesToClient += chunk.length;
    try {
      this.#upstream?.framer.push(chunk);
      this.#forwardUpstreamFrames();
    } catch (error) {
      this.#fail(error);
    }
  };

  #forwardUpstreamFrames(): void {
    const upstream = this.#upstream;
    if (!upstream) return;
    for (let frame = upstream.framer.next(); frame; frame = upstream.framer.next()) {
      switch (frame.tag) {
        case BackendTag.ReadyForQuery:
          this.#transactionStatus = decodeReadyForQuery(frame.payload).status;
          this.#ready.readyForQuery();
          this.#lastActivity = Date.now();
          this.#statementRows = 0;
          // Stand-ins the server skipped (inside a failed batch) will never come back.
          if (this.#ready.outstanding === 0) this.#pendingRefusals.clear();
          this.#shapes?.readyForQuery();
          if (this.#limitStop) this.#limitStopReady();
          break;
        case BackendTag.DataRow:
        case BackendTag.CopyData:
          if (this.#limitStop) continue;
          if (this.#limits !== undefined && !this.#admitRow(frame.end - frame.start)) continue;
          this.#resultRows++;
          this.#resultBytes += frame.end - frame.start;
          if (this.#masker) {
            const masked =
              frame.tag === BackendTag.DataRow
                ? this.#maskDataRow(frame.payload, this.#masker)
                : this.#maskCopyData(frame.payload, this.#masker);
            if (masked) {
              this.#keepPreview(frame.tag, masked.subarray(5));
              this.#toClient.add(masked);
              continue;
            }
          }
          this.#keepPreview(frame.tag, frame.payload);
          break;
        case BackendTag.CommandComplete:
        case BackendTag.EmptyQueryResponse:
        case BackendTag.PortalSuspended:
          this.#shapes?.resultEnded();
          if (this.#limitStop) {
            this.#reportLimit();
            this.#statementEnded(this.#limitStop.error.sqlstate);
            continue;
          }
          this.#statementEnded(undefined);
          if (frame.tag === BackendTag.CommandComplete) this.#reportAffected(frame.payload);
          if (frame.tag !== BackendTag.PortalSuspended) this.#statementRows = 0;
          break;
        case BackendTag.ParameterStatus: {
          const { name, value } = decodeParameterStatus(frame.payload);
          const unpinned = unpinnedSetting(name, value);
          if (unpinned) throw unpinned;
          break;
        }
        case BackendTag.BackendKeyData:
          // Only ever valid during login; forwarding one would reveal the upstream's cancel key.
          this.#log.warn('upstream sent BackendKeyData after login; dropped');
          continue;
        case BackendTag.ErrorResponse: {
          const { fields } = decodeErrorResponse(frame.payload);
          this.#upstreamSentFatal ||= isFatal(fields);
          const withheld = this.#shapes?.currentPlan()?.withholdErrors === true;
          this.#ready.error();
          this.#statementRows = 0;
          if (this.#limitStop && !this.#upstreamSentFatal) {
            this.#reportLimit();
            this.#statementEnded(this.#limitStop.error.sqlstate);
            continue;
          }
          this.#shapes?.error();
          const refusal = this.#pendingRefusals.size > 0 ? this.#takeRefusal(fields) : undefined;
          this.#statementEnded(refusal?.sqlstate ?? fields.C ?? 'XX000');
          if (refusal) {
            this.#toClient.add(toErrorResponse(refusal, 'ERROR'));
            continue;
          }
          const masked = withheld ? withholdFields(fields) : this.#masker && maskFields(fields, this.#masker);
          if (masked) {
            this.#toClient.add(encodeErrorResponse({ type: 'ErrorResponse', fields: masked }));
            continue;
          }
          break;
        }
        case BackendTag.RowDescription:
          if (this.#shapes || this.#previewLimit > 0) {
            const { fields } = decodeRowDescription(frame.payload);
            this.#shapes?.rowDescription(fields);
            this.#previewColumns = fields.map((field) => field.name);
          }
          break;
        case BackendTag.NoData:
          this.#shapes?.noData();
          break;
        case BackendTag.NoticeResponse:
        case BackendTag.NotificationResponse:
        case BackendTag.FunctionCallResponse:
        case BackendTag.CopyOutResponse:
        case BackendTag.CopyBothResponse:
          if (this.#masker) {
            const replaced = this.#maskMessage(frame.tag, frame.payload, this.#masker);
            if (replaced === 'drop') continue;
            if (replaced) {
              this.#toClient.add(replaced);
              continue;
            }
          }
          if (this.#limitStop) continue;
          break;
        case BackendTag.CopyInResponse:
          this.#ready.copyInStarted();
          if (this.#limitStop) continue;
          break;
        default:
          // While a limit stop drains, the rest of the cancelled batch is not the caller's to see.
          if (this.#limitStop) continue;
          break;
      }
      this.#toClient.addRange(frame.source, frame.start, frame.end);
    }
    if (!this.#toClient.writeTo(this.#client) && !this.#upstreamPaused) {
      this.#upstreamPaused = true;
      upstream.socket.pause();
    }
  }

  // ---- masking (DLP) ----------------------------------------------------------------------------

  /**
   * A DataRow with every value the masker changed replaced; undefined when nothing changed. The
   * values are walked in place (no per-value objects): this runs for every row of every result.
   */
  #maskDataRow(payload: Buffer, masker: ResultMasker): Buffer | undefined {
    const count = payload.length >= 2 ? payload.readUInt16BE(0) : -1;
    if (count < 0) throw new ProtocolError('malformed DataRow from the server');
    const shape = this.#shapes?.rowShape();
    if (shape && shape.length !== count) {
      // A row that does not match its description cannot be masked column by column (corpus 152).
      throw new ProtocolError(
        `the server sent a DataRow of ${count} columns for a result of ${shape.length}`,
      );
    }
    const formats = shape === undefined ? this.#shapes?.rowFormats()?.formats : undefined;
    const rules = this.#shapes?.rowRules(count);
    let replaced: Map<number, Buffer | null> | undefined;
    let offset = 2;
    for (let i = 0; i < count; i++) {
      if (offset + 4 > payload.length) throw new ProtocolError('malformed DataRow from the server');
      const length = payload.readInt32BE(offset);
      offset += 4;
      if (length === -1) continue;
      if (length < 0 || offset + length > payload.length)
        throw new ProtocolError('malformed DataRow from the server');
      const masked = masker.value(
        payload,
        offset,
        offset + length,
        shape?.[i] ?? unknownShape(formats, i),
        rules?.[i],
      );
      if (masked !== undefined) {
        replaced ??= new Map();
        replaced.set(i, masked);
      }
      offset += length;
    }
    if (offset !== payload.length) throw new ProtocolError('malformed DataRow from the server');
    if (replaced === undefined) return undefined;
    const { values } = decodeDataRow(payload);
    return encodeDataRow({
      type: 'DataRow',
      values: values.map((value, i) => (replaced.has(i) ? (replaced.get(i) ?? null) : value)),
    });
  }

  /** COPY TO STDOUT in text or CSV: one line (or part of one) per CopyData. */
  #maskCopyData(payload: Buffer, masker: ResultMasker): Buffer | undefined {
    const masked = masker.text(payload.toString('utf8'));
    return masked === undefined
      ? undefined
      : encodeBackendMessage({ type: 'CopyData', data: Buffer.from(masked, 'utf8') });
  }

  /**
   * Notices, notifications, function results and COPY starts. Returns the rebuilt frame, 'drop'
   * when the message must not reach the client, or undefined when it passes unchanged.
   */
  #maskMessage(tag: number, payload: Buffer, masker: ResultMasker): Buffer | 'drop' | undefined {
    switch (tag) {
      case BackendTag.NoticeResponse: {
        const fields = maskFields(decodeNoticeResponse(payload).fields, masker);
        return fields && encodeNoticeResponse({ type: 'NoticeResponse', fields });
      }
      case BackendTag.NotificationResponse: {
        const message = decodeNotificationResponse(payload);
        const channel = masker.text(message.channel);
        const body = masker.text(message.payload);
        if (channel === undefined && body === undefined) return undefined;
        return encodeNotificationResponse({
          ...message,
          channel: channel ?? message.channel,
          payload: body ?? message.payload,
        });
      }
      case BackendTag.FunctionCallResponse: {
        const { result } = decodeFunctionCallResponse(payload);
        if (result === null) return undefined;
        const masked = masker.value(result, 0, result.length, undefined);
        return masked === undefined
          ? undefined
          : encodeFunctionCallResponse({ type: 'FunctionCallResponse', result: masked });
      }
      default: {
        // CopyOutResponse / CopyBothResponse: binary rows cannot be scanned value by value.
        const binary = tag === BackendTag.CopyBothResponse || decodeCopyOutResponse(payload).format === 1;
        if (!binary || this.#limitStop) return undefined;
        this.#startLimitStop(
          new ClientFacingError('42501', 'sluice: binary COPY output cannot be masked, so it is not sent', {
            hint: 'Use COPY … TO STDOUT in text or CSV format; values are masked line by line.',
          }),
        );
        return 'drop';
      }
    }
  }

  // ---- result limits (bulk-extraction guard) --------------------------------------------------

  /**
   * INSERT 0 n, UPDATE n, DELETE n, MERGE n: the server's own count of rows changed. (COPY n is
   * left out: the same tag counts rows copied out, which change nothing.)
   */
  #reportAffected(payload: Buffer): void {
    // Cheap first-byte filter: SELECT, FETCH, BEGIN… never change rows.
    const first = payload[0];
    if (first !== 0x49 && first !== 0x55 && first !== 0x44 && first !== 0x4d) return;
    const match = /^(INSERT \d+|UPDATE|DELETE|MERGE) (\d+)$/.exec(decodeCommandComplete(payload).tag);
    const rows = Number(match?.[2] ?? 0);
    if (match && rows > 0) this.#gate?.affected(match[1]?.split(' ')[0] ?? '', rows);
  }

  /** Counts one result row; false when it must not be relayed (a limit is, or was just, hit). */
  #admitRow(bytes: number): boolean {
    const limits = this.#limits;
    if (!limits || this.#limitStop) return !this.#limitStop;
    this.#statementRows++;
    this.#sessionRows++;
    this.#sessionBytes += bytes;
    const hit =
      limits.rowsPerStatement !== undefined && this.#statementRows > limits.rowsPerStatement
        ? 'rowsPerStatement'
        : limits.rowsPerSession !== undefined && this.#sessionRows > limits.rowsPerSession
          ? 'rowsPerSession'
          : limits.bytesPerSession !== undefined && this.#sessionBytes > limits.bytesPerSession
            ? 'bytesPerSession'
            : limits.takeRows !== undefined && !limits.takeRows(1)
              ? 'rowsPerMinute'
              : undefined;
    if (hit === undefined) return true;
    this.#startLimitStop(limits.exceeded(hit));
    return false;
  }

  /** Stops relaying rows and cancels the statement upstream; its ending becomes `error`. */
  #startLimitStop(error: ClientFacingError): void {
    const stop = { error, reported: false, cancelDone: false };
    this.#limitStop = stop;
    this.#log.info({ sqlstate: error.sqlstate, reason: error.message }, 'statement stopped');
    const upstream = this.#upstream;
    if (!upstream?.backendKey || !this.#target) {
      // Without a cancel key the only way to stop the statement is to drop the connection.
      this.#terminate(error, 'result limit reached (no cancel key)');
      return;
    }
    sendUpstreamCancel(this.#target, upstream.backendKey)
      .catch((err: unknown) => this.#log.warn({ err: (err as Error).message }, 'upstream cancel failed'))
      .finally(() => {
        stop.cancelDone = true;
        if (this.#limitStop === stop && this.#ready.outstanding === 0) this.#limitStopReady();
      });
  }

  /** The cancelled statement's ending: the caller gets the limit error instead, once. */
  #reportLimit(): void {
    const stop = this.#limitStop;
    if (!stop || stop.reported) return;
    stop.reported = true;
    this.#toClient.add(toErrorResponse(stop.error, 'ERROR'));
  }

  /**
   * ReadyForQuery while stopped. Client messages resume only once the cancel request has been
   * delivered, so a late cancel cannot hit the caller's next statement.
   */
  #limitStopReady(): void {
    const stop = this.#limitStop;
    if (!stop) return;
    this.#reportLimit();
    if (!stop.cancelDone || this.#ready.outstanding > 0) return;
    this.#limitStop = undefined;
    this.#resumeClient();
    try {
      this.#forwardClientFrames();
    } catch (error) {
      this.#fail(error);
    }
  }

  #resumeClient = (): void => {
    if (!this.#clientPaused) return;
    this.#clientPaused = false;
    this.#client.resume();
  };

  #resumeUpstream = (): void => {
    if (!this.#upstreamPaused) return;
    this.#upstreamPaused = false;
    this.#upstream?.socket.resume();
  };

  #upstreamClosed(): void {
    if (this.#phase === 'closed') return;
    if (!this.#upstreamSentFatal) {
      this.#ports.metrics.error(PROTOCOL, 'upstream_lost');
      this.#sendError(new ClientFacingError('08006', 'sluice: lost the connection to the database'), 'FATAL');
    }
    this.#close('upstream closed');
  }

  // ---- endings ---------------------------------------------------------------------------------

  #handshakeTimedOut(): void {
    if (this.#phase !== 'handshake') return;
    this.#ports.metrics.authFailure(PROTOCOL, 'timeout');
    this.#terminate(
      new ClientFacingError('08006', 'sluice: authentication timed out'),
      'authentication timeout',
    );
  }

  #terminate(error: ClientFacingError, reason: string): void {
    if (this.#phase === 'closed') return;
    this.#sendError(error, 'FATAL');
    this.#close(reason);
  }

  /** Turns any failure into the right client-facing ending; never throws. */
  #fail(error: unknown): void {
    if (this.#phase === 'closed') return;
    if (error instanceof ClientFacingError) {
      this.#terminate(error, error.message);
    } else if (error instanceof ProtocolError) {
      this.#ports.metrics.error(PROTOCOL, 'protocol');
      this.#log.info({ err: error.message }, 'protocol violation');
      this.#terminate(
        new ClientFacingError('08P01', `sluice: protocol violation: ${error.message}`),
        'protocol violation',
      );
    } else {
      this.#ports.metrics.error(PROTOCOL, 'internal');
      this.#log.error({ err: error }, 'session failed');
      this.#terminate(
        new ClientFacingError('XX000', 'sluice: internal error; the session was closed'),
        'internal error',
      );
    }
  }

  #sendError(error: ClientFacingError, severity: 'FATAL'): void {
    if (!this.#clientFramed || this.#client.destroyed) return;
    // Whole frames already queued go first, so the error never lands inside a message.
    this.#toClient.writeTo(this.#client);
    this.#client.write(toErrorResponse(error, severity));
  }

  #close(reason: string): void {
    if (this.#phase === 'closed') return;
    const wasRelaying = this.#phase === 'relay';
    this.#phase = 'closed';
    this.#held?.hold.withdraw('disconnect');
    clearTimeout(this.#handshakeTimer);
    if (this.#issuedKey) this.#ports.cancels.release(this.#issuedKey.processId);
    const upstream = this.#upstream;
    if (upstream && !upstream.socket.destroyed) {
      // A client that vanishes mid-statement must not leave the statement running upstream.
      if (this.#ready.outstanding > 0 && upstream.backendKey && this.#target) {
        sendUpstreamCancel(this.#target, upstream.backendKey).catch((error: unknown) =>
          this.#log.debug({ err: (error as Error).message }, 'upstream cancel failed'),
        );
      }
      upstream.socket.end(TERMINATE_FRAME);
      upstream.socket.destroySoon();
    }
    this.#client.end();
    this.#client.destroySoon();
    this.#reportCounters();
    this.#ports.metrics.connectionClosed(PROTOCOL);
    if (wasRelaying) {
      this.#gate?.closed({
        reason,
        durationMs: Date.now() - this.#openedAt,
        bytesFromClient: this.#bytesFromClient,
        bytesToClient: this.#bytesToClient,
        statements: this.#statements,
      });
      this.#log.info(
        {
          reason,
          durationMs: Date.now() - this.#openedAt,
          bytesFromClient: this.#bytesFromClient,
          bytesToClient: this.#bytesToClient,
        },
        'session closed',
      );
    } else {
      this.#log.debug({ reason }, 'connection closed before login completed');
    }
    this.#lifecycle.closed(this, wasRelaying);
  }
}

const TERMINATE_FRAME = encodeFrontendMessage({ type: 'Terminate' });

/** A value for the recording: text when it decodes as printable UTF-8, else its size only. */
function previewValue(value: Buffer | null): string | null {
  if (value === null) return null;
  const text = value.toString('utf8');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control bytes mark binary values
  return /[\u0000-\u0008\u000e-\u001f\ufffd]/.test(text) ? `<binary ${value.length} bytes>` : text;
}

/** Client messages that decide the shape of the rows coming back. */
function trackClientShape(shapes: ResultShapeTracker, message: FrontendMessage): void {
  switch (message.type) {
    case 'FunctionCall':
      shapes.query();
      break;
    case 'Bind':
      shapes.bind(message.portal, message.statement, message.resultFormats);
      break;
    case 'Describe':
      shapes.describe(message.kind, message.name);
      break;
    case 'Execute':
      shapes.execute(message.portal);
      break;
    case 'Close':
      shapes.close(message.kind, message.name);
      break;
    case 'Sync':
      shapes.sync();
      break;
    default:
      break;
  }
}

/** A column whose type no RowDescription told: only its Bind format, if any, is known. */
function unknownShape(formats: readonly number[] | undefined, i: number): ColumnShape | undefined {
  if (formats === undefined) return undefined;
  const format = formats.length === 0 ? 0 : ((formats.length === 1 ? formats[0] : formats[i]) ?? 0);
  return { typeOid: undefined, format };
}

/** Error and notice fields that carry free text (not codes, positions or source locations). */
const MASKED_FIELDS = ['M', 'D', 'H', 'W', 'q', 's', 't', 'c', 'd', 'n'] as const;

/**
 * An error of a statement that touches sensitive columns: the SQLSTATE and severity stay, so
 * clients react as usual; every free-text field is replaced, because it may quote a value.
 */
function withholdFields(fields: NoticeFields): NoticeFields {
  const out: NoticeFields = { ...fields };
  for (const key of MASKED_FIELDS) {
    if (out[key] !== undefined) out[key] = '[withheld]';
  }
  out.M = `sluice: the database reported an error (SQLSTATE ${fields.C ?? '?'}); its text was withheld because the statement touches sensitive columns`;
  return out;
}

/** The fields with every free-text value masked, or undefined when none changed. */
function maskFields(fields: NoticeFields, masker: ResultMasker): NoticeFields | undefined {
  let out: NoticeFields | undefined;
  for (const key of MASKED_FIELDS) {
    const value = fields[key];
    if (value === undefined) continue;
    const masked = masker.text(value);
    if (masked === undefined) continue;
    out ??= { ...fields };
    out[key] = masked;
  }
  return out;
}

/** An error when the server reports a pinned setting at another value (the session must end). */
function unpinnedSetting(name: string, value: string): ClientFacingError | undefined {
  const pinned = PINNED_PARAMETERS[name];
  if (pinned === undefined || value.toUpperCase() === pinned.toUpperCase()) return undefined;
  return new ClientFacingError(
    '08006',
    `sluice: the database reported ${name}=${value}; the gateway requires ${pinned} and closed the session`,
    { hint: 'Statements are judged as the server parses them, which depends on this setting.' },
  );
}

function isFatal(fields: NoticeFields): boolean {
  const severity = fields.V ?? fields.S;
  return severity === 'FATAL' || severity === 'PANIC';
}
