import type { A_Const, A_Expr, BoolExpr, Node, TypeCast } from '@pgsql/types';
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
  if ('A_Expr' in node) return comparison(node.A_Expr, reads);
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
