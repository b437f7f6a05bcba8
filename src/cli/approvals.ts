/**
 * @module cli/approvals
 * `sluice approvals …` (statements held for review) and `sluice access …` (time-boxed access
 * requests). Unlike `sluice keys`, these talk to a running gateway's admin API over HTTP: a held
 * statement lives in the gateway process, and the gateway checks who may decide it.
 */
import type { Command } from 'commander';
import type { AccessRequestView, RequestView, StatementApprovalView } from '../api/approval-routes.ts';
import { formatDuration } from '../core/duration.ts';
import { printFields, printTable } from './table.ts';

const DEFAULT_URL = 'http://127.0.0.1:18080';
const EXIT_FAILED = 1;
const EXIT_NOT_ALLOWED = 2;

const EXIT_STATUS_HELP = `
Exit status: 0 on success; 1 when the gateway refuses the request (not found, already decided,
invalid) or cannot be reached; 2 when the token is missing, invalid or not allowed (HTTP 401/403).
Prefer SLUICE_TOKEN to --token: a command-line argument shows up in ps and shell history.`;

interface ApiOptions {
  url?: string;
  token?: string;
  json?: boolean;
}

/** A refusal or transport failure: printed as `sluice: <message>`, never with the token. */
class ApiFailure extends Error {
  readonly exitCode: number;
  constructor(exitCode: number, message: string) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** The one way these commands reach the admin API: bearer token, JSON both ways, errors mapped. */
async function callApi<T>(opts: ApiOptions, method: 'GET' | 'POST', path: string, body?: object): Promise<T> {
  const token = opts.token ?? process.env.SLUICE_TOKEN;
  if (!token) throw new ApiFailure(EXIT_NOT_ALLOWED, 'a token is required: set SLUICE_TOKEN or pass --token');
  const base = (opts.url ?? process.env.SLUICE_URL ?? DEFAULT_URL).replace(/\/+$/, '');
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (error) {
    // fetch reports "fetch failed"; the cause says why (ECONNREFUSED, a bad URL…).
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    throw new ApiFailure(EXIT_FAILED, `cannot reach the gateway at ${base}: ${(cause as Error).message}`);
  }
  const payload: unknown = await response.json().catch(() => undefined);
  if (response.ok) return payload as T;
  const exitCode = response.status === 401 || response.status === 403 ? EXIT_NOT_ALLOWED : EXIT_FAILED;
  throw new ApiFailure(exitCode, apiMessage(payload) ?? `HTTP ${response.status} ${response.statusText}`);
}

/** The API's own message; some already carry the `sluice:` prefix this CLI adds. */
function apiMessage(payload: unknown): string | undefined {
  const message = (payload as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message.replace(/^sluice: /, '') : undefined;
}

/** Commander action wrapper: an ApiFailure becomes a stderr line and an exit code. */
function handled<A extends unknown[]>(work: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      await work(...args);
    } catch (error) {
      if (!(error instanceof ApiFailure)) throw error;
      console.error(`sluice: ${error.message}`);
      process.exitCode = error.exitCode;
    }
  };
}

function apiCommand(parent: Command, name: string, description: string): Command {
  return parent
    .command(name)
    .description(description)
    .option('--url <url>', `the gateway's admin API (default: $SLUICE_URL, else ${DEFAULT_URL})`)
    .option('--token <token>', 'API key or OIDC token (default: $SLUICE_TOKEN)')
    .option('--json', 'print the API answer as JSON');
}

/**
 * Reasons, names and claims come from the requester: an approver's terminal must not act on their
 * escape sequences or bidi overrides. Server-escaped text (statements, parameters) has none left,
 * so this leaves it as it is.
 */
