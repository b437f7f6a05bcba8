/**
 * @module store/worker-store
 * The gateway's store, opened in a worker thread (src/store/store-worker.ts). Repositories run
 * here unchanged over a {@link SqlExecutor} whose calls cross to the worker; audit appends cross
 * whole, so canonical encoding, hashing and the insert happen there, off the thread that relays
 * client traffic. With the embedded PGlite store this also moves the database engine itself off
 * that thread.
 */
import { Worker } from 'node:worker_threads';
import type { ChainedEvent } from '../audit/chain.ts';
import { GatewayError, type GatewayErrorCode } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { SqlAuditRepository } from './audit-repository.ts';
import { storeError } from './open-store.ts';
import type { SqlExecutor, SqlQuerier } from './sql-executor.ts';
import { openSqlStore } from './sql-store.ts';
import type { NewAuditEvent, Store } from './store.ts';
import type {
  AppendedLinks,
  SerializedError,
  StoreRequest,
  StoreWorkerData,
  StoreWorkerMessage,
} from './worker-messages.ts';

/** A JS entry point that registers tsx, as bin/sluice.js does, then loads src/store/store-worker.ts. */
const WORKER_ENTRY = new URL('../../bin/store-worker.js', import.meta.url);

/** Distributes a request without its id. */
type Unsent<T> = T extends unknown ? Omit<T, 'id'> : never;

/** The gateway's side of the message port: requests and their replies, notifications, log lines. */
class StoreWorkerLink {
  readonly #worker: Worker;
  readonly #logger: Logger;
  readonly #pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  readonly #subscribers = new Map<number, (payload: string) => void>();
  #nextId = 1;
  /** Set once the worker has gone: every request after that fails with it. */
  #gone: Error | undefined;
  readonly ready: Promise<Store['kind']>;

  constructor(url: string, logger: Logger) {
    this.#logger = logger;
    const data: StoreWorkerData = { url, level: logger.level };
    this.#worker = new Worker(WORKER_ENTRY, { workerData: data });
    this.ready = new Promise((resolve, reject) => {
      this.#worker.on('message', (message: StoreWorkerMessage) => {
        if (message.kind === 'ready') resolve(message.storeKind);
        else if (message.kind === 'failed') reject(deserialize(message.error));
        else this.#received(message);
      });
      this.#worker.on('error', (error) => {
        logger.error({ err: error }, 'the store worker failed');
        this.#stop(new GatewayError('GW_ERR_STORE', `the store worker failed: ${error.message}`));
        reject(error);
      });
      this.#worker.on('exit', (code) => {
        const error = new GatewayError('GW_ERR_STORE', `the store worker exited (code ${code})`);
        this.#stop(error);
        reject(error);
      });
    });
  }

  request<T>(request: Unsent<StoreRequest>): Promise<T> {
    if (this.#gone) return Promise.reject(this.#gone);
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#worker.postMessage({ ...request, id });
    });
  }

  subscribe(subscription: number, onPayload: (payload: string) => void): void {
    this.#subscribers.set(subscription, onPayload);
  }

  unsubscribe(subscription: number): void {
    this.#subscribers.delete(subscription);
  }

  /** Ends the worker (after its `close` request has closed the database). */
  async terminate(): Promise<void> {
    this.#gone ??= new GatewayError('GW_ERR_STORE', 'the store is closed');
    await this.#worker.terminate();
  }

  #received(message: Exclude<StoreWorkerMessage, { kind: 'ready' | 'failed' }>): void {
    switch (message.kind) {
      case 'reply': {
        const pending = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        if (message.ok) pending?.resolve(message.value);
        else pending?.reject(deserialize(message.error));
        break;
      }
      case 'notify':
        this.#subscribers.get(message.subscription)?.(message.payload);
        break;
      case 'log':
        this.#log(message.line);
        break;
    }
  }

  /** A worker's pino line, written again through the gateway's logger (redacted in the worker). */
  #log(line: string): void {
    const {
      level,
      msg,
      time: _time,
      pid: _pid,
      hostname: _hostname,
      ...fields
    } = JSON.parse(line) as {
      level: number;
      msg?: string;
      [field: string]: unknown;
    };
    const label = this.#logger.levels.labels[level] ?? 'info';
    this.#logger[label as 'info']({ ...fields, thread: 'store' }, msg ?? '');
  }

  #stop(error: Error): void {
    this.#gone ??= error;
    for (const { reject } of this.#pending.values()) reject(this.#gone);
    this.#pending.clear();
  }
}

/** The error the worker reported, as the kind callers test for (a SQLSTATE `code`, a GatewayError). */
function deserialize(error: SerializedError): Error {
  if (error.name === 'GatewayError' && error.code !== undefined)
    return new GatewayError(error.code as GatewayErrorCode, error.message);
  const { name, message, ...fields } = error;
  return Object.assign(name === 'RangeError' ? new RangeError(message) : new Error(message), fields);
}

function remoteQuerier(link: StoreWorkerLink, txId?: number): SqlQuerier {
  const inTx = txId === undefined ? {} : { txId };
  return {
    query: <R>(sql: string, params: readonly unknown[] = []) =>
      link.request<R[]>({ op: 'query', sql, params, ...inTx }),
    exec: (script) => link.request<void>({ op: 'exec', script, ...inTx }),
  };
}

function remoteExecutor(link: StoreWorkerLink): SqlExecutor {
  return {
    ...remoteQuerier(link),
    transaction: async (work) => {
      const txId = await link.request<number>({ op: 'begin' });
      let result: Awaited<ReturnType<typeof work>>;
      try {
        result = await work(remoteQuerier(link, txId));
      } catch (error) {
        await link.request({ op: 'end', txId, commit: false }).catch(() => {});
        throw error;
      }
      await link.request({ op: 'end', txId, commit: true });
      return result;
    },
    listen: async (channel, onPayload) => {
      const subscription = await link.request<number>({ op: 'listen', channel });
      link.subscribe(subscription, onPayload);
      return async () => {
        link.unsubscribe(subscription);
        await link.request({ op: 'unlisten', subscription });
      };
    },
    close: () => link.request({ op: 'close' }),
  };
}

/** Reads and checks run through the executor; appends are chained and stored in the worker. */
class WorkerAuditRepository extends SqlAuditRepository {
  readonly #link: StoreWorkerLink;

  constructor(db: SqlExecutor, link: StoreWorkerLink) {
    super(db);
    this.#link = link;
  }

  override async append(items: readonly NewAuditEvent[]): Promise<ChainedEvent[]> {
    if (items.length === 0) return [];
    const links = await this.#link.request<AppendedLinks>({ op: 'appendAudit', items });
    let prevHash = links.firstPrevHash;
    return items.map((item, index) => {
      const hash = links.hashes[index] ?? '';
      const record = { seq: links.firstSeq + index, ...item, prevHash, hash };
      prevHash = hash;
      return record;
    });
  }
}

/**
 * Opens `url` (as {@link openStore} does) in a worker thread.
 * @throws GatewayError GW_ERR_STORE as {@link openStore} does.
 */
export async function openStoreInWorker(url: string, options: { logger: Logger }): Promise<Store> {
  const link = new StoreWorkerLink(url, options.logger);
  let kind: Store['kind'];
  try {
    kind = await link.ready;
  } catch (error) {
    await link.terminate();
    throw error;
  }
  const db = remoteExecutor(link);
  try {
    return await openSqlStore(db, kind, options.logger, {
      afterClose: () => link.terminate(),
      audit: new WorkerAuditRepository(db, link),
    });
  } catch (error) {
    throw storeError(error, url);
  }
}
