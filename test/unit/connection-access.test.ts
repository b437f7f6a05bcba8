import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/identity/principal.ts';
import {
  applicablePolicies,
  authorizeConnection,
  type ConnectionPolicy,
  subjectMatches,
} from '../../src/policy/connection-access.ts';

function principal(overrides: Partial<Principal> = {}): Principal {
  return {
    id: 'key:ak_1',
    kind: 'service',
    name: 'ci-bot',
    groups: ['ci'],
    claims: {},
    expiresAt: undefined,
    ...overrides,
  };
}

const policy = (
  name: string,
  subjects: ConnectionPolicy['subjects'],
  connections: ConnectionPolicy['connections'],
): ConnectionPolicy => ({ name, subjects, connections });

describe('subjectMatches', () => {
  it('ANDs the fields: every given field must match', () => {
    const subjects = { groups: ['ci'], kinds: ['workload' as const] };
    expect(subjectMatches(subjects, principal({ groups: ['ci'], kind: 'workload' }))).toBe(true);
    expect(subjectMatches(subjects, principal({ groups: ['ci'], kind: 'service' }))).toBe(false);
    expect(subjectMatches(subjects, principal({ groups: ['dev'], kind: 'workload' }))).toBe(false);
  });

  it('ANDs all three fields', () => {
    const subjects = { groups: ['ci'], ids: ['key:ak_1'], kinds: ['service' as const] };
    expect(subjectMatches(subjects, principal())).toBe(true);
    expect(subjectMatches(subjects, principal({ id: 'key:ak_2' }))).toBe(false);
    expect(subjectMatches(subjects, principal({ groups: [] }))).toBe(false);
    expect(subjectMatches(subjects, principal({ kind: 'human' }))).toBe(false);
  });

  it('ORs the entries of one list', () => {
    const subjects = { groups: ['ci', 'deploy'] };
    expect(subjectMatches(subjects, principal({ groups: ['ci'] }))).toBe(true);
    expect(subjectMatches(subjects, principal({ groups: ['deploy'] }))).toBe(true);
    expect(subjectMatches(subjects, principal({ groups: ['other', 'deploy'] }))).toBe(true);
    expect(subjectMatches(subjects, principal({ groups: ['other'] }))).toBe(false);
    expect(subjectMatches({ ids: ['key:x', 'key:ak_1'] }, principal())).toBe(true);
    expect(subjectMatches({ kinds: ['human', 'service'] }, principal())).toBe(true);
    expect(subjectMatches({ kinds: ['human', 'workload'] }, principal())).toBe(false);
  });

  it('matches groups exactly (no prefix, case or substring matching)', () => {
    expect(subjectMatches({ groups: ['ci'] }, principal({ groups: ['CI'] }))).toBe(false);
    expect(subjectMatches({ groups: ['ci'] }, principal({ groups: ['ci-admins'] }))).toBe(false);
    expect(subjectMatches({ groups: ['ci-admins'] }, principal({ groups: ['ci'] }))).toBe(false);
  });

  it('treats an empty list as not given, and no given list as matching nobody', () => {
    expect(subjectMatches({ groups: [], kinds: ['service'] }, principal())).toBe(true);
    expect(subjectMatches({}, principal())).toBe(false);
    expect(subjectMatches({ groups: [], ids: [], kinds: [] }, principal())).toBe(false);
    expect(subjectMatches({ groups: undefined }, principal())).toBe(false);
  });

  it('a principal with no groups never matches a groups list', () => {
    expect(subjectMatches({ groups: ['ci'] }, principal({ groups: [] }))).toBe(false);
  });
});

const conn = (name: string, tags: string[] = []) => ({ name, tags });

