/**
 * @module policy/connection-access
 * Which principals may open which connections. Pure: (policies, principal, connection) → decision.
 *
 * A policy's subject fields combine with AND (every field given must match) and each list with
 * OR (any listed group matches). A principal that no policy names gets nothing: there is no
 * default allow.
 */
import type { Principal, PrincipalKind } from '../identity/principal.ts';

export interface PolicySubjects {
  readonly groups?: readonly string[] | undefined;
  readonly ids?: readonly string[] | undefined;
  readonly kinds?: readonly PrincipalKind[] | undefined;
}

export interface ConnectionPolicy {
  readonly name: string;
  readonly subjects: PolicySubjects;
  /** Connection names, or `'*'` for every connection, including ones added later. */
  readonly connections: '*' | readonly string[];
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
    listMatches(subjects.kinds, (kind) => kind === principal.kind)
  );
}

export function authorizeConnection(
  policies: readonly ConnectionPolicy[],
  principal: Principal,
  connectionName: string,
): ConnectionAccess {
  for (const policy of policies) {
    if (!subjectMatches(policy.subjects, principal)) continue;
    if (policy.connections === '*' || policy.connections.includes(connectionName)) {
      return { allowed: true, policy: policy.name };
    }
  }
  return { allowed: false };
}
