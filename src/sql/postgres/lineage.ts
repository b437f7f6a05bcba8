/**
 * Column lineage (pure: no I/O): which table columns each output column of a statement may carry,
 * which columns the statement uses where their values can be inferred without being returned,
 * and which it copies into other tables. This is the analyzed-tree half of lineage masking
 * (SECURITY.md §3): name-based or value-based masking alone falls to an alias or a transform.
 *
 * Without a catalog every answer is an over-approximation: the caller, which knows the tables'
 * real columns and which ones are sensitive, narrows it. Whatever the walk cannot follow sets
 * `unknown`, and the caller must then fail closed.
 */
import type {
  CaseExpr,
  CommonTableExpr,
  CopyStmt,
  DeleteStmt,
  FuncCall,
  InsertStmt,
  JoinExpr,
  MergeStmt,
  Node,
  NullTest,
  RangeFunction,
  RangeSubselect,
  RangeTableFunc,
  RangeTableSample,
  RangeVar,
  ResTarget,
  SelectStmt,
  SubLink,
  UpdateStmt,
  WindowDef,
  WithClause,
} from '@pgsql/types';
import {
  addAll,
  type Column,
  childScope,
  expand,
  findCte,
  findSource,
  type Refs,
  type Relation,
  refKey,
  relation,
  renamed,
  resolveBare,
  resolveQualified,
  type Scope,
  type Source,
  wholeRow,
} from './lineage-scope.ts';
import { parsePostgres } from './parser.ts';

export interface ColumnRef {
  /** As the facts name tables: schema-qualified when written so, else bare; quotes and U& resolved. */
  readonly table: string;
  /** `*` for a whole-row or star reference: every column of the table. */
  readonly column: string;
}

export interface OutputLineage {
  /**
   * Top-level output columns in order, each with the source columns its value may derive from.
   * Undefined when the statement returns no rows or their shape is unknown; then `valueRefs` may
   * reach every output.
   */
  readonly outputs: readonly (readonly ColumnRef[])[] | undefined;
  /**
   * Indexes into `outputs` that stand for a table's `*`: each is as many wire columns as that
   * table has, so later outputs shift by that many minus one.
   */
  readonly starOutputs?: readonly number[];
  /**
   * Per output (present when `outputs` is): true when the output is a bare column reference, to a
   * table column or to a subquery/CTE column that is itself one; false for any expression, a whole
   * row, a star, a set operation's column, or a name the walk cannot pin to a plain column.
   */
  readonly outputDirect?: readonly boolean[];
  /** Every column any output may derive from (also when `outputs` is undefined). */
  readonly valueRefs: readonly ColumnRef[];
  /**
   * Columns used where their value can be inferred without being returned (WHERE, JOIN, GROUP BY,
   * HAVING, ORDER BY, windows, DISTINCT ON, LIMIT, CASE conditions, FILTER, arguments of
   * set-returning and side-effect functions), apart from bare `col IS [NOT] NULL` and `count(col)`.
   */
  readonly inferenceRefs: readonly ColumnRef[];
  /** Source columns of data the statement stores: INSERT … SELECT, UPDATE … SET, CTAS, SELECT INTO, views. */
  readonly writtenFrom?: readonly ColumnRef[];
  /** The walk met something it cannot follow: assume any column may reach any output. */
  readonly unknown?: true;
  /** What it could not follow (node types, or `FuncCall:name` for SQL hidden in a string). */
  readonly unknownNodes?: readonly string[];
}

/** A column with whether it is a plain column reference (see `outputDirect`); absent means no. */
type Traced = Column & { readonly direct?: boolean };

const isDirect = (c: Column): boolean => (c as Traced).direct === true;

interface Acc {
  readonly inference: Refs;
  readonly written: Refs;
  readonly unknown: Set<string>;
  /** Counter for recursive-CTE placeholders. */
  recursions: number;
}

interface Ctx {
  readonly scope: Scope;
  readonly acc: Acc;
}

type Json = Record<string, unknown>;

/** Lineage of each statement in `sql`, in the same order as `analyze`. Never throws. */
export function lineage(sql: string): OutputLineage[] {
  if (/^[ \t\n\r\f]*$/.test(sql)) return [];
  let stmts: ReturnType<typeof parsePostgres>['stmts'];
  try {
    stmts = parsePostgres(sql).stmts;
  } catch {
    return [unknownLineage('ParseError')];
  }
  return (stmts ?? []).map((raw) =>
    raw.stmt === undefined ? unknownLineage('Unknown') : statementLineage(raw.stmt),
  );
}

/** Lineage of one parsed statement node (`{ SelectStmt: {...} }`). Never throws. */
export function statementLineage(stmt: Node): OutputLineage {
  const acc: Acc = { inference: new Set(), written: new Set(), unknown: new Set(), recursions: 0 };
  try {
    return finish(statement(stmt, childScope(undefined), acc), acc);
  } catch {
    // e.g. a stack overflow on absurdly deep nesting: fail closed rather than throw.
    return unknownLineage(tagOf(stmt) ?? 'Unknown');
  }
}