describe('authorizeConnection', () => {
  const policies: ConnectionPolicy[] = [
    policy('ci-orders', { groups: ['ci'] }, ['orders']),
    policy('data-analytics', { groups: ['data'], kinds: ['human'] }, ['analytics', 'reporting']),
    policy('oncall-everything', { ids: ['oidc:https://idp.example.com#alice'] }, '*'),
  ];

  it('grants a listed connection and names the policy that granted it', () => {
    expect(authorizeConnection(policies, principal(), conn('orders'))).toEqual({
      allowed: true,
      policy: 'ci-orders',
    });
  });

  it('refuses a connection the matching policy does not list', () => {
    expect(authorizeConnection(policies, principal(), conn('analytics'))).toEqual({ allowed: false });
  });

  it('ORs within a connection list', () => {
    const analyst = principal({ groups: ['data'], kind: 'human' });
    expect(authorizeConnection(policies, analyst, conn('analytics')).allowed).toBe(true);
    expect(authorizeConnection(policies, analyst, conn('reporting')).allowed).toBe(true);
    expect(authorizeConnection(policies, analyst, conn('orders')).allowed).toBe(false);
  });

  it('ANDs subject fields: the right group but the wrong kind gets nothing', () => {
    const bot = principal({ groups: ['data'], kind: 'workload' });
    expect(authorizeConnection(policies, bot, conn('analytics'))).toEqual({ allowed: false });
  });

  it("'*' grants every connection, including names no policy mentions", () => {
    const alice = principal({ id: 'oidc:https://idp.example.com#alice', kind: 'human', groups: [] });
    for (const connection of ['orders', 'analytics', 'added-later', '*']) {
      expect(authorizeConnection(policies, alice, conn(connection))).toEqual({
        allowed: true,
        policy: 'oncall-everything',
      });
    }
  });

  it("a connection literally named '*' in a list is not a wildcard", () => {
    const literal = [policy('odd', { groups: ['ci'] }, ['*', 'orders'])];
    // The config forbids mixing '*' with names; the evaluator only treats the bare '*' value as all.
    expect(authorizeConnection(literal, principal(), conn('payments'))).toEqual({ allowed: false });
  });

  it('has no default allow', () => {
    expect(authorizeConnection([], principal(), conn('orders'))).toEqual({ allowed: false });
    expect(authorizeConnection(policies, principal({ groups: [] }), conn('orders'))).toEqual({
      allowed: false,
    });
    expect(authorizeConnection(policies, principal({ groups: ['unknown'] }), conn('orders'))).toEqual({
      allowed: false,
    });
  });

  it('a policy with empty subjects grants nothing, even with connections: *', () => {
    const open = [policy('open', {}, '*'), policy('open-empty', { groups: [], ids: [], kinds: [] }, '*')];
    expect(authorizeConnection(open, principal(), conn('orders'))).toEqual({ allowed: false });
  });

  it('the first policy that grants wins; a non-granting match does not stop the search', () => {
    const layered = [
      policy('ci-other', { groups: ['ci'] }, ['other']),
      policy('ci-orders-1', { groups: ['ci'] }, ['orders']),
      policy('ci-orders-2', { kinds: ['service'] }, ['orders']),
    ];
    expect(authorizeConnection(layered, principal(), conn('orders'))).toEqual({
      allowed: true,
      policy: 'ci-orders-1',
    });
  });

  it('matches connection names exactly', () => {
    expect(authorizeConnection(policies, principal(), conn('Orders')).allowed).toBe(false);
    expect(authorizeConnection(policies, principal(), conn('orders2')).allowed).toBe(false);
    expect(authorizeConnection(policies, principal(), conn('')).allowed).toBe(false);
  });

  it('grants by connection tag, and lists every applicable policy in file order', () => {
    const tagged = [
      policy('by-name', { groups: ['ci'] }, ['orders']),
      { ...policy('by-tag', { groups: ['ci'] }, []), connectionTags: ['prod'] },
    ];
    expect(authorizeConnection(tagged, principal(), conn('billing', ['prod'])).allowed).toBe(true);
    expect(authorizeConnection(tagged, principal(), conn('billing', ['staging'])).allowed).toBe(false);
    expect(applicablePolicies(tagged, principal(), conn('orders', ['prod'])).map((p) => p.name)).toEqual([
      'by-name',
      'by-tag',
    ]);
  });
});

describe('claim conditions', () => {
  const subjects = { groups: ['ci'], claims: { repository: ['org/app', 'org/api'], email_verified: true } };

  it('requires every listed claim; a list means any of its values; a list claim may contain the value', () => {
    const ok = principal({ claims: { repository: 'org/api', email_verified: true } });
    expect(subjectMatches(subjects, ok)).toBe(true);
    expect(
      subjectMatches(subjects, principal({ claims: { repository: 'org/other', email_verified: true } })),
    ).toBe(false);
    expect(subjectMatches(subjects, principal({ claims: { repository: 'org/app' } }))).toBe(false);
    expect(
      subjectMatches(subjects, principal({ claims: { repository: 'org/app', email_verified: 'true' } })),
    ).toBe(false);
    expect(
      subjectMatches(
        { groups: ['ci'], claims: { amr: 'mfa' } },
        principal({ claims: { amr: ['pwd', 'mfa'] } }),
      ),
    ).toBe(true);
  });
});
