/**
 * @module protocols/postgres/result-shapes
 * The type and format of every column of the rows now arriving, so values can be masked as what
 * they are (text in place; anything else replaced whole, by NULL). Pure: the session reports what
 * it forwards and what the server answers.
 *
 * In the simple protocol each result's RowDescription says it all. In the extended protocol the
 * formats are chosen at Bind and the types are known from a Describe of the statement or the
 * portal, which may have happened long before the Execute whose rows arrive now. So the tracker
 * keeps the described types per statement and portal, the Bind formats per portal, and a FIFO of
 * the messages whose answers carry or need a shape, corrected by errors (skip to Sync) and
 * ReadyForQuery, as the server does.
 */

export interface ColumnShape {
  /** undefined when no RowDescription told the type (the value is then never assumed text). */
  readonly typeOid: number | undefined;
  /** 0 text, 1 binary. */
  readonly format: number;
}

type Pending =
  | { readonly kind: 'describe-statement'; readonly name: string }
  | { readonly kind: 'describe-portal'; readonly name: string }
  | { readonly kind: 'execute'; readonly portal: string }
  | { readonly kind: 'query' }
  | { readonly kind: 'sync' };

interface Portal {
  types: readonly number[] | undefined;
  readonly formats: readonly number[];
}

/** The format of column `i` from a Bind's result format list (none: text; one: all; else each). */
function formatOf(formats: readonly number[], i: number): number {
  if (formats.length === 0) return 0;
  return (formats.length === 1 ? formats[0] : formats[i]) ?? 0;
}

export class ResultShapeTracker {
  readonly #statements = new Map<string, readonly number[]>();
  readonly #portals = new Map<string, Portal>();
  #pending: Pending[] = [];
  /** The RowDescription of the simple-protocol result now streaming. */
  #queryShape: readonly ColumnShape[] | undefined;

  // ---- client → server -------------------------------------------------------------------------

  parse(name: string): void {
    this.#statements.delete(name);
  }

  bind(portal: string, statement: string, resultFormats: readonly number[]): void {
    this.#portals.set(portal, { types: this.#statements.get(statement), formats: resultFormats });
  }

  describe(kind: 'S' | 'P', name: string): void {
    this.#pending.push(
      kind === 'S' ? { kind: 'describe-statement', name } : { kind: 'describe-portal', name },
    );
  }

  execute(portal: string): void {
    this.#pending.push({ kind: 'execute', portal });
  }

  close(kind: 'S' | 'P', name: string): void {
    if (kind === 'S') this.#statements.delete(name);
    else this.#portals.delete(name);
  }

  query(): void {
    this.#pending.push({ kind: 'query' });
  }

  sync(): void {
    this.#pending.push({ kind: 'sync' });
  }

  // ---- server → client -------------------------------------------------------------------------

  rowDescription(fields: readonly { readonly typeOid: number; readonly format: number }[]): void {
    const head = this.#head();
    if (head?.kind === 'query' || head === undefined) {
      this.#queryShape = fields.map((f) => ({ typeOid: f.typeOid, format: f.format }));
      return;
    }
    const types = fields.map((f) => f.typeOid);
    if (head.kind === 'describe-statement') this.#statements.set(head.name, types);
    else if (head.kind === 'describe-portal') {
      const portal = this.#portals.get(head.name);
      if (portal) portal.types = types;
    }
    if (head.kind === 'describe-statement' || head.kind === 'describe-portal') this.#pending.shift();
  }

  /** NoData answers a Describe of something that returns no rows. */
  noData(): void {
    const head = this.#head();
    if (head?.kind === 'describe-statement' || head?.kind === 'describe-portal') this.#pending.shift();
  }

  /** The shape of the DataRows arriving now, or undefined when unknown. */
  rowShape(): readonly ColumnShape[] | undefined {
    const head = this.#head();
    if (head?.kind !== 'execute') return this.#queryShape;
    const portal = this.#portals.get(head.portal);
    if (!portal) return undefined;
    const types = portal.types;
    if (!types) return undefined;
    return types.map((typeOid, i) => ({ typeOid, format: formatOf(portal.formats, i) }));
  }

  /** The format the DataRows of an Execute use when their types are unknown (binary matters). */
  rowFormats(): { readonly formats: readonly number[] } | undefined {
    const head = this.#head();
    if (head?.kind !== 'execute') return undefined;
    const portal = this.#portals.get(head.portal);
    return portal ? { formats: portal.formats } : undefined;
  }

  /** CommandComplete, EmptyQueryResponse or PortalSuspended: one result ended. */
  resultEnded(): void {
    const head = this.#head();
    if (head?.kind === 'execute') this.#pending.shift();
    else this.#queryShape = undefined;
  }

  /** ErrorResponse: a Query ends at its ReadyForQuery; an extended batch skips to its Sync. */
  error(): void {
    this.#queryShape = undefined;
    if (this.#head()?.kind === 'query') return;
    while (this.#pending.length > 0 && this.#pending[0]?.kind !== 'sync') this.#pending.shift();
  }

  readyForQuery(): void {
    this.#queryShape = undefined;
    // Everything up to and including the Query or Sync this ReadyForQuery answers is done.
    for (;;) {
      const head = this.#pending.shift();
      if (head === undefined || head.kind === 'query' || head.kind === 'sync') return;
    }
  }

  #head(): Pending | undefined {
    return this.#pending[0];
  }
}
