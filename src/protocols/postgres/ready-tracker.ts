/**
 * @module protocols/postgres/ready-tracker
 * How many ReadyForQuery messages the server still owes the client, so the session knows when
 * the connection is truly idle (for the idle and idle-in-transaction deadlines) and whether a
 * vanished client left a statement running. Pure: the session reports what it forwards and what
 * the server sends.
 *
 * Counting one ReadyForQuery per Query, Sync and FunctionCall is right until the server drops
 * some of them, and a client can provoke both cases on purpose to dodge the deadlines:
 * - After an error in an extended-protocol batch, the server discards every message up to the
 *   next Sync, including a Query or FunctionCall pipelined inside that batch.
 * - In COPY FROM STDIN the server ignores Sync (and Flush) until CopyDone or CopyFail; libpq then
 *   sends another Sync after CopyDone in extended mode.
 * So the owed responses are a FIFO of the messages that would produce one, corrected from the
 * server's own replies (SECURITY.md §4: track COPY and error-until-Sync from server responses).
 */

interface Owed {
  readonly kind: 'query' | 'sync' | 'function';
  readonly seq: number;
  /** The first client message the server handles as part of this unit (a Sync's whole batch). */
  readonly firstSeq: number;
  /** Sent inside an extended batch that had not been synced yet. */
  readonly inBatch: boolean;
}

export class ReadyTracker {
  /** Messages that will each produce one ReadyForQuery, oldest first. */
  #owed: Owed[] = [];
  /** Client message sequence number, to order Syncs against the end of a COPY. */
  #seq = 0;
  /** Sequence number of the first extended-protocol message since the last Sync (0: none). */
  #batchStart = 0;
  /** Sequence numbers of CopyDone/CopyFail messages the server has not reached yet. */
  #copyEnds: number[] = [];
  /** The server is in COPY IN and the client has not yet sent the message that ends it. */
  #voidSyncsUntilCopyEnd = false;

  get outstanding(): number {
    return this.#owed.length;
  }

  // ---- client → server -------------------------------------------------------------------------

  query(): void {
    this.#owe('query');
  }

  functionCall(): void {
    this.#owe('function');
  }

  /** Parse, Bind, Describe, Execute, Close, Flush. */
  extended(): void {
    const seq = ++this.#seq;
    if (this.#batchStart === 0) this.#batchStart = seq;
  }

  sync(): void {
    const seq = ++this.#seq;
    const firstSeq = this.#batchStart || seq;
    this.#batchStart = 0;
    if (!this.#voidSyncsUntilCopyEnd) this.#owed.push({ kind: 'sync', seq, firstSeq, inBatch: false });
  }

  #owe(kind: 'query' | 'function'): void {
    const seq = ++this.#seq;
    this.#owed.push({ kind, seq, firstSeq: seq, inBatch: this.#batchStart !== 0 });
  }

  /** CopyDone or CopyFail. */
  copyEnd(): void {
    this.#copyEnds.push(++this.#seq);
    this.#voidSyncsUntilCopyEnd = false;
  }

  // ---- server → client -------------------------------------------------------------------------

  readyForQuery(): void {
    this.#owed.shift();
  }

  /** CopyInResponse: Syncs the server receives before the copy ends are ignored by it. */
  copyInStarted(): void {
    // CopyDone/CopyFail sent before this COPY began were ignored by the server (it accepts and
    // drops them outside copy mode, e.g. after a failed COPY), so they cannot end this one.
    const start = this.#owed[0]?.firstSeq ?? this.#seq;
    while ((this.#copyEnds[0] ?? Number.POSITIVE_INFINITY) < start) this.#copyEnds.shift();
    const end = this.#copyEnds.shift();
    if (end === undefined) this.#voidSyncsUntilCopyEnd = true;
    this.#owed = this.#owed.filter((owed) => owed.kind !== 'sync' || (end !== undefined && owed.seq > end));
  }

  /**
   * ErrorResponse. If the server was inside an extended batch, it now skips to that batch's
   * Sync, so Queries and FunctionCalls pipelined before it produce nothing. When it is unclear
   * whether the error came from the batch or from the Query itself (a Query mixed into an
   * unsynced batch, which no real client sends), we assume the batch: the count can then only
   * err low, which makes the deadlines apply sooner, never later.
   */
  error(): void {
    // An error also ends COPY IN on the server; Syncs count again from here.
    this.#voidSyncsUntilCopyEnd = false;
    while (this.#owed[0]?.inBatch && this.#owed[0].kind !== 'sync') this.#owed.shift();
  }
}