/** Every column the statement touches in any way: outputs, inference and copies. */
export function referencedColumns(l: OutputLineage): ColumnRef[] {
  const keys: Refs = new Set();
  for (const r of [...l.valueRefs, ...l.inferenceRefs, ...(l.writtenFrom ?? [])])
    keys.add(refKey(r.table, r.column));
  return toColumnRefs(keys);
}

function unknownLineage(kind: string): OutputLineage {
  return { outputs: undefined, valueRefs: [], inferenceRefs: [], unknown: true, unknownNodes: [kind] };
}

function finish(rel: Relation | undefined, acc: Acc): OutputLineage {
  const stars = (rel?.columns ?? []).flatMap((c, i) => (c.star ? [i] : []));
  return {
    outputs: rel?.columns?.map((c) => toColumnRefs(c.refs)),
    ...(rel?.columns !== undefined ? { outputDirect: rel.columns.map(isDirect) } : {}),
    ...(stars.length > 0 ? { starOutputs: stars } : {}),
    valueRefs: toColumnRefs(rel?.all ?? new Set()),
    inferenceRefs: toColumnRefs(acc.inference),
    ...(acc.written.size > 0 ? { writtenFrom: toColumnRefs(acc.written) } : {}),
    ...(acc.unknown.size > 0 ? { unknown: true, unknownNodes: [...acc.unknown].sort() } : {}),
  };
}

function toColumnRefs(keys: Refs): ColumnRef[] {
  return [...keys].sort().map((key) => {
    const cut = key.lastIndexOf('\u0000');
    return { table: key.slice(0, cut), column: key.slice(cut + 1) };
  });
}

// ---------------------------------------------------------------------------------------------
// Statements: each returns the relation it sends to the client, or undefined when it sends none.

function statement(node: Node, outer: Scope, acc: Acc): Relation | undefined {
  const tag = tagOf(node);
  const body = (node as Json)[tag ?? ''] as Json;
  switch (tag) {
    case 'SelectStmt':
      return selectStatement(body as SelectStmt, outer, acc);
    case 'InsertStmt':
      return insert(body as InsertStmt, outer, acc);
    case 'UpdateStmt':
      return update(body as UpdateStmt, outer, acc);
    case 'DeleteStmt':
      return remove(body as DeleteStmt, outer, acc);
    case 'MergeStmt':
      merge(body as MergeStmt, outer, acc);
      return undefined;
    case 'CreateTableAsStmt':
    case 'ViewStmt':
      persist(body.query as Node | undefined, outer, acc);
      return undefined;
    case 'PrepareStmt':
    case 'DeclareCursorStmt':
      return body.query === undefined ? undefined : statement(body.query as Node, outer, acc);
    case 'ExplainStmt':
      // A plan shows no values, but ANALYZE runs the statement and row counts answer its predicates
      // (plain EXPLAIN's estimates come from statistics holding real values): keep all but outputs.
      if (body.query !== undefined) statement(body.query as Node, outer, acc);
      return undefined;
    case 'CopyStmt':
      return copy(body as CopyStmt, outer, acc);
    case 'ExecuteStmt':
    case 'FetchStmt':
      // What runs was fixed by PREPARE/DECLARE, whose lineage the caller kept.
      return undefined;
    case 'DoStmt':
    case 'CallStmt':
      acc.unknown.add(tag);
      return undefined;
    default:
      // Utility statements carry no data, unless they evaluate columns (CHECK, index expressions…).
      if (tag === undefined || mentionsColumns(body)) acc.unknown.add(tag ?? 'Unknown');
      return undefined;
  }
}

function selectStatement(n: SelectStmt, outer: Scope, acc: Acc): Relation | undefined {
  const rel = select(n, outer, acc);
  if (n.intoClause === undefined) return rel;
  // SELECT … INTO creates a table and returns no rows.
  addAll(acc.written, rel.all);
  return undefined;
}

function persist(query: Node | undefined, outer: Scope, acc: Acc): void {
  if (query === undefined) return;
  // CREATE TABLE … AS EXECUTE p: the data comes from a statement prepared earlier.
  if (tagOf(query) === 'ExecuteStmt') acc.unknown.add('ExecuteStmt');
  const rel = statement(query, outer, acc);
  if (rel !== undefined) addAll(acc.written, rel.all);
}

