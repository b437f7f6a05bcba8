/**
 * An admin server serving the approval routes over a recording stand-in for the approval service
 * (the real one lives in the gateway and needs held sessions), with real API keys in a PGlite
 * store: the API and CLI tests exercise authentication, HTTP mapping and output, not the workflow.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAdminServer } from '../../src/api/admin-server.ts';
import {
  type AccessRequestInput,
  type AccessRequestRecord,
  ApprovalError,
  type ApprovalRequestRecord,
  type Approvals,
  type StatementApprovalRecord,
} from '../../src/approvals/approvals.ts';
import type { AuditEvent } from '../../src/audit/events.ts';
import { PrometheusMetrics } from '../../src/gateway/prometheus-metrics.ts';
import { ApiKeyAuthenticator, createApiKey } from '../../src/identity/api-keys.ts';
import type { Principal } from '../../src/identity/principal.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { RequestFilter } from '../../src/store/store.ts';
import { recordCredential } from './credential-log.ts';
import { recordingLogger } from './gateway.ts';

export interface ServiceCall {
  readonly method: keyof Approvals;
  readonly principal: Principal;
  readonly args: readonly unknown[];
}

const CREATED = new Date('2030-01-02T03:04:05.000Z');
const EXPIRES = new Date('2030-01-02T03:19:05.000Z');

/** A DELETE waiting for two `dba` approvals, one of them given already. */
export const HELD_DELETE: StatementApprovalRecord = {
  kind: 'statement',
  id: 'apr_delete',
  status: 'pending',
  mode: 'hold',
  requester: {
    id: 'key:agent-1',
    name: 'billing-agent',
    kind: 'workload',
    groups: ['agents'],
    claims: { team: 'billing' },
  },
  connection: 'orders-db',
  policy: 'agents-write',
  rule: 'review-deletes',
  reason: 'deletes need a DBA',
  requiredApprovals: 2,
  approverGroups: ['dba'],
  stepUpMs: 300_000,
  decisions: [
    { approverId: 'key:bob', approverName: 'bob', decision: 'approve', reason: 'looks scoped', at: CREATED },
  ],
  statusReason: null,
  createdAt: CREATED,
  expiresAt: EXPIRES,
  decidedAt: null,
  statement: "DELETE FROM orders WHERE created_at < $1 AND note = '\\x1b[31m'",
  parameters: ["'2020-01-01'"],
  redactedStatement: 'DELETE FROM orders WHERE created_at < $1 AND note = $2',
  rowEstimate: 1200,
  bindingHash: 'bindinghash',
  grantExpiresAt: null,
  consumedAt: null,
  replica: 'replica-a',
};

/** An approved 30-minute grant, to revoke; its reason carries a terminal escape, as a hostile requester's might. */
export const OPEN_GRANT: AccessRequestRecord = {
  kind: 'access',
  id: 'acc_open',
  status: 'approved',
  requester: { id: 'key:agent-1', name: 'billing-agent', kind: 'workload', groups: ['agents'], claims: {} },
  connection: 'orders-db',
  policy: 'oncall-grant',
  reason: 'incident 42 \u001b[2J',
  requiredApprovals: 1,
  approverGroups: ['dba'],
  stepUpMs: null,
  decisions: [{ approverId: 'key:bob', approverName: 'bob', decision: 'approve', reason: '', at: CREATED }],
  statusReason: null,
  createdAt: CREATED,
  expiresAt: EXPIRES,
  decidedAt: CREATED,
  durationMs: 1_800_000,
  breakGlass: false,
  grantEndsAt: new Date('2030-01-02T03:34:05.000Z'),
};

/**
 * Records every call with the principal it was made as. Decisions and revocations follow the
 * store's state machine just far enough for the answers to read right; {@link failOn} makes a
 * method throw, to check how each ApprovalError reaches the client.
 */
export class RecordingApprovals implements Approvals {
  readonly calls: ServiceCall[] = [];
  #failure: { method: keyof Approvals; error: ApprovalError } | undefined;
  readonly #records = new Map<string, ApprovalRequestRecord>();

  constructor() {
    this.reset();
  }

  /** Back to the two seeded requests, no calls, no failure. */
  reset(): void {
    this.calls.length = 0;
    this.#failure = undefined;
    this.#records.clear();
    for (const record of [HELD_DELETE, OPEN_GRANT]) this.#records.set(record.id, record);
  }

  async list(viewer: Principal, filter: RequestFilter): Promise<ApprovalRequestRecord[]> {
    this.#record('list', viewer, filter);
    return [...this.#records.values()].filter(
      (record) =>
        (filter.kind === undefined || record.kind === filter.kind) &&
        (filter.status === undefined || filter.status.includes(record.status)) &&
        (filter.connection === undefined || record.connection === filter.connection),
    );
  }

