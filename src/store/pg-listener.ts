/**
 * @module store/pg-listener
 * LISTEN for a `pg.Pool` store. A pooled connection cannot hold a LISTEN (it goes back to the
 * pool), so one dedicated client does, for every channel. If that connection drops, notifications
 * sent meanwhile are lost for good: the client reconnects with backoff and then tells every
 * subscriber so with an empty payload (see {@link SqlExecutor.listen}).
 */
import type { Client } from 'pg';
import type { Logger } from '../core/logger.ts';
import type { SqlExecutor } from './sql-executor.ts';

type Subscriber = (payload: string) => void;

export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

const DEFAULT_BACKOFF: Backoff = { initialMs: 1_000, maxMs: 10_000 };

export class PgListener {
  readonly #newClient: () => Client;
  readonly #logger: Logger;
  readonly #backoff: Backoff;
  readonly #channels = new Map<string, Set<Subscriber>>();
  /** The connection (made or being made); undefined before the first listen and while reconnecting. */
  #connection: Promise<Client> | undefined;
  #client: Client | undefined;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;

  /** @param newClient a client for the store's database, not yet connected. */
  constructor(newClient: () => Client, logger: Logger, backoff: Backoff = DEFAULT_BACKOFF) {
    this.#newClient = newClient;
    this.#logger = logger;
    this.#backoff = backoff;
  }

  /** See {@link SqlExecutor.listen}. Rejects when the first connection cannot be made. */
  async listen(channel: string, onPayload: Subscriber): Promise<() => Promise<void>> {
    if (this.#closed) throw new Error('the store is closed');
    const subscribers = this.#channels.get(channel) ?? new Set();
    subscribers.add(onPayload);
    this.#channels.set(channel, subscribers);
    try {
      // LISTEN is idempotent; issuing it per call means this call resolves only once it is in effect.
      const client = await this.#connect();
      await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
    } catch (error) {
      await this.#unsubscribe(channel, onPayload);
      throw error;
    }
    return () => this.#unsubscribe(channel, onPayload);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    const connection = this.#connection;
    this.#connection = undefined;
    this.#client = undefined;
    await connection?.then(
      (client) => client.end(),
      () => {},
    );
  }

  async #unsubscribe(channel: string, onPayload: Subscriber): Promise<void> {
    const subscribers = this.#channels.get(channel);
    if (!subscribers?.delete(onPayload) || subscribers.size > 0) return;
    this.#channels.delete(channel);
    // A lost or closed connection has stopped listening already.
    await this.#client?.query(`UNLISTEN ${this.#client.escapeIdentifier(channel)}`).catch(() => {});
  }

  #connect(): Promise<Client> {
    this.#connection ??= this.#open().catch((error: unknown) => {
      this.#connection = undefined;
      throw error;
    });
    return this.#connection;
  }

  /** Connects and LISTENs on every channel that has subscribers. */
  async #open(): Promise<Client> {
    const client = this.#newClient();
    client.on('notification', ({ channel, payload }) => this.#deliver(channel, payload ?? ''));
    // An idle client's 'error' without a handler would crash the process; 'end' alone covers a clean close.
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client));
    try {
      await client.connect();
      for (const channel of this.#channels.keys()) {
        await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
      }
    } catch (error) {
      // Not awaited: ending a client whose connection never opened may never settle (pg), and
      // close() waits on this attempt, so a store that vanished would hold up shutdown for good.
      client.end().catch(() => {});
      throw error;
    }
    if (this.#closed) {
      await client.end();
      throw new Error('the store is closed');
    }
    this.#client = client;
    return client;
  }

  #deliver(channel: string, payload: string): void {
    for (const subscriber of this.#channels.get(channel) ?? []) subscriber(payload);
  }

  /** Fires for the current client only, once: both 'error' and 'end' may follow one drop. */
  #lost(client: Client, error?: Error): void {
    if (client !== this.#client || this.#closed) return;
    this.#client = undefined;
    this.#connection = undefined;
    client.end().catch(() => {});
    this.#logger.warn({ err: error }, 'store notification connection lost; reconnecting');
    this.#scheduleReconnect(this.#backoff.initialMs);
  }

  #scheduleReconnect(delayMs: number): void {
    this.#retry = setTimeout(() => {
      this.#connect().then(
        () => {
          this.#logger.info('store notification connection restored');
          for (const channel of this.#channels.keys()) this.#deliver(channel, '');
        },
        (error: unknown) => {
          if (this.#closed) return;
          const nextMs = Math.min(delayMs * 2, this.#backoff.maxMs);
          this.#logger.warn({ err: error, retryInMs: nextMs }, 'store notification reconnect failed');
          this.#scheduleReconnect(nextMs);
        },
      );
    }, delayMs);
    this.#retry.unref();
  }
}
