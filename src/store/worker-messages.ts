/**
 * @module store/worker-messages
 * What the gateway's thread and the store worker (src/store/store-worker.ts) say to each other.
 * Every request carries an id its one reply repeats; notifications and log lines arrive unasked.
 */
import type { NewAuditEvent, Store } from './store.ts';

/** What the worker is started with (`workerData`). */
export interface StoreWorkerData {
  /** The store URL, password included: it never leaves the two threads. */
  readonly url: string;
  /** The gateway logger's level, so the worker does not build lines nobody keeps. */
  readonly level: string;
}

/** `txId` set: the statement runs inside that open transaction. */
export type StoreRequest =
  | {
      readonly id: number;
      readonly op: 'query';
      readonly sql: string;
      readonly params: readonly unknown[];
      readonly txId?: number;
    }
  | { readonly id: number; readonly op: 'exec'; readonly script: string; readonly txId?: number }
  /** Replies with a txId once BEGIN has run. */
  | { readonly id: number; readonly op: 'begin' }
  /** Replies once the transaction has committed (or rolled back). */
  | { readonly id: number; readonly op: 'end'; readonly txId: number; readonly commit: boolean }
  /** Replies with a subscription id once listening. */
  | { readonly id: number; readonly op: 'listen'; readonly channel: string }
  | { readonly id: number; readonly op: 'unlisten'; readonly subscription: number }
  /** Chains and stores audit events in the worker; replies with {@link AppendedLinks}. */
  | { readonly id: number; readonly op: 'appendAudit'; readonly items: readonly NewAuditEvent[] }
  | { readonly id: number; readonly op: 'close' };

/** The links `append` computed: the events themselves stay with the caller, who sent them. */
export interface AppendedLinks {
  readonly firstSeq: number;
  readonly firstPrevHash: string;
  readonly hashes: readonly string[];
}

/** An error as it crosses the thread boundary: enough to rebuild what callers test for. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  /** A SQLSTATE (pg, PGlite) or a GatewayError code. */
  readonly code?: string;
  /** The violated constraint's name, as pg and PGlite report it (repositories test for it). */
  readonly constraint?: string;
}

export type StoreWorkerMessage =
  | { readonly kind: 'ready'; readonly storeKind: Store['kind'] }
  | { readonly kind: 'failed'; readonly error: SerializedError }
  | { readonly kind: 'reply'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly kind: 'reply'; readonly id: number; readonly ok: false; readonly error: SerializedError }
  | { readonly kind: 'notify'; readonly subscription: number; readonly payload: string }
  /** One pino line, as JSON, for the gateway's logger. */
  | { readonly kind: 'log'; readonly line: string };
