/**
 * The tamper-evident audit log end to end: a gateway on a PostgreSQL store writes its events
 * (approvals, admin failures) into the hash chain with signed checkpoints; `sluice audit verify`
 * passes on the untouched log and, after each raw edit to the store (a changed field, a deleted
 * row, two swapped rows, a forged row with a correct-looking hash), fails naming the first bad
 * sequence number. An export verifies offline with the exported public key. Result previews
 * past a small `inlineMaxBytes` go to recording files, which replay reads back and whose edits it
 * reports; a secret-canary scan covers the store, the recording files, the JSONL file and the
 * syslog stream.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventHash } from '../../src/audit/chain.ts';
import { callApi } from '../helpers/approvals.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { gatewayClient } from '../helpers/pg-client.ts';
import { adminQuery, createTestDatabase, PG_HOST, PG_PORT, type TestDatabase } from '../helpers/postgres.ts';
import { run } from '../helpers/run.ts';
import { type Collector, collector } from '../helpers/syslog-collector.ts';

let target: TestDatabase;
let storeDb: TestDatabase;
let gw: TestGateway;
let storeUrl: string;
let dir: string;
const keys: Record<string, string> = {};
let apiSessions: { status: number; body: unknown };
let apiRecording: { status: number; body: unknown };
let syslog: Collector;
let recordingsDir: string;
/** A canary: a card number in a statement's literal must be masked in the log. */
const CARD = '4111 1111 1111 1111';

beforeAll(async () => {
  target = await createTestDatabase('sluice_audit_t');
  storeDb = await createTestDatabase('sluice_audit_s');
  storeUrl = `postgres://${storeDb.role}@${PG_HOST}:${PG_PORT}/${storeDb.name}`;
  dir = await mkdtemp(join(tmpdir(), 'sluice-audit-'));
  syslog = await collector();
  await adminQuery(
    `CREATE TABLE notes(id int primary key, body text);
     INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 20) g;
     ALTER TABLE notes OWNER TO ${target.role};`,
    target.name,
  );
  gw = await startTestGateway({
    storeUrl,
    yaml: `connections:
  - name: app
    type: postgres
    url: postgres://${target.role}@${PG_HOST}:${PG_PORT}/${target.name}
policies:
  - name: agents
    subjects: { groups: [agents] }
    connections: [app]
    rules: [{ name: deletes, action: review, kinds: [DeleteStmt] }]
    review: { mode: ticket, approvers: { groups: [dba] } }
audit:
  checkpointEvery: 3
  recordings: { inlineMaxBytes: 100 }
  sinks:
    - { type: jsonl, path: ${join(dir, 'siem.jsonl')} }
    - { type: syslog, address: 127.0.0.1:${syslog.port} }
`,
  });
  keys.agent = await gw.createKey('agent', ['agents']);
  keys.alice = await gw.createKey('alice', ['dba']);

  // A scripted session: a refused (ticketed) delete, its approval, the approved run, and a
  // failed admin login.
  const client: pg.Client = gatewayClient(gw, keys.agent ?? '');
  await client.connect();
  await client.query(`SELECT body FROM notes WHERE body <> '${CARD}' ORDER BY id`);
  await client.query(`SELECT '${CARD}'::text AS card`);
  await client.query(`SELECT g AS n, '${CARD}'::text AS card FROM generate_series(1, 10) g`);
  const refused = await client.query('DELETE FROM notes WHERE id = 7').catch((e: pg.DatabaseError) => e);
  const id = /apv_[0-9a-f]+/.exec((refused as pg.DatabaseError).hint ?? '')?.[0] ?? '';
  await callApi(gw, keys.alice ?? '', 'POST', `/api/v1/approvals/${id}/approve`, { reason: 'ok' });
  await client.query('DELETE FROM notes WHERE id = 7');
  await client.end();
  await callApi(gw, 'slk_not_a_real_key', 'GET', '/api/v1/keys');
  // The recording through the admin API (admin group only), before closing.
  keys.admin = await gw.createKey('auditor', ['sluice-admins']);
  apiSessions = await callApi(gw, keys.admin ?? '', 'GET', '/api/v1/sessions?principal=agent');
  const [opened] = apiSessions.body as unknown as { event: { sessionId: string } }[];
  apiRecording = await callApi(gw, keys.admin ?? '', 'GET', `/api/v1/sessions/${opened?.event.sessionId}`);
  recordingsDir = join(gw.dataDir, 'recordings');
  // Closing flushes the audit queue and signs the head.
  await gw.gateway.close();
  const [count] = await storeQuery<{ n: string }>('SELECT count(*) AS n FROM sluice.audit_events');
  await until(
    () => new Set(syslog.frames.map((frame) => frame.sd['sluice@32473']?.seq)).size >= Number(count?.n),
  );
});

