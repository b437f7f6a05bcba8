/**
 * @module store/audit-repository
 * The hash-chained audit log in `sluice.audit_events`, its checkpoints and signing keys, written
 * once against {@link SqlExecutor} for both backends. Hashing is src/audit/chain.ts's; this module
 * stores records so that their hashes can be recomputed from what is read back: `at` and the
 * event are kept as the text given, so they read back as the values that were hashed.
 */
import { type ChainedEvent, type Checkpoint, chainNext } from '../audit/chain.ts';
import { GatewayError } from '../core/errors.ts';
import type { Int8, SqlExecutor, SqlQuerier } from './sql-executor.ts';
import type {
  AuditKey,
  AuditRange,
  AuditRepository,
  NewAuditEvent,
  PrunedRange,
  SessionFilter,
} from './store.ts';

const DEFAULT_LIMIT = 1000;

/**
 * Appends serialize on this transaction-scoped advisory lock (key: 'sl_audit' in ASCII, apart
 * from the migration lock's), so concurrent appenders on every replica chain one after another
 * instead of colliding on a seq; COMMIT or ROLLBACK releases it, so a crashed appender never holds it.
 */
const APPEND_LOCK = `SELECT pg_advisory_xact_lock(x'736c5f6175646974'::bigint)`;

const EVENT_COLUMNS = 'seq, at_text, type, event, prev_hash, hash';

interface EventRow {
  seq: Int8;
  at_text: string;
  type: string;
  event: string;
  prev_hash: string;
  hash: string;
}

interface CheckpointRow {
  seq: Int8;
  hash: string;
  at: string;
  key_id: string;
  signature: string;
}