function select(n: SelectStmt, outer: Scope, acc: Acc): Relation {
  const scope = childScope(outer);
  withClause(n.withClause, scope, acc);
  const ctx: Ctx = { scope, acc };
  let rel: Relation;
  if (n.op !== undefined && n.op !== 'SETOP_NONE') {
    rel = setOperation(n, ctx);
    // ORDER BY and LIMIT of a set operation see only its output columns.
    scope.sources.push({ kind: 'derived', names: [], rel });
  } else if (n.valuesLists !== undefined) {
    rel = values(n.valuesLists, ctx);
  } else {
    for (const item of n.fromClause ?? []) fromItem(item, ctx);
    rel = targets(n.targetList ?? [], ctx);
    infer(n.whereClause, ctx);
    infer(n.havingClause, ctx);
    for (const w of n.windowClause ?? []) if ('WindowDef' in w) windowDef(w.WindowDef, ctx);
  }
  for (const g of n.groupClause ?? []) grouping(g, rel, ctx);
  for (const s of n.sortClause ?? []) grouping('SortBy' in s ? s.SortBy.node : s, rel, ctx);
  for (const d of n.distinctClause ?? []) grouping(d, rel, ctx);
  infer(n.limitCount, ctx);
  infer(n.limitOffset, ctx);
  return rel;
}

/** Output i of UNION/INTERSECT/EXCEPT is branch i of either side. */
function setOperation(n: SelectStmt, ctx: Ctx): Relation {
  const left = select(n.larg ?? {}, ctx.scope, ctx.acc);
  const right = select(n.rarg ?? {}, ctx.scope, ctx.acc);
  const l = left.columns;
  const r = right.columns;
  const aligned =
    l !== undefined && r !== undefined && l.length === r.length && l.every((c, i) => c.star === r[i]?.star);
  if (!aligned) return relation(undefined, new Set([...left.all, ...right.all]));
  return relation(
    l.map((c, i): Traced => ({ ...c, refs: new Set([...c.refs, ...(r[i]?.refs ?? [])]), direct: false })),
  );
}

function values(lists: Node[], ctx: Ctx): Relation {
  const columns: Refs[] = [];
  for (const list of lists) {
    const items = 'List' in list ? (list.List.items ?? []) : [];
    items.forEach((item, i) => {
      columns[i] ??= new Set();
      expr(item, ctx, columns[i]);
    });
  }
  return relation(columns.map((refs, i) => ({ name: `column${i + 1}`, refs, star: false })));
}

function targets(list: Node[], ctx: Ctx): Relation {
  const columns: Column[] = [];
  const extra: Refs = new Set();
  let shapeKnown = true;
  for (const item of list) {
    const rt = 'ResTarget' in item ? item.ResTarget : undefined;
    const star = rt?.val !== undefined ? starFields(rt.val) : undefined;
    if (star !== undefined) {
      const expanded = expandStar(star, ctx, extra);
      if (expanded === undefined) shapeKnown = false;
      else columns.push(...expanded);
      continue;
    }
    const refs: Refs = new Set();
    expr(rt?.val, ctx, refs);
    if (rt === undefined) ctx.acc.unknown.add(tagOf(item) ?? 'Unknown');
    const direct =
      rt?.val !== undefined && 'ColumnRef' in rt.val && refDirect(rt.val.ColumnRef.fields ?? [], ctx.scope);
    const column: Traced = { name: rt === undefined ? undefined : outputName(rt), refs, star: false, direct };
    columns.push(column);
  }
  return relation(
    shapeKnown ? columns : undefined,
    new Set([...extra, ...columns.flatMap((c) => [...c.refs])]),
  );
}

/** The qualifier of `*` or `q.*` in a target list; undefined for any other expression. */
function starFields(val: Node): string[] | undefined {
  if (!('ColumnRef' in val)) return undefined;
  const fields = val.ColumnRef.fields ?? [];
  if (fields.length === 0 || !('A_Star' in (fields.at(-1) ?? {}))) return undefined;
  return fields.slice(0, -1).map(fieldName);
}

function expandStar(qualifier: string[], ctx: Ctx, all: Refs): Column[] | undefined {
  const sources = qualifier.length === 0 ? ctx.scope.sources : [findSource(ctx.scope, qualifier.join('.'))];
  const columns: Column[] = [];
  let known = true;
  for (const source of sources) {
    if (source === undefined) {
      ctx.acc.unknown.add('ColumnRef');
      return undefined;
    }
    wholeRow(source, all);
    // `customers AS c(a, b)`: the star's fields are named by position, which only the catalog maps
    // back, so a caller matching field names to columns must not see a star here.
    const part = renamesColumns(source) ? undefined : expand(source);
    if (part === undefined) known = false;
    else columns.push(...part);
  }
  return known ? columns : undefined;
}

function renamesColumns(source: Source): boolean {
  if (source.kind === 'table') return source.renamed.size > 0;
  return source.kind === 'join' && source.members.some(renamesColumns);
}

/** The name the server gives an output column, where a query above could use it. */
function outputName(rt: ResTarget): string | undefined {
  return rt.name ?? exprName(rt.val);
}

