/**
 * @module policy/statement-policy
 * Pure evaluation: (the policies that apply to a session, statement facts) → allow | review | deny,
 * with the policy, the rule and a reason a caller can act on.
 *
 * - Anything the analyzer could not judge (`unknown`) is denied, whatever the policy says.
 * - Guardrails are on unless relaxed; rules add allow, review or deny; a statement no rule
 *   matches gets the policy's `default`.
 * - The most restrictive answer wins (deny > review > allow): across guardrails and rules, across
 *   the statements of one message, and across every policy that applies.
 * - Deny and review rules match when the statement touches *any* listed table, function or
 *   effect; allow rules only when *everything* it touches is listed, so an allow for reads of
 *   `public.*` never lets a write or another schema through.
 */
import type { Effect, StatementFacts } from '../sql/postgres/index.ts';
import type { NameMatcher } from './glob.ts';
import { GUARDRAIL_CHECKS, GUARDRAIL_NAMES, type GuardrailName } from './guardrails.ts';
import { permissiveFunctionMatcher, restrictiveFunctionMatcher, tableMatcher } from './names.ts';

export type PolicyAction = 'allow' | 'review' | 'deny';

export interface StatementRuleSpec {
  readonly name?: string | undefined;
  readonly action: PolicyAction;
  readonly effects?: readonly Effect[] | undefined;
  /** Statement node names as `sluice policy test` prints them, e.g. `IndexStmt`. */
  readonly kinds?: readonly string[] | undefined;
  readonly tables?: readonly string[] | undefined;
  readonly functions?: readonly string[] | undefined;
  readonly reason?: string | undefined;
}

export interface GuardrailSpec {
  readonly action: PolicyAction;
  /** Function, procedure or setting patterns the guardrail exempts (where it supports them). */
  readonly except: readonly string[];
}

export interface StatementPolicySpec {
  readonly name: string;
  readonly default: PolicyAction;
  readonly rules: readonly StatementRuleSpec[];
  readonly guardrails: Readonly<Record<GuardrailName, GuardrailSpec>>;
  /** When given, every function a statement calls must match one of these. */
  readonly allowedFunctions?: readonly string[] | undefined;
}

export interface Verdict {
  readonly action: PolicyAction;
  readonly policy: string;
  /** `guardrail <name>`, `rule <name>`, `default`, `allowedFunctions` or `unanalyzable`. */
  readonly rule: string;
  readonly reason: string;
}

interface CompiledRule {
  readonly label: string;
  readonly action: PolicyAction;
  readonly spec: StatementRuleSpec;
  readonly tables: NameMatcher | undefined;
  readonly functions: NameMatcher | undefined;
}

export interface CompiledPolicy {
  readonly name: string;
  readonly default: PolicyAction;
  readonly rules: readonly CompiledRule[];
  readonly guardrails: ReadonlyArray<{ name: GuardrailName; action: PolicyAction; except: NameMatcher }>;
  readonly allowedFunctions: NameMatcher | undefined;
  readonly functionCall: PolicyAction;
}

const SEVERITY: Readonly<Record<PolicyAction, number>> = { allow: 0, review: 1, deny: 2 };

export function compilePolicy(spec: StatementPolicySpec): CompiledPolicy {
  return {
    name: spec.name,
    default: spec.default,
    rules: spec.rules.map((rule, i) => {
      const permissive = rule.action === 'allow';
      return {
        label: `rule ${rule.name ?? `#${i + 1}`}`,
        action: rule.action,
        spec: rule,
        tables: rule.tables === undefined ? undefined : tableMatcher(rule.tables),
        functions:
          rule.functions === undefined
            ? undefined
            : permissive
              ? permissiveFunctionMatcher(rule.functions)
              : restrictiveFunctionMatcher(rule.functions),
      };
    }),
    guardrails: GUARDRAIL_NAMES.filter((name) => spec.guardrails[name].action !== 'allow').map((name) => ({
      name,
      action: spec.guardrails[name].action,
      except: permissiveFunctionMatcher(spec.guardrails[name].except),
    })),
    allowedFunctions:
      spec.allowedFunctions === undefined ? undefined : permissiveFunctionMatcher(spec.allowedFunctions),
    functionCall: spec.guardrails.functionCall.action,
  };
}

/** The strictest of two verdicts; on a tie the earlier one stands (its reason came first). */
export function stricter(a: Verdict, b: Verdict): Verdict {
  return SEVERITY[b.action] > SEVERITY[a.action] ? b : a;
}

