/**
 * The approval repository on both backends (PGlite and the real PostgreSQL on 127.0.0.1:5432, a
 * scratch database per run): the state machine, single use of ticket grants under concurrency,
 * and the change feed, across two stores sharing one PostgreSQL database as replicas would.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { openStore } from '../../src/store/open-store.ts';
import type {
  AccessRequestRecord,
  NewAccessRequest,
  NewStatementApproval,
  RequestDecision,
  Requester,
  StatementApprovalRecord,
  Store,
} from '../../src/store/store.ts';
import { adminQuery } from '../helpers/postgres.ts';
import { everyBackend, openStoreFor, replicasOnOnePostgres } from '../helpers/store-backends.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const unique = (prefix: string) => `${prefix}_${randomUUID()}`;

function requester(id = unique('user')): Requester {
  return {
    id,
    name: `Name ${id}`,
    kind: 'user',
    groups: ['dev'],
    claims: { iss: 'https://idp.test', sub: id },
  };
}

function newStatement(overrides: Partial<NewStatementApproval> = {}): NewStatementApproval {
  return {
    id: unique('sa'),
    kind: 'statement',
    requester: requester(),
    connection: 'prod',
    policy: 'engineers',
    reason: 'deletes need review',
    requiredApprovals: 1,
    approverGroups: ['dba', 'sre'],
    stepUpMs: 5 * MINUTE,
    expiresAt: new Date(Date.now() + HOUR),
    mode: 'hold',
    rule: 'review-deletes',
    statement: "DELETE FROM orders WHERE email = '***'",
    parameters: ['***', '42'],
    redactedStatement: 'DELETE FROM orders WHERE email = $1',
    rowEstimate: 12.5,
    bindingHash: randomBytes(32).toString('hex'),
    replica: 'replica-a',
    ...overrides,
  };
}

function newAccess(overrides: Partial<NewAccessRequest> = {}): NewAccessRequest {
  return {
    id: unique('ar'),
    kind: 'access',
    requester: requester(),
    connection: 'prod',
    policy: 'oncall-grant',
    reason: 'incident 123',
    requiredApprovals: 1,
    approverGroups: ['sre'],
    stepUpMs: null,
    expiresAt: new Date(Date.now() + HOUR),
    durationMs: 2 * HOUR,
    breakGlass: false,
    ...overrides,
  };
}

function approve(approverId: string, at = new Date()): RequestDecision {
  return {
    approverId,
    approverName: `Approver ${approverId}`,
    decision: 'approve',
    reason: 'looks fine',
    at,
  };
}

function deny(approverId: string, at = new Date()): RequestDecision {
  return { approverId, approverName: `Approver ${approverId}`, decision: 'deny', reason: 'too broad', at };
}

const backends = everyBackend('approvals');

describe.each(backends)('$name approval store', (backend) => {
  let store: Store;
  openStoreFor(backend, (opened) => {
    store = opened;
  });

  /** Decides `id` as approved (a request of required count 1), returning the record. */
  async function approved(id: string, now = new Date(), grantWindowMs = 10 * MINUTE) {
    const record = await store.approvals.decide(id, approve(unique('approver'), now), { now, grantWindowMs });
    if (typeof record === 'string') throw new Error(`decide refused: ${record}`);
    expect(record.status).toBe('approved');
    return record;
  }

  describe('create, get and list', () => {
    it('round-trips a statement approval with every field', async () => {
      const input = newStatement();
      const created = await store.approvals.createStatement(input);
      const expected: StatementApprovalRecord = {
        ...input,
        status: 'pending',
        decisions: [],
        statusReason: null,
        createdAt: created.createdAt,
        decidedAt: null,
        grantExpiresAt: null,
        consumedAt: null,
      };
      expect(created).toEqual(expected);
      expect(created.createdAt).toBeInstanceOf(Date);
      expect(Math.abs(created.createdAt.getTime() - Date.now())).toBeLessThan(MINUTE);
      expect(await store.approvals.get(input.id)).toEqual(expected);
    });

    it('round-trips an access request, including a null step-up and a long duration', async () => {
      const input = newAccess({ durationMs: 40 * 24 * HOUR });
      const created = await store.approvals.createAccess(input);
      const expected: AccessRequestRecord = {
        ...input,
        status: 'pending',
        decisions: [],
        statusReason: null,
        createdAt: created.createdAt,
        decidedAt: null,
        grantEndsAt: null,
      };
      expect(created).toEqual(expected);
      expect(await store.approvals.get(input.id)).toEqual(expected);
    });

    it('answers undefined for an unknown id', async () => {
      expect(await store.approvals.get('sa_missing')).toBeUndefined();
    });

    it('lists newest first, filtered by kind, status, requester and connection', async () => {
      const connection = unique('conn');
      const alice = requester();
      const first = await store.approvals.createStatement(newStatement({ connection, requester: alice }));
      const second = await store.approvals.createAccess(newAccess({ connection, requester: alice }));
      const third = await store.approvals.createStatement(newStatement({ connection }));
      await store.approvals.close(third.id, 'withdrawn', 'client cancelled');
      await store.approvals.createStatement(newStatement({ requester: alice }));

      const ids = async (filter: Parameters<Store['approvals']['list']>[0]) =>
        (await store.approvals.list({ connection, ...filter })).map((r) => r.id);
      expect(await ids({})).toEqual([third.id, second.id, first.id]);
      expect(await ids({ kind: 'statement' })).toEqual([third.id, first.id]);
      expect(await ids({ kind: 'access' })).toEqual([second.id]);
      expect(await ids({ status: ['pending'] })).toEqual([second.id, first.id]);
      expect(await ids({ status: ['withdrawn', 'approved'] })).toEqual([third.id]);
      expect(await ids({ status: [] })).toEqual([]);
      expect(await ids({ requesterId: alice.id })).toEqual([second.id, first.id]);
      expect(await ids({ requesterId: alice.id, kind: 'access' })).toEqual([second.id]);
      expect(await ids({ limit: 2 })).toEqual([third.id, second.id]);
      expect(await ids({ connection: unique('none') })).toEqual([]);
    });

    it('lists at most 100 by default', async () => {
      const connection = unique('conn');
      for (let i = 0; i < 101; i++) await store.approvals.createStatement(newStatement({ connection }));
      expect(await store.approvals.list({ connection })).toHaveLength(100);
      expect(await store.approvals.list({ connection, limit: 5000 })).toHaveLength(101);
    });
  });

  describe('decide', () => {
    it('approves a hold request with one approval, recording the decision', async () => {
      const request = await store.approvals.createStatement(newStatement());
      const now = new Date();
      const decision = approve('dba-1', now);
      const decided = await store.approvals.decide(request.id, decision, { now, grantWindowMs: MINUTE });
      expect(decided).toMatchObject({
        status: 'approved',
        decidedAt: now,
        decisions: [decision],
        grantExpiresAt: null,
      });
      expect(await store.approvals.get(request.id)).toEqual(decided);
    });

    it('needs distinct approvers when two approvals are required', async () => {
      const request = await store.approvals.createStatement(newStatement({ requiredApprovals: 2 }));
      const now = new Date();
      const options = { now, grantWindowMs: MINUTE };
      const first = await store.approvals.decide(request.id, approve('dba-1', now), options);
      expect(first).toMatchObject({ status: 'pending', decidedAt: null, decisions: [approve('dba-1', now)] });
      expect(await store.approvals.decide(request.id, approve('dba-1', now), options)).toBe(
        'already_decided',
      );
      const second = await store.approvals.decide(request.id, approve('dba-2', now), options);
      expect(second).toMatchObject({
        status: 'approved',
        decidedAt: now,
        decisions: [approve('dba-1', now), approve('dba-2', now)],
      });
    });

    it('denies at once, even when more approvals were required', async () => {
      const request = await store.approvals.createStatement(newStatement({ requiredApprovals: 2 }));
      const now = new Date();
      const decided = await store.approvals.decide(request.id, deny('dba-1', now), {
        now,
        grantWindowMs: MINUTE,
      });
      expect(decided).toMatchObject({ status: 'denied', decidedAt: now, decisions: [deny('dba-1', now)] });
    });

    it('refuses a request that is no longer pending', async () => {
      const request = await store.approvals.createStatement(newStatement());
      const now = new Date();
      await store.approvals.decide(request.id, deny('dba-1', now), { now, grantWindowMs: MINUTE });
      const late = await store.approvals.decide(request.id, approve('dba-2', now), {
        now,
        grantWindowMs: MINUTE,
      });
      expect(late).toBe('not_pending');
      expect((await store.approvals.get(request.id))?.decisions).toHaveLength(1);
    });

    it('refuses an unknown id', async () => {
      const now = new Date();
      expect(
        await store.approvals.decide('sa_missing', approve('dba-1'), { now, grantWindowMs: MINUTE }),
      ).toBe('not_found');
    });

    it('refuses and marks expired a request whose time is up', async () => {
      const expiresAt = new Date(Date.now() + MINUTE);
      const request = await store.approvals.createStatement(newStatement({ expiresAt }));
      const options = { now: expiresAt, grantWindowMs: MINUTE };
      expect(await store.approvals.decide(request.id, approve('dba-1'), options)).toBe('expired');
      expect(await store.approvals.get(request.id)).toMatchObject({
        status: 'expired',
        statusReason: 'timed out',
        decisions: [],
        decidedAt: null,
      });
      expect(await store.approvals.decide(request.id, approve('dba-1'), options)).toBe('not_pending');
    });

    it('opens the grant window of an approved ticket', async () => {
      const request = await store.approvals.createStatement(newStatement({ mode: 'ticket' }));
      const now = new Date();
      const decided = await approved(request.id, now, 15 * MINUTE);
      expect(decided).toMatchObject({
        grantExpiresAt: new Date(now.getTime() + 15 * MINUTE),
        consumedAt: null,
      });
    });

    it('sets the end of an approved access grant', async () => {
      const request = await store.approvals.createAccess(newAccess({ durationMs: 3 * HOUR }));
      const now = new Date();
      const decided = await approved(request.id, now);
      expect(decided).toMatchObject({ decidedAt: now, grantEndsAt: new Date(now.getTime() + 3 * HOUR) });
    });
  });

  describe('ticket grants', () => {
    it('are used once, only with their binding hash and only within their window', async () => {
      const request = await store.approvals.createStatement(newStatement({ mode: 'ticket' }));
      expect(await store.approvals.consumeGrant(request.bindingHash, new Date())).toBeUndefined();
      const now = new Date();
      await approved(request.id, now, MINUTE);

      expect(await store.approvals.consumeGrant(randomBytes(32).toString('hex'), now)).toBeUndefined();
      expect(await store.approvals.consumeGrant(request.bindingHash, new Date(now.getTime() + MINUTE))).toBe(
        undefined,
      );
      const usedAt = new Date(now.getTime() + MINUTE - 1);
      const used = await store.approvals.consumeGrant(request.bindingHash, usedAt);
      expect(used).toMatchObject({ id: request.id, status: 'consumed', consumedAt: usedAt });
      expect(await store.approvals.get(request.id)).toEqual(used);
      expect(await store.approvals.consumeGrant(request.bindingHash, usedAt)).toBeUndefined();
    });

    it('are taken oldest first, one per call; hold approvals are not grants', async () => {
      const bindingHash = randomBytes(32).toString('hex');
      const hold = await store.approvals.createStatement(newStatement({ bindingHash }));
      const older = await store.approvals.createStatement(newStatement({ bindingHash, mode: 'ticket' }));
      const newer = await store.approvals.createStatement(newStatement({ bindingHash, mode: 'ticket' }));
      for (const { id } of [hold, newer, older]) await approved(id);
      const now = new Date();
      expect((await store.approvals.consumeGrant(bindingHash, now))?.id).toBe(older.id);
      expect((await store.approvals.consumeGrant(bindingHash, now))?.id).toBe(newer.id);
      expect(await store.approvals.consumeGrant(bindingHash, now)).toBeUndefined();
      expect((await store.approvals.get(hold.id))?.status).toBe('approved');
    });

    it('go each to exactly one of many concurrent callers', async () => {
      const bindingHash = randomBytes(32).toString('hex');
      const grants = [];
      for (let i = 0; i < 3; i++) {
        grants.push(await store.approvals.createStatement(newStatement({ bindingHash, mode: 'ticket' })));
      }
      for (const { id } of grants) await approved(id);
      const now = new Date();
      const results = await Promise.all(
        Array.from({ length: 10 }, () => store.approvals.consumeGrant(bindingHash, now)),
      );
      const winners = results.flatMap((result) => (result ? [result.id] : []));
      expect(winners.toSorted()).toEqual(grants.map((g) => g.id).toSorted());
    });
  });

  describe('consume (hold mode)', () => {
    it('consumes an approved statement once', async () => {
      const request = await store.approvals.createStatement(newStatement());
      const now = new Date();
      expect(await store.approvals.consume(request.id, now)).toBe(false);
      await approved(request.id);
      expect(await store.approvals.consume(request.id, now)).toBe(true);
      expect(await store.approvals.get(request.id)).toMatchObject({ status: 'consumed', consumedAt: now });
      expect(await store.approvals.consume(request.id, now)).toBe(false);
      expect(await store.approvals.consume('sa_missing', now)).toBe(false);
    });
  });

  describe('close', () => {
    it('withdraws or expires only pending requests', async () => {
      for (const status of ['withdrawn', 'expired'] as const) {
        const request = await store.approvals.createStatement(newStatement());
        const closed = await store.approvals.close(request.id, status, 'client went away');
        expect(closed).toMatchObject({ id: request.id, status, statusReason: 'client went away' });
        expect(await store.approvals.close(request.id, status, 'again')).toBeUndefined();
        expect((await store.approvals.get(request.id))?.statusReason).toBe('client went away');

        const decided = await store.approvals.createStatement(newStatement());
        await approved(decided.id);
        expect(await store.approvals.close(decided.id, status, 'too late')).toBeUndefined();
      }
      expect(await store.approvals.close('sa_missing', 'withdrawn', 'none')).toBeUndefined();
    });

    it('revokes only approved access', async () => {
      const pendingAccess = await store.approvals.createAccess(newAccess());
      expect(await store.approvals.close(pendingAccess.id, 'revoked', 'no')).toBeUndefined();
      const statement = await store.approvals.createStatement(newStatement());
      await approved(statement.id);
      expect(await store.approvals.close(statement.id, 'revoked', 'no')).toBeUndefined();

      const access = await store.approvals.createAccess(newAccess());
      const grant = await approved(access.id);
      const revoked = await store.approvals.close(access.id, 'revoked', 'incident over');
      expect(revoked).toMatchObject({
        status: 'revoked',
        statusReason: 'incident over',
        decidedAt: grant.decidedAt,
      });
    });
  });

  describe('access grants', () => {
    it('are active for their principal and connection until they end or are revoked', async () => {
      const alice = requester();
      const connection = unique('conn');
      const pendingRequest = await store.approvals.createAccess(newAccess({ requester: alice, connection }));
      const request = await store.approvals.createAccess(newAccess({ requester: alice, connection }));
      const now = new Date();
      const grant = await approved(request.id, now);
      const ids = async (at: Date, who = alice.id, where = connection) =>
        (await store.approvals.activeAccess(who, where, at)).map((r) => r.id);

      expect(await ids(now)).toEqual([request.id]);
      expect(await ids(new Date(now.getTime() + 2 * HOUR - 1))).toEqual([request.id]);
      expect(await ids(new Date(now.getTime() + 2 * HOUR))).toEqual([]);
      expect(await ids(now, requester().id)).toEqual([]);
      expect(await ids(now, alice.id, 'other')).toEqual([]);
      expect((await store.approvals.activeAccess(alice.id, connection, now))[0]).toEqual(grant);
      expect(await ids(now)).not.toContain(pendingRequest.id);

      await store.approvals.close(request.id, 'revoked', 'done');
      expect(await ids(now)).toEqual([]);
    });

    it('break-glass requests are created approved, decided by the requester', async () => {
      const alice = requester();
      const connection = unique('conn');
      const before = Date.now();
      const created = await store.approvals.createAccess(
        newAccess({ requester: alice, connection, breakGlass: true, approvedNow: true, durationMs: HOUR }),
      );
      expect(created).toMatchObject({ status: 'approved', breakGlass: true, durationMs: HOUR });
      const decidedAt = created.decidedAt?.getTime() ?? Number.NaN;
      expect(decidedAt).toBeGreaterThanOrEqual(before - 5_000);
      expect(decidedAt).toBeLessThanOrEqual(Date.now() + 5_000);
      expect(created.grantEndsAt?.getTime()).toBe(decidedAt + HOUR);
      expect(created.decisions).toEqual([
        {
          approverId: alice.id,
          approverName: alice.name,
          decision: 'approve',
          reason: 'incident 123',
          at: expect.any(Date),
        },
      ]);
      expect(Math.abs((created.decisions[0]?.at.getTime() ?? 0) - decidedAt)).toBeLessThanOrEqual(1);
      expect(await store.approvals.get(created.id)).toEqual(created);
      expect((await store.approvals.activeAccess(alice.id, connection, new Date())).map((r) => r.id)).toEqual(
        [created.id],
      );
    });
  });

  describe('change feed', () => {
    it('announces every change, and nothing for a refused one', async () => {
      const seen: string[] = [];
      const unsubscribe = await store.approvals.onChange((id) => seen.push(id));
      try {
        const now = new Date();
        const options = { now, grantWindowMs: MINUTE };
        const hold = await store.approvals.createStatement(newStatement());
        await store.approvals.decide(hold.id, approve('dba-1', now), options);
        await store.approvals.consume(hold.id, now);
        const ticket = await store.approvals.createStatement(newStatement({ mode: 'ticket' }));
        await store.approvals.decide(ticket.id, approve('dba-1', now), options);
        await store.approvals.consumeGrant(ticket.bindingHash, now);
        const withdrawn = await store.approvals.createStatement(newStatement());
        await store.approvals.close(withdrawn.id, 'withdrawn', 'cancelled');
        const stale = await store.approvals.createStatement(newStatement({ expiresAt: now }));
        await store.approvals.decide(stale.id, approve('dba-1', now), options);
        const glass = await store.approvals.createAccess(newAccess({ breakGlass: true, approvedNow: true }));
        // Refused: none of these changes anything, so none may be announced.
        await store.approvals.decide(hold.id, approve('dba-2', now), options);
        await store.approvals.close(hold.id, 'withdrawn', 'no');
        await store.approvals.consume(hold.id, now);
        await store.approvals.consumeGrant(ticket.bindingHash, now);
        const sentinel = await store.approvals.createAccess(newAccess());

        const expected = [
          ...[hold.id, hold.id, hold.id],
          ...[ticket.id, ticket.id, ticket.id],
          ...[withdrawn.id, withdrawn.id],
          ...[stale.id, stale.id],
          glass.id,
          sentinel.id,
        ];
        await vi.waitFor(() => expect(seen).toContain(sentinel.id), { timeout: 5_000 });
        expect(seen).toEqual(expected);
      } finally {
        await unsubscribe();
      }
    });

    it('stops calling a listener once it unsubscribes', async () => {
      const gone: string[] = [];
      const kept: string[] = [];
      const unsubscribeGone = await store.approvals.onChange((id) => gone.push(id));
      const unsubscribeKept = await store.approvals.onChange((id) => kept.push(id));
      try {
        const first = await store.approvals.createStatement(newStatement());
        await vi.waitFor(() => expect(gone).toEqual([first.id]), { timeout: 5_000 });
        await unsubscribeGone();
        const second = await store.approvals.createStatement(newStatement());
        await vi.waitFor(() => expect(kept).toEqual([first.id, second.id]), { timeout: 5_000 });
        expect(gone).toEqual([first.id]);
      } finally {
        await unsubscribeKept();
      }
    });
  });
});

