import type {
  A_Const,
  A_Expr,
  BoolExpr,
  BooleanTest,
  CaseExpr,
  CoalesceExpr,
  Node,
  NullTest,
  SubLink,
  TypeCast,
} from '@pgsql/types';
import type { Predicate } from './facts.ts';

/**
 * Constant-true detection for UPDATE/DELETE predicates. "Has a WHERE" is not enough
 * (SECURITY.md §2, tautological WHERE): `1=1`, `true`, `id = id`, `NOT false`, `1<2`, `… OR true`
 * all select every row. This is a small three-valued evaluator: `undefined` means "depends on the
 * data", which is the honest answer for anything it does not recognise.
 *
 * `literalSensitive` says whether the answer could change if a number or string literal had a
 * different value: the statement cache may only share an answer across literal values when it is
 * false (`id = 5` is a real predicate whatever the 5; `1 = 2` becomes `1 = 1`).
 */
export function classifyPredicate(where: Node | undefined): {
  predicate: Predicate;
  literalSensitive: boolean;
} {
  if (where === undefined) return { predicate: 'none', literalSensitive: false };
  const reads: Reads = { literal: false };
  const predicate = truth(where, reads) === true ? 'constant_true' : 'present';
  return { predicate, literalSensitive: reads.literal };
}

type Scalar = number | string | boolean | null;

/** Set once the evaluation has looked at the value of a number or string literal. */
interface Reads {
  literal: boolean;
}

function truth(node: Node, reads: Reads): boolean | undefined {
  if ('BoolExpr' in node) return boolExpr(node.BoolExpr, reads);
  if ('A_Expr' in node) return aExpr(node.A_Expr, reads);
  if ('NullTest' in node) return nullTest(node.NullTest, reads);
  if ('BooleanTest' in node) return booleanTest(node.BooleanTest, reads);
  if ('CaseExpr' in node) return caseExpr(node.CaseExpr, reads);
  if ('CoalesceExpr' in node) return coalesceExpr(node.CoalesceExpr, reads);
  if ('SubLink' in node) return subLink(node.SubLink, reads);
  if (!isConstant(node)) return undefined;
  // In a boolean context the server coerces an untyped string literal: `WHERE 't'` deletes every row.
  return asBoolean(constant(node, reads));
}

function boolExpr(expr: BoolExpr, reads: Reads): boolean | undefined {
  const args = (expr.args ?? []).map((arg) => truth(arg, reads));
  switch (expr.boolop) {
    case 'AND_EXPR':
      if (args.includes(false)) return false;
      return args.every((a) => a === true) ? true : undefined;
    case 'OR_EXPR':
      if (args.includes(true)) return true;
      return args.every((a) => a === false) ? false : undefined;
    case 'NOT_EXPR': {
      const arg = args[0];
      return arg === undefined ? undefined : !arg;
    }
    default:
      return undefined;
  }
}

const COMPARISONS = new Set(['=', '<>', '!=', '<', '>', '<=', '>=']);

