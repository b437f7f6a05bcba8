/**
 * A small raw PostgreSQL protocol client for wire-level tests: it writes exactly the frames a test
 * builds (with the gateway's own codec) and hands back exactly the backend frames it got, bytes
 * and all. It speaks to PostgreSQL directly (trust auth) or to the gateway (the API key as a
 * cleartext password), over plain TCP or TLS.
 *
 * `RawClient.connect()` goes all the way to the first ReadyForQuery; `RawClient.open()` stops at
 * the TCP connection so startup-phase tests can misbehave step by step.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { NoticeFields } from '../../src/protocols/postgres/codec/backend/error-response.ts';
import {
  type BackendMessage,
  decodeBackendMessage,
} from '../../src/protocols/postgres/codec/backend/index.ts';
import { encodeGSSENCRequest } from '../../src/protocols/postgres/codec/frontend/gssenc-request.ts';
import {
  type EncodableFrontendMessage,
  encodeFrontendMessage,
} from '../../src/protocols/postgres/codec/frontend/index.ts';
import { encodeSSLRequest } from '../../src/protocols/postgres/codec/frontend/ssl-request.ts';
import {
  encodeStartupMessage,
  PROTOCOL_VERSION_3_0,
} from '../../src/protocols/postgres/codec/frontend/startup-message.ts';
import { BackendTag } from '../../src/protocols/postgres/codec/message-type.ts';
import { backendLimits, MessageFramer } from '../../src/protocols/postgres/framer.ts';

/** One backend frame as it arrived. */
export interface RawFrame {
  /** The type byte as a character, e.g. 'Z'. */
  readonly tag: string;
  /** The whole frame: tag, length and payload. */
  readonly bytes: Buffer;
  /** The bytes after the length. */
  readonly payload: Buffer;
}

/** Stop after this many ReadyForQuery frames, or after the first frame the predicate accepts. */
export type Until = number | ((frame: RawFrame) => boolean);

export interface OpenOptions {
  readonly host: string;
  readonly port: number;
  /** Split every write into single bytes, each its own write after this many ms (byte-at-a-time tests). */
  readonly byteDelayMs?: number;
}

export interface ConnectOptions extends OpenOptions {
  readonly user: string;
  readonly database: string;
  /** Sent when the server asks for a cleartext password (the gateway's API key). */
  readonly password?: string;
  /** SSLRequest first, then TLS (certificate not verified: the gateway's is self-signed). */
  readonly tls?: boolean;
  /** Extra startup parameters, after user and database. */
  readonly parameters?: Readonly<Record<string, string>>;
  readonly protocolVersion?: number;
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5000;
const SSL_ANSWER_TIMEOUT_MS = 5000;

export class RawClient {
  #socket: Socket | TLSSocket;
  readonly #raw: Socket;
  readonly #byteDelayMs: number | undefined;
  /** Until a startup packet is sent the server answers in single bytes ('S'/'N'), not frames. */
  #framed = false;
  #unframed: Buffer[] = [];
  readonly #framer = new MessageFramer(backendLimits({ maxMessageBytes: 0x7fffffff }), 'tagged');
  #frames: RawFrame[] = [];
  #closed = false;
  #failure: Error | undefined;
  readonly #waiters = new Set<() => void>();
  /** Frames the server sent during login (RawClient.connect), up to and including ReadyForQuery. */
  loginFrames: RawFrame[] = [];

  private constructor(socket: Socket, byteDelayMs: number | undefined) {
    this.#raw = socket;
    this.#socket = socket;
    this.#byteDelayMs = byteDelayMs;
    this.#attach(socket);
  }

