/**
 * @module cli/policy-format
 * Text for `sluice policy check|test`: the pieces that are not command wiring. Pure (returns
 * lines; the command prints them), so the wording can be tested without a subprocess.
 */
import type { PolicyConfig, SluiceConfig } from '../config/load.ts';
import type { PolicyLimitsConfig } from '../config/schema.ts';
import type { Principal, PrincipalKind } from '../identity/principal.ts';
import { GUARDRAIL_NAMES } from '../policy/guardrails.ts';
import type { Verdict } from '../policy/statement-policy.ts';
import type { StatementFacts } from '../sql/postgres/index.ts';

const KINDS: readonly PrincipalKind[] = ['workload', 'human', 'service'];

/**
 * `groups=ci,groups=deploy,kind=service,id=key:1,claim.repo=acme/app,claim.n:=42` → Principal.
 * `claim.NAME=VALUE` is a string claim, repeated it becomes a list; `claim.NAME:=JSON` gives a
 * typed value (number, boolean, list). Unset: kind `service` (what an API key is), id
 * `cli:policy-test`, no groups, no claims.
 *
 * @throws Error on a malformed entry, naming it.
 */
export function parsePrincipal(specs: readonly string[]): Principal {
  const groups: string[] = [];
  const claims: Record<string, unknown> = {};
  let id = 'cli:policy-test';
  let kind: PrincipalKind = 'service';
  for (const entry of specs.flatMap((spec) => spec.split(',')).map((s) => s.trim())) {
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new Error(`--as: "${entry}" is not KEY=VALUE`);
    let key = entry.slice(0, eq);
    const value = entry.slice(eq + 1);
    const typed = key.endsWith(':');
    if (typed) key = key.slice(0, -1);
    if (key === 'groups' || key === 'group') {
      if (value === '') throw new Error('--as: groups= needs a group name');
      groups.push(value);
    } else if (key === 'kind') {
      if (!KINDS.includes(value as PrincipalKind)) {
        throw new Error(`--as: kind must be one of ${KINDS.join('|')}`);
      }
      kind = value as PrincipalKind;
    } else if (key === 'id') {
      id = value;
    } else if (key.startsWith('claim.') && key.length > 'claim.'.length) {
      const name = key.slice('claim.'.length);
      if (typed) {
        try {
          claims[name] = JSON.parse(value) as unknown;
        } catch {
          throw new Error(`--as: ${key}:= needs a JSON value (42, true, ["a","b"])`);
        }
      } else {
        const before = claims[name];
        claims[name] =
          before === undefined ? value : Array.isArray(before) ? [...before, value] : [before, value];
      }
    } else {
      throw new Error(`--as: unknown key "${key}" (groups, kind, id, claim.NAME)`);
    }
  }
  return { id, kind, name: id, groups, claims, expiresAt: undefined };
}

export function describePrincipal(p: Principal): string {
  const claims = Object.entries(p.claims).map(([k, v]) => `claim.${k}=${JSON.stringify(v)}`);
  return [`id=${p.id}`, `kind=${p.kind}`, `groups=${p.groups.join(',') || '(none)'}`, ...claims].join(' ');
}

function subjects(policy: PolicyConfig): string {
  const { groups, ids, kinds, claims } = policy.subjects;
  const parts = [
    groups.length > 0 ? `groups ${groups.join(', ')}` : '',
    ids.length > 0 ? `ids ${ids.join(', ')}` : '',
    kinds.length > 0 ? `kinds ${kinds.join(', ')}` : '',
    ...Object.entries(claims).map(([name, value]) => `claim ${name}=${JSON.stringify(value)}`),
  ];
  return parts.filter((p) => p !== '').join('; ');
}

function connections(policy: PolicyConfig): string {
  const names = policy.connections === '*' ? '* (every connection)' : policy.connections.join(', ');
  const tags = policy.connectionTags.length > 0 ? `tags ${policy.connectionTags.join(', ')}` : '';
  return [names, tags].filter((p) => p !== '').join('; ');
}

