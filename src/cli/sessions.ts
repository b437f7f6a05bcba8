/**
 * @module cli/sessions
 * `sluice sessions list|show|replay`: the recorded sessions, read from the store's audit log.
 * A recording is what the caller saw: each statement as recorded (detected values masked), its
 * decision, and the first rows of its result as sent (masked).
 */
import { type Command, InvalidArgumentError } from 'commander';
import type { ChainedEvent } from '../audit/chain.ts';
import type { AuditEvent } from '../audit/events.ts';
import {
  type RecordingProblem,
  type ResolvedPreview,
  withResolvedPreviews,
} from '../audit/recording-files.ts';
import type { Store } from '../store/store.ts';
import { parseSince } from './option-parsers.ts';
import {
  addStoreOptions,
  RECORDINGS_FLAG,
  RECORDINGS_HELP,
  type RecordingOptions,
  recordingsDir,
  type StoreOptions,
  withStore,
} from './store-option.ts';
import { formatTable, printTable } from './table.ts';

interface ListOptions extends StoreOptions {
  principal?: string;
  connection?: string;
  since?: string;
  json?: boolean;
}

interface ShowOptions extends RecordingOptions {
  json?: boolean;
}

interface ReplayOptions extends RecordingOptions {
  speed: number;
}

type Opened = Extract<AuditEvent, { type: 'session.opened' }>;
type Decided = Extract<AuditEvent, { type: 'statement.decided' }>;
type Completed = Extract<AuditEvent, { type: 'statement.completed' }>;
type Closed = Extract<AuditEvent, { type: 'session.closed' }>;

export function registerSessionsCommands(program: Command): void {
  const sessions = program.command('sessions').description('list, show and replay recorded sessions');

  addStoreOptions(
    sessions
      .command('list')
      .description('recorded sessions, newest first')
      .option('--principal <id-or-name>', 'only this principal')
      .option('--connection <name>', 'only this connection')
      .option('--since <when>', 'an ISO date/time, or a duration back from now such as 24h', parseSince)
      .option('--json', 'print one JSON array'),
  ).action((opts: ListOptions) =>
    withStore(opts, async (store) => {
      const opened = await store.audit.sessions({
        principal: opts.principal,
        connection: opts.connection,
        sinceAt: opts.since,
      });
      const rows = opened.map((record) => ({ at: record.at, ...(record.event as Opened) }));
      if (opts.json) {
        console.log(JSON.stringify(rows));
        return;
      }
      if (rows.length === 0) {
        console.log('no recorded sessions');
        return;
      }
      printTable(
        ['SESSION', 'OPENED', 'PRINCIPAL', 'CONNECTION', 'POLICY', 'FROM'],
        rows.map((r) => [r.sessionId, r.at, r.principal.name, r.connection, r.policy, r.sourceAddress]),
      );
    }),
  );

  addStoreOptions(
    sessions
      .command('show')
      .argument('<session>', 'a session id from sessions list')
      .description('the session and its statements, one line each')
      .option('--json', 'print the recorded events as a JSON array')
      .option(RECORDINGS_FLAG, RECORDINGS_HELP),
  ).action((id: string, opts: ShowOptions) =>
    withStore(opts, async (store) => {
      const records = await recording(store, id, opts);
      if (opts.json) {
        console.log(JSON.stringify(records));
        return;
      }
      for (const line of timeline(records, { results: false })) console.log(line.text);
    }),
  );

  addStoreOptions(
    sessions
      .command('replay')
      .argument('<session>', 'a session id from sessions list')
      .description('print the session as it happened, with its results as tables')
      .option('--speed <factor>', 'pace: 1 real time, 10 ten times faster, 0 no pauses', parseSpeed, 0)
      .option(RECORDINGS_FLAG, RECORDINGS_HELP),
  ).action((id: string, opts: ReplayOptions) =>
    withStore(opts, async (store) => {
      const records = await recording(store, id, opts);
      let previous: number | undefined;
      for (const line of timeline(records, { results: true })) {
        const pause = previous === undefined ? 0 : line.at - previous;
        if (opts.speed > 0 && pause > 0) {
          await new Promise((resolve) => setTimeout(resolve, pause / opts.speed));
        }
        previous = line.at;
        console.log(line.text);
      }
    }),
  );
}

/**
 * A session's records in order, with previews kept in recording files read back. A session id
 * with none is an error, not an empty replay; a recording file that does not match its record
 * makes the command fail (exit 1) after printing what it can. An absent file is reported but is
 * not a failure: retention removes them.
 */
