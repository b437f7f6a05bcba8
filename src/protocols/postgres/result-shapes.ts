/**
 * @module protocols/postgres/result-shapes
 * The type and format of every column of the rows now arriving, so values can be masked as what
 * they are (text in place; anything else replaced whole, by NULL), and the column-rule plan of
 * the statement that produced them. Pure: the session reports what it forwards and what the
 * server answers.
 *
 * In the simple protocol each result's RowDescription says it all, and the statements of one
 * Query answer in order, each ending with exactly one CommandComplete (or an error that ends the
 * Query). In the extended protocol the formats are chosen at Bind and the types are known from a
 * Describe of the statement or the portal, which may have happened long before the Execute whose
 * rows arrive now; the plan follows Parse → Bind → Execute. So the tracker keeps what was
 * described and planned per statement and portal, the Bind formats per portal, and a FIFO of the
 * messages whose answers carry or need a shape, corrected by errors (skip to Sync) and
 * ReadyForQuery, as the server does.
 */
import type { FieldRule, ResultField, ResultPlan } from '../../core/result-plan.ts';

export interface ColumnShape {
  /** undefined when no RowDescription told the type (the value is then never assumed text). */
  readonly typeOid: number | undefined;
  /** 0 text, 1 binary. */
  readonly format: number;
}

/** A RowDescription field, as much of it as masking needs. */
export interface DescribedField extends ResultField {
  readonly typeOid: number;
  readonly format: number;
}

type Pending =
  | { readonly kind: 'describe-statement'; readonly name: string }
  | { readonly kind: 'describe-portal'; readonly name: string }
  | { readonly kind: 'execute'; readonly portal: string }
  | { readonly kind: 'query'; readonly plans: readonly (ResultPlan | undefined)[]; index: number }
  | { readonly kind: 'sync' };

interface Statement {
  fields: readonly DescribedField[] | undefined;
  readonly plan: ResultPlan | undefined;
}

interface Portal {
  fields: readonly DescribedField[] | undefined;
  readonly formats: readonly number[];
  readonly plan: ResultPlan | undefined;
  /** The fields with this portal's formats, built once (rows ask for it one by one). */
  shape?: readonly ColumnShape[] | undefined;
}

/** The format of column `i` from a Bind's result format list (none: text; one: all; else each). */
function formatOf(formats: readonly number[], i: number): number {
  if (formats.length === 0) return 0;
  return (formats.length === 1 ? formats[0] : formats[i]) ?? 0;
}

const NO_PLANS: readonly (ResultPlan | undefined)[] = [];

export class ResultShapeTracker {
  readonly #statements = new Map<string, Statement>();
  readonly #portals = new Map<string, Portal>();
  #pending: Pending[] = [];
  /** The RowDescription of the simple-protocol result now streaming. */
  #queryFields: readonly DescribedField[] | undefined;
  /** Field rules of the result now streaming, computed once per result. */
  #rules: { readonly key: object; readonly rules: readonly (FieldRule | undefined)[] } | undefined;

  // ---- client → server -------------------------------------------------------------------------

  /** Mirrors the server: a Parse replaces the unnamed statement, never an existing named one. */
  parse(name: string, plan?: ResultPlan): void {
    if (name === '' || !this.#statements.has(name)) this.#statements.set(name, { fields: undefined, plan });
  }

  bind(portal: string, statement: string, resultFormats: readonly number[]): void {
    const source = this.#statements.get(statement);
    this.#portals.set(portal, { fields: source?.fields, formats: resultFormats, plan: source?.plan });
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

  /** A Query (or FunctionCall), with one column-rule plan per statement when rules apply. */
  query(plans: readonly (ResultPlan | undefined)[] = NO_PLANS): void {
    this.#pending.push({ kind: 'query', plans, index: 0 });
  }

  sync(): void {
    this.#pending.push({ kind: 'sync' });
  }

  // ---- server → client -------------------------------------------------------------------------

  rowDescription(fields: readonly DescribedField[]): void {
    const head = this.#head();
    if (head?.kind === 'query' || head === undefined) {
      this.#queryFields = fields;
      return;
    }
    if (head.kind === 'describe-statement') {
      const statement = this.#statements.get(head.name);
      if (statement) statement.fields = fields;
    } else if (head.kind === 'describe-portal') {
      const portal = this.#portals.get(head.name);
      if (portal) {
        portal.fields = fields;
        portal.shape = undefined;
      }
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
    if (head?.kind !== 'execute') return this.#queryFields;
    const portal = this.#portals.get(head.portal);
    if (!portal?.fields) return undefined;
    portal.shape ??= portal.fields.map((f, i) => ({
      typeOid: f.typeOid,
      format: formatOf(portal.formats, i),
    }));
    return portal.shape;
  }

  /** The format the DataRows of an Execute use when their types are unknown (binary matters). */
  rowFormats(): { readonly formats: readonly number[] } | undefined {
    const head = this.#head();
    if (head?.kind !== 'execute') return undefined;
    const portal = this.#portals.get(head.portal);
    return portal ? { formats: portal.formats } : undefined;
  }

  /**
   * The column-rule masking of each field of the rows arriving now; undefined when no rule
   * applies. With a plan but no RowDescription (an Execute never described), every field is
   * treated as derived from whatever the plan protects.
   */
  rowRules(count: number): readonly (FieldRule | undefined)[] | undefined {
    const head = this.#head();
    let plan: ResultPlan | undefined;
    let fields: readonly ResultField[] | undefined;
    let key: object | undefined;
    if (head?.kind === 'execute') {
      const portal = this.#portals.get(head.portal);
      plan = portal?.plan;
      fields = portal?.fields;
      key = portal;
    } else if (head?.kind === 'query') {
      plan = head.plans[head.index];
      fields = this.#queryFields;
      key = fields;
    }
    if (plan === undefined) return undefined;
    if (key !== undefined && this.#rules?.key === key) return this.#rules.rules;
    const described = fields ?? Array.from({ length: count }, () => ({ name: '', tableOid: 0 }));
    const rules = plan.fieldRules(described);
    if (key !== undefined) this.#rules = { key, rules };
    return rules;
  }

  /** The plan of the statement whose answers arrive now (for its errors), if any. */
  currentPlan(): ResultPlan | undefined {
    const head = this.#head();
    if (head?.kind === 'execute') return this.#portals.get(head.portal)?.plan;
    return head?.kind === 'query' ? head.plans[head.index] : undefined;
  }

  /** CommandComplete, EmptyQueryResponse or PortalSuspended: one result ended. */
  resultEnded(): void {
    this.#rules = undefined;
    const head = this.#head();
    if (head?.kind === 'execute') this.#pending.shift();
    else {
      this.#queryFields = undefined;
      if (head?.kind === 'query') head.index++;
    }
  }

  /** ErrorResponse: a Query ends at its ReadyForQuery; an extended batch skips to its Sync. */
  error(): void {
    this.#queryFields = undefined;
    this.#rules = undefined;
    if (this.#head()?.kind === 'query') return;
    while (this.#pending.length > 0 && this.#pending[0]?.kind !== 'sync') this.#pending.shift();
  }

  readyForQuery(): void {
    this.#queryFields = undefined;
    this.#rules = undefined;
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
