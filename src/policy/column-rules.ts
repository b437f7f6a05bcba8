/**
 * @module policy/column-rules
 * Column rules (pure: no I/O): which table columns are sensitive and how they are masked, and,
 * from a statement's lineage, either a refusal or the plan that masks its result fields
 * (SECURITY.md §3: lineage masking and the predicate policy).
 *
 * Every decision errs towards masking more: a field that cannot be pinned to exactly one sensitive
 * column, unchanged, is redacted whole (`derived`).
 */
import type { FieldRule, ResultField, ResultPlan } from '../core/result-plan.ts';
import type { ColumnRef, OutputLineage } from '../sql/postgres/lineage.ts';
import { compileGlobs, type NameMatcher } from './glob.ts';
import { qualifiedTable } from './names.ts';

export type MaskerName = 'redact' | 'partial' | 'hash' | 'email' | 'null';

export interface ColumnRuleSpec {
  /** A `schema.table.column` glob; `table.column` is that table in any schema, `column` any table's. */
  readonly column: string;
  readonly masker: MaskerName;
}

/**
 * `schema.table.column` globs (`public.customers.card_number`, `*.customers.ssn`, `public.*.email`);
 * a two-part pattern `table.column` matches that table in any schema. Matching ignores case (an
 * over-match only masks more). The first matching spec wins.
 */
export interface ColumnRules {
  /** The rule for a column of a table (table as lineage names it: bare, schema- or db-qualified). */
  ruleFor(table: string, column: string): ColumnRuleSpec | undefined;
  /** Whether any rule could apply to some column of this table (for `*` / whole-row refs). */
  tableSensitive(table: string): boolean;
  readonly empty: boolean;
}

interface CompiledRule {
  readonly spec: ColumnRuleSpec;
  readonly schema: NameMatcher;
  readonly table: NameMatcher;
  readonly column: NameMatcher;
}

const ANY: NameMatcher = () => true;

function compileRule(spec: ColumnRuleSpec): CompiledRule {
  // `db.schema.table.column`: the database part says nothing (a session sees one database).
  const parts = spec.column.toLowerCase().split('.').slice(-3);
  const glob = (p: string | undefined): NameMatcher => (p === undefined ? ANY : compileGlobs([p]));
  const [column, table, schema] = [...parts].reverse();
  return { spec, schema: glob(schema), table: glob(table), column: glob(column ?? '') };
}

/** `public.customers` from `customers`, `db.public.customers`…, split, lower-cased. */
function splitTable(table: string): { schema: string; table: string } {
  const full = qualifiedTable(table).toLowerCase();
  const dot = full.indexOf('.');
  return { schema: full.slice(0, dot), table: full.slice(dot + 1) };
}

export function compileColumnRules(specs: readonly ColumnRuleSpec[]): ColumnRules {
  const rules = specs.map(compileRule);
  return {
    empty: rules.length === 0,
    ruleFor(table, column) {
      if (rules.length === 0) return undefined;
      const t = splitTable(table);
      const c = column.toLowerCase();
      return rules.find((r) => r.schema(t.schema) && r.table(t.table) && r.column(c))?.spec;
    },
    tableSensitive(table) {
      if (rules.length === 0) return false;
      const t = splitTable(table);
      return rules.some((r) => r.schema(t.schema) && r.table(t.table));
    },
  };
}

export interface PlanOptions {
  /** `deny`: refuse statements that use a sensitive column where its value can be inferred. */
  readonly inference: 'deny' | 'allow';
  /** `deny`: refuse statements returning anything computed from a sensitive column (not the column itself). */
  readonly derived: 'mask' | 'deny';
}

export type StatementPlan =
  /** A reason for 42501 (the caller adds the prefix). */
  | { readonly refuse: string }
  /**
   * Undefined: the statement names no table with a sensitive column, so nothing sensitive can reach
   * the client. A plan whose fields all come back undefined still has `withholdErrors`.
   */
  | { readonly plan: ResultPlan | undefined };

/**
 * Unknown-node kinds behind which the statement may read tables it does not name (SQL in a string,
 * procedural code, a statement prepared earlier, unparseable text): with any column rule defined,
 * these are refused even when no named table is sensitive.
 */