/** The guardrails a policy turns down from `deny`, or narrows with an `except` list. */
export function relaxedGuardrails(policy: PolicyConfig): string[] {
  return GUARDRAIL_NAMES.flatMap((name) => {
    const g = policy.guardrails[name];
    if (g.action === 'deny' && g.except.length === 0) return [];
    const except = g.except.length > 0 ? ` except ${g.except.join(', ')}` : '';
    return [`${name}=${g.action}${except}`];
  });
}

export function describeLimits(limits: PolicyLimitsConfig): string {
  const parts = Object.entries(limits).flatMap(([name, value]) =>
    value === undefined ? [] : [`${name} ${value}`],
  );
  return parts.length === 0 ? 'none' : parts.join(', ');
}

/** The `policy check` summary. */
export function checkSummary(source: string, config: SluiceConfig): string[] {
  const lines = [
    `${source}: OK (${config.connections.length} connection${config.connections.length === 1 ? '' : 's'}, ${config.policies.length} polic${config.policies.length === 1 ? 'y' : 'ies'})`,
  ];
  if (config.policies.length === 0) lines.push('no policies: every principal is refused on every connection');
  for (const policy of config.policies) {
    const relaxed = relaxedGuardrails(policy);
    lines.push(
      '',
      `policy ${policy.name}`,
      ...fields([
        ['subjects', subjects(policy)],
        ['connections', connections(policy) || '(none)'],
        ['default', policy.default],
        ['rules', String(policy.rules.length)],
        ['guardrails', relaxed.length === 0 ? 'all on' : `relaxed: ${relaxed.join('; ')}`],
        ...(policy.allowedFunctions === undefined
          ? []
          : [['functions', `only ${policy.allowedFunctions.join(', ')}`] as [string, string]]),
        ['limits', describeLimits(policy.limits)],
      ]),
    );
  }
  return lines;
}

export function fields(rows: readonly (readonly [string, string])[], indent = '  '): string[] {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${indent}${label.padEnd(width)}  ${value}`);
}

const list = (items: readonly string[]) => (items.length === 0 ? '-' : items.join(', '));

/** One statement's facts as `policy test` prints them. */
export function describeFacts(f: StatementFacts): [string, string][] {
  const rows: [string, string][] = [
    ['kind', f.kind],
    ['effects', list(f.effects)],
    ['reads', list(f.tables.read)],
    ['writes', list(f.tables.written)],
    ['functions', list(f.functions)],
    ['settings', list(f.settings)],
  ];
  if (f.destructive) rows.push(['destructive', 'yes']);
  for (const w of f.writes) {
    rows.push([
      'write',
      `${w.kind} ${w.table}${w.predicate === undefined ? '' : ` (WHERE: ${w.predicate})`}`,
    ]);
  }
  if (f.copy !== undefined) {
    rows.push(['copy', `${f.copy.direction} ${f.copy.target}${f.copy.format ? ` (${f.copy.format})` : ''}`]);
  }
  if (f.transaction !== undefined) rows.push(['transaction', f.transaction]);
  if (f.prepared !== undefined) {
    const inner = f.prepared.inner === undefined ? '' : ` → ${f.prepared.inner.kind}`;
    rows.push([
      'prepared',
      `${f.prepared.action}${f.prepared.name === undefined ? '' : ` ${f.prepared.name}`}${inner}`,
    ]);
  }
  if (f.error !== undefined) rows.push(['error', f.error]);
  return rows;
}

export function describeVerdict(v: Verdict): string {
  return `${v.action} (policy ${v.policy === '' ? '-' : `"${v.policy}"`}, ${v.rule})`;
}

export interface EffectiveLimit {
  readonly value: number;
  readonly policy: string;
}

/** The tightest value of each limit across the applicable policies, as the gateway enforces it. */
export function effectiveLimits(
  policies: readonly { name: string; limits: PolicyLimitsConfig }[],
): Partial<Record<keyof PolicyLimitsConfig, EffectiveLimit>> {
  const out: Partial<Record<keyof PolicyLimitsConfig, EffectiveLimit>> = {};
  for (const policy of policies) {
    for (const [name, value] of Object.entries(policy.limits) as [
      keyof PolicyLimitsConfig,
      number | undefined,
    ][]) {
      if (value === undefined) continue;
      const current = out[name];
      if (current === undefined || value < current.value) out[name] = { value, policy: policy.name };
    }
  }
  return out;
}
