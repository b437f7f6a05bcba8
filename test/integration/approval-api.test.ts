/**
 * The approval and access-request endpoints: open to any authenticated principal (approvers and
 * agents are rarely admins), calls made as the bearer's principal, ApprovalErrors as status codes,
 * bodies validated and parsed, and everything documented in the OpenAPI document.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApprovalError, type ApprovalErrorCode } from '../../src/approvals/approvals.ts';
import { type ApprovalsApi, HELD_DELETE, OPEN_GRANT, startApprovalsApi } from '../helpers/approvals-api.ts';

let api: ApprovalsApi;

beforeAll(async () => {
  api = await startApprovalsApi();
});

afterAll(() => api?.close());

beforeEach(() => api.service.reset());

function call(path: string, init: { method?: string; token?: string; body?: unknown } = {}) {
  const headers = new Headers();
  if (init.token !== undefined) headers.set('authorization', `Bearer ${init.token}`);
  if (init.body !== undefined) headers.set('content-type', 'application/json');
  return fetch(`${api.base}${path}`, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
}

describe('authentication', () => {
  it('refuses a missing or unknown credential with 401, through the backoff, audited, before validation', async () => {
    const answers = await Promise.all([
      call('/api/v1/approvals'),
      call('/api/v1/access-requests', { token: 'slk_not-a-key' }),
      // An invalid body too: an unauthenticated caller must not learn the route's schema.
      call(`/api/v1/approvals/${HELD_DELETE.id}/deny`, { method: 'POST', body: {} }),
    ]);
    for (const answer of answers) {
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toBe('Bearer');
      expect(await answer.json()).toEqual({
        error: 'unauthorized',
        message: 'sluice: a valid API key or token is required',
      });
    }
    expect(api.backoffs).toHaveLength(3);
    expect(api.audit.filter((event) => event.type === 'admin.auth_failed')).toHaveLength(3);
    expect(api.service.calls).toEqual([]);
  });

  it('lets a principal outside the admin group in, while keys stay admin-only', async () => {
    const listed = await call('/api/v1/approvals', { token: api.tokens.alice });
    expect(listed.status).toBe(200);
    expect((await call('/api/v1/keys', { token: api.tokens.alice })).status).toBe(403);
    expect(api.service.calls[0]?.principal).toMatchObject({ name: 'alice', groups: ['dba'] });
  });
});

describe('statement approvals', () => {
  it('lists with the filter parsed from the query, dates as ISO strings', async () => {
    const answer = await call('/api/v1/approvals?status=pending,approved&connection=orders-db&limit=5', {
      token: api.tokens.alice,
    });
    expect(answer.status).toBe(200);
    expect(api.service.calls[0]?.args).toEqual([
      { kind: 'statement', status: ['pending', 'approved'], connection: 'orders-db', limit: 5 },
    ]);
    const body = (await answer.json()) as Record<string, unknown>[];
    expect(body).toHaveLength(1);
    expect(body[0]).toMatchObject({
      id: HELD_DELETE.id,
      kind: 'statement',
      statement: HELD_DELETE.statement,
      parameters: ["'2020-01-01'"],
      rowEstimate: 1200,
      createdAt: '2030-01-02T03:04:05.000Z',
      decidedAt: null,
      decisions: [expect.objectContaining({ approverName: 'bob', at: '2030-01-02T03:04:05.000Z' })],
    });
    // Internal to the gateway: what an approval binds and where the statement is held.
    expect(body[0]).not.toHaveProperty('bindingHash');
    expect(body[0]).not.toHaveProperty('replica');
  });

  it('refuses an unknown status in the filter with 400', async () => {
    const answer = await call('/api/v1/approvals?status=pending,maybe', { token: api.tokens.alice });
    expect(answer.status).toBe(400);
    expect(api.service.calls).toEqual([]);
  });

  it('shows one approval, and answers 404 for an access request id on the statements path', async () => {
    const shown = await call(`/api/v1/approvals/${HELD_DELETE.id}`, { token: api.tokens.alice });
    expect(shown.status).toBe(200);
    expect(await shown.json()).toMatchObject({ id: HELD_DELETE.id, mode: 'hold', rule: 'review-deletes' });
    const wrongKind = await call(`/api/v1/approvals/${OPEN_GRANT.id}`, { token: api.tokens.alice });
    expect(wrongKind.status).toBe(404);
  });

  it('approves as the bearer, with or without a reason', async () => {
    const answer = await call(`/api/v1/approvals/${HELD_DELETE.id}/approve`, {
      method: 'POST',
      token: api.tokens.alice,
      body: {},
    });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ status: 'approved', decidedAt: '2030-01-02T03:04:05.000Z' });
    const decide = api.service.calls.find((c) => c.method === 'decide');
    expect(decide?.principal).toMatchObject({ name: 'alice', groups: ['dba'], kind: 'service' });
    expect(decide?.principal.id).toMatch(/^key:/);
    expect(decide?.args).toEqual([HELD_DELETE.id, 'approve', '']);
  });

  it('requires a non-blank reason to deny', async () => {
    for (const body of [{}, { reason: '' }, { reason: '   ' }]) {
      const answer = await call(`/api/v1/approvals/${HELD_DELETE.id}/deny`, {
        method: 'POST',
        token: api.tokens.alice,
        body,
      });
      expect(answer.status).toBe(400);
    }
    expect(api.service.calls).toEqual([]);
    const denied = await call(`/api/v1/approvals/${HELD_DELETE.id}/deny`, {
      method: 'POST',
      token: api.tokens.alice,
      body: { reason: 'no WHERE on tenant' },
    });
    expect(await denied.json()).toMatchObject({ status: 'denied' });
    expect(api.service.calls.at(-1)?.args).toEqual([HELD_DELETE.id, 'deny', 'no WHERE on tenant']);
  });

  it.each<[ApprovalErrorCode, number]>([
    ['not_found', 404],
    ['forbidden', 403],
    ['conflict', 409],
    ['invalid', 400],
  ])('answers ApprovalError %s from decide with %i and its message', async (code, status) => {
    api.service.failOn('decide', new ApprovalError(code, `refused: ${code}`));
    const answer = await call(`/api/v1/approvals/${HELD_DELETE.id}/approve`, {
      method: 'POST',
      token: api.tokens.alice,
      body: { reason: 'ok' },
    });
    expect(answer.status).toBe(status);
    expect(await answer.json()).toEqual({ error: code, message: `refused: ${code}` });
  });

  it('answers 404 when the service hides the request from the viewer', async () => {
    api.service.failOn('get', new ApprovalError('not_found', `no request ${HELD_DELETE.id}`));
    const answer = await call(`/api/v1/approvals/${HELD_DELETE.id}/approve`, {
      method: 'POST',
      token: api.tokens.agent,
      body: {},
    });
    expect(answer.status).toBe(404);
    expect(api.service.calls.map((c) => c.method)).toEqual(['get']);
  });
});

describe('access requests', () => {
  it('creates a request as the bearer with the duration in ms: 201', async () => {
    const answer = await call('/api/v1/access-requests', {
      method: 'POST',
      token: api.tokens.agent,
      body: {
        connection: 'orders-db',
        duration: '30m',
        reason: 'incident 42',
        policy: 'oncall',
        breakGlass: true,
      },
    });
    expect(answer.status).toBe(201);
    expect(await answer.json()).toMatchObject({ kind: 'access', status: 'pending', durationMs: 1_800_000 });
    const request = api.service.calls[0];
    expect(request?.method).toBe('requestAccess');
    expect(request?.principal.name).toBe('agent');
    expect(request?.args).toEqual([
      {
        connection: 'orders-db',
        durationMs: 1_800_000,
        reason: 'incident 42',
        policy: 'oncall',
        breakGlass: true,
      },
    ]);
  });

  it('refuses a bad duration or a missing field with 400', async () => {
    const post = (body: unknown) =>
      call('/api/v1/access-requests', { method: 'POST', token: api.tokens.agent, body });
    const badDuration = await post({ connection: 'orders-db', duration: 'soon', reason: 'x' });
    expect(badDuration.status).toBe(400);
    expect(await badDuration.json()).toEqual({
      error: 'invalid',
      message: 'invalid duration "soon"; use e.g. 30m or 2h',
    });
    expect((await post({ connection: 'orders-db', duration: '30m' })).status).toBe(400);
    expect((await post({ connection: 'orders-db', duration: '0', reason: 'x' })).status).toBe(400);
    expect(api.service.calls).toEqual([]);
  });

  it('lists, shows, and revokes with a required reason', async () => {
    const listed = await call('/api/v1/access-requests?status=approved', { token: api.tokens.alice });
    expect((await listed.json()) as unknown[]).toEqual([
      expect.objectContaining({ id: OPEN_GRANT.id, grantEndsAt: '2030-01-02T03:34:05.000Z' }),
    ]);
    expect(api.service.calls[0]?.args).toEqual([{ kind: 'access', status: ['approved'] }]);
    const revokePath = `/api/v1/access-requests/${OPEN_GRANT.id}/revoke`;
    expect((await call(revokePath, { method: 'POST', token: api.tokens.alice, body: {} })).status).toBe(400);
    const revoked = await call(revokePath, {
      method: 'POST',
      token: api.tokens.alice,
      body: { reason: 'done' },
    });
    expect(await revoked.json()).toMatchObject({ status: 'revoked', statusReason: 'done' });
    expect(api.service.calls.at(-1)).toMatchObject({ method: 'revoke', args: [OPEN_GRANT.id, 'done'] });
    const statementPath = `/api/v1/access-requests/${HELD_DELETE.id}/revoke`;
    const wrongKind = await call(statementPath, {
      method: 'POST',
      token: api.tokens.alice,
      body: { reason: 'x' },
    });
    expect(wrongKind.status).toBe(404);
  });
});

it('documents every approval route in the OpenAPI document', async () => {
  const openapi = (await (await call('/api/v1/openapi.json')).json()) as { paths: Record<string, unknown> };
  expect(Object.keys(openapi.paths)).toEqual(
    expect.arrayContaining([
      '/api/v1/approvals',
      '/api/v1/approvals/{id}',
      '/api/v1/approvals/{id}/approve',
      '/api/v1/approvals/{id}/deny',
      '/api/v1/access-requests',
      '/api/v1/access-requests/{id}',
      '/api/v1/access-requests/{id}/approve',
      '/api/v1/access-requests/{id}/deny',
      '/api/v1/access-requests/{id}/revoke',
    ]),
  );
});
