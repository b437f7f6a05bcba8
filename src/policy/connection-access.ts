/**
 * @module policy/connection-access
 * Which principals may open which connections. Pure: (policies, principal, connection) → decision.
 *
 * A policy's subject fields combine with AND (every field given must match) and each list with
 * OR (any listed group matches). A principal that no policy names gets nothing: there is no
 * default allow.
 */
import type { Principal, PrincipalKind } from '../identity/principal.ts';

export type ClaimValue = string | number | boolean;

export interface PolicySubjects {
  readonly groups?: readonly string[] | undefined;
  readonly ids?: readonly string[] | undefined;
  readonly kinds?: readonly PrincipalKind[] | undefined;
  /** Every listed claim must hold: equal to the value (or one of the values), or contain it. */
  readonly claims?: Readonly<Record<string, ClaimValue | readonly ClaimValue[]>> | undefined;
}

export interface ConnectionPolicy {
  readonly name: string;
  readonly subjects: PolicySubjects;
  /** Connection names, or `'*'` for every connection, including ones added later. */
  readonly connections: '*' | readonly string[];
  /** Connections carrying any of these tags are granted too. */
  readonly connectionTags?: readonly string[] | undefined;
}

/** The connection a session asks for, as policies see it. */
export interface ConnectionRef {
  readonly name: string;
  readonly tags: readonly string[];
}

export type ConnectionAccess =
  | { readonly allowed: true; readonly policy: string }
  | { readonly allowed: false };

function listMatches<T>(list: readonly T[] | undefined, matches: (item: T) => boolean): boolean {
  return list === undefined || list.length === 0 || list.some(matches);
}

export function subjectMatches(subjects: PolicySubjects, principal: Principal): boolean {
  const given = [subjects.groups, subjects.ids, subjects.kinds].some(
    (list) => list !== undefined && list.length > 0,
  );
  return (
    given &&
    listMatches(subjects.groups, (group) => principal.groups.includes(group)) &&
    listMatches(subjects.ids, (id) => id === principal.id) &&
    listMatches(subjects.kinds, (kind) => kind === principal.kind) &&
    claimsMatch(subjects.claims, principal.claims)
  );
}

function claimsMatch(
  conditions: PolicySubjects['claims'],
  claims: Readonly<Record<string, unknown>>,
): boolean {
  if (conditions === undefined) return true;
  return Object.entries(conditions).every(([name, expected]) => {
    const wanted: readonly ClaimValue[] = Array.isArray(expected) ? expected : [expected as ClaimValue];
    const actual = claims[name];
    const values: readonly unknown[] = Array.isArray(actual) ? actual : [actual];
    return values.some((value) => wanted.includes(value as ClaimValue));
  });
}

function grantsConnection(policy: ConnectionPolicy, connection: ConnectionRef): boolean {
  return (
    policy.connections === '*' ||
    policy.connections.includes(connection.name) ||
    (policy.connectionTags ?? []).some((tag) => connection.tags.includes(tag))
  );
}

/** Every policy that applies to this principal on this connection, in file order. */
export function applicablePolicies<P extends ConnectionPolicy>(
  policies: readonly P[],
  principal: Principal,
  connection: ConnectionRef,
): P[] {
  return policies.filter(
    (policy) => subjectMatches(policy.subjects, principal) && grantsConnection(policy, connection),
  );
}

export function authorizeConnection(
  policies: readonly ConnectionPolicy[],
  principal: Principal,
  connection: ConnectionRef,
): ConnectionAccess {
  const first = applicablePolicies(policies, principal, connection)[0];
  return first === undefined ? { allowed: false } : { allowed: true, policy: first.name };
}