/** `1 IN (1, 2)`, `1 BETWEEN 0 AND 2`, `1 IS DISTINCT FROM 2`: as true as `1=1` when all constant. */
function aExpr(expr: A_Expr, reads: Reads): boolean | undefined {
  switch (expr.kind) {
    case 'AEXPR_OP':
      return comparison(expr, reads);
    case 'AEXPR_IN': {
      const op = operatorName(expr);
      const items = listItems(expr.rexpr);
      if (expr.lexpr === undefined || items === undefined || (op !== '=' && op !== '<>')) return undefined;
      const lexpr = expr.lexpr;
      const each = items.map((item) => compareNodes('=', lexpr, item, reads));
      // `x IN (…)` is `x = a OR x = b …`; `x NOT IN (…)` is `x <> a AND x <> b …`.
      if (op === '=') return each.includes(true) ? true : each.every((e) => e === false) ? false : undefined;
      return each.includes(true) ? false : each.every((e) => e === false) ? true : undefined;
    }
    case 'AEXPR_BETWEEN':
    case 'AEXPR_NOT_BETWEEN': {
      const [low, high] = listItems(expr.rexpr) ?? [];
      if (expr.lexpr === undefined || low === undefined || high === undefined) return undefined;
      const above = compareNodes('>=', expr.lexpr, low, reads);
      const below = compareNodes('<=', expr.lexpr, high, reads);
      const between = above === false || below === false ? false : above && below ? true : undefined;
      return between === undefined ? undefined : expr.kind === 'AEXPR_BETWEEN' ? between : !between;
    }
    case 'AEXPR_DISTINCT':
    case 'AEXPR_NOT_DISTINCT': {
      if (expr.lexpr === undefined || expr.rexpr === undefined) return undefined;
      // NULL-safe: identical operands are never distinct, NULLs included.
      let distinct: boolean | undefined;
      if (sameExpression(expr.lexpr, expr.rexpr, reads)) distinct = false;
      else if (isConstant(expr.lexpr) && isConstant(expr.rexpr)) {
        const l = constant(expr.lexpr, reads);
        const r = constant(expr.rexpr, reads);
        if (l === null || r === null) distinct = l === undefined || r === undefined ? undefined : l !== r;
        else {
          const equal = compareNodes('=', expr.lexpr, expr.rexpr, reads);
          distinct = equal === undefined ? undefined : !equal;
        }
      }
      if (distinct === undefined) return undefined;
      return expr.kind === 'AEXPR_DISTINCT' ? distinct : !distinct;
    }
    default:
      return undefined;
  }
}

function listItems(node: Node | undefined): Node[] | undefined {
  return node !== undefined && 'List' in node ? (node.List.items ?? []) : undefined;
}

function compareNodes(op: string, lexpr: Node, rexpr: Node, reads: Reads): boolean | undefined {
  return comparison({ kind: 'AEXPR_OP', name: [{ String: { sval: op } }], lexpr, rexpr }, reads);
}

/** `NULL IS NULL`, `1 IS NOT NULL`. */
function nullTest(test: NullTest, reads: Reads): boolean | undefined {
  if (test.arg === undefined || !isConstant(test.arg)) return undefined;
  const value = constant(test.arg, reads);
  if (value === undefined) return undefined;
  return test.nulltesttype === 'IS_NULL' ? value === null : value !== null;
}

/** `true IS TRUE`, `(1=1) IS NOT FALSE`: decided when the operand is. */
function booleanTest(test: BooleanTest, reads: Reads): boolean | undefined {
  if (test.arg === undefined) return undefined;
  const value = truth(test.arg, reads);
  if (value === undefined) return undefined;
  switch (test.booltesttype) {
    case 'IS_TRUE':
    case 'IS_NOT_FALSE':
      return value;
    case 'IS_FALSE':
    case 'IS_NOT_TRUE':
      return !value;
    case 'IS_UNKNOWN':
      return false;
    case 'IS_NOT_UNKNOWN':
      return true;
    default:
      return undefined;
  }
}

/** `CASE WHEN true THEN true END`: the first branch whose condition is decided, if all before are false. */
function caseExpr(expr: CaseExpr, reads: Reads): boolean | undefined {
  if (expr.arg !== undefined) return undefined;
  for (const when of expr.args ?? []) {
    if (!('CaseWhen' in when) || when.CaseWhen.expr === undefined || when.CaseWhen.result === undefined) {
      return undefined;
    }
    const condition = truth(when.CaseWhen.expr, reads);
    if (condition === undefined) return undefined;
    if (condition) return truth(when.CaseWhen.result, reads);
  }
  return expr.defresult === undefined ? undefined : truth(expr.defresult, reads);
}