  async get(viewer: Principal, id: string): Promise<ApprovalRequestRecord> {
    this.#record('get', viewer, id);
    return this.#find(id);
  }

  async decide(
    approver: Principal,
    id: string,
    decision: 'approve' | 'deny',
    reason: string,
  ): Promise<ApprovalRequestRecord> {
    this.#record('decide', approver, id, decision, reason);
    const record = this.#find(id);
    const decisions = [
      ...record.decisions,
      { approverId: approver.id, approverName: approver.name, decision, reason, at: CREATED },
    ];
    const approvals = decisions.filter((d) => d.decision === 'approve').length;
    const status =
      decision === 'deny' ? 'denied' : approvals >= record.requiredApprovals ? 'approved' : 'pending';
    return this.#save({ ...record, decisions, status, decidedAt: status === 'pending' ? null : CREATED });
  }

  async requestAccess(requester: Principal, input: AccessRequestInput): Promise<AccessRequestRecord> {
    this.#record('requestAccess', requester, input);
    const { id, name, kind, groups } = requester;
    return this.#save({
      ...OPEN_GRANT,
      id: 'acc_new',
      status: 'pending',
      requester: { id, name, kind, groups, claims: {} },
      connection: input.connection,
      policy: input.policy ?? 'oncall-grant',
      reason: input.reason,
      durationMs: input.durationMs,
      breakGlass: input.breakGlass ?? false,
      decisions: [],
      decidedAt: null,
      grantEndsAt: null,
    });
  }

  async revoke(actor: Principal, id: string, reason: string): Promise<AccessRequestRecord> {
    this.#record('revoke', actor, id, reason);
    return this.#save({
      ...(this.#find(id) as AccessRequestRecord),
      status: 'revoked',
      statusReason: reason,
    });
  }

  /** The next call of `method` throws `error` (once). */
  failOn(method: keyof Approvals, error: ApprovalError): void {
    this.#failure = { method, error };
  }

  #record(method: keyof Approvals, principal: Principal, ...args: unknown[]): void {
    this.calls.push({ method, principal, args });
    const failure = this.#failure;
    if (failure?.method !== method) return;
    this.#failure = undefined;
    throw failure.error;
  }

  #find(id: string): ApprovalRequestRecord {
    const record = this.#records.get(id);
    if (!record) throw new ApprovalError('not_found', `no request ${id}`);
    return record;
  }

  #save<R extends ApprovalRequestRecord>(record: R): R {
    this.#records.set(record.id, record);
    return record;
  }
}

export interface ApprovalsApi {
  /** e.g. http://127.0.0.1:40123 */
  readonly base: string;
  readonly service: RecordingApprovals;
  /** API keys: `admin` (sluice-admins), `alice` (dba), `agent` (agents). */
  readonly tokens: { readonly admin: string; readonly alice: string; readonly agent: string };
  readonly audit: AuditEvent[];
  /** Source addresses of failed authentications, as handed to the brute-force backoff. */
  readonly backoffs: string[];
  readonly logs: string[];
  close(): Promise<void>;
}

export async function startApprovalsApi(): Promise<ApprovalsApi> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-approvals-api-'));
  const { logs, logger } = recordingLogger();
  const store = await openStore(`pglite://${join(dir, 'store')}`, { logger });
  const createKey = async (name: string, groups: string[]) => {
    const { key } = await createApiKey(store, { name, groups });
    recordCredential(key);
    return key;
  };
  const tokens = {
    admin: await createKey('admin', ['sluice-admins']),
    alice: await createKey('alice', ['dba']),
    agent: await createKey('agent', ['agents']),
  };
  const audit: AuditEvent[] = [];
  const auditSink = { emit: (event: AuditEvent) => audit.push(event) };
  const backoffs: string[] = [];
  const service = new RecordingApprovals();
  const server = await startAdminServer({
    host: '127.0.0.1',
    port: 0,
    metrics: new PrometheusMetrics(),
    readiness: async () => ({ ok: true, checks: {} }),
    logger,
    version: 'test',
    api: {
      store,
      recordingsDir: join(dir, 'recordings'),
      vault: undefined,
      audit: auditSink,
      approvals: service,
      auth: {
        authenticator: new ApiKeyAuthenticator(store),
        group: 'sluice-admins',
        audit: auditSink,
        failed: (sourceAddress) => {
          backoffs.push(sourceAddress);
          return 0;
        },
      },
    },
  });
  return {
    base: `http://127.0.0.1:${server.address.port}`,
    service,
    tokens,
    audit,
    backoffs,
    logs,
    async close() {
      await server.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
