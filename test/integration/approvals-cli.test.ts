/**
 * `sluice approvals …` and `sluice access …` run as real subprocesses against an admin server:
 * what an approver reads, exit codes, and the token never echoed back.
 */
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApprovalError } from '../../src/approvals/approvals.ts';
import { type ApprovalsApi, HELD_DELETE, OPEN_GRANT, startApprovalsApi } from '../helpers/approvals-api.ts';
import { type RunResult, run } from '../helpers/run.ts';

const CLI = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));

let api: ApprovalsApi;
/** Every run's output, checked for tokens at the end. */
const outputs: RunResult[] = [];

beforeAll(async () => {
  api = await startApprovalsApi();
});

afterAll(async () => {
  for (const output of outputs) {
    for (const token of Object.values(api.tokens)) {
      expect(output.stdout).not.toContain(token);
      expect(output.stderr).not.toContain(token);
    }
  }
  await api?.close();
});

beforeEach(() => api.service.reset());

/** Runs the CLI as `alice` (an approver) through SLUICE_URL and SLUICE_TOKEN unless told otherwise. */
async function sluice(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const result = await run(process.execPath, [CLI, ...args], {
    env: { SLUICE_URL: api.base, SLUICE_TOKEN: api.tokens.alice, ...env },
  });
  outputs.push(result);
  return result;
}

