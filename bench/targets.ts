/**
 * What pgbench is pointed at. Every target is the same shape: a name, an address, the libpq
 * environment pgbench needs (user, database, password, sslmode), and the proxy process whose CPU
 * is measured (none for `direct`). Everything a target starts is registered for cleanup.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GUARDRAIL_NAMES } from '../src/policy/guardrails.ts';
import { BENCH_DATABASE, BENCH_STORE_DATABASE, directEnv, libpqEnv, SERVER } from './database.ts';
import { startPgbouncer } from './pgbouncer.ts';
import { type ProxyProcess, startNodeProxy } from './proxy-process.ts';
import { onPath } from './shell.ts';

export type TargetName =
  | 'direct'
  | 'relay'
  | 'pgbouncer'
  | 'gateway-tls-off'
  | 'gateway-no-guardrails'
  | 'gateway-no-audit'
  | 'gateway-pg-store'
  | 'gateway-no-masking'
  | 'gateway-tls-on';

export interface Target {
  readonly name: TargetName;
  readonly host: string;
  readonly port: number;
  /** The environment pgbench runs with (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGSSLMODE). */
  readonly env: NodeJS.ProcessEnv;
  /** The proxy whose CPU is measured; undefined when pgbench talks to PostgreSQL directly. */
  readonly proxy: ProxyProcess | undefined;
}

export interface TargetContext {
  /** A private temporary directory for configs, stores and logs. */
  readonly workDir: string;
  /** Registers a cleanup step, run in reverse order at exit (also on failure or Ctrl+C). */
  readonly defer: (label: string, step: () => Promise<void>) => void;
}

/** The group the gateway's bench API key is in, and the only one its policy admits. */
const KEY_GROUP = 'bench';
/** The Sluice connection name: what pgbench passes as the database through the gateway. */
const GATEWAY_CONNECTION = 'bench';

function directTarget(): Target {
  return { name: 'direct', ...SERVER, env: directEnv(BENCH_DATABASE), proxy: undefined };
}

async function relayTarget(context: TargetContext): Promise<Target> {
  const { process, ready } = await startNodeProxy(
    'tcp-relay.ts',
    [SERVER.host, String(SERVER.port)],
    join(context.workDir, 'relay.log'),
  );
  context.defer('stop the TCP relay', () => process.stop());
  const address = { host: '127.0.0.1', port: ready.port };
  return {
    name: 'relay',
    ...address,
    env: libpqEnv({ ...address, user: SERVER.user, database: BENCH_DATABASE, sslmode: 'disable' }),
    proxy: process,
  };
}

async function pgbouncerTarget(context: TargetContext): Promise<Target> {
  const pgbouncer = await startPgbouncer(SERVER, BENCH_DATABASE);
  context.defer('stop pgbouncer', () => pgbouncer.stop());
  const address = { host: '127.0.0.1', port: pgbouncer.port };
  return {
    name: 'pgbouncer',
    ...address,
    env: libpqEnv({ ...address, user: SERVER.user, database: BENCH_DATABASE, sslmode: 'disable' }),
    proxy: pgbouncer.process,
  };
}

/**
 * The production layout: the gateway's store (audit log included) in PostgreSQL rather than the
 * embedded PGlite. Here it is the same server pgbench queries, so it also competes for its CPU.
 */
const PG_STORE_URL = `postgres://${SERVER.user}@${SERVER.host}:${SERVER.port}/${BENCH_STORE_DATABASE}`;

/** Every guardrail relaxed: the cost of the statement gate without any preset to check. */
const NO_GUARDRAILS = `    guardrails: { ${GUARDRAIL_NAMES.map((name) => `${name}: allow`).join(', ')} }\n`;

/**
 * What `sluice start` would read: one connection to the bench database, one policy for the key,
 * with the default guardrails on unless `guardrails` is false.
 */
function gatewayConfigYaml(
  tls: 'off' | 'required',
  store: string,
  options: { guardrails: boolean; masking: boolean; statementAudit: boolean },
): string {
  const listen = tls === 'off' ? '{ address: 127.0.0.1:0, tls: off }' : '127.0.0.1:0';
  return `listen:
  postgres: ${listen}
admin:
  enabled: false
tls:
  mode: auto
store: ${store}
connections:
  - name: ${GATEWAY_CONNECTION}
    type: postgres
    url: postgres://${SERVER.user}@${SERVER.host}:${SERVER.port}/${BENCH_DATABASE}
policies:
  - name: bench
    subjects: { groups: [${KEY_GROUP}] }
    connections: [${GATEWAY_CONNECTION}]
${options.guardrails ? '' : NO_GUARDRAILS}${options.masking ? '' : '    masking: off\n'}${options.statementAudit ? '' : 'audit:\n  statements: false\n'}logging:
  level: info
`;
}

export async function gatewayTarget(
  context: TargetContext,
  name:
    | 'gateway-tls-off'
    | 'gateway-no-guardrails'
    | 'gateway-no-audit'
    | 'gateway-pg-store'
    | 'gateway-no-masking'
    | 'gateway-tls-on',
): Promise<Target> {
  const tls = name === 'gateway-tls-on' ? 'required' : 'off';
  const dir = join(context.workDir, name);
  await mkdir(dir);
  const configFile = join(dir, 'sluice.yaml');
  await writeFile(
    configFile,
    gatewayConfigYaml(tls, name === 'gateway-pg-store' ? PG_STORE_URL : `pglite://${join(dir, 'store')}`, {
      guardrails: name !== 'gateway-no-guardrails',
      masking: name !== 'gateway-no-masking',
      statementAudit: name !== 'gateway-no-audit',
    }),
  );
  const { process, ready } = await startNodeProxy(
    'gateway-process.ts',
    [configFile, KEY_GROUP],
    join(dir, 'gateway.log'),
  );
  context.defer(`stop ${name}`, () => process.stop());
  if (!ready.apiKey) throw new Error(`${name} did not report an API key`);
  const address = { host: '127.0.0.1', port: ready.port };
  return {
    name,
    ...address,
    env: libpqEnv({
      ...address,
      user: 'bench',
      database: GATEWAY_CONNECTION,
      password: ready.apiKey,
      sslmode: tls === 'off' ? 'disable' : 'require',
    }),
    proxy: process,
  };
}

/** Starts every target; pgbouncer only if installed, with a note saying so otherwise. */
export async function startTargets(context: TargetContext): Promise<{ targets: Target[]; notes: string[] }> {
  const notes: string[] = [];
  const targets: Target[] = [directTarget(), await relayTarget(context)];
  if (await onPath('pgbouncer')) targets.push(await pgbouncerTarget(context));
  else notes.push('pgbouncer: skipped (not on PATH; e.g. `apt-get install pgbouncer` to include it)');
  targets.push(
    await gatewayTarget(context, 'gateway-tls-off'),
    await gatewayTarget(context, 'gateway-no-guardrails'),
    await gatewayTarget(context, 'gateway-no-audit'),
    await gatewayTarget(context, 'gateway-pg-store'),
    await gatewayTarget(context, 'gateway-tls-on'),
  );
  return { targets, notes };
}