/** Polls `condition` until it holds (syslog over TCP has no acknowledgement to wait for). */
async function until(condition: () => boolean): Promise<void> {
  for (let tries = 0; tries < 200 && !condition(); tries++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

afterAll(async () => {
  await gw?.close();
  await syslog?.stop();
  await rm(dir, { recursive: true, force: true });
  await target?.drop();
  await storeDb?.drop();
});

function sluice(args: readonly string[]) {
  return run('node', ['bin/sluice.js', 'audit', ...args]);
}

function verify(extra: readonly string[] = []) {
  return sluice(['verify', '--store', storeUrl, ...extra]);
}

async function storeQuery<R extends pg.QueryResultRow>(sql: string): Promise<R[]> {
  return adminQuery<R>(sql, storeDb.name);
}

/** Every recording file's text, one after another. */
async function recordingFileTexts(root: string): Promise<string> {
  const names = (await readdir(root, { recursive: true })).filter((name) => name.endsWith('.jsonl'));
  const texts = await Promise.all(names.map((name) => readFile(join(root, name), 'utf8')));
  return texts.join('\n');
}

/** Applies a raw edit, runs `verify`, then restores the table exactly. */
async function verifyAfter(edit: string) {
  await storeQuery('CREATE TABLE sluice.audit_backup AS TABLE sluice.audit_events');
  try {
    await storeQuery(edit);
    return await verify();
  } finally {
    await storeQuery(
      'TRUNCATE sluice.audit_events; INSERT INTO sluice.audit_events SELECT * FROM sluice.audit_backup; DROP TABLE sluice.audit_backup',
    );
  }
}

describe('the audit log', () => {
  it('holds each event of the session, chained and checkpointed, without any credential', async () => {
    const rows = await storeQuery<{ seq: string; type: string; event: string }>(
      'SELECT seq, type, event FROM sluice.audit_events ORDER BY seq',
    );
    const types = rows.map((r) => r.type);
    expect(types).toEqual(
      expect.arrayContaining([
        'session.opened',
        'statement.decided',
        'statement.completed',
        'approval.requested',
        'approval.decided',
        'approval.used',
        'session.closed',
        'admin.auth_failed',
      ]),
    );
    const decisions = rows.filter((r) => r.type === 'statement.decided').map((r) => JSON.parse(r.event));
    expect(decisions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          decision: 'allow',
          kinds: ['SelectStmt'],
          text: expect.stringContaining('SELECT body'),
        }),
        expect.objectContaining({ decision: 'review', kinds: ['DeleteStmt'], rule: 'rule deletes' }),
      ]),
    );
    const requested = JSON.parse(rows.find((r) => r.type === 'approval.requested')?.event ?? '{}');
    expect(requested).toMatchObject({
      kind: 'statement',
      connection: 'app',
      policy: 'agents',
      mode: 'ticket',
    });
    // The refused run opened the ticket and the approved run used it: both decisions name it.
    const deletes = decisions.filter((d) => d.kinds[0] === 'DeleteStmt');
    expect(deletes.map((d) => d.approvalId)).toEqual([requested.requestId, requested.requestId]);
    expect(decisions.filter((d) => d.kinds[0] === 'SelectStmt').map((d) => d.approvalId)).toEqual([
      null,
      null,
      null,
    ]);
    // Outcomes: rows, bytes, SQLSTATE, duration, and what masking changed (nothing in the notes).
    const outcomes = rows.filter((r) => r.type === 'statement.completed').map((r) => JSON.parse(r.event));
    expect(outcomes.map((o) => o.masks)).toEqual([null, { card: 1 }, { card: 10 }, null, null]);
    expect(outcomes.map((o) => o.sqlstate)).toEqual([null, null, null, '42501', null]);
    expect(outcomes.map((o) => o.rows)).toEqual([20, 1, 10, 0, 0]);
    for (const outcome of outcomes) {
      expect(outcome.bytes).toEqual(expect.any(Number));
      expect(outcome.durationMs).toBeGreaterThanOrEqual(0);
    }
    const everything = rows.map((r) => r.event).join('\n');
    for (const key of Object.values(keys)) expect(everything).not.toContain(key);
    expect(everything).not.toContain(CARD);
    expect(everything).not.toContain(CARD.replaceAll(' ', ''));
    expect(everything).not.toContain('slk_not_a_real_key');
    const checkpoints = await storeQuery<{ seq: string }>('SELECT seq FROM sluice.audit_checkpoints');
    expect(checkpoints.length).toBeGreaterThan(0);
  });

  it('the JSONL sink got every record as ECS, with no credential and no unmasked card', async () => {
    const lines = (await readFile(join(dir, 'siem.jsonl'), 'utf8')).trim().split('\n');
    const [count] = await storeQuery<{ n: string }>('SELECT count(*) AS n FROM sluice.audit_events');
    expect(lines).toHaveLength(Number(count?.n));
    const first = JSON.parse(lines[0] ?? '{}') as { event?: { sequence?: number }; '@timestamp'?: string };
    expect(first.event?.sequence).toBe(1);
    expect(first['@timestamp']).toMatch(/^\d{4}-/);
    const text = lines.join('\n');
    for (const key of Object.values(keys)) expect(text).not.toContain(key);
    expect(text).not.toContain(CARD);
  });

  it('keeps previews past inlineMaxBytes in owner-only recording files the chain points at, and small ones inline', async () => {
    const completed = (
      await storeQuery<{ event: string }>(
        "SELECT event FROM sluice.audit_events WHERE type = 'statement.completed' ORDER BY seq",
      )
    ).map((row) => JSON.parse(row.event) as { sessionId: string; preview: Record<string, unknown> | null });
    const inFiles = completed.filter((event) => event.preview !== null && 'file' in event.preview);
    // The twenty notes and the ten cards; the single card is under 100 bytes and stays inline.
    expect(inFiles).toHaveLength(2);
    expect(inFiles.some((event) => 'rows' in (event.preview ?? {}))).toBe(false);
    expect(completed.some((event) => event.preview !== null && 'rows' in event.preview)).toBe(true);
    const sessionDir = join(recordingsDir, inFiles[0]?.sessionId ?? '');
    expect(await readdir(sessionDir)).toEqual(['000001.jsonl']);
    expect((await stat(sessionDir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(sessionDir, '000001.jsonl'))).mode & 0o777).toBe(0o600);
  });

  it('a secret-canary scan of the store, the recording files, the JSONL file and the syslog stream finds no unmasked secret and no credential', async () => {
    const scanned = {
      store: (await storeQuery<{ event: string }>('SELECT event FROM sluice.audit_events'))
        .map((row) => row.event)
        .join('\n'),
      recordingFiles: await recordingFileTexts(recordingsDir),
      jsonl: await readFile(join(dir, 'siem.jsonl'), 'utf8'),
      syslog: syslog.frames.map((frame) => frame.msg).join('\n'),
    };
    // Each holds the masked cards: the scan reads real content, not an empty file.
    for (const text of Object.values(scanned)) expect(text).toMatch(/\*{4,}1111/);
    const canaries = [CARD, CARD.replaceAll(' ', ''), 'slk_not_a_real_key', ...Object.values(keys)];
    for (const [where, text] of Object.entries(scanned)) {
      for (const canary of canaries) expect(text, `${where} holds a canary`).not.toContain(canary);
    }
  });

  it('sessions list and replay show the session in order, with masked results', async () => {
    const listed = await run('node', ['bin/sluice.js', 'sessions', 'list', '--store', storeUrl, '--json']);
    const sessions = JSON.parse(listed.stdout) as { sessionId: string; principal: { name: string } }[];
    const session = sessions.find((s) => s.principal.name === 'agent');
    expect(session).toBeDefined();
    const replay = await run('node', [
      'bin/sluice.js',
      'sessions',
      'replay',
      session?.sessionId ?? '',
      '--store',
      storeUrl,
      '--recordings',
      recordingsDir,
    ]);
    expect(replay.code).toBe(0);
    const out = replay.stdout;
    const order = [
      `session ${session?.sessionId}: agent`,
      'allow   SELECT body FROM notes',
      'note 1',
      '(ok, 20 rows',
      'card',
      'masked: card 10)',
      'review  DELETE FROM notes WHERE id = 7',
      'ERROR 42501',
      // The re-run, which the approved ticket let through once.
      '(ok, 0 rows',
      'session closed:',
    ].map((needle) => out.indexOf(needle));
    expect(
      order.every((at) => at >= 0),
      out,
    ).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(out).toMatch(/\*{4,}1111/);
    expect(out).not.toContain(CARD);
    expect(out).not.toContain(CARD.replaceAll(' ', ''));
  });

  it('verify checks the recording files too, and passes while they are untouched', async () => {
    const result = await verify(['--recordings', recordingsDir]);
    expect(result.stdout).toMatch(/^ok: /);
    expect(result.code).toBe(0);
  });

  it('replay, show and verify report an edited recording file, and its altered rows are not printed', async () => {
    const [sessionId] = await readdir(recordingsDir);
    const path = join(recordingsDir, sessionId ?? '', '000001.jsonl');
    const original = await readFile(path);
    await writeFile(path, original.toString('utf8').replace('"note 1"', '"note X"'));
    try {
      for (const command of ['replay', 'show']) {
        const result = await run('node', [
          'bin/sluice.js',
          'sessions',
          command,
          sessionId ?? '',
          '--store',
          storeUrl,
          '--recordings',
          recordingsDir,
        ]);
        expect(result.code).toBe(1);
        expect(result.stdout).toContain('RECORDING TAMPERED: recording file');
        expect(result.stdout).toContain('does not match the hash in its record');
        expect(result.stdout).not.toContain('note X');
      }
      const [edited] = await storeQuery<{ seq: string }>(
        `SELECT seq FROM sluice.audit_events WHERE type = 'statement.completed' AND event LIKE '%"offset":0,%'`,
      );
      const verified = await verify(['--recordings', recordingsDir]);
      expect(verified.code).toBe(1);
      expect(verified.stdout).toContain(
        `first bad sequence number ${edited?.seq}: record ${edited?.seq}'s recording file`,
      );
    } finally {
      await writeFile(path, original);
    }
  });

  it('the admin API returns a recording with its file-backed rows read back', () => {
    expect(apiRecording.status).toBe(200);
    const previews = (
      apiRecording.body as unknown as { type: string; event: { preview?: Record<string, unknown> } }[]
    )
      .filter((record) => record.type === 'statement.completed')
      .map((record) => record.event.preview);
    expect(previews).toContainEqual(
      expect.objectContaining({
        file: expect.objectContaining({ chunk: '000001.jsonl' }),
        rows: expect.arrayContaining([['note 1']]),
      }),
    );
  });

  it('the admin API lists recorded sessions for the web UI', () => {
    expect(apiSessions.status).toBe(200);
    const records = apiSessions.body as unknown as { type: string; event: { principal: { name: string } } }[];
    expect(records.length).toBeGreaterThan(0);
    expect(records.every((r) => r.type === 'session.opened' && r.event.principal.name === 'agent')).toBe(
      true,
    );
  });

  it('verify passes on the untouched log', async () => {
    const result = await verify();
    expect(result.stdout).toMatch(
      /^ok: \d+ events intact up to seq \d+; [1-9]\d* signed checkpoints verified/,
    );
    expect(result.code).toBe(0);
  });

  it('a changed field is found at its sequence number', async () => {
    const result = await verifyAfter(
      "UPDATE sluice.audit_events SET event = replace(event, '\"ok\"', '\"fine\"') WHERE type = 'approval.decided'",
    );
    const [row] = await storeQuery<{ seq: string }>(
      "SELECT seq FROM sluice.audit_events WHERE type = 'approval.decided'",
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`first bad sequence number ${row?.seq}:`);
  });

  it('a deleted row is found', async () => {
    const result = await verifyAfter('DELETE FROM sluice.audit_events WHERE seq = 2');
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('first bad sequence number 2:');
  });

  it('two swapped rows are found', async () => {
    const result = await verifyAfter(`
      UPDATE sluice.audit_events a SET at = b.at, at_text = b.at_text, type = b.type, event = b.event,
        prev_hash = b.prev_hash, hash = b.hash
      FROM sluice.audit_backup b WHERE (a.seq, b.seq) IN ((2, 3), (3, 2))`);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('first bad sequence number 2:');
  });

  it('a forged row inserted with a correct hash of its own is found', async () => {
    const [two] = await storeQuery<{ hash: string }>('SELECT hash FROM sluice.audit_events WHERE seq = 2');
    const forged = {
      seq: 3,
      at: new Date().toISOString(),
      type: 'key.revoked',
      event: { type: 'key.revoked', keyId: 'ak_forged', name: 'nobody' },
      prevHash: two?.hash ?? '',
    };
    const hash = eventHash(forged);
    const result = await verifyAfter(`
      UPDATE sluice.audit_events SET seq = seq + 1000000 WHERE seq >= 3;
      UPDATE sluice.audit_events SET seq = seq - 1000000 + 1 WHERE seq > 1000000;
      INSERT INTO sluice.audit_events (seq, at, at_text, type, event, prev_hash, hash)
      VALUES (3, '${forged.at}', '${forged.at}', 'key.revoked', '${JSON.stringify(forged.event)}', '${forged.prevHash}', '${hash}')`);
    // The forged row itself is named when seq 3 carries a signed checkpoint; otherwise the broken
    // link at the displaced row 4 is.
    const signed = await storeQuery('SELECT 1 FROM sluice.audit_checkpoints WHERE seq = 3');
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`first bad sequence number ${signed.length > 0 ? 3 : 4}:`);
  });

  it('exports JSONL that verifies offline with the exported public key, and CEF', async () => {
    const key = await sluice(['public-key', '--store', storeUrl]);
    expect(key.stdout).toContain('-----BEGIN PUBLIC KEY-----');
    const exported = await sluice(['export', '--store', storeUrl]);
    expect(exported.code).toBe(0);
    await writeFile(join(dir, 'key.pem'), key.stdout);
    await writeFile(join(dir, 'log.jsonl'), exported.stdout);
    const offline = await sluice([
      'verify',
      '--file',
      join(dir, 'log.jsonl'),
      '--public-key',
      join(dir, 'key.pem'),
    ]);
    expect(offline.stdout).toMatch(/^ok: /);
    expect(offline.code).toBe(0);

    const lines = (await readFile(join(dir, 'log.jsonl'), 'utf8')).split('\n');
    const at = lines.findIndex((line) => line.includes('"seq":2,'));
    const record = JSON.parse(lines[at] ?? '{}') as { event: Record<string, unknown> };
    lines[at] = JSON.stringify({ ...record, event: { ...record.event, forged: true } });
    await writeFile(join(dir, 'tampered.jsonl'), lines.join('\n'));
    const tampered = await sluice([
      'verify',
      '--file',
      join(dir, 'tampered.jsonl'),
      '--public-key',
      join(dir, 'key.pem'),
    ]);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toContain('first bad sequence number 2:');

    const cef = await sluice(['export', '--store', storeUrl, '--format', 'cef']);
    const first = cef.stdout.split('\n')[0] ?? '';
    expect(first).toMatch(/^CEF:0\|Sluice\|sluice\|[^|]+\|[a-z_.]+\|[a-z_.]+\|\d+\|rt=\d+ /);
    expect(first).toContain('cs1Label=seq cs1=1 ');
  });

  it('verify without the right key fails the checkpoints; without keys for a file it is not checked (exit 2)', async () => {
    const other = join(dir, 'other.pem');
    const { generateKeyPairSync } = await import('node:crypto');
    await writeFile(
      other,
      generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    );
    const wrongKey = await verify(['--public-key', other]);
    expect(wrongKey.code).toBe(1);
    const noKeys = await sluice(['verify', '--file', join(dir, 'log.jsonl')]);
    expect(noKeys.code).toBe(2);
  });
});