/** `coalesce(NULL, true)`: the first argument that is not a NULL constant decides, if it is decided. */
function coalesceExpr(expr: CoalesceExpr, reads: Reads): boolean | undefined {
  for (const arg of expr.args ?? []) {
    if (isConstant(arg) && constant(arg, reads) === null) continue;
    return truth(arg, reads);
  }
  return undefined;
}

/**
 * `(SELECT true)` and `EXISTS (SELECT 1)`: a sub-select of nothing but its target list (no FROM,
 * WHERE, GROUP BY, HAVING, LIMIT, set operation) yields exactly one row.
 */
function subLink(link: SubLink, reads: Reads): boolean | undefined {
  const select =
    link.subselect !== undefined && 'SelectStmt' in link.subselect ? link.subselect.SelectStmt : undefined;
  if (select === undefined) return undefined;
  const only = Object.entries(select).every(
    ([key, value]) =>
      key === 'targetList' ||
      (key === 'limitOption' && value === 'LIMIT_OPTION_DEFAULT') ||
      (key === 'op' && value === 'SETOP_NONE'),
  );
  const targets = select.targetList ?? [];
  if (!only || targets.length !== 1) return undefined;
  if (link.subLinkType === 'EXISTS_SUBLINK') return true;
  const [target] = targets;
  if (link.subLinkType !== 'EXPR_SUBLINK' || target === undefined || !('ResTarget' in target))
    return undefined;
  const value = target.ResTarget.val;
  return value === undefined ? undefined : truth(value, reads);
}

function comparison(expr: A_Expr, reads: Reads): boolean | undefined {
  if (expr.kind !== 'AEXPR_OP' || expr.lexpr === undefined || expr.rexpr === undefined) return undefined;
  const op = operatorName(expr);
  if (op === undefined || !COMPARISONS.has(op)) return undefined;
  // `id = id`, `lower(x) = lower(x)`: identical operands compare equal on every non-NULL row.
  if (sameExpression(expr.lexpr, expr.rexpr, reads))
    return op === '=' || op === '<=' || op === '>=' ? true : undefined;
  // `aid = 12345` stays "depends on the data" whatever the number: no literal value is read.
  if (!isConstant(expr.lexpr) || !isConstant(expr.rexpr)) return undefined;
  let left = constant(expr.lexpr, reads);
  let right = constant(expr.rexpr, reads);
  if (left === undefined || right === undefined || left === null || right === null) return undefined;
  // `'t' = true`, `'1' = 1`: the untyped literal takes the type of the other side.
  if (typeof right === 'string') right = coerce(right, typeof left) ?? right;
  if (typeof left === 'string') left = coerce(left, typeof right) ?? left;
  if (typeof left !== typeof right) return undefined;
  return compare(op, left, right);
}

function compare(op: string, l: Exclude<Scalar, null>, r: Exclude<Scalar, null>): boolean {
  switch (op) {
    case '=':
      return l === r;
    case '<>':
    case '!=':
      return l !== r;
    case '<':
      return l < r;
    case '>':
      return l > r;
    case '<=':
      return l <= r;
    default:
      return l >= r;
  }
}

function operatorName(expr: A_Expr): string | undefined {
  const last = expr.name?.at(-1);
  return last !== undefined && 'String' in last ? last.String.sval : undefined;
}

/** A literal or a cast of one: decided by the node types alone, never by a literal's value. */
function isConstant(node: Node): boolean {
  if ('A_Const' in node) return true;
  return 'TypeCast' in node && node.TypeCast.arg !== undefined && isConstant(node.TypeCast.arg);
}

/** The value of a literal (or a cast literal); `undefined` if the node is not a constant. */
function constant(node: Node, reads: Reads): Scalar | undefined {
  if ('A_Const' in node) return literal(node.A_Const, reads);
  if ('TypeCast' in node) return castLiteral(node.TypeCast, reads);
  return undefined;
}