function hidesReads(kind: string): boolean {
  return (
    kind.startsWith('FuncCall:') ||
    kind === 'DoStmt' ||
    kind === 'CallStmt' ||
    kind === 'ExecuteStmt' ||
    kind === 'ParseError' ||
    kind === 'Unknown'
  );
}

const UNTRACEABLE = 'the gateway cannot trace which outputs derive from sensitive columns';

/** A sensitive reference: a column with a rule, or the whole row (`*`) of a table with any rule. */
interface Hit {
  readonly label: string;
  /** The rule of a column reference; undefined for a whole row. */
  readonly rule: ColumnRuleSpec | undefined;
}

function hitOf(rules: ColumnRules, r: ColumnRef): Hit | undefined {
  const label = `${qualifiedTable(r.table)}.${r.column}`;
  if (r.column === '*') return rules.tableSensitive(r.table) ? { label, rule: undefined } : undefined;
  const rule = rules.ruleFor(r.table, r.column);
  return rule === undefined ? undefined : { label, rule };
}

function hitsOf(rules: ColumnRules, refs: readonly ColumnRef[]): Hit[] {
  const hits: Hit[] = [];
  for (const r of refs) {
    const hit = hitOf(rules, r);
    if (hit !== undefined) hits.push(hit);
  }
  return hits;
}

/** How one output maps to fields, with its sensitive references resolved once. */
type OutputPlan =
  | { readonly kind: 'star'; readonly tables: readonly string[] }
  | { readonly kind: 'plain'; readonly hits: readonly Hit[]; readonly direct: boolean };

/**
 * Refuses the statement, or plans how its result fields are masked. Never throws; linear in the
 * size of the lineage (times the number of rules).
 *
 * - `unknown` lineage is refused when a table it names is sensitive, or when it may read tables it
 *   does not name (`hidesReads`); otherwise the named tables bound what it reads and nothing
 *   sensitive is among them.
 * - `inference: 'deny'`: a sensitive column (or a sensitive table's whole row) in an inference
 *   position is refused; lineage already exempts bare `IS [NOT] NULL` and `count(col)`.
 * - Any sensitive source of stored data (`writtenFrom`) is refused.
 * - `derived: 'deny'`: an output that is not a plain reference to exactly one sensitive column is
 *   refused when it derives from one. Star outputs are plain columns. Fields that only the result's
 *   shape can align (see `fieldRules`' fallback) are still redacted, not refused.
 */
export function planStatement(l: OutputLineage, rules: ColumnRules, options: PlanOptions): StatementPlan {
  try {
    return plan(l, rules, options);
  } catch {
    return { refuse: UNTRACEABLE };
  }
}

function plan(l: OutputLineage, rules: ColumnRules, options: PlanOptions): StatementPlan {
  if (rules.empty) return { plan: undefined };
  const outputRefs = (l.outputs ?? []).flat();
  const written = l.writtenFrom ?? [];
  if (l.unknown === true) {
    const all = [...outputRefs, ...l.valueRefs, ...l.inferenceRefs, ...written];
    if (all.some((r) => rules.tableSensitive(r.table)) || (l.unknownNodes ?? ['Unknown']).some(hidesReads))
      return { refuse: UNTRACEABLE };
  }
  if (options.inference === 'deny') {
    const [hit] = hitsOf(rules, l.inferenceRefs);
    if (hit !== undefined)
      return {
        refuse: `sensitive column ${hit.label} is used in a predicate, ordering, grouping or join, which can reveal its values`,
      };
  }
  const [copied] = hitsOf(rules, written);
  if (copied !== undefined) return { refuse: `copies sensitive column ${copied.label} into another table` };

  // Server errors may quote any column of a table the statement touches (`Failing row contains …`).
  const withholdErrors = [...outputRefs, ...l.valueRefs, ...l.inferenceRefs, ...written].some((r) =>
    rules.tableSensitive(r.table),
  );
  const valueHits = hitsOf(rules, [...l.valueRefs, ...outputRefs]);
  const none = (): StatementPlan =>
    withholdErrors
      ? { plan: { fieldRules: (fields) => fields.map(() => undefined), withholdErrors } }
      : { plan: undefined };
  if (valueHits.length === 0) return none();

  const stars = new Set(l.starOutputs ?? []);
  const outputs: OutputPlan[] | undefined = l.outputs?.map((refs, i) =>
    stars.has(i)
      ? { kind: 'star', tables: refs.filter((r) => r.column === '*').map((r) => r.table) }
      : { kind: 'plain', hits: hitsOf(rules, refs), direct: l.outputDirect?.[i] === true },
  );

  if (options.derived === 'deny') {
    const firstHit = valueHits[0];
    if (outputs === undefined && firstHit !== undefined) return { refuse: derivedReason(firstHit) };
    for (const o of outputs ?? []) {
      const first = o.kind === 'plain' ? o.hits[0] : undefined;
      if (o.kind === 'plain' && first !== undefined && singleColumn(o) === undefined)
        return { refuse: derivedReason(first) };
    }
  }
  if (outputs !== undefined && !outputs.some(outputSensitive(rules))) return none();

  return {
    plan: { fieldRules: (fields) => fieldRules(fields, outputs, l, rules, valueHits), withholdErrors: true },
  };
}