/** A port nothing listens on: one the OS just handed out and took back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('sluice approvals', () => {
  it('list shows pending statement approvals as a table', async () => {
    const result = await sluice(['approvals', 'list']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const [header, row, ...rest] = result.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^ID\s+STATUS\s+MODE\s+REQUESTER\s+CONNECTION\s+POLICY\s+ROWS EST\.\s+EXPIRES$/);
    expect(row?.split(/\s+/)).toEqual([
      'apr_delete',
      'pending',
      'hold',
      'billing-agent',
      'orders-db',
      'agents-write',
      '1200',
      '2030-01-02T03:19:05Z',
    ]);
    expect(rest).toEqual([]);
    expect(api.service.calls[0]?.args).toEqual([{ kind: 'statement', status: ['pending'] }]);
  });

  it('list --status all --connection sends no status filter; --json prints the answer', async () => {
    const result = await sluice([
      'approvals',
      'list',
      '--status',
      'all',
      '--connection',
      'orders-db',
      '--json',
    ]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([expect.objectContaining({ id: HELD_DELETE.id })]);
    expect(api.service.calls[0]?.args).toEqual([{ kind: 'statement', connection: 'orders-db' }]);
  });

  it('show prints everything an approver needs, escaping what the requester controls', async () => {
    const result = await sluice(['approvals', 'show', HELD_DELETE.id]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    for (const expected of [
      'statement approval apr_delete',
      'pending: 1 of 2 approvals',
      'hold',
      'billing-agent (key:agent-1, workload)',
      'agents',
      '{"team":"billing"}',
      'orders-db',
      'agents-write',
      'review-deletes',
      'deletes need a DBA',
      '1200',
      '2 from dba',
      'signed in within 5m',
      '2030-01-02T03:19:05Z',
      // Server-escaped: printed as it came.
      HELD_DELETE.statement,
      "$1 = '2020-01-01'",
      'approve  bob (key:bob)  looks scoped',
    ]) {
      expect(result.stdout).toContain(expected);
    }
    expect(result.stdout).not.toContain('\u001b');
  });

  it('approve prints where the request stands, as the bearer', async () => {
    const result = await sluice(['approvals', 'approve', HELD_DELETE.id, '--reason', 'checked']);
    expect(result).toMatchObject({ code: 0, stderr: '', stdout: 'apr_delete: approved (2 of 2)\n' });
    const decide = api.service.calls.find((call) => call.method === 'decide');
    expect(decide?.principal.name).toBe('alice');
    expect(decide?.args).toEqual([HELD_DELETE.id, 'approve', 'checked']);
  });

  it('deny requires --reason, and prints the denial', async () => {
    const missing = await sluice(['approvals', 'deny', HELD_DELETE.id]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("required option '--reason <text>' not specified");
    const result = await sluice(['approvals', 'deny', HELD_DELETE.id, '--reason', 'too broad']);
    expect(result).toMatchObject({ code: 0, stdout: 'apr_delete: denied by alice: too broad\n' });
  });

  it('prints the API message on a refusal: exit 1, or 2 when not allowed', async () => {
    api.service.failOn('decide', new ApprovalError('conflict', 'the request is no longer pending'));
    const conflict = await sluice(['approvals', 'approve', HELD_DELETE.id]);
    expect(conflict).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'sluice: the request is no longer pending\n',
    });

    api.service.failOn('decide', new ApprovalError('forbidden', 'alice is not in an approver group'));
    const forbidden = await sluice(['approvals', 'approve', HELD_DELETE.id]);
    expect(forbidden).toMatchObject({ code: 2, stderr: 'sluice: alice is not in an approver group\n' });

    const missing = await sluice(['approvals', 'show', 'apr_nope']);
    expect(missing).toMatchObject({ code: 1, stderr: 'sluice: no request apr_nope\n' });
  });

  it('exits 2 for a wrong token passed with --token, and without any token', async () => {
    const wrong = `${api.tokens.alice.slice(0, -1)}${api.tokens.alice.endsWith('A') ? 'B' : 'A'}`;
    const unauthorized = await sluice(['approvals', 'list', '--token', wrong]);
    expect(unauthorized).toMatchObject({
      code: 2,
      stdout: '',
      stderr: 'sluice: a valid API key or token is required\n',
    });
    expect(unauthorized.stderr).not.toContain(wrong);

    const none = await sluice(['approvals', 'list'], { SLUICE_TOKEN: '' });
    expect(none).toMatchObject({
      code: 2,
      stderr: 'sluice: a token is required: set SLUICE_TOKEN or pass --token\n',
    });
  });

  it('exits 1 when the gateway cannot be reached, naming the URL', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const result = await sluice(['approvals', 'list', '--url', url]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^sluice: cannot reach the gateway at ${url}: .*ECONNREFUSED`));
  });

  it('documents the exit status in --help', async () => {
    const result = await sluice(['approvals', 'approve', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('2 when the token is missing, invalid or not allowed (HTTP 401/403)');
  });
});

describe('sluice access', () => {
  it('request sends the flags, the duration as given, and prints the new request', async () => {
    const result = await sluice(
      [
        'access',
        'request',
        '--connection',
        'orders-db',
        '--duration',
        '30m',
        '--reason',
        'incident 42',
        '--policy',
        'oncall-grant',
        '--break-glass',
      ],
      { SLUICE_TOKEN: api.tokens.agent },
    );
    expect(result).toMatchObject({ code: 0, stderr: '', stdout: 'acc_new: pending: 0 of 1 approvals\n' });
    const call = api.service.calls[0];
    expect(call?.principal.name).toBe('agent');
    expect(call?.args).toEqual([
      {
        connection: 'orders-db',
        durationMs: 1_800_000,
        reason: 'incident 42',
        policy: 'oncall-grant',
        breakGlass: true,
      },
    ]);
  });

  it('request with a bad duration prints the API message', async () => {
    const result = await sluice([
      'access',
      'request',
      '--connection',
      'db',
      '--duration',
      'soon',
      '--reason',
      'x',
    ]);
    expect(result).toMatchObject({
      code: 1,
      stderr: 'sluice: invalid duration "soon"; use e.g. 30m or 2h\n',
    });
  });

  it('list --status approved and show', async () => {
    const listed = await sluice(['access', 'list', '--status', 'approved']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^ID\s+STATUS\s+REQUESTER\s+CONNECTION\s+POLICY\s+DURATION\s+BREAK-GLASS/);
    expect(listed.stdout).toMatch(
      /acc_open\s+approved\s+billing-agent\s+orders-db\s+oncall-grant\s+30m\s+-\s+-\s+2030-01-02T03:34:05Z/,
    );

    const shown = await sluice(['access', 'show', OPEN_GRANT.id]);
    expect(shown.code).toBe(0);
    for (const expected of [
      'access request acc_open',
      'approved (1 of 1), access until 2030-01-02T03:34:05Z',
      // The requester's escape sequence, shown rather than run.
      'incident 42 \\u001b[2J',
      '30m',
    ]) {
      expect(shown.stdout).toContain(expected);
    }
    expect(shown.stdout).not.toContain('\u001b');
  });

  it('an empty list says so', async () => {
    const result = await sluice(['access', 'list']);
    expect(result).toMatchObject({ code: 0, stdout: 'no access requests with status pending\n' });
  });

  it('revoke requires --reason and prints the revocation', async () => {
    expect((await sluice(['access', 'revoke', OPEN_GRANT.id])).code).toBe(1);
    const result = await sluice(['access', 'revoke', OPEN_GRANT.id, '--reason', 'incident closed']);
    expect(result).toMatchObject({ code: 0, stdout: 'acc_open: revoked: incident closed\n' });
    expect(api.service.calls.at(-1)).toMatchObject({
      method: 'revoke',
      args: [OPEN_GRANT.id, 'incident closed'],
    });
  });

  it('approve and deny relay refusals, and do not reach statement approvals', async () => {
    api.service.failOn('decide', new ApprovalError('conflict', 'access request acc_open is not pending'));
    const conflict = await sluice(['access', 'approve', OPEN_GRANT.id]);
    expect(conflict).toMatchObject({ code: 1, stderr: 'sluice: access request acc_open is not pending\n' });
    const wrongKind = await sluice(['access', 'deny', HELD_DELETE.id, '--reason', 'x']);
    expect(wrongKind).toMatchObject({ code: 1, stderr: 'sluice: no access request apr_delete\n' });
  });
});