function exprName(val: Node | undefined): string | undefined {
  if (val === undefined) return undefined;
  if ('ColumnRef' in val) return fieldName(val.ColumnRef.fields?.at(-1));
  if ('FuncCall' in val) return fieldName(val.FuncCall.funcname?.at(-1));
  if ('TypeCast' in val) return exprName(val.TypeCast.arg);
  return undefined;
}

function fieldName(node: Node | undefined): string {
  return node !== undefined && 'String' in node ? (node.String.sval ?? '') : '*';
}

/**
 * GROUP BY, ORDER BY and DISTINCT ON items: an integer is an output position, and a bare name may
 * be an output alias or an input column; both count.
 */
function grouping(node: Node | undefined, rel: Relation, ctx: Ctx): void {
  if (node === undefined) return;
  const position = 'A_Const' in node ? node.A_Const.ival?.ival : undefined;
  if (position !== undefined) {
    addAll(ctx.acc.inference, rel.columns?.[position - 1]?.refs ?? rel.all);
    return;
  }
  if ('GroupingSet' in node) {
    for (const item of node.GroupingSet.content ?? []) grouping(item, rel, ctx);
    return;
  }
  const fields = 'ColumnRef' in node ? (node.ColumnRef.fields ?? []) : [];
  const only = fields[0];
  if (fields.length === 1 && only !== undefined && 'String' in only) {
    const name = only.String.sval ?? '';
    const outputs = rel.columns?.filter((c) => c.name === name) ?? [];
    for (const c of outputs) addAll(ctx.acc.inference, c.refs);
    if (!resolveBare(ctx.scope, name, ctx.acc.inference) && outputs.length === 0)
      ctx.acc.unknown.add('ColumnRef');
    return;
  }
  infer(node, ctx);
}

// ---------------------------------------------------------------------------------------------
// WITH

function withClause(w: WithClause | undefined, scope: Scope, acc: Acc): void {
  for (const item of w?.ctes ?? []) {
    if (!('CommonTableExpr' in item)) continue;
    const cte = item.CommonTableExpr;
    const rel = w?.recursive === true ? recursiveCte(cte, scope, acc) : cteRelation(cte, scope, acc);
    scope.ctes.set(cte.ctename ?? '', renamed(rel, strings(cte.aliascolnames)));
  }
}

function cteRelation(cte: CommonTableExpr, scope: Scope, acc: Acc): Relation {
  // A data-modifying CTE without RETURNING yields no rows.
  return (cte.ctequery === undefined ? undefined : statement(cte.ctequery, scope, acc)) ?? relation([]);
}

/**
 * A recursive CTE reads itself: its references to itself resolve to a placeholder, which is then
 * replaced by everything the CTE reads. When the placeholder reached anything, every column of the
 * CTE may hold any of it (conservative, and one pass).
 */
function recursiveCte(cte: CommonTableExpr, scope: Scope, acc: Acc): Relation {
  const marker = refKey(`\u0000recursive${acc.recursions++}`, '*');
  scope.ctes.set(cte.ctename ?? '', relation(undefined, new Set([marker])));
  const rel = cteRelation(cte, scope, acc);
  const reached = rel.all.has(marker) || acc.inference.has(marker) || acc.written.has(marker);
  if (!reached) return rel;
  const everything = new Set(rel.all);
  everything.delete(marker);
  for (const set of [acc.inference, acc.written]) if (set.delete(marker)) addAll(set, everything);
  return relation(
    rel.columns?.map((c): Traced => ({ ...c, refs: everything, direct: false })) ?? undefined,
    everything,
  );
}

// ---------------------------------------------------------------------------------------------
// FROM items: each is pushed onto the scope as it is read, so a later LATERAL item sees it.

function fromItem(node: Node, ctx: Ctx): void {
  if ('RangeVar' in node) ctx.scope.sources.push(tableSource(node.RangeVar, ctx.scope, true));
  else if ('RangeSubselect' in node) subselectSource(node.RangeSubselect, ctx);
  else if ('RangeFunction' in node) functionSource(node.RangeFunction, ctx);
  else if ('JoinExpr' in node) join(node.JoinExpr, ctx);
  else if ('RangeTableSample' in node) tableSample(node.RangeTableSample, ctx);
  else if ('RangeTableFunc' in node) tableFunc(node.RangeTableFunc, ctx);
  else ctx.acc.unknown.add(tagOf(node) ?? 'Unknown');
}

function tableName(rv: RangeVar): string {
  return [rv.catalogname, rv.schemaname, rv.relname].filter((p) => p !== undefined).join('.');
}

/** A named FROM item: a WITH query of that name when one is in scope (and `cte` allows), else a table or view. */
function tableSource(rv: RangeVar, scope: Scope, cte: boolean): Source {
  const table = tableName(rv);
  const alias = rv.alias?.aliasname;
  const names = alias !== undefined ? [alias] : [...new Set([rv.relname ?? '', table])];
  const colnames = strings(rv.alias?.colnames);
  const withQuery = cte && rv.schemaname === undefined ? findCte(scope, rv.relname ?? '') : undefined;
  if (withQuery !== undefined) return { kind: 'derived', names, rel: renamed(withQuery, colnames) };
  return { kind: 'table', names, table, renamed: new Set(colnames) };
}

