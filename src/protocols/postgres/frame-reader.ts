/**
 * @module protocols/postgres/frame-reader
 * Promise-style reading of whole frames from a socket, for the short request/response
 * handshakes (client startup and authentication, upstream login). The relay phase does not use
 * this: it handles frames synchronously in the 'data' handler for speed.
 */
import type { Duplex } from 'node:stream';
import { GatewayError } from '../../core/errors.ts';
import type { Frame, MessageFramer } from './framer.ts';

export class PeerClosedError extends GatewayError {
  constructor(peer: string) {
    super('GW_ERR_PROTOCOL', `${peer} closed the connection`);
  }
}

export class FrameReader {
  readonly #socket: Duplex;
  readonly #framer: MessageFramer;
  readonly #peer: string;
  #waiter: { resolve: (frame: Frame) => void; reject: (error: unknown) => void } | undefined;
  #failure: unknown;

  constructor(socket: Duplex, framer: MessageFramer, peer: string) {
    this.#socket = socket;
    this.#framer = framer;
    this.#peer = peer;
    socket.on('data', this.#onData);
    socket.on('close', this.#onClose);
    socket.on('error', this.#onError);
  }

  /** Resolves with the next complete frame; rejects when the peer closes or sends garbage. */
  next(): Promise<Frame> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    try {
      const frame = this.#framer.next();
      if (frame) return Promise.resolve(frame);
    } catch (error) {
      this.#failure = error;
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /** Stops listening; bytes already pushed stay in the framer for the next owner. */
  detach(): void {
    this.#socket.off('data', this.#onData);
    this.#socket.off('close', this.#onClose);
    this.#socket.off('error', this.#onError);
  }

  #onData = (chunk: Buffer): void => {
    try {
      this.#framer.push(chunk);
      const waiter = this.#waiter;
      if (!waiter) return;
      const frame = this.#framer.next();
      if (frame) {
        this.#waiter = undefined;
        waiter.resolve(frame);
      }
    } catch (error) {
      this.#fail(error);
    }
  };

  #onClose = (): void => this.#fail(new PeerClosedError(this.#peer));
  #onError = (error: Error): void => this.#fail(error);

  #fail(error: unknown): void {
    this.#failure ??= error;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(this.#failure);
  }
}