  /** A TCP connection and nothing else. */
  static open(options: OpenOptions): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: options.host, port: options.port });
      socket.setNoDelay(true);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawClient(socket, options.byteDelayMs));
      });
    });
  }

  /** Opens, optionally negotiates TLS, sends the StartupMessage and logs in up to ReadyForQuery. */
  static async connect(options: ConnectOptions): Promise<RawClient> {
    const client = await RawClient.open(options);
    try {
      if (options.tls) {
        const answer = await client.requestTls();
        if (answer !== 'S') throw new Error(`server refused TLS (answered ${JSON.stringify(answer)})`);
      }
      await client.startup(
        { user: options.user, database: options.database, ...options.parameters },
        options.protocolVersion,
      );
      await client.login(options.password, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      return client;
    } catch (error) {
      client.destroy();
      throw error;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  get encrypted(): boolean {
    return this.#socket !== this.#raw;
  }

  /** Sends SSLRequest and returns the one-byte answer; on 'S' the connection continues in TLS. */
  async requestTls(options: { alpn?: string[] } = {}): Promise<string> {
    await this.sendRaw(encodeSSLRequest({ type: 'SSLRequest' }));
    const answer = await this.readByte(SSL_ANSWER_TIMEOUT_MS);
    if (answer !== 'S') return answer;
    if (this.#unframed.length > 0) throw new Error('server sent bytes after its SSL answer (CVE-2021-23222)');
    await this.upgradeToTls(options);
    return answer;
  }

  /** Sends GSSENCRequest and returns the one-byte answer. */
  async requestGssEncryption(): Promise<string> {
    await this.sendRaw(encodeGSSENCRequest({ type: 'GSSENCRequest' }));
    return this.readByte(SSL_ANSWER_TIMEOUT_MS);
  }

  /** Starts TLS on this connection (after the server answered 'S'). */
  async upgradeToTls(options: { alpn?: string[] } = {}): Promise<void> {
    this.#detach(this.#raw);
    const secure = tlsConnect({
      socket: this.#raw,
      rejectUnauthorized: false,
      ...(options.alpn ? { ALPNProtocols: options.alpn } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => {
        secure.off('error', reject);
        resolve();
      });
      secure.once('error', reject);
    });
    this.#socket = secure;
    this.#attach(secure);
  }

  /** Sends a StartupMessage; from here on the server's answers are framed. */
  async startup(parameters: Record<string, string>, protocolVersion = PROTOCOL_VERSION_3_0): Promise<void> {
    this.expectFrames();
    await this.sendRaw(encodeStartupMessage({ type: 'StartupMessage', protocolVersion, parameters }));
  }

  /**
   * Answers the server's authentication requests until the first ReadyForQuery. Only cleartext
   * password (the gateway) and trust (direct PostgreSQL on loopback) are spoken.
   */
  async login(password: string | undefined, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [frame] = await this.readUntil(() => true, Math.max(1, deadline - Date.now()));
      if (frame === undefined) throw new Error('no frame');
      this.loginFrames.push(frame);
      const message = decode(frame);
      switch (message.type) {
        case 'AuthenticationCleartextPassword':
          if (password === undefined) throw new Error('server asked for a password; none given');
          await this.send([encodeFrontendMessage({ type: 'PasswordMessage', password })]);
          break;
        case 'ErrorResponse':
          throw new LoginError(message.fields);
        case 'ReadyForQuery':
          return;
        case 'AuthenticationOk':
        case 'ParameterStatus':
        case 'BackendKeyData':
        case 'NegotiateProtocolVersion':
        case 'NoticeResponse':
          break;
        default:
          throw new Error(`unexpected ${message.type} during login`);
      }
    }
  }

  /** Treat everything from here on as backend frames (e.g. after sending a startup packet by hand). */
  expectFrames(): void {
    if (this.#framed) return;
    this.#framed = true;
    const pending = this.#unframed;
    this.#unframed = [];
    for (const chunk of pending) this.#push(chunk);
  }

  /** Encodes and sends messages, all in one write (pipelined). */
  send(messages: readonly (Buffer | EncodableFrontendMessage)[]): Promise<void> {
    return this.sendRaw(
      Buffer.concat(messages.map((m) => (Buffer.isBuffer(m) ? m : encodeFrontendMessage(m)))),
    );
  }

  /** Writes bytes as they are; resolves once handed to the kernel (or the socket is gone). */
  async sendRaw(bytes: Uint8Array): Promise<void> {
    if (this.#byteDelayMs === undefined) {
      await this.#write(bytes);
      return;
    }
    for (let i = 0; i < bytes.length; i++) {
      await this.#write(bytes.subarray(i, i + 1));
      if (this.#byteDelayMs > 0) await sleep(this.#byteDelayMs);
    }
  }

  /** Reads one unframed byte (the answer to SSLRequest or GSSENCRequest). */
  async readByte(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const head = this.#unframed[0];
      if (head !== undefined) {
        const byte = String.fromCharCode(head[0] ?? 0);
        if (head.length === 1) this.#unframed.shift();
        else this.#unframed[0] = head.subarray(1);
        return byte;
      }
      if (this.#failure) throw this.#failure;
      if (this.#closed) throw new Error('connection closed before the one-byte answer');
      if (!(await this.#waitForActivity(deadline))) throw new Error(`no answer within ${timeoutMs} ms`);
    }
  }

  /**
   * Returns frames up to and including the one that satisfies `until`; later frames stay queued.
   * Rejects on timeout or when the connection closes first, naming what did arrive.
   */
  async readUntil(until: Until, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<RawFrame[]> {
    const done = typeof until === 'number' ? countReadyForQuery(until) : until;
    const deadline = Date.now() + timeoutMs;
    let scanned = 0;
    for (;;) {
      for (; scanned < this.#frames.length; scanned++) {
        const frame = this.#frames[scanned];
        if (frame !== undefined && done(frame)) return this.#frames.splice(0, scanned + 1);
      }
      if (this.#failure) throw this.#failure;
      const got = () => `; got ${describeFrames(this.#frames)}`;
      if (this.#closed) throw new Error(`connection closed before the expected frames${got()}`);
      if (!(await this.#waitForActivity(deadline))) {
        throw new Error(`expected frames not received within ${timeoutMs} ms${got()}`);
      }
    }
  }

  /** Every frame received and not yet read, removed from the queue. */
  takeAll(): RawFrame[] {
    return this.#frames.splice(0);
  }

  /** Bytes received before framing began (a startup-phase answer) and not yet read. */
  takeUnframed(): Buffer {
    return Buffer.concat(this.#unframed.splice(0));
  }

  /** True once the peer closed (or reset) the connection, false if it is still open after `timeoutMs`. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed) {
      if (!(await this.#waitForActivity(deadline))) return false;
    }
    return true;
  }

  /** Polite close: Terminate, then end. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#framed) await this.send([{ type: 'Terminate' }]).catch(() => undefined);
    this.#socket.end();
    if (!(await this.waitClosed(2000))) this.destroy();
  }

  /** Drops the connection at once; `reset` sends a TCP RST instead of a FIN. */
  destroy(reset = false): void {
    if (reset && !this.#raw.destroyed) this.#raw.resetAndDestroy();
    this.#socket.destroy();
    this.#raw.destroy();
  }

  #write(bytes: Uint8Array): Promise<void> {
    const socket = this.#socket;
    if (socket.destroyed || !socket.writable) return Promise.resolve();
    return new Promise((resolve) => socket.write(bytes, () => resolve()));
  }

  #attach(socket: Socket | TLSSocket): void {
    socket.on('data', this.#onData);
    socket.on('end', this.#onClose);
    socket.on('close', this.#onClose);
    socket.on('error', this.#onError);
  }

  #detach(socket: Socket | TLSSocket): void {
    socket.off('data', this.#onData);
    socket.off('end', this.#onClose);
    socket.off('close', this.#onClose);
    socket.off('error', this.#onError);
  }

  #onData = (chunk: Buffer): void => {
    if (this.#framed) this.#push(chunk);
    else this.#unframed.push(chunk);
    this.#notify();
  };

  #onClose = (): void => {
    this.#closed = true;
    this.#notify();
  };

  /** A reset is the peer closing too; other errors are kept for the next read. */
  #onError = (error: NodeJS.ErrnoException): void => {
    if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') this.#failure ??= error;
    this.#closed = true;
    this.#notify();
  };

  #push(chunk: Buffer): void {
    try {
      this.#framer.push(chunk);
      for (let frame = this.#framer.next(); frame; frame = this.#framer.next()) {
        const bytes = Buffer.from(frame.bytes);
        this.#frames.push({ tag: String.fromCharCode(frame.tag), bytes, payload: bytes.subarray(5) });
      }
    } catch (error) {
      this.#failure ??= new Error(`backend sent unframeable bytes: ${(error as Error).message}`);
    }
  }

  #notify(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Resolves true on any socket activity, false once the deadline passes. */
  #waitForActivity(deadline: number): Promise<boolean> {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        resolve(false);
      }, remaining);
      this.#waiters.add(wake);
    });
  }
}

/** A login that ended in ErrorResponse, with the server's fields. */
export class LoginError extends Error {
  readonly fields: NoticeFields;
  constructor(fields: NoticeFields) {
    super(`login refused: ${fields.C ?? '?'} ${fields.M ?? ''}`);
    this.fields = fields;
  }
}

function countReadyForQuery(n: number): (frame: RawFrame) => boolean {
  let seen = 0;
  return (frame) => frame.tag === 'Z' && ++seen >= n;
}

export function decode(frame: RawFrame): BackendMessage {
  return decodeBackendMessage(frame.bytes[0] ?? 0, frame.payload);
}

/** The fields of every ErrorResponse among `frames`. */
export function errorsIn(frames: readonly RawFrame[]): NoticeFields[] {
  const errors: NoticeFields[] = [];
  for (const frame of frames) {
    if (frame.bytes[0] !== BackendTag.ErrorResponse) continue;
    const message = decode(frame);
    if (message.type === 'ErrorResponse') errors.push(message.fields);
  }
  return errors;
}

/**
 * A frame's short name, e.g. `Z(I)`, `C(DELETE 40)`, `E(42501)`, else its tag. `errorMessage`
 * adds an ErrorResponse's message (for failure output); `rowValues` shows a DataRow's values,
 * `D(10,x)`.
 */
export function frameLabel(frame: RawFrame, { errorMessage = false, rowValues = false } = {}): string {
  const message = decode(frame);
  switch (message.type) {
    case 'ReadyForQuery':
      return `Z(${message.status})`;
    case 'CommandComplete':
      return `C(${message.tag})`;
    case 'ErrorResponse':
      return `E(${message.fields.C ?? '?'}${errorMessage ? ` ${message.fields.M ?? ''}` : ''})`;
    case 'DataRow':
      if (!rowValues) return frame.tag;
      return `D(${message.values.map((v) => (v === null ? 'null' : Buffer.from(v).toString('utf8'))).join(',')})`;
    default:
      return frame.tag;
  }
}

/** `Z(I) T D D C(SELECT 2) Z(I)`-style summary for failure messages. */
export function describeFrames(frames: readonly RawFrame[]): string {
  if (frames.length === 0) return '(nothing)';
  const shown = frames.slice(0, 40).map((frame) => {
    try {
      return frameLabel(frame, { errorMessage: true });
    } catch {
      return `${frame.tag}?`;
    }
  });
  return shown.join(' ') + (frames.length > 40 ? ` …(+${frames.length - 40})` : '');
}