function subselectSource(n: RangeSubselect, ctx: Ctx): void {
  const rel = n.subquery === undefined ? undefined : statement(n.subquery, ctx.scope, ctx.acc);
  if (rel === undefined) ctx.acc.unknown.add('RangeSubselect');
  const names = n.alias?.aliasname === undefined ? [] : [n.alias.aliasname];
  ctx.scope.sources.push({
    kind: 'derived',
    names,
    rel: renamed(rel ?? relation([]), strings(n.alias?.colnames)),
  });
}

/**
 * `generate_series(…)`, `regexp_split_to_table(card_number, '')`, `unnest(…)`, ROWS FROM: every
 * column derives from the arguments, and the number of rows tells about them too.
 */
function functionSource(n: RangeFunction, ctx: Ctx): void {
  const refs: Refs = new Set();
  const coldefs: Node[] = [...(n.coldeflist ?? [])];
  let firstName: string | undefined;
  for (const f of n.functions ?? []) {
    const [call, defs] = 'List' in f ? (f.List.items ?? []) : [];
    expr(call, ctx, refs);
    if (defs !== undefined && 'List' in defs) coldefs.push(...(defs.List.items ?? []));
    if (call !== undefined && 'FuncCall' in call) firstName ??= exprName(call);
  }
  addAll(ctx.acc.inference, refs);
  const defNames = coldefs.flatMap((d) =>
    'ColumnDef' in d && d.ColumnDef.colname ? [d.ColumnDef.colname] : [],
  );
  const colnames = strings(n.alias?.colnames);
  const known = colnames.length > 0 ? colnames : defNames;
  const columns = known.length > 0 ? known.map((name) => ({ name, refs, star: false })) : undefined;
  const alias = n.alias?.aliasname ?? firstName;
  ctx.scope.sources.push({
    kind: 'derived',
    names: alias === undefined ? [] : [alias],
    rel: relation(columns, refs),
  });
}

function tableSample(n: RangeTableSample, ctx: Ctx): void {
  if (n.relation !== undefined) fromItem(n.relation, ctx);
  infer(n.args, ctx);
  infer(n.repeatable, ctx);
}

/** XMLTABLE: like a set-returning function of its document and path expressions. */
function tableFunc(n: RangeTableFunc, ctx: Ctx): void {
  const refs: Refs = new Set();
  expr([n.docexpr, n.rowexpr, n.namespaces, n.columns], ctx, refs);
  addAll(ctx.acc.inference, refs);
  const names = (n.columns ?? []).flatMap((c) =>
    'RangeTableFuncCol' in c ? [c.RangeTableFuncCol.colname] : [],
  );
  const columns = names.map((name) => ({ name, refs, star: false }));
  const aliasNames = n.alias?.aliasname === undefined ? [] : [n.alias.aliasname];
  ctx.scope.sources.push({
    kind: 'derived',
    names: aliasNames,
    rel: renamed(relation(columns, refs), strings(n.alias?.colnames)),
  });
}

function join(n: JoinExpr, ctx: Ctx): void {
  const start = ctx.scope.sources.length;
  if (n.larg !== undefined) fromItem(n.larg, ctx);
  if (n.rarg !== undefined) fromItem(n.rarg, ctx);
  const members = ctx.scope.sources.slice(start);
  // NATURAL compares every column the two sides share, which only the catalog knows.
  if (n.isNatural === true) for (const m of members) wholeRow(m, ctx.acc.inference);
  const own = childScope(undefined, members);
  for (const name of strings(n.usingClause))
    if (!resolveBare(own, name, ctx.acc.inference)) ctx.acc.unknown.add('JoinExpr');
  infer(n.quals, ctx);
  if (n.alias?.aliasname !== undefined)
    ctx.scope.sources.splice(start, members.length, { kind: 'join', names: [n.alias.aliasname], members });
  if (n.join_using_alias?.aliasname !== undefined)
    ctx.scope.sources.push({ kind: 'join', names: [n.join_using_alias.aliasname], members });
}

// ---------------------------------------------------------------------------------------------
// Data-modifying statements

function insert(n: InsertStmt, outer: Scope, acc: Acc): Relation | undefined {
  const scope = childScope(outer);
  withClause(n.withClause, scope, acc);
  const ctx: Ctx = { scope, acc };
  const rows = n.selectStmt === undefined ? undefined : statement(n.selectStmt, scope, acc);
  if (rows !== undefined) addAll(acc.written, rows.all);
  if (n.relation !== undefined) scope.sources.push(tableSource(n.relation, scope, false));
  const conflict = n.onConflictClause;
  if (conflict !== undefined) {
    // ON CONFLICT DO UPDATE sees the proposed row as `excluded`.
    scope.sources.push({ kind: 'derived', names: ['excluded'], rel: relation(undefined, rows?.all) });
    assignments(conflict.targetList, ctx);
    infer(conflict.whereClause, ctx);
    scope.sources.pop();
  }
  return returning(n.returningList, ctx);
}

