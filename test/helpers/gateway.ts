/**
 * Starts a real gateway in the test process, in front of real PostgreSQL, with a throwaway
 * PGlite store and data dir. Tests talk to it over real sockets with real clients.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseConfig } from '../../src/config/load.ts';
import { createLogger, type Logger } from '../../src/core/logger.ts';
import { type RunningGateway, startGateway } from '../../src/gateway/gateway.ts';
import { createApiKey } from '../../src/identity/api-keys.ts';
import { GUARDRAIL_NAMES } from '../../src/policy/guardrails.ts';
import type { Store } from '../../src/store/store.ts';
import { openStoreInWorker } from '../../src/store/worker-store.ts';
import { recordCredential, recordLogLine } from './credential-log.ts';
import { RawClient } from './raw-client.ts';

export interface TestGateway {
  readonly gateway: RunningGateway;
  readonly store: Store;
  readonly dataDir: string;
  /** Every log line the gateway wrote, for "no secret in logs" assertions. */
  readonly logs: string[];
  readonly host: string;
  readonly port: number;
  /** Creates an API key in the gateway's store. */
  createKey(name: string, groups: string[], expiresInMs?: number): Promise<string>;
  /** libpq URL through the gateway. */
  url(key: string, connection: string, sslmode?: string): string;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  /** The `connections:` and `policies:` (and any other) YAML sections. */
  readonly yaml: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Listener TLS; tests of plaintext refusal use the default (required). */
  readonly tls?: 'required' | 'off';
  /** The gateway's store; default: a throwaway PGlite store in the data dir. */
  readonly storeUrl?: string;
}

/** A debug logger whose lines are kept (for assertions) and fed to the suite-wide secret scan. */
export function recordingLogger(): { readonly logs: string[]; readonly logger: Logger } {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const line = chunk.toString('utf8');
      logs.push(line);
      recordLogLine(line);
      done();
    },
  });
  return { logs, logger: createLogger({ level: 'debug', destination: sink }) };
}

export async function startTestGateway(options: TestGatewayOptions): Promise<TestGateway> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-test-'));
  const { logs, logger } = recordingLogger();
  // In a worker thread, as `sluice start` opens it (src/gateway/configured-store.ts).
  const store = await openStoreInWorker(options.storeUrl ?? `pglite://${join(dataDir, 'store')}`, { logger });
  const listen = options.tls === 'off' ? '{ address: 127.0.0.1:0, tls: off }' : '127.0.0.1:0';
  const config = parseConfig(
    `listen:\n  postgres: ${listen}\nadmin:\n  listen: 127.0.0.1:0\ntls:\n  mode: auto\ndataDir: ${dataDir}\n${options.yaml}`,
    'test config',
  );
  const gateway = await startGateway(config, { logger, store, env: options.env ?? process.env });
  const { host, port } = gateway.postgres;
  return {
    gateway,
    store,
    dataDir,
    logs,
    host,
    port,
    async createKey(name, groups, expiresInMs) {
      const { key } = await createApiKey(store, {
        name,
        groups,
        ...(expiresInMs === undefined ? {} : { expiresInMs }),
      });
      recordCredential(key);
      return key;
    },
    url(key, connection, sslmode = 'require') {
      return `postgresql://agent:${encodeURIComponent(key)}@${host}:${port}/${connection}?sslmode=${sslmode}`;
    },
    async close() {
      await gateway.close();
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The `connections:` and `policies:` sections most suites need: one connection `app` to the
 * test database, open to principals in `group`, plus any `extra` YAML sections.
 */
/**
 * A policy line that turns every guardrail off, for tests about the wire protocol itself (parity,
 * real clients), where the statements are the server's business, not the policy's.
 */
export const NO_GUARDRAILS = `    guardrails: { ${GUARDRAIL_NAMES.map((name) => `${name}: allow`).join(', ')} }\n`;

/** A raw-protocol session through `gateway` over TLS, logged in with `key`. */
export function rawGatewayClient(
  gateway: { readonly host: string; readonly port: number },
  key: string,
): Promise<RawClient> {
  return RawClient.connect({
    host: gateway.host,
    port: gateway.port,
    user: 'agent',
    database: 'app',
    password: key,
    tls: true,
  });
}

/** A policy line that opts out of masking, for wire-parity tests that compare bytes with a direct run. */
export const NO_MASKING = '    masking: off\n';

export function appConnectionYaml(
  database: { readonly name: string; readonly role: string },
  group: string,
  extra = '',
): string {
  return `connections:
  - name: app
    type: postgres
    url: postgres://${database.role}@127.0.0.1:5432/${database.name}
policies:
  - name: ${group}-app
    subjects: { groups: [${group}] }
    connections: [app]
${extra}`;
}
