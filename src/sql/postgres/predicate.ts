import type { A_Const, A_Expr, BoolExpr, Node, TypeCast } from '@pgsql/types';
import type { Predicate } from './facts.ts';

/**
 * Constant-true detection for UPDATE/DELETE predicates. "Has a WHERE" is not enough
 * (SECURITY.md §2, tautological WHERE): `1=1`, `true`, `id = id`, `NOT false`, `1<2`, `… OR true`
 * all select every row. This is a small three-valued evaluator: `undefined` means "depends on the
 * data", which is the honest answer for anything it does not recognise.
 */
export function classifyPredicate(where: Node | undefined): Predicate {
  if (where === undefined) return 'none';
  return truth(where) === true ? 'constant_true' : 'present';
}

type Scalar = number | string | boolean | null;

function truth(node: Node): boolean | undefined {
  if ('BoolExpr' in node) return boolExpr(node.BoolExpr);
  if ('A_Expr' in node) return comparison(node.A_Expr);
  const value = constant(node);
  return typeof value === 'boolean' ? value : undefined;
}

function boolExpr(expr: BoolExpr): boolean | undefined {
  const args = (expr.args ?? []).map(truth);
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

function comparison(expr: A_Expr): boolean | undefined {
  if (expr.kind !== 'AEXPR_OP' || expr.lexpr === undefined || expr.rexpr === undefined) return undefined;
  const op = operatorName(expr);
  if (op === undefined || !COMPARISONS.has(op)) return undefined;
  // `id = id`, `lower(x) = lower(x)`: identical operands compare equal on every non-NULL row.
  if (sameExpression(expr.lexpr, expr.rexpr))
    return op === '=' || op === '<=' || op === '>=' ? true : undefined;
  const left = constant(expr.lexpr);
  const right = constant(expr.rexpr);
  if (left === undefined || right === undefined || left === null || right === null) return undefined;
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

const TRUE_WORDS = new Set(['t', 'true', 'y', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['f', 'false', 'n', 'no', 'off', '0']);

/** The value of a literal (or a cast literal); `undefined` if the node is not a constant. */
function constant(node: Node): Scalar | undefined {
  if ('A_Const' in node) return literal(node.A_Const);
  if ('TypeCast' in node) return castLiteral(node.TypeCast);
  return undefined;
}

function literal(c: A_Const): Scalar | undefined {
  if (c.isnull === true) return null;
  // Protobuf JSON omits default values: `false` arrives as `boolval: {}` and `0` as `ival: {}`.
  if (c.boolval !== undefined) return c.boolval.boolval ?? false;
  if (c.ival !== undefined) return c.ival.ival ?? 0;
  if (c.fval !== undefined) return Number(c.fval.fval ?? 'NaN');
  if (c.sval !== undefined) return c.sval.sval ?? '';
  return undefined;
}

function castLiteral(cast: TypeCast): Scalar | undefined {
  if (cast.arg === undefined) return undefined;
  const value = constant(cast.arg);
  const typeName = cast.typeName?.names?.at(-1);
  const type = typeName !== undefined && 'String' in typeName ? typeName.String.sval : undefined;
  if ((type === 'bool' || type === 'boolean') && typeof value === 'string') {
    const word = value.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    return undefined;
  }
  return value;
}

/** Structural equality ignoring source positions, so `id = id` matches however it is spaced. */
function sameExpression(a: Node, b: Node): boolean {
  return JSON.stringify(a, withoutLocation) === JSON.stringify(b, withoutLocation);
}

function withoutLocation(key: string, value: unknown): unknown {
  return key === 'location' ? undefined : value;
}
