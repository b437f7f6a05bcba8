/**
 * @module store/store-worker
 * The store's own thread. The gateway opens its store here (src/store/worker-store.ts) so that
 * the database work of the audit log — canonical encoding, hashing and, for the embedded PGlite
 * store, the database engine itself, which runs synchronously inside whatever thread owns it —
 * never holds up the event loop that relays client traffic.
 *
 * It serves {@link SqlExecutor} calls over the message port, and one call of its own: audit
 * appends, which chain and store events here and send back only the links.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { REDACT_PATHS } from '../core/logger.ts';
import { SqlAuditRepository } from './audit-repository.ts';
import { openExecutor } from './open-store.ts';
import type { SqlQuerier } from './sql-executor.ts';
import type {
  AppendedLinks,
  SerializedError,
  StoreRequest,
  StoreWorkerData,
  StoreWorkerMessage,
} from './worker-messages.ts';

const port = parentPort;
if (port === null) throw new Error('store-worker.ts runs as a worker thread only');
const { url, level } = workerData as StoreWorkerData;

function post(message: StoreWorkerMessage): void {
  port?.postMessage(message);
}

// Lines go to the gateway's logger, which writes them where its own go.
const logger = pino(
  { level, redact: { paths: REDACT_PATHS, censor: '[REDACTED]' } },
  { write: (line: string) => post({ kind: 'log', line }) },
);

function serialize(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const { code, constraint } = error as { code?: unknown; constraint?: unknown };
  return {
    name: error.name,
    message: error.message,
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof constraint === 'string' ? { constraint } : {}),
  };
}

/** Thrown inside a transaction to roll it back; not an error anyone sees. */
const ROLLBACK = Symbol('rollback');

interface OpenTransaction {
  readonly tx: SqlQuerier;
  /** Lets the transaction's work finish: resolve to commit, reject with ROLLBACK to roll back. */
  readonly finish: (commit: boolean) => void;
  /** Settles once COMMIT or ROLLBACK has run. */
  readonly settled: Promise<void>;
}

async function serve(): Promise<void> {
  let opened: Awaited<ReturnType<typeof openExecutor>>;
  try {
    opened = await openExecutor(url, logger);
  } catch (error) {
    post({ kind: 'failed', error: serialize(error) });
    return;
  }
  const { db, afterClose } = opened;
  const audit = new SqlAuditRepository(db);
  const transactions = new Map<number, OpenTransaction>();
  const subscriptions = new Map<number, () => Promise<void>>();
  let nextId = 1;

  function querier(txId: number | undefined): SqlQuerier {
    if (txId === undefined) return db;
    const open = transactions.get(txId);
    if (open === undefined) throw new Error(`store worker: no open transaction ${txId}`);
    return open.tx;
  }

  /** Resolves to the new transaction's id once BEGIN has run. */
  function begin(): Promise<number> {
    return new Promise((begun, failed) => {
      const id = nextId++;
      const settled: Promise<void> = db
        .transaction(
          (tx) =>
            new Promise<void>((resolve, reject) => {
              transactions.set(id, {
                tx,
                finish: (commit) => (commit ? resolve() : reject(ROLLBACK)),
                settled,
              });
              begun(id);
            }),
        )
        .catch((error: unknown) => {
          if (error !== ROLLBACK) throw error;
        });
      // Only matters when BEGIN itself fails: afterwards `begun` has already settled the promise.
      settled.catch(failed);
    });
  }

  async function end(txId: number, commit: boolean): Promise<void> {
    const open = transactions.get(txId);
    if (open === undefined) throw new Error(`store worker: no open transaction ${txId}`);
    transactions.delete(txId);
    open.finish(commit);
    await open.settled;
  }

  async function appendAudit(
    items: Extract<StoreRequest, { op: 'appendAudit' }>['items'],
  ): Promise<AppendedLinks | null> {
    const records = await audit.append(items);
    const first = records[0];
    if (first === undefined) return null;
    return {
      firstSeq: first.seq,
      firstPrevHash: first.prevHash,
      hashes: records.map((record) => record.hash),
    };
  }

  async function perform(request: StoreRequest): Promise<unknown> {
    switch (request.op) {
      case 'query':
        return querier(request.txId).query(request.sql, request.params);
      case 'exec':
        return querier(request.txId).exec(request.script);
      case 'begin':
        return begin();
      case 'end':
        return end(request.txId, request.commit);
      case 'listen': {
        const subscription = nextId++;
        subscriptions.set(
          subscription,
          await db.listen(request.channel, (payload) => post({ kind: 'notify', subscription, payload })),
        );
        return subscription;
      }
      case 'unlisten': {
        const unlisten = subscriptions.get(request.subscription);
        subscriptions.delete(request.subscription);
        await unlisten?.();
        return undefined;
      }
      case 'appendAudit':
        return appendAudit(request.items);
      case 'close':
        await db.close();
        await afterClose();
        return undefined;
    }
  }

  port?.on('message', (request: StoreRequest) => {
    perform(request).then(
      (value) => post({ kind: 'reply', id: request.id, ok: true, value }),
      (error: unknown) => post({ kind: 'reply', id: request.id, ok: false, error: serialize(error) }),
    );
  });
  post({ kind: 'ready', storeKind: opened.kind });
}

await serve();
