/**
 * @module demo/demo
 * `sluice demo`: a complete gateway with nothing to install. An in-process PGlite database with
 * fake customer PII plays the upstream, served on a loopback socket; the gateway sits in front of
 * it with a demo policy and a fresh API key. Everything lives in a temporary directory that is
 * removed on exit.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { parseConfig } from '../config/load.ts';
import type { Logger } from '../core/logger.ts';
import { type RunningGateway, startGateway } from '../gateway/gateway.ts';
import { createApiKey } from '../identity/api-keys.ts';
import { openStore } from '../store/open-store.ts';
import { createMasterKeyFile } from '../vault/index.ts';
import { demoSeedSql } from './seed.ts';

export interface DemoOptions {
  readonly port: number;
  readonly adminPort: number;
  readonly logger: Logger;
}

export interface RunningDemo {
  readonly gateway: RunningGateway;
  readonly apiKey: string;
  /** A key in the admin group, which approves the demo's statements under review. */
  readonly approverKey: string;
  /** The admin API the approvals CLI talks to. */
  readonly adminUrl: string | undefined;
  readonly psqlCommand: string;
  close(): Promise<void>;
}

/** The demo's configuration, written as a user would write it (and validated the same way). */
function demoConfig(options: {
  dataDir: string;
  port: number;
  adminPort: number;
  upstreamPort: number;
}): string {
  return `
listen:
  postgres: 127.0.0.1:${options.port}
admin:
  listen: 127.0.0.1:${options.adminPort}
tls:
  mode: auto
store: pglite://${join(options.dataDir, 'store')}
dataDir: ${options.dataDir}
vault:
  masterKey: file:${join(options.dataDir, 'master.key')}
connections:
  - name: demo
    type: postgres
    url: postgres://postgres@127.0.0.1:${options.upstreamPort}/postgres
policies:
  - name: demo-agents
    subjects: { groups: [demo] }
    connections: [demo]
    # Guardrails (DROP, TRUNCATE, DELETE without WHERE, COPY … PROGRAM, …) are on by default.
    rules:
      # Held on the connection until an approver decides (sluice approvals approve ID).
      - { name: ddl-needs-review, action: review, effects: [ddl], reason: schema changes are reviewed }
    limits: { rowsPerStatement: 1000 }
masking:
  # Content detectors are on by default; these column rules also catch transformed values
  # (md5(card_number), left(ssn, 3)…) and refuse sensitive columns in WHERE, JOIN, ORDER BY.
  columns:
    - { column: public.customers.card_number, masker: partial }
    - { column: public.customers.ssn, masker: partial }
    - { column: public.customers.email, masker: email }
    - { column: public.customers.phone, masker: partial }
    - { column: public.customers.api_key, masker: redact }
`;
}

async function seededDatabase(): Promise<PGlite> {
  const database = await PGlite.create();
  await database.exec(demoSeedSql());
  return database;
}

function isAddressInUse(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
}

export async function startDemo(options: DemoOptions): Promise<RunningDemo> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-demo-'));
  const closers: Array<() => Promise<void>> = [() => rm(dataDir, { recursive: true, force: true })];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  };
  try {
    // A fresh vault master key (0600) beside the store, so `password: secret:NAME` works in the demo too.
    await createMasterKeyFile(join(dataDir, 'master.key'));
    // Both PGlite instances (the demo database and the gateway's store) take seconds to boot;
    // starting them together keeps the demo well inside its 15-second budget.
    const [database, store] = await Promise.all([
      seededDatabase(),
      openStore(`pglite://${join(dataDir, 'store')}`, { logger: options.logger }),
    ]);
    closers.push(
      () => database.close(),
      () => store.close(),
    );
    // PGlite runs one statement at a time; the socket server queues the gateway's connections.
    const upstream = new PGLiteSocketServer({ db: database, host: '127.0.0.1', port: 0, maxConnections: 64 });
    await upstream.start();
    closers.push(() => upstream.stop());
    const upstreamPort = Number(upstream.getServerConn().split(':').pop());
    const { key } = await createApiKey(store, { name: 'demo-agent', groups: ['demo'] });
    // The admin group approves wherever a policy names no approver groups.
    const { key: approverKey } = await createApiKey(store, {
      name: 'demo-approver',
      groups: ['sluice-admins'],
    });

    const start = (port: number, adminPort: number): Promise<RunningGateway> =>
      startGateway(parseConfig(demoConfig({ dataDir, port, adminPort, upstreamPort }), 'demo config'), {
        logger: options.logger,
        store,
      });
    // A busy default port should not stop a newcomer: fall back to any free port and print it.
    const gateway = await start(options.port, options.adminPort).catch((error: unknown) => {
      if (!isAddressInUse(error)) throw error;
      return start(0, 0);
    });
    closers.push(() => gateway.close());
    const { host, port } = gateway.postgres;
    const admin = gateway.admin;
    return {
      gateway,
      apiKey: key,
      approverKey,
      adminUrl: admin ? `http://${admin.host}:${admin.port}` : undefined,
      psqlCommand: `psql "postgresql://agent:${key}@${host}:${port}/demo?sslmode=require"`,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