function literal(c: A_Const, reads: Reads): Scalar | undefined {
  // NULL, TRUE and FALSE are keywords, the same in every text that shares a cache fingerprint.
  if (c.isnull === true) return null;
  // Protobuf JSON omits default values: `false` arrives as `boolval: {}` and `0` as `ival: {}`.
  if (c.boolval !== undefined) return c.boolval.boolval ?? false;
  reads.literal = true;
  if (c.ival !== undefined) return c.ival.ival ?? 0;
  if (c.fval !== undefined) return Number(c.fval.fval ?? 'NaN');
  if (c.sval !== undefined) return c.sval.sval ?? '';
  return undefined;
}

function castLiteral(cast: TypeCast, reads: Reads): Scalar | undefined {
  if (cast.arg === undefined) return undefined;
  const value = constant(cast.arg, reads);
  const typeName = cast.typeName?.names?.at(-1);
  const type = typeName !== undefined && 'String' in typeName ? typeName.String.sval : undefined;
  if (type !== 'bool' && type !== 'boolean') return value;
  // int4 → bool is a real cast (0 is false, anything else true); other numbers cannot be cast.
  if (typeof value === 'number') return Number.isInteger(value) ? value !== 0 : undefined;
  return typeof value === 'string' ? asBoolean(value) : value;
}

function coerce(text: string, type: string): Scalar | undefined {
  if (type === 'boolean') return parseBool(text);
  if (type === 'number' && NUMERIC_TEXT.test(text)) return Number(text);
  return undefined;
}

const NUMERIC_TEXT = /^[ \t\n\r\v\f]*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[ \t\n\r\v\f]*$/;

function asBoolean(value: Scalar | undefined): boolean | undefined {
  if (typeof value === 'boolean') return value;
  return typeof value === 'string' ? parseBool(value) : undefined;
}

/**
 * The server's `boolin`: surrounding whitespace is ignored, case too, and any non-empty prefix of
 * true/false/yes/no counts (`'tr'`, `'ye'`), while on/off need two letters (`'of'`) and 1/0 one.
 */
function parseBool(text: string): boolean | undefined {
  const word = text.replace(/^[ \t\n\r\v\f]+|[ \t\n\r\v\f]+$/g, '').toLowerCase();
  if (word === '') return undefined;
  if ('true'.startsWith(word) || 'yes'.startsWith(word) || word === 'on' || word === '1') return true;
  if ('false'.startsWith(word) || 'no'.startsWith(word) || word === 'of' || word === 'off' || word === '0')
    return false;
  return undefined;
}

/**
 * Structural equality ignoring source positions, so `id = id` matches however it is spaced.
 * Whether `f(1) = f(2)` is such a pair depends on the literals, and some literals leave no A_Const
 * behind (`float(24)` becomes the type `float4`, `current_time(3)` a typmod): so the answer is
 * literal-independent only when one side is built from identifiers and operators alone.
 */
function sameExpression(a: Node, b: Node, reads: Reads): boolean {
  if (!literalFree(a) && !literalFree(b)) reads.literal = true;
  return JSON.stringify(a, withoutLocation) === JSON.stringify(b, withoutLocation);
}

function withoutLocation(key: string, value: unknown): unknown {
  return key === 'location' ? undefined : value;
}

/** Node types whose content comes only from identifiers, operators and keywords. */
const LITERAL_FREE = new Set([
  'ColumnRef',
  'String',
  'A_Star',
  'ParamRef',
  'A_Expr',
  'BoolExpr',
  'FuncCall',
  'NullTest',
  'BooleanTest',
]);

function literalFree(value: unknown): boolean {
  if (Array.isArray(value)) return value.every(literalFree);
  if (typeof value !== 'object' || value === null) return true;
  const keys = Object.keys(value);
  const tag = keys[0];
  if (keys.length === 1 && tag !== undefined && /^[A-Z]/.test(tag) && !LITERAL_FREE.has(tag)) return false;
  return Object.values(value).every(literalFree);
}