function derivedReason(hit: Hit): string {
  return `returns a value computed from sensitive column ${hit.label}, which only passes unchanged`;
}

/** The one sensitive column a plain, direct output is, if it is exactly that. */
function singleColumn(o: OutputPlan): Hit | undefined {
  if (o.kind !== 'plain' || !o.direct || o.hits.length !== 1) return undefined;
  const [hit] = o.hits;
  return hit?.rule === undefined ? undefined : hit;
}

const outputSensitive =
  (rules: ColumnRules) =>
  (o: OutputPlan): boolean =>
    o.kind === 'star' ? o.tables.some((t) => rules.tableSensitive(t)) : o.hits.length > 0;

const direct = (hit: Hit & { rule: ColumnRuleSpec }): FieldRule => ({
  kind: 'direct',
  masker: hit.rule.masker,
  column: hit.label,
});

const derived = (hit: Hit): FieldRule => ({ kind: 'derived', column: hit.label });

/**
 * Aligns the fields with the outputs: without stars field i is output i; with exactly one star it
 * covers `fields.length - (outputs.length - 1)` consecutive fields. Otherwise (several stars, an
 * unknown shape, counts that disagree) see `fallbackRules`.
 */
function fieldRules(
  fields: readonly ResultField[],
  outputs: readonly OutputPlan[] | undefined,
  l: OutputLineage,
  rules: ColumnRules,
  valueHits: readonly Hit[],
): (FieldRule | undefined)[] {
  try {
    if (outputs === undefined) return fallbackRules(fields, l, rules, valueHits);
    const starAt = outputs.flatMap((o, i) => (o.kind === 'star' ? [i] : []));
    const width = fields.length - (outputs.length - 1);
    const [star] = starAt;
    if (starAt.length > 1 || (star === undefined ? width !== 1 : width < 0))
      return fallbackRules(fields, l, rules, valueHits);
    return fields.map((field, f) => {
      const i = star === undefined || f < star ? f : f < star + width ? star : f - width + 1;
      const o = outputs[i];
      return o === undefined ? derived(valueHits[0] ?? UNKNOWN_HIT) : fieldRule(field, o, rules);
    });
  } catch {
    return fields.map(() => derived(valueHits[0] ?? UNKNOWN_HIT));
  }
}

const UNKNOWN_HIT: Hit = { label: 'unknown', rule: undefined };

function fieldRule(field: ResultField, o: OutputPlan, rules: ColumnRules): FieldRule | undefined {
  if (o.kind === 'star') {
    // A field of a table's `*` is that table's column of the same name.
    const hits: Hit[] = [];
    for (const table of o.tables) {
      const rule = rules.ruleFor(table, field.name);
      if (rule !== undefined) hits.push({ label: `${qualifiedTable(table)}.${field.name}`, rule });
    }
    const [hit] = hits;
    if (hit === undefined) return undefined;
    return field.tableOid !== 0 && hits.length === 1 && hit.rule !== undefined
      ? direct({ ...hit, rule: hit.rule })
      : derived(hit);
  }
  const [first] = o.hits;
  if (first === undefined) return undefined;
  const only = singleColumn(o);
  return field.tableOid !== 0 && only?.rule !== undefined
    ? direct({ ...only, rule: only.rule })
    : derived(first);
}

/**
 * When fields cannot be aligned with outputs: a field the server calls a plain table column
 * (`tableOid ≠ 0`) whose name is a sensitive column of a table the statement reads gets that
 * column's masker, but only when no other sensitive column it might be an alias of has a different
 * masker (and no sensitive whole row could hold it under any name). Every other field is redacted
 * whole (`derived`), sensitive-looking or not.
 */