/**
 * The verdict for one message's statements under every policy that applies. No policy means no
 * access; no statements (an empty query) is allowed, as the server merely answers EmptyQuery.
 */
export function judgeStatements(
  policies: readonly CompiledPolicy[],
  statements: readonly StatementFacts[],
): Verdict {
  const first = policies[0];
  if (first === undefined) {
    return { action: 'deny', policy: '', rule: 'no policy', reason: 'no policy applies to this session' };
  }
  // Seeded from the first judgement, not from the empty answer: on a tie the earlier verdict
  // stands, so an allow would otherwise always be reported as "no statement".
  let verdict: Verdict | undefined;
  for (const facts of statements) {
    for (const policy of policies) {
      const next = judgeOne(policy, facts);
      verdict = verdict === undefined ? next : stricter(verdict, next);
      if (verdict.action === 'deny') return verdict;
    }
  }
  return verdict ?? { action: 'allow', policy: first.name, rule: 'empty', reason: 'no statement' };
}

/** The FunctionCall ('F') message calls a function by OID, with no SQL to judge. */
export function judgeFunctionCall(policies: readonly CompiledPolicy[]): Verdict {
  let verdict: Verdict = {
    action: policies.length === 0 ? 'deny' : 'allow',
    policy: policies[0]?.name ?? '',
    rule: policies.length === 0 ? 'no policy' : 'guardrail functionCall',
    reason: 'a FunctionCall message calls a server function by OID, with no SQL the gateway can judge',
  };
  for (const policy of policies) {
    verdict = stricter(verdict, { ...verdict, action: policy.functionCall, policy: policy.name });
  }
  return verdict;
}

function judgeOne(policy: CompiledPolicy, facts: StatementFacts): Verdict {
  const verdict = (action: PolicyAction, rule: string, reason: string): Verdict => ({
    action,
    policy: policy.name,
    rule,
    reason,
  });
  if (facts.effects.includes('unknown')) {
    return verdict(
      'deny',
      'unanalyzable',
      facts.error !== undefined
        ? `the statement could not be parsed: ${facts.error}`
        : `the gateway cannot judge ${facts.unknownNodes?.join(', ') || facts.kind}`,
    );
  }
  let result: Verdict | undefined;
  const consider = (next: Verdict) => {
    result = result === undefined ? next : stricter(result, next);
  };
  for (const guardrail of policy.guardrails) {
    if (guardrail.name === 'functionCall') continue;
    const reason = GUARDRAIL_CHECKS[guardrail.name](facts, guardrail.except);
    if (reason !== undefined) consider(verdict(guardrail.action, `guardrail ${guardrail.name}`, reason));
  }
  const allowed = policy.allowedFunctions;
  if (allowed !== undefined) {
    const outside = facts.functions.find((f) => !allowed(f));
    if (outside !== undefined) {
      consider(
        verdict('deny', 'allowedFunctions', `function ${outside}() is not on the policy's function list`),
      );
    }
  }
  let matchedRule = false;
  for (const rule of policy.rules) {
    if (!ruleMatches(rule, facts)) continue;
    matchedRule = true;
    consider(verdict(rule.action, rule.label, rule.spec.reason ?? describeRule(rule, facts)));
  }
  if (!matchedRule) {
    consider(
      verdict(
        policy.default,
        'default',
        `no rule matches ${facts.kind} (${facts.effects.join(', ') || 'no effect'}) and the policy default is ${policy.default}`,
      ),
    );
  }
  return result ?? verdict('allow', 'default', 'allowed');
}

function ruleMatches(rule: CompiledRule, facts: StatementFacts): boolean {
  const { spec } = rule;
  const all = rule.action === 'allow';
  const listed = <T>(items: readonly T[], matches: (item: T) => boolean) =>
    all ? items.every(matches) : items.some(matches);
  if (spec.kinds !== undefined && !spec.kinds.includes(facts.kind)) return false;
  if (spec.effects !== undefined) {
    const effects = spec.effects;
    if (!listed(facts.effects, (e) => effects.includes(e))) return false;
  }
  const { tables, functions } = rule;
  if (tables !== undefined && !listed([...facts.tables.read, ...facts.tables.written], tables)) return false;
  if (functions !== undefined && !listed(facts.functions, functions)) return false;
  return true;
}

function describeRule(rule: CompiledRule, facts: StatementFacts): string {
  const what =
    rule.action === 'deny' ? 'forbids' : rule.action === 'review' ? 'requires approval for' : 'allows';
  return `${rule.label} ${what} ${facts.kind} (${facts.effects.join(', ')})`;
}