function toEvent(row: EventRow): ChainedEvent {
  return {
    seq: Number(row.seq),
    at: row.at_text,
    type: row.type,
    event: JSON.parse(row.event),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function toCheckpoint(row: CheckpointRow): Checkpoint {
  return {
    seq: Number(row.seq),
    hash: row.hash,
    at: row.at,
    keyId: row.key_id,
    signature: row.signature,
  };
}

async function newest(db: SqlQuerier): Promise<{ seq: number; hash: string } | undefined> {
  const [row] = await db.query<Pick<EventRow, 'seq' | 'hash'>>(
    'SELECT seq, hash FROM sluice.audit_events ORDER BY seq DESC LIMIT 1',
  );
  return row && { seq: Number(row.seq), hash: row.hash };
}

export class SqlAuditRepository implements AuditRepository {
  readonly #db: SqlExecutor;

  constructor(db: SqlExecutor) {
    this.#db = db;
  }

  async append(items: readonly NewAuditEvent[]): Promise<ChainedEvent[]> {
    if (items.length === 0) return [];
    return this.#db.transaction(async (tx) => {
      await tx.query(APPEND_LOCK);
      const chained = chainNext(await newest(tx), items);
      // One statement for the whole batch: each column as an array, zipped back into rows by unnest.
      // No RETURNING: the rows are exactly `chained`, and reading them back would double the work.
      await tx.query(
        `INSERT INTO sluice.audit_events (seq, at, at_text, type, event, prev_hash, hash)
         SELECT seq, at_text::timestamptz, at_text, type, event, prev_hash, hash
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
           AS t(seq, at_text, type, event, prev_hash, hash)`,
        [
          chained.map((record) => record.seq),
          chained.map((record) => record.at),
          chained.map((record) => record.type),
          chained.map((record) => JSON.stringify(record.event)),
          chained.map((record) => record.prevHash),
          chained.map((record) => record.hash),
        ],
      );
      return chained;
    });
  }

  head(): Promise<{ seq: number; hash: string } | undefined> {
    return newest(this.#db);
  }

  async range(options: AuditRange): Promise<ChainedEvent[]> {
    const rows = await this.#db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM sluice.audit_events
       WHERE ($1::bigint IS NULL OR seq >= $1) AND ($2::bigint IS NULL OR seq <= $2)
         AND ($3::timestamptz IS NULL OR at >= $3)
       ORDER BY seq LIMIT $4`,
      [
        options.fromSeq ?? null,
        options.toSeq ?? null,
        options.sinceAt ?? null,
        Math.max(Math.trunc(options.limit ?? DEFAULT_LIMIT), 0),
      ],
    );
    return rows.map(toEvent);
  }

  async sessions(filter: SessionFilter): Promise<ChainedEvent[]> {
    const rows = await this.#db.query<EventRow>(
      // OFFSET 0 keeps the jsonb casts off other event types (jsonb refuses some texts, e.g. NUL).
      `SELECT * FROM (
         SELECT ${EVENT_COLUMNS} FROM sluice.audit_events
         WHERE type = 'session.opened' AND ($3::timestamptz IS NULL OR at >= $3) OFFSET 0
       ) opened
       WHERE ($1::text IS NULL OR (event::jsonb)->'principal'->>'id' = $1 OR (event::jsonb)->'principal'->>'name' = $1)
         AND ($2::text IS NULL OR (event::jsonb)->>'connection' = $2)
       ORDER BY seq DESC LIMIT $4`,
      [
        filter.principal ?? null,
        filter.connection ?? null,
        filter.sinceAt ?? null,
        Math.max(Math.trunc(filter.limit ?? DEFAULT_LIMIT), 0),
      ],
    );
    return rows.map(toEvent);
  }

  async sessionEvents(sessionId: string): Promise<ChainedEvent[]> {
    const rows = await this.#db.query<EventRow>(
      // Events are stored as the JSON text that was hashed, which spells the key exactly so.
      `SELECT ${EVENT_COLUMNS} FROM sluice.audit_events
       WHERE (type LIKE 'session.%' OR type LIKE 'statement.%') AND strpos(event, $1) > 0
       ORDER BY seq`,
      [`"sessionId":${JSON.stringify(sessionId)}`],
    );
    return rows
      .map(toEvent)
      .filter((record) => (record.event as { sessionId?: string }).sessionId === sessionId);
  }

  async before(seq: number): Promise<ChainedEvent | undefined> {
    const [row] = await this.#db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM sluice.audit_events WHERE seq < $1 ORDER BY seq DESC LIMIT 1`,
      [seq],
    );
    return row && toEvent(row);
  }

  async addCheckpoint(checkpoint: Checkpoint): Promise<void> {
    await this.#db.query(
      `INSERT INTO sluice.audit_checkpoints (seq, hash, at, key_id, signature) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (seq) DO NOTHING`,
      [checkpoint.seq, checkpoint.hash, checkpoint.at, checkpoint.keyId, checkpoint.signature],
    );
  }

  async checkpoints(): Promise<Checkpoint[]> {
    const rows = await this.#db.query<CheckpointRow>(
      'SELECT seq, hash, at, key_id, signature FROM sluice.audit_checkpoints ORDER BY seq',
    );
    return rows.map(toCheckpoint);
  }

  async prune(before: string): Promise<PrunedRange | undefined> {
    return this.#db.transaction(async (tx) => {
      const [anchor] = await tx.query<{ seq: Int8 }>(
        `SELECT c.seq FROM sluice.audit_checkpoints c JOIN sluice.audit_events e ON e.seq = c.seq
         WHERE e.at < $1::timestamptz ORDER BY c.seq DESC LIMIT 1`,
        [before],
      );
      if (anchor === undefined) return undefined;
      const anchorSeq = Number(anchor.seq);
      const [through] = await tx.query<Pick<EventRow, 'seq' | 'at_text'>>(
        'SELECT seq, at_text FROM sluice.audit_events WHERE seq < $1 ORDER BY seq DESC LIMIT 1',
        [anchorSeq],
      );
      if (through === undefined) return undefined;
      await tx.query('DELETE FROM sluice.audit_events WHERE seq < $1', [anchorSeq]);
      await tx.query('DELETE FROM sluice.audit_checkpoints WHERE seq < $1', [anchorSeq]);
      return { throughSeq: Number(through.seq), throughAt: through.at_text, anchorSeq };
    });
  }

  /**
   * One statement, safe against a concurrent registration: the no-op update returns the row when
   * the stored key is the same, and nothing when it differs.
   */
  async addKey(keyId: string, publicKeyPem: string): Promise<void> {
    const rows = await this.#db.query(
      `INSERT INTO sluice.audit_keys (key_id, public_key) VALUES ($1, $2)
       ON CONFLICT (key_id) DO UPDATE SET public_key = excluded.public_key
         WHERE audit_keys.public_key = excluded.public_key
       RETURNING key_id`,
      [keyId, publicKeyPem],
    );
    if (rows.length === 0) {
      throw new GatewayError(
        'GW_ERR_STORE',
        `audit key ${keyId} is already registered with a different public key`,
      );
    }
  }

  async keys(): Promise<AuditKey[]> {
    const rows = await this.#db.query<{ key_id: string; public_key: string }>(
      'SELECT key_id, public_key FROM sluice.audit_keys ORDER BY created_at, key_id',
    );
    return rows.map((row) => ({ keyId: row.key_id, publicKeyPem: row.public_key }));
  }
}