function fallbackRules(
  fields: readonly ResultField[],
  l: OutputLineage,
  rules: ColumnRules,
  valueHits: readonly Hit[],
): (FieldRule | undefined)[] {
  const [first] = valueHits;
  if (first === undefined) return fields.map(() => undefined);
  const stars = new Set(l.starOutputs ?? []);
  // What a plain-column field could be under another name: any sensitive source of a non-star output.
  const aliasable =
    l.outputs === undefined
      ? valueHits
      : l.outputs.flatMap((refs, i) => (stars.has(i) ? [] : hitsOf(rules, refs)));
  const maskers = new Set(aliasable.map((h) => h.rule?.masker ?? 'whole-row'));
  const tables = [...new Set([...l.valueRefs, ...(l.outputs ?? []).flat()].map((r) => r.table))];
  return fields.map((field) => {
    if (field.tableOid === 0 || maskers.has('whole-row')) return derived(first);
    const named: Hit[] = [];
    for (const table of tables) {
      const rule = rules.ruleFor(table, field.name);
      if (rule !== undefined) named.push({ label: `${qualifiedTable(table)}.${field.name}`, rule });
    }
    const [hit] = named;
    const masker = hit?.rule?.masker;
    const agree =
      masker !== undefined &&
      named.every((h) => h.rule?.masker === masker) &&
      [...maskers].every((m) => m === masker);
    return agree && hit?.rule !== undefined ? direct({ ...hit, rule: hit.rule }) : derived(hit ?? first);
  });
}

/** A view as the catalog describes it: its columns in order, and the lineage of its definition. */
export interface ViewDefinition {
  /** `schema.view`. */
  readonly name: string;
  readonly columns: readonly string[];
  readonly lineage: OutputLineage | undefined;
}

/**
 * Rules extended to views: a view column that passes a sensitive column through unchanged gets
 * that column's rule; a column computed from one is redacted; a view whose definition cannot be
 * traced, but may read a sensitive table, is redacted whole. Views over views resolve over a few
 * rounds (a chain longer than that is unusual, and its outer view then keeps only what resolved).
 */
export function withViews(base: ColumnRules, views: readonly ViewDefinition[]): ColumnRules {
  const derived = new Map<string, Map<string, ColumnRuleSpec>>();
  const rules: ColumnRules = {
    empty: base.empty,
    ruleFor(table, column) {
      return base.ruleFor(table, column) ?? derived.get(qualifiedTable(table))?.get(column.toLowerCase());
    },
    tableSensitive(table) {
      return base.tableSensitive(table) || (derived.get(qualifiedTable(table))?.size ?? 0) > 0;
    },
  };
  const sensitive = (ref: { table: string; column: string }) =>
    ref.column === '*' ? rules.tableSensitive(ref.table) : rules.ruleFor(ref.table, ref.column) !== undefined;
  for (let round = 0; round < 4; round++) {
    let changed = false;
    for (const view of views) {
      const columns = derived.get(view.name) ?? new Map<string, ColumnRuleSpec>();
      const mark = (column: string, masker: MaskerName) => {
        const key = column.toLowerCase();
        if (columns.has(key)) return;
        columns.set(key, { column: `${view.name}.${column}`, masker });
        changed = true;
      };
      const l = view.lineage;
      if (l === undefined || l.unknown === true || l.outputs === undefined) {
        const refs = [...(l?.valueRefs ?? []), ...(l?.inferenceRefs ?? [])];
        if (l === undefined || l.unknown === true || refs.some(sensitive)) {
          for (const column of view.columns) mark(column, 'redact');
        }
      } else {
        l.outputs.forEach((refs, i) => {
          const column = view.columns[i];
          const hits = refs.filter(sensitive);
          const [only] = hits;
          if (column === undefined || only === undefined) return;
          const direct = l.outputDirect?.[i] === true && refs.length === 1 && only.column !== '*';
          mark(column, direct ? (rules.ruleFor(only.table, only.column)?.masker ?? 'redact') : 'redact');
        });
      }
      if (columns.size > 0) derived.set(view.name, columns);
    }
    if (!changed) break;
  }
  return rules;
}