function update(n: UpdateStmt, outer: Scope, acc: Acc): Relation | undefined {
  const ctx = dmlScope(n.withClause, n.relation, outer, acc);
  for (const item of n.fromClause ?? []) fromItem(item, ctx);
  assignments(n.targetList, ctx);
  infer(n.whereClause, ctx);
  return returning(n.returningList, ctx);
}

function remove(n: DeleteStmt, outer: Scope, acc: Acc): Relation | undefined {
  const ctx = dmlScope(n.withClause, n.relation, outer, acc);
  for (const item of n.usingClause ?? []) fromItem(item, ctx);
  infer(n.whereClause, ctx);
  return returning(n.returningList, ctx);
}

function merge(n: MergeStmt, outer: Scope, acc: Acc): void {
  const ctx = dmlScope(n.withClause, n.relation, outer, acc);
  if (n.sourceRelation !== undefined) fromItem(n.sourceRelation, ctx);
  infer(n.joinCondition, ctx);
  for (const item of n.mergeWhenClauses ?? []) {
    if (!('MergeWhenClause' in item)) continue;
    infer(item.MergeWhenClause.condition, ctx);
    assignments(item.MergeWhenClause.targetList, ctx);
    expr(item.MergeWhenClause.values, ctx, acc.written);
  }
}

function dmlScope(w: WithClause | undefined, target: RangeVar | undefined, outer: Scope, acc: Acc): Ctx {
  const scope = childScope(outer);
  withClause(w, scope, acc);
  if (target !== undefined) scope.sources.push(tableSource(target, scope, false));
  return { scope, acc };
}

/** `SET col = expr`: the value is stored; a subscript (`SET a[expr] = …`) picks where. */
function assignments(list: Node[] | undefined, ctx: Ctx): void {
  for (const item of list ?? []) {
    if (!('ResTarget' in item)) continue;
    expr(item.ResTarget.val, ctx, ctx.acc.written);
    infer(item.ResTarget.indirection, ctx);
  }
}

function returning(list: Node[] | undefined, ctx: Ctx): Relation | undefined {
  return list === undefined || list.length === 0 ? undefined : targets(list, ctx);
}

function copy(n: CopyStmt, outer: Scope, acc: Acc): Relation | undefined {
  if (n.query !== undefined) return statement(n.query, outer, acc);
  if (n.relation === undefined) return undefined;
  const ctx: Ctx = { scope: childScope(outer), acc };
  const source = tableSource(n.relation, ctx.scope, false);
  ctx.scope.sources.push(source);
  if (n.is_from === true) {
    // COPY FROM stores the client's own data; its WHERE filters those incoming rows.
    infer(n.whereClause, ctx);
    return undefined;
  }
  const listed = strings(n.attlist);
  if (listed.length === 0) return relation(expand(source));
  const table = source.kind === 'table' ? source.table : tableName(n.relation);
  return relation(
    listed.map((name): Traced => ({ name, refs: new Set([refKey(table, name)]), star: false, direct: true })),
  );
}

// ---------------------------------------------------------------------------------------------
// Expressions: `expr` adds what a value may derive from to `into`; conditions it meets on the way
// (CASE WHEN, FILTER, windows, subquery predicates) go to the inference set.

type ExprHandler = (node: never, ctx: Ctx, into: Refs) => void;