function visible(text: string): string {
  return text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
    /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (char) => `\\u${(char.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
}

function formatDate(iso: string | null): string {
  return iso ? iso.replace(/\.\d{3}Z$/, 'Z') : '-';
}

/** What a decision left the request as, e.g. `approved (2 of 2)` or `pending: 1 of 2 approvals`. */
function outcome(view: RequestView): string {
  const approvals = view.decisions.filter((d) => d.decision === 'approve').length;
  const count = `${approvals} of ${view.requiredApprovals}`;
  if (view.status === 'pending') return `pending: ${count} approvals`;
  if (view.status === 'denied') {
    const denial = view.decisions.find((d) => d.decision === 'deny');
    return denial ? `denied by ${denial.approverName}: ${denial.reason}` : 'denied';
  }
  if (view.status !== 'approved')
    return view.statusReason ? `${view.status}: ${view.statusReason}` : view.status;
  if (view.kind === 'access') {
    const breakGlass = view.breakGlass ? ', break-glass' : '';
    return `approved (${count}${breakGlass}), access until ${formatDate(view.grantEndsAt)}`;
  }
  return view.mode === 'ticket'
    ? `approved (${count}), usable once until ${formatDate(view.grantExpiresAt)}`
    : `approved (${count})`;
}

/** Requester-controlled values escaped, so they cannot drive the approver's terminal. */
function printVisibleFields(fields: readonly (readonly [string, string])[]): void {
  printFields(fields.map(([label, value]) => [label, visible(value)] as const));
}

function printSection(title: string, lines: readonly string[]): void {
  if (lines.length === 0) return;
  console.log();
  console.log(`${title}:`);
  for (const line of lines) console.log(`  ${visible(line)}`.trimEnd());
}

/** Fields of both kinds: who asked, under which rule, who may decide, and when. */
function commonFields(view: RequestView): [string, string][] {
  const { requester } = view;
  return [
    ['status', outcome(view)],
    ['requester', `${requester.name} (${requester.id}, ${requester.kind})`],
    ['groups', requester.groups.join(',') || '-'],
    ['claims', Object.keys(requester.claims).length > 0 ? JSON.stringify(requester.claims) : '-'],
    ['connection', view.connection],
    ['policy', view.policy],
    ['reason', view.reason],
    ['approvals', `${view.requiredApprovals} from ${view.approverGroups.join(', ') || '-'}`],
    ['step-up', view.stepUpMs === null ? 'none' : `signed in within ${formatDuration(view.stepUpMs)}`],
    ['created', formatDate(view.createdAt)],
    ['expires', formatDate(view.expiresAt)],
    ['decided', formatDate(view.decidedAt)],
  ];
}

function printDecisions(view: RequestView): void {
  printSection(
    'decisions',
    view.decisions.map(
      (d) => `${formatDate(d.at)}  ${d.decision.padEnd(7)}  ${d.approverName} (${d.approverId})  ${d.reason}`,
    ),
  );
}

function showStatement(view: StatementApprovalView): void {
  console.log(`statement approval ${view.id}`);
  printVisibleFields([
    ...commonFields(view),
    ['mode', view.mode],
    ['rule', view.rule],
    ['rows (estimate)', view.rowEstimate === null ? 'not estimated' : String(view.rowEstimate)],
    ['grant expires', formatDate(view.grantExpiresAt)],
    ['consumed', formatDate(view.consumedAt)],
  ]);
  printSection('statement', [view.statement]);
  printSection(
    'parameters',
    view.parameters.map((value, i) => `$${i + 1} = ${value}`),
  );
  printDecisions(view);
}

function showAccess(view: AccessRequestView): void {
  console.log(`access request ${view.id}`);
  printVisibleFields([
    ...commonFields(view),
    ['duration', formatDuration(view.durationMs)],
    ['break-glass', view.breakGlass ? 'yes' : 'no'],
    ['grant ends', formatDate(view.grantEndsAt)],
  ]);
  printDecisions(view);
}

/** While pending, when it times out; after, nothing to wait for. */
function pendingExpiry(view: RequestView): string {
  return view.status === 'pending' ? formatDate(view.expiresAt) : '-';
}

function statementTable(views: readonly StatementApprovalView[]): void {
  printTable(
    ['ID', 'STATUS', 'MODE', 'REQUESTER', 'CONNECTION', 'POLICY', 'ROWS EST.', 'EXPIRES'],
    views.map((v) =>
      [
        v.id,
        v.status,
        v.mode,
        v.requester.name,
        v.connection,
        v.policy,
        v.rowEstimate === null ? '-' : String(v.rowEstimate),
        pendingExpiry(v),
      ].map(visible),
    ),
  );
}

function accessTable(views: readonly AccessRequestView[]): void {
  printTable(
    ['ID', 'STATUS', 'REQUESTER', 'CONNECTION', 'POLICY', 'DURATION', 'BREAK-GLASS', 'EXPIRES', 'GRANT ENDS'],
    views.map((v) =>
      [
        v.id,
        v.status,
        v.requester.name,
        v.connection,
        v.policy,
        formatDuration(v.durationMs),
        v.breakGlass ? 'yes' : '-',
        pendingExpiry(v),
        formatDate(v.grantEndsAt),
      ].map(visible),
    ),
  );
}

/** What differs between `sluice approvals` and `sluice access`. */
interface Collection<V extends RequestView> {
  readonly command: string;
  readonly description: string;
  readonly path: string;
  readonly noun: string;
  readonly table: (views: readonly V[]) => void;
  readonly show: (view: V) => void;
}

const STATEMENTS: Collection<StatementApprovalView> = {
  command: 'approvals',
  description: 'review statements held for approval on a running gateway',
  path: '/api/v1/approvals',
  noun: 'statement approval',
  table: statementTable,
  show: showStatement,
};

const ACCESS: Collection<AccessRequestView> = {
  command: 'access',
  description: 'request, review and revoke time-boxed access on a running gateway',
  path: '/api/v1/access-requests',
  noun: 'access request',
  table: accessTable,
  show: showAccess,
};

interface ListOptions extends ApiOptions {
  status: string;
  connection?: string;
}

interface ReasonOptions extends ApiOptions {
  reason?: string;
}

function statusNote(status: string): string {
  return status === 'all' ? '' : ` with status ${status}`;
}

/** Prints the answer as JSON, or as `<id>: <outcome>`. */
function printOutcome(opts: ApiOptions, view: RequestView): void {
  console.log(opts.json ? JSON.stringify(view) : visible(`${view.id}: ${outcome(view)}`));
}

function registerCollection<V extends RequestView>(program: Command, collection: Collection<V>): Command {
  const { path, noun } = collection;
  const parent = program
    .command(collection.command)
    .description(collection.description)
    .addHelpText('afterAll', EXIT_STATUS_HELP);

  apiCommand(parent, 'list', `list ${noun}s you may see (yours, those you may decide; all for admins)`)
    .option('--status <list>', 'comma-separated statuses, or all', 'pending')
    .option('--connection <name>', 'only requests for this connection')
    .action(
      handled(async (opts: ListOptions) => {
        const query = new URLSearchParams();
        if (opts.status !== 'all') query.set('status', opts.status);
        if (opts.connection !== undefined) query.set('connection', opts.connection);
        const views = await callApi<V[]>(opts, 'GET', `${path}?${query}`);
        if (opts.json) console.log(JSON.stringify(views));
        else if (views.length === 0) console.log(`no ${noun}s${statusNote(opts.status)}`);
        else collection.table(views);
      }),
    );

  apiCommand(parent, 'show', `everything about one ${noun}`)
    .argument('<id>')
    .action(
      handled(async (id: string, opts: ApiOptions) => {
        const view = await callApi<V>(opts, 'GET', `${path}/${encodeURIComponent(id)}`);
        if (opts.json) console.log(JSON.stringify(view));
        else collection.show(view);
      }),
    );

  const decide = (name: 'approve' | 'deny') =>
    handled(async (id: string, opts: ReasonOptions) => {
      const body = opts.reason === undefined ? {} : { reason: opts.reason };
      printOutcome(opts, await callApi<V>(opts, 'POST', `${path}/${encodeURIComponent(id)}/${name}`, body));
    });

  apiCommand(parent, 'approve', 'record your approval; prints where the request stands')
    .argument('<id>')
    .option('--reason <text>', 'why')
    .action(decide('approve'));

  apiCommand(parent, 'deny', 'record your denial, which decides at once')
    .argument('<id>')
    .requiredOption('--reason <text>', 'why (the requester sees it)')
    .action(decide('deny'));
  return parent;
}

interface RequestOptions extends ApiOptions {
  connection: string;
  duration: string;
  reason: string;
  policy?: string;
  breakGlass?: boolean;
}

function registerAccessOnly(access: Command): void {
  apiCommand(access, 'request', 'ask for time-boxed access to a connection under a grant policy')
    .requiredOption('--connection <name>', 'the connection to access')
    .requiredOption('--duration <duration>', 'how long, once approved, e.g. 30m or 2h')
    .requiredOption('--reason <text>', 'the justification approvers see')
    .option('--policy <name>', 'the grant policy, when several fit')
    .option('--break-glass', "self-approve under the policy's break-glass setting (flagged and alerted)")
    .action(
      handled(async (opts: RequestOptions) => {
        const { connection, duration, reason, policy, breakGlass } = opts;
        const body = { connection, duration, reason, policy, breakGlass };
        printOutcome(opts, await callApi<AccessRequestView>(opts, 'POST', ACCESS.path, body));
      }),
    );

  apiCommand(access, 'revoke', 'end an approved access grant early, closing its sessions')
    .argument('<id>')
    .requiredOption('--reason <text>', 'why')
    .action(
      handled(async (id: string, opts: ReasonOptions) => {
        const path = `${ACCESS.path}/${encodeURIComponent(id)}/revoke`;
        printOutcome(opts, await callApi<AccessRequestView>(opts, 'POST', path, { reason: opts.reason }));
      }),
    );
}

export function registerApprovalsCommands(program: Command): void {
  registerCollection(program, STATEMENTS);
  registerAccessOnly(registerCollection(program, ACCESS));
}