async function recording(store: Store, id: string, opts: RecordingOptions): Promise<ChainedEvent[]> {
  const records = await store.audit.sessionEvents(id);
  if (records.length === 0) throw new Error(`no recorded session ${id}`);
  const resolved = await withResolvedPreviews(await recordingsDir(opts), records);
  if (resolved.some((record) => previewOf(record)?.problem?.missing === false)) process.exitCode = 1;
  return resolved;
}

function previewOf(record: ChainedEvent): ResolvedPreview | null | undefined {
  const event = record.event as AuditEvent;
  return event.type === 'statement.completed' ? (event.preview as ResolvedPreview | null) : undefined;
}

/** The session as lines of text, each with the time it happened (ms since the epoch). */
function timeline(
  records: readonly ChainedEvent[],
  options: { results: boolean },
): { at: number; text: string }[] {
  const start = Date.parse(records[0]?.at ?? '');
  const lines: { at: number; text: string }[] = [];
  const offset = (at: number) => `+${((at - start) / 1000).toFixed(3)}s`.padEnd(10);
  for (const record of records) {
    const at = Date.parse(record.at);
    const event = record.event as AuditEvent;
    const push = (text: string) => lines.push({ at, text });
    switch (event.type) {
      case 'session.opened':
        push(describeOpened(event, record.at));
        break;
      case 'statement.decided':
        push(`${offset(at)}${event.decision.padEnd(7)} ${event.text}${describeRule(event)}`);
        break;
      case 'statement.completed': {
        const problem = previewOf(record)?.problem;
        if (problem !== undefined) push(`${' '.repeat(18)}${describeProblem(problem)}`);
        else if (options.results) for (const line of resultLines(event)) push(`${' '.repeat(18)}${line}`);
        push(`${' '.repeat(18)}${describeOutcome(event)}`);
        break;
      }
      case 'session.closed':
        push(`${offset(at)}session closed: ${describeClosed(event)}`);
        break;
      default:
        break;
    }
  }
  return lines;
}

function describeOpened(event: Opened, at: string): string {
  const tls = event.tls ? `TLS ${event.tls.protocol}` : 'no TLS';
  const grant = event.grant ? `, access grant ${event.grant}` : '';
  return `session ${event.sessionId}: ${event.principal.name} (${event.principal.id}) on ${event.connection} from ${event.sourceAddress}, ${tls}, policy ${event.policy}${grant}, opened ${at}`;
}

function describeProblem(problem: RecordingProblem): string {
  return `${problem.missing ? 'RECORDING MISSING' : 'RECORDING TAMPERED'}: ${problem.message}`;
}

function describeRule(event: Decided): string {
  // Records written before approval ids were recorded have none.
  const approval = event.approvalId ? `, ${event.approvalId}` : '';
  return event.decision === 'allow' ? '' : `   [${event.rule}, policy ${event.policy}${approval}]`;
}

function describeOutcome(event: Completed): string {
  const status = event.sqlstate === null ? 'ok' : `ERROR ${event.sqlstate}`;
  const masks = Object.entries(event.masks ?? {})
    .map(([detector, count]) => `${detector} ${count}`)
    .join(', ');
  return `(${status}, ${event.rows} ${event.rows === 1 ? 'row' : 'rows'}, ${event.bytes} bytes, ${event.durationMs} ms${masks ? `; masked: ${masks}` : ''})`;
}

function describeClosed(event: Closed): string {
  return `${event.reason} (${event.statements} statements, ${(event.durationMs / 1000).toFixed(1)} s)`;
}

/** The recorded rows as an aligned table. */
function resultLines(event: Completed): string[] {
  const preview = event.preview as ResolvedPreview | null;
  if (preview === null || preview.rows.length === 0) return [];
  const width = Math.max(preview.columns.length, ...preview.rows.map((row) => row.length));
  const header = Array.from({ length: width }, (_, i) => preview.columns[i] ?? `column${i + 1}`);
  const rows = preview.rows.map((row) => header.map((_, i) => row[i] ?? 'NULL'));
  const lines = formatTable(header, rows);
  if (preview.truncated) lines.push(`… (first ${preview.rows.length} rows recorded)`);
  return lines;
}

function parseSpeed(text: string): number {
  const speed = Number(text);
  if (!Number.isFinite(speed) || speed < 0) throw new InvalidArgumentError('a factor ≥ 0 (0: no pauses)');
  return speed;
}