describe('postgres approval store replicas', () => {
  const replicas = replicasOnOnePostgres('sluice_approvals');

  it('announce a change made on one replica to listeners on both', async () => {
    const seenA: string[] = [];
    const seenB: string[] = [];
    const unsubscribeA = await replicas.a.approvals.onChange((id) => seenA.push(id));
    const unsubscribeB = await replicas.b.approvals.onChange((id) => seenB.push(id));
    try {
      const request = await replicas.a.approvals.createStatement(newStatement());
      const now = new Date();
      await replicas.b.approvals.decide(request.id, approve('dba-1', now), { now, grantWindowMs: MINUTE });
      await vi.waitFor(
        () => {
          expect(seenA).toEqual([request.id, request.id]);
          expect(seenB).toEqual([request.id, request.id]);
        },
        { timeout: 5_000 },
      );
    } finally {
      await unsubscribeA();
      await unsubscribeB();
    }
  });

  it('share one single-use grant between replicas racing for it', async () => {
    const request = await replicas.a.approvals.createStatement(newStatement({ mode: 'ticket' }));
    const now = new Date();
    await replicas.a.approvals.decide(request.id, approve('dba-1', now), { now, grantWindowMs: MINUTE });
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        (i % 2 === 0 ? replicas.a : replicas.b).approvals.consumeGrant(request.bindingHash, now),
      ),
    );
    expect(results.filter((result) => result !== undefined).map((result) => result.id)).toEqual([request.id]);
  });

  it('close their listening connection when the store closes', async () => {
    const listening = async () =>
      (
        await adminQuery<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity
           WHERE datname = '${replicas.database}' AND application_name = 'sluice-listen'`,
        )
      ).length;
    const before = await listening();
    const replicaC = await openStore(replicas.url);
    try {
      await replicaC.approvals.onChange(() => {});
      expect(await listening()).toBe(before + 1);
    } finally {
      await replicaC.close();
    }
    await vi.waitFor(async () => expect(await listening()).toBe(before), { timeout: 5_000 });
  });

  it('tell listeners to re-read after the listening connection drops, then keep announcing', async () => {
    const seen: string[] = [];
    const unsubscribe = await replicas.a.approvals.onChange((id) => seen.push(id));
    const unsubscribeB = await replicas.b.approvals.onChange(() => {});
    try {
      const terminated = await adminQuery<{ pid: number }>(
        `SELECT pg_terminate_backend(pid), pid FROM pg_stat_activity
         WHERE datname = '${replicas.database}' AND application_name = 'sluice-listen'`,
      );
      // One listening connection per replica.
      expect(terminated).toHaveLength(2);
      await vi.waitFor(() => expect(seen).toEqual(['']), { timeout: 10_000 });
      const request = await replicas.b.approvals.createStatement(newStatement());
      await vi.waitFor(() => expect(seen).toEqual(['', request.id]), { timeout: 5_000 });
    } finally {
      await unsubscribe();
      await unsubscribeB();
    }
  });
});