function expr(node: unknown, ctx: Ctx, into: Refs): void {
  if (Array.isArray(node)) {
    for (const item of node) expr(item, ctx, into);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const tag = tagOf(node as Node);
  if (tag === undefined) {
    // A plain struct (TypeName, an unwrapped WindowDef…): its fields may hold expressions.
    for (const child of Object.values(node)) expr(child, ctx, into);
    return;
  }
  const body = (node as Json)[tag];
  const handler = EXPRESSIONS[tag];
  if (handler !== undefined) (handler as (n: unknown, c: Ctx, i: Refs) => void)(body, ctx, into);
  else {
    if (!TRANSPARENT.has(tag)) ctx.acc.unknown.add(tag);
    expr(body, ctx, into);
  }
}

function infer(node: unknown, ctx: Ctx): void {
  expr(node, ctx, ctx.acc.inference);
}

const LEAF: ExprHandler = () => {};

const EXPRESSIONS: Readonly<Record<string, ExprHandler>> = {
  A_Const: LEAF,
  ParamRef: LEAF,
  SQLValueFunction: LEAF,
  SetToDefault: LEAF,
  CurrentOfExpr: LEAF,
  String: LEAF,
  Integer: LEAF,
  Float: LEAF,
  Boolean: LEAF,
  BitString: LEAF,
  A_Star: LEAF,
  ColumnRef: (n: { fields?: Node[] }, ctx, into) => columnRef(n.fields ?? [], ctx, into),
  FuncCall: (n: FuncCall, ctx, into) => funcCall(n, ctx, into),
  CaseExpr: (n: CaseExpr, ctx, into) => caseExpr(n, ctx, into),
  NullTest: (n: NullTest, ctx, into) => {
    // `col IS [NOT] NULL` is allowed to read a sensitive column (SECURITY.md §3); `f(col) IS NULL` is not.
    if (!isBareColumn(n.arg)) expr(n.arg, ctx, into);
  },
  SubLink: (n: SubLink, ctx, into) => subLink(n, ctx, into),
  WindowDef: (n: WindowDef, ctx) => windowDef(n, ctx),
};

/** Nodes whose value derives from all their children. */
const TRANSPARENT = new Set([
  'TypeCast',
  'CollateClause',
  'A_Expr',
  'BoolExpr',
  'BooleanTest',
  'A_Indirection',
  'A_Indices',
  'A_ArrayExpr',
  'RowExpr',
  'CoalesceExpr',
  'MinMaxExpr',
  'XmlExpr',
  'XmlSerialize',
  'NamedArgExpr',
  'GroupingFunc',
  'MultiAssignRef',
  'ResTarget',
  'SortBy',
  'List',
  'RangeTableFuncCol',
]);

function columnRef(fields: Node[], ctx: Ctx, into: Refs): void {
  const names = fields.map(fieldName);
  const last = names.length - 1;
  if (names[last] === '*') {
    // `c.*` as a value (`row_to_json(c.*)`), or a bare `*` inside an expression.
    const sources = last === 0 ? ctx.scope.sources : [findSource(ctx.scope, names.slice(0, last).join('.'))];
    for (const source of sources) {
      if (source === undefined) ctx.acc.unknown.add('ColumnRef');
      else wholeRow(source, into);
    }
    return;
  }
  // `a.b.c` may be schema.table.column or table.column.field: the longest qualifier that names a FROM item wins.
  for (let k = last; k >= 1; k--) {
    const source = findSource(ctx.scope, names.slice(0, k).join('.'));
    if (source !== undefined) {
      resolveQualified(source, names[k] ?? '', into);
      return;
    }
  }
  // A bare name, or `col.field` of a composite column.
  if (!resolveBare(ctx.scope, names[0] ?? '', into)) ctx.acc.unknown.add('ColumnRef');
}

/**
 * Whether a (non-star) column reference is a plain column wherever it may resolve: mirrors
 * `columnRef`, and answers no for a composite field (`col.field`), a name that may be a whole
 * row, or a subquery/CTE column that is not itself plain.
 */
function refDirect(fields: Node[], scope: Scope): boolean {
  const names = fields.map(fieldName);
  if (names.includes('*')) return false;
  const last = names.length - 1;
  for (let k = last; k >= 1; k--) {
    const source = findSource(scope, names.slice(0, k).join('.'));
    if (source !== undefined) return k === last && sourceColumn(source, names[k] ?? '').direct;
  }
  if (last !== 0) return false;
  const name = names[0] ?? '';
  let found = false;
  for (let s: Scope | undefined = scope; s !== undefined; s = s.parent) {
    let certain = false;
    for (const source of s.sources) {
      if (source.names.includes(name)) return false;
      const { match, direct } = sourceColumn(source, name);
      if (match === 'no') continue;
      if (!direct) return false;
      found = true;
      certain ||= match === 'certain';
    }
    if (certain) break;
  }
  return found;
}

function sourceColumn(source: Source, name: string): { match: 'certain' | 'maybe' | 'no'; direct: boolean } {
  switch (source.kind) {
    case 'table':
      // A column renamed by position (`customers AS c(a, b)`) is some column only the catalog knows.
      return source.renamed.has(name)
        ? { match: 'certain', direct: false }
        : { match: 'maybe', direct: true };
    case 'derived': {
      const named = source.rel.columns?.filter((c) => c.name === name) ?? [];
      if (named.length > 0) return { match: 'certain', direct: named.every(isDirect) };
      const maybe = source.rel.columns === undefined || source.rel.columns.some((c) => c.name === undefined);
      return { match: maybe ? 'maybe' : 'no', direct: false };
    }
    case 'join': {
      let match: 'certain' | 'maybe' | 'no' = 'no';
      let direct = true;
      for (const m of source.members) {
        const r = sourceColumn(m, name);
        if (r.match === 'no') continue;
        direct &&= r.direct;
        if (match !== 'certain') match = r.match;
      }
      return { match, direct: match !== 'no' && direct };
    }
  }
}

function isBareColumn(node: Node | undefined): boolean {
  return node !== undefined && 'ColumnRef' in node && fieldName(node.ColumnRef.fields?.at(-1)) !== '*';
}

function funcCall(n: FuncCall, ctx: Ctx, into: Refs): void {
  const parts = (n.funcname ?? []).map((p) => fieldName(p).toLowerCase());
  const name = parts.at(-1) ?? '';
  const builtin = parts.length === 1 || parts[0] === 'pg_catalog';
  if (builtin && SQL_IN_STRING.has(name)) ctx.acc.unknown.add(`FuncCall:${name}`);
  if (builtin && name === 'count') countArgs(n, ctx);
  else {
    const refs: Refs = new Set();
    expr(n.args, ctx, refs);
    addAll(into, refs);
    if (builtin && (SET_RETURNING.has(name) || OUT_OF_BAND.test(name))) addAll(ctx.acc.inference, refs);
  }
  infer(n.agg_order, ctx);
  infer(n.agg_filter, ctx);
  if (n.over !== undefined) windowDef(n.over, ctx);
}

/** A count is not the value: `count(*)` and `count(col)` carry nothing; `count(f(col))` may be an oracle. */
function countArgs(n: FuncCall, ctx: Ctx): void {
  const args = n.args ?? [];
  if (n.agg_star === true || (args.length === 1 && isBareColumn(args[0]) && n.agg_distinct !== true)) return;
  infer(args, ctx);
}

function caseExpr(n: CaseExpr, ctx: Ctx, into: Refs): void {
  infer(n.arg, ctx);
  for (const w of n.args ?? []) {
    if (!('CaseWhen' in w)) continue;
    infer(w.CaseWhen.expr, ctx);
    expr(w.CaseWhen.result, ctx, into);
  }
  expr(n.defresult, ctx, into);
}

function subLink(n: SubLink, ctx: Ctx, into: Refs): void {
  const rel = n.subselect === undefined ? undefined : statement(n.subselect, ctx.scope, ctx.acc);
  if (rel === undefined) ctx.acc.unknown.add('SubLink');
  // EXISTS yields whether rows exist; the subquery's own conditions are already inference.
  if (n.subLinkType === 'EXISTS_SUBLINK') return;
  addAll(into, rel?.all ?? []);
  expr(n.testexpr, ctx, into);
}

function windowDef(n: WindowDef, ctx: Ctx): void {
  infer([n.partitionClause, n.orderClause, n.startOffset, n.endOffset], ctx);
}

/** Functions that run SQL or read a table named in a string: the walk cannot see what they read. */
const SQL_IN_STRING = new Set([
  'query_to_xml',
  'query_to_xmlschema',
  'query_to_xml_and_xmlschema',
  'cursor_to_xml',
  'cursor_to_xmlschema',
  'table_to_xml',
  'table_to_xmlschema',
  'table_to_xml_and_xmlschema',
  'schema_to_xml',
  'schema_to_xml_and_xmlschema',
  'database_to_xml',
  'database_to_xml_and_xmlschema',
  'dblink',
  'dblink_exec',
  'dblink_open',
  'dblink_fetch',
  'dblink_send_query',
]);

/** Set-returning functions: the number of rows they give tells about their arguments. */
const SET_RETURNING = new Set([
  'generate_series',
  'generate_subscripts',
  'unnest',
  'regexp_split_to_table',
  'regexp_matches',
  'string_to_table',
  'json_array_elements',
  'json_array_elements_text',
  'jsonb_array_elements',
  'jsonb_array_elements_text',
  'json_each',
  'json_each_text',
  'jsonb_each',
  'jsonb_each_text',
  'json_object_keys',
  'jsonb_object_keys',
  'jsonb_path_query',
  'json_to_recordset',
  'jsonb_to_recordset',
  'json_populate_recordset',
  'jsonb_populate_recordset',
]);

/** Functions whose arguments leave by another way than the result: time, notifications, locks, storage. */
const OUT_OF_BAND =
  /^(pg_sleep|pg_sleep_for|pg_sleep_until|pg_notify|set_config|setval|pg_logical_emit_message|pg_(try_)?advisory_\w+|lo_\w+)$/;

// ---------------------------------------------------------------------------------------------
// Helpers

function tagOf(node: Node): string | undefined {
  const keys = Object.keys(node);
  const tag = keys[0];
  return keys.length === 1 && tag !== undefined && /^[A-Z]/.test(tag) ? tag : undefined;
}

function strings(nodes: Node[] | undefined): string[] {
  return (nodes ?? []).flatMap((n) => ('String' in n ? [n.String.sval ?? ''] : []));
}

/** Whether a utility statement evaluates anything over table columns. */
function mentionsColumns(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(mentionsColumns);
  if (typeof value !== 'object' || value === null) return false;
  return Object.entries(value).some(
    ([key, child]) =>
      key === 'ColumnRef' || key === 'SelectStmt' || key === 'IndexElem' || mentionsColumns(child),
  );
}
