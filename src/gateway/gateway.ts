/**
 * @module gateway/gateway
 * Wiring: configuration → store → identity → listeners → admin server, and the reverse on
 * shutdown. This is the only place that knows every module; protocol code receives narrow
 * ports built here.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { SecureContext } from 'node:tls';
import { startAdminServer } from '../api/admin-server.ts';
import { WebhookNotifier } from '../approvals/notify.ts';
import { keyIdOf } from '../audit/chain.ts';
import { type AuditSink, logAuditSink } from '../audit/events.ts';
import { JsonlFileExporter } from '../audit/exporters/jsonl-file.ts';
import { SyslogExporter } from '../audit/exporters/syslog.ts';
import type { AuditExporter } from '../audit/exporters/types.ts';
import { WebhookExporter } from '../audit/exporters/webhook.ts';
import { RecordingFileWriter } from '../audit/recording-files.ts';
import { startRetention } from '../audit/retention.ts';
import { loadSigningKey } from '../audit/signing-key.ts';
import { fanOut, StoreAuditSink } from '../audit/store-sink.ts';
import type { AuditSinkConfig, ConnectionConfig, SluiceConfig } from '../config/schema.ts';
import { resolveSecret, type SecretSources, type SecretVault } from '../config/secret-ref.ts';
import { AlertHook } from '../core/alerts.ts';
import { errorCode } from '../core/delivery.ts';
import { ClientFacingError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { createScanner, type TextScanner } from '../dlp/index.ts';
import { ApiKeyAuthenticator } from '../identity/api-keys.ts';
import { AuthThrottle, credentialPrefix, DEFAULT_THROTTLE } from '../identity/auth-throttle.ts';
import { CompositeAuthenticator, type CredentialValidity } from '../identity/composite-authenticator.ts';
import { OidcAuthenticator } from '../identity/oidc.ts';
import type { Principal } from '../identity/principal.ts';
import { applicablePolicies } from '../policy/connection-access.ts';
import { compilePolicy } from '../policy/statement-policy.ts';
import { CancelRegistry } from '../protocols/postgres/cancel.ts';
import { type PostgresListener, startPostgresListener } from '../protocols/postgres/listener.ts';
import type {
  ConnectionDecision,
  PostgresSessionPorts,
  SessionContext,
  UpstreamTarget,
} from '../protocols/postgres/ports.ts';
import type { PostgresSession } from '../protocols/postgres/session.ts';
import { createStatementAnalyzer, initSqlParser } from '../sql/postgres/index.ts';
import type { Store } from '../store/store.ts';
import { openConfiguredVault, type Vault } from '../vault/index.ts';
import { ApprovalService } from './approval-service.ts';
import { ColumnMasking } from './column-masking.ts';
import { openConfiguredStore } from './configured-store.ts';
import { PrometheusMetrics } from './prometheus-metrics.ts';
import { RowRateLimiter, resultLimits, tightestLimits } from './result-limits.ts';
import { DlpResultMasker } from './result-masker.ts';
import { estimateRows } from './row-estimate.ts';
import { sessionRecorder } from './session-recorder.ts';
import { watchSinkLag } from './sink-lag-alerts.ts';
import { PolicyStatementGate } from './statement-gate.ts';
import { loadTlsMaterial, secureContextFor } from './tls-material.ts';

export const VERSION = '0.1.0';

export interface RunningGateway {
  readonly postgres: { readonly host: string; readonly port: number };
  readonly admin: { readonly host: string; readonly port: number } | undefined;
  readonly store: Store;
  /** Open when a master key is configured or in the environment (see docs/configuration.md, `vault`). */
  readonly vault: Vault | undefined;
  readonly metrics: PrometheusMetrics;
  /** Path of the client-facing certificate (for sslrootcert=). */
  readonly certPath: string;
  readonly listener: PostgresListener;
  close(): Promise<void>;
}

export interface GatewayDependencies {
  readonly logger: Logger;
  readonly env?: NodeJS.ProcessEnv;
  /** Use an already-open store (the demo seeds keys before the gateway starts). */
  readonly store?: Store;
}

/** Where `env:`, `file:` and `secret:` references are read from. */
function secretSources(env: NodeJS.ProcessEnv, vault: SecretVault | undefined): SecretSources {
  return { env, readFile: (path) => readFile(path, 'utf8'), ...(vault ? { vault } : {}) };
}

/** Names this process in approval records and alerts. */
function replicaName(): string {
  return `${hostname()}:${process.pid}`;
}

/** Builds upstream targets with secrets resolved at connect time, never at startup. */
async function upstreamTargets(
  config: SluiceConfig,
  env: NodeJS.ProcessEnv,
  vault: SecretVault | undefined,
): Promise<Map<string, UpstreamTarget>> {
  const targets = new Map<string, UpstreamTarget>();
  for (const connection of config.connections) {
    targets.set(connection.name, await upstreamTarget(connection, env, vault));
  }
  return targets;
}

async function upstreamTarget(
  connection: ConnectionConfig,
  env: NodeJS.ProcessEnv,
  vault: SecretVault | undefined,
): Promise<UpstreamTarget> {
  const { password } = connection;
  const ca = connection.tls.ca ? await readFile(connection.tls.ca) : undefined;
  return {
    connectionName: connection.name,
    host: connection.target.host,
    port: connection.target.port,
    user: connection.target.user,
    database: connection.target.database,
    password: password
      ? // Read on every new upstream connection: a rotated secret applies without a restart.
        () => resolveSecret(password, secretSources(env, vault))
      : async () => undefined,
    tls: {
      mode: connection.tls.mode,
      ...(ca ? { ca } : {}),
      ...(connection.tls.serverName ? { serverName: connection.tls.serverName } : {}),
    },
    requireScram: connection.auth.require === 'scram-sha-256',
  };
}

/** A SIEM exporter with the names metrics and alerts give it: its type and its place in `audit.sinks`. */
interface ConfiguredExporter {
  readonly sink: AuditSinkConfig['type'];
  readonly index: number;
  readonly exporter: AuditExporter;
}

/** The SIEM exporters of `audit.sinks`, with secrets and CA files resolved. */
async function auditExporters(
  config: SluiceConfig,
  env: NodeJS.ProcessEnv,
  vault: SecretVault | undefined,
  logger: Logger,
): Promise<ConfiguredExporter[]> {
  return Promise.all(
    config.audit.sinks.map(async (sink, index) => ({
      sink: sink.type,
      index,
      exporter: await auditExporter(sink, index, { config, env, vault, logger }),
    })),
  );
}

async function auditExporter(
  sink: AuditSinkConfig,
  i: number,
  {
    config,
    env,
    vault,
    logger,
  }: { config: SluiceConfig; env: NodeJS.ProcessEnv; vault: SecretVault | undefined; logger: Logger },
): Promise<AuditExporter> {
  switch (sink.type) {
    case 'jsonl':
      return new JsonlFileExporter({ path: sink.path, maxBytes: sink.maxBytes, keep: sink.keep, logger });
    case 'syslog': {
      const ca = sink.ca === undefined ? undefined : await readFile(sink.ca);
      return new SyslogExporter({
        host: sink.address.host,
        port: sink.address.port,
        format: sink.format,
        logger,
        ...(sink.tls ? { tls: { ...(ca === undefined ? {} : { ca }), serverName: sink.address.host } } : {}),
      });
    }
    case 'webhook': {
      const secret = await resolveSecret(sink.secret, secretSources(env, vault));
      return new WebhookExporter({
        url: sink.url,
        secret: Buffer.from(secret),
        spoolDir: sink.spoolDir ?? join(config.dataDir, 'audit', `webhook-${i}`),
        logger,
      });
    }
  }
}

/** The operational alert hook, with webhook secrets resolved once, at startup. */
async function alertHook(
  config: SluiceConfig,
  dependencies: {
    env: NodeJS.ProcessEnv;
    vault: SecretVault | undefined;
    logger: Logger;
    metrics: PrometheusMetrics;
  },
): Promise<AlertHook> {
  const sources = secretSources(dependencies.env, dependencies.vault);
  const webhooks = await Promise.all(
    config.alerts.webhooks.map(async (webhook) => ({
      url: webhook.url,
      secret: Buffer.from(await resolveSecret(webhook.secret, sources)),
      events: webhook.events,
    })),
  );
  return new AlertHook({
    webhooks,
    gateway: replicaName(),
    repeatAfterMs: config.alerts.repeatAfterMs,
    logger: dependencies.logger,
    metrics: dependencies.metrics,
  });
}

/** How long approvers wait for a row estimate before the request is recorded without one. */
const ROW_ESTIMATE_TIMEOUT_MS = 2000;

/** Webhook targets with their HMAC keys resolved once, at startup. */
async function webhookNotifier(
  config: SluiceConfig,
  env: NodeJS.ProcessEnv,
  vault: SecretVault | undefined,
  logger: Logger,
): Promise<WebhookNotifier> {
  const targets = await Promise.all(
    config.approvals.notify.map(async (hook) => ({
      url: hook.url,
      format: hook.format,
      ...(hook.secret === undefined
        ? {}
        : {
            secret: Buffer.from(await resolveSecret(hook.secret, secretSources(env, vault))),
          }),
    })),
  );
  return new WebhookNotifier(targets, { logger });
}

/** The approval workflow of this replica (statement review and access grants). */
async function startApprovals(
  config: SluiceConfig,
  dependencies: {
    store: Store;
    targets: ReadonlyMap<string, UpstreamTarget>;
    audit: AuditSink;
    logger: Logger;
    notifier: WebhookNotifier;
    /** Masks literal values in what approvers see. */
    scanner: TextScanner;
    adminUrl: string;
    grantEnded: (requestId: string) => number;
  },
): Promise<ApprovalService> {
  const service = new ApprovalService({
    repository: dependencies.store.approvals,
    policies: config.policies,
    connections: new Map(config.connections.map((c) => [c.name, c.tags])),
    adminGroup: config.admin.group,
    audit: dependencies.audit,
    logger: dependencies.logger,
    notify: (notice) => dependencies.notifier.notify(notice),
    publicUrl: config.approvals.publicUrl ?? dependencies.adminUrl,
    replica: replicaName(),
    scanner: dependencies.scanner,
    estimateRows: async (connection, sql, parameters) => {
      const target = dependencies.targets.get(connection);
      return target ? estimateRows(target, sql, parameters, ROW_ESTIMATE_TIMEOUT_MS) : null;
    },
    grantEnded: dependencies.grantEnded,
  });
  await service.start();
  return service;
}

/**
 * Closes live sessions whose credential has expired or been revoked since they logged in. The
 * check runs every `intervalMs`, so a revoked key loses its sessions within that interval.
 */
function startRevalidation(
  sessions: Iterable<PostgresSession>,
  validity: CredentialValidity,
  intervalMs: number,
  logger: Logger,
): NodeJS.Timeout {
  const expired = new ClientFacingError('28000', 'sluice: credential expired', {
    hint: 'Reconnect with a current API key or token.',
  });
  let running = false;
  const timer = setInterval(async () => {
    // A slow store must not stack sweeps on top of each other.
    if (running) return;
    running = true;
    try {
      const now = new Date();
      for (const session of [...sessions]) {
        const principal = session.principal;
        if (principal && !(await validity.stillValid(principal, now))) {
          logger.info(
            { principal: principal.id, session: session.id },
            'credential no longer valid; closing session',
          );
          session.terminate(expired);
        }
      }
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'credential revalidation failed; will retry');
    } finally {
      running = false;
    }
  }, intervalMs);
  timer.unref();
  return timer;
}

/**
 * Builds a session's masker. Tokens of the `hash` masker are consistent within a session; with
 * `masking.hashKey` they are consistent across sessions and gateways too (so joins on tokens work).
 */
async function maskerFactory(
  config: SluiceConfig,
  env: NodeJS.ProcessEnv,
  vault: Vault | undefined,
  logger: Logger,
): Promise<(context: Record<string, string>) => DlpResultMasker> {
  const { detectors, custom, scanCapBytes, hashKey } = config.masking;
  const scannerWith = (key: Buffer) => ({ key, scanner: createScanner({ detectors, custom, hashKey: key }) });
  const shared =
    hashKey === undefined
      ? undefined
      : scannerWith(
          createHash('sha256')
            .update(await resolveSecret(hashKey, secretSources(env, vault)))
            .digest(),
        );
  return (context) => {
    const { key, scanner } = shared ?? scannerWith(randomBytes(32));
    return new DlpResultMasker({ scanner, hashKey: key, scanCapBytes, logger, context });
  };
}

export async function startGateway(
  config: SluiceConfig,
  dependencies: GatewayDependencies,
): Promise<RunningGateway> {
  const { logger } = dependencies;
  const env = dependencies.env ?? process.env;
  const store = dependencies.store ?? (await openConfiguredStore(config.store, { env, logger }));
  const closers: Array<() => Promise<void>> = dependencies.store ? [] : [() => store.close()];
  try {
    const material = await loadTlsMaterial(config.tls, config.dataDir);
    const listenerConfig = config.listen.postgres;
    const secureContext: SecureContext | undefined =
      listenerConfig.tls === 'off' ? undefined : secureContextFor(material);
    const metrics = new PrometheusMetrics();
    const vault = await openConfiguredVault(config, store, {
      env,
      logger: logger.child({ component: 'vault' }),
    });
    const targets = await upstreamTargets(config, env, vault);
    const alerts = await alertHook(config, {
      env,
      vault,
      logger: logger.child({ component: 'alerts' }),
      metrics,
    });
    // Closes after everything that can raise an alert (closers run newest first).
    closers.unshift(() => alerts.close());
    await initSqlParser();
    const compiled = new Map(config.policies.map((policy) => [policy, compilePolicy(policy)]));
    const tags = new Map(config.connections.map((c) => [c.name, c.tags]));
    const rowRate = new RowRateLimiter();
    const pruneRate = setInterval(() => rowRate.prune(), 60_000);
    pruneRate.unref();
    closers.unshift(async () => clearInterval(pruneRate));
    const statementLog = logger.child({ component: 'policy' });
    const maskers = await maskerFactory(config, env, vault, logger.child({ component: 'masking' }));
    const columnMasking = new ColumnMasking(
      config.masking,
      targets,
      logger.child({ component: 'masking' }),
      config.timeouts.authMs,
    );
    const stopCatalog = await columnMasking.start();
    closers.unshift(async () => stopCatalog());
    // One cache for every session: repeated statement shapes are parsed once per gateway.
    const analyzer = createStatementAnalyzer();

    const auditLogger = logger.child({ component: 'audit' });
    const signingKey = await loadSigningKey(config.audit.signingKey, config.dataDir, env);
    await store.audit.addKey(keyIdOf(signingKey.publicKey), signingKey.publicKeyPem);
    const exporters = await auditExporters(config, env, vault, auditLogger);
    const auditLog = new StoreAuditSink({
      log: store.audit,
      key: signingKey,
      logger: auditLogger,
      exporters: exporters.map(({ exporter }) => exporter),
      checkpointEvery: config.audit.checkpointEvery,
      checkpointIntervalMs: config.audit.checkpointIntervalMs,
    });
    // Runs after the listener and admin server have closed (closers run newest first), so the
    // events of the shutdown itself are written before the store closes.
    closers.unshift(() => auditLog.close());
    metrics.observeAudit(auditLog);
    metrics.observeExporters(exporters);
    const stopSinkLagWatch = watchSinkLag(
      [
        { name: 'store', pipeline: auditLog },
        ...exporters.map(({ sink, index, exporter }) => ({ name: `${sink}-${index}`, pipeline: exporter })),
      ],
      alerts,
      config.alerts,
    );
    closers.unshift(async () => stopSinkLagWatch());
    const audit = fanOut(logAuditSink(auditLogger), auditLog);
    const recordingFiles = new RecordingFileWriter({
      dir: config.audit.recordings.dir,
      inlineMaxBytes: config.audit.recordings.inlineMaxBytes,
      chunkBytes: config.audit.recordings.chunkBytes,
      logger: auditLogger,
    });
    // After the sessions have ended (closers run newest first): their last previews are written.
    closers.unshift(() => recordingFiles.flush());
    const { eventsMs, recordingsMs } = config.audit.retention;
    if (eventsMs !== undefined || recordingsMs !== undefined) {
      closers.unshift(
        startRetention({
          log: store.audit,
          audit,
          recordingsDir: config.audit.recordings.dir,
          eventsMs,
          recordingsMs,
          logger: auditLogger,
        }),
      );
    }
    const notifier = await webhookNotifier(config, env, vault, logger.child({ component: 'notify' }));
    closers.unshift(() => notifier.close());
    let sessions: Iterable<PostgresSession> = [];
    const grantExpired = new ClientFacingError(
      '57P01',
      'sluice: the access grant of this session has ended',
      {
        hint: 'Request access again (sluice access request) if you still need it.',
      },
    );
    // Masks the values approvers and audit records would otherwise show: statement literals,
    // bound parameters, recorded result rows. One scanner for both.
    const recordingScanner = createScanner({
      detectors: config.masking.detectors,
      custom: config.masking.custom,
      hashKey: randomBytes(32),
    });
    const approvals = await startApprovals(config, {
      store,
      targets,
      scanner: recordingScanner,
      audit: {
        emit(event) {
          metrics.approvalEvent(event.type, 'kind' in event ? event.kind : '');
          audit.emit(event);
        },
      },
      logger: logger.child({ component: 'approvals' }),
      notifier,
      adminUrl: `http://${config.admin.listen.host}:${config.admin.listen.port}`,
      grantEnded: (requestId) => {
        let closed = 0;
        for (const session of [...sessions]) {
          if (session.grant !== requestId) continue;
          session.terminate(grantExpired);
          closed++;
        }
        return closed;
      },
    });
    closers.unshift(() => approvals.stop());
    const ordinaryPolicies = config.policies.filter((policy) => policy.grant === undefined);

    const authorize = async (
      principal: Principal,
      connectionName: string,
      session: SessionContext,
    ): Promise<ConnectionDecision> => {
      const target = targets.get(connectionName);
      if (!target) {
        return {
          allowed: false,
          error: new ClientFacingError('3D000', `sluice: unknown connection "${connectionName}"`, {
            hint: 'The database name in your connection string names a Sluice connection; ask an operator which ones you may use.',
          }),
        };
      }
      const connection = { name: connectionName, tags: tags.get(connectionName) ?? [] };
      // An open access grant's policy takes the place of the principal's ordinary policies.
      const grant = await approvals.activeGrant(principal, connection);
      const policies = grant ? [grant.policy] : applicablePolicies(ordinaryPolicies, principal, connection);
      const first = policies[0];
      if (first === undefined) {
        return {
          allowed: false,
          error: new ClientFacingError(
            '42501',
            `sluice: blocked by policy: no policy grants "${principal.name}" access to connection "${connectionName}"`,
            {
              hint: 'Ask an operator to add a policy for one of your groups, or use a key with the right groups.',
            },
          ),
        };
      }
      // Masking is off only when every policy of the session opts out.
      const unmasked = policies.every((policy) => policy.masking === 'off');
      const gate = new PolicyStatementGate({
        principal,
        connection: connectionName,
        policies: policies.map((policy) => compiled.get(policy) ?? compilePolicy(policy)),
        analyze: (sql) => analyzer.analyze(sql),
        limits: resultLimits(policies, principal.id, rowRate),
        masker: unmasked ? undefined : maskers({ principal: principal.id, connection: connectionName }),
        affectedRowsBudget: tightestLimits(policies).get('affectedRowsPerSession'),
        logger: statementLog,
        refused: (decision, rule) => metrics.statementRefused('postgres', decision, rule),
        columns: unmasked ? undefined : columnMasking.contextFor(policies, connectionName),
        reviewer: approvals.reviewerFor(principal, connectionName),
        recorder: sessionRecorder({
          audit,
          scanner: recordingScanner,
          principal,
          connection: connectionName,
          policy: first.name,
          grant: grant?.id,
          session,
          pipelineStuck: () => auditLog.stuck,
          failClosed: policies.some((policy) => policy.audit.failMode === 'closed'),
          statements: config.audit.statements,
          previewRows: config.audit.previewRows,
          previews: recordingFiles,
        }),
        evaluationFailed: (error) =>
          alerts.raise('policy_error', connectionName, {
            connection: connectionName,
            policy: first.name,
            error: errorCode(error),
          }),
      });
      return { allowed: true, target, policy: first.name, gate, grant: grant?.id };
    };

    const authenticator = new CompositeAuthenticator({
      apiKeys: new ApiKeyAuthenticator(store),
      oidc:
        config.identity.oidc.length > 0
          ? new OidcAuthenticator(config.identity.oidc, { logger: logger.child({ component: 'oidc' }) })
          : undefined,
    });
    const throttle = new AuthThrottle({ ...DEFAULT_THROTTLE, ...config.identity.backoff });
    const ports: PostgresSessionPorts = {
      authenticator,
      authFailures: {
        failed: (sourceAddress, credential) => {
          audit.emit({ type: 'auth.failed', protocol: 'postgres', sourceAddress });
          return throttle.failed(sourceAddress, credentialPrefix(credential));
        },
        succeeded: (credential) => throttle.succeeded(credentialPrefix(credential)),
      },
      authorize,
      metrics,
      logger: logger.child({ protocol: 'postgres' }),
      cancels: new CancelRegistry(),
      upstreamHealth: {
        failed: (connection, failure) =>
          alerts.raise('upstream_unreachable', connection, { connection, error: failure }),
        connected: (connection) => alerts.resolve('upstream_unreachable', connection),
      },
    };
    const listener = await startPostgresListener(ports, {
      host: listenerConfig.address.host,
      port: listenerConfig.address.port,
      tls: listenerConfig.tls,
      secureContext,
      timeouts: config.timeouts,
      limits: config.limits,
      maxClientConnections: config.limits.maxClientConnections,
      maxUnauthenticated: config.limits.maxUnauthenticated,
      maxUnauthenticatedPerAddress: config.limits.maxUnauthenticatedPerAddress,
    });
    closers.unshift(() => listener.close());
    sessions = listener.sessions;
    const revalidation = startRevalidation(
      listener.sessions,
      authenticator,
      config.identity.revalidateEveryMs,
      logger,
    );
    closers.unshift(async () => clearInterval(revalidation));

    let admin: Awaited<ReturnType<typeof startAdminServer>> | undefined;
    if (config.admin.enabled) {
      admin = await startAdminServer({
        host: config.admin.listen.host,
        port: config.admin.listen.port,
        metrics,
        logger: logger.child({ component: 'admin' }),
        version: VERSION,
        api: {
          store,
          recordingsDir: config.audit.recordings.dir,
          vault,
          audit,
          approvals,
          auth: {
            authenticator,
            group: config.admin.group,
            audit,
            failed: (sourceAddress, credential) =>
              throttle.failed(sourceAddress, credentialPrefix(credential)),
          },
        },
        readiness: async () => {
          const storeCheck = await store.ping().then(
            () => ({ ok: true }),
            (error: unknown) => ({ ok: false, detail: (error as Error).message }),
          );
          const auditCheck = auditLog.stuck
            ? { ok: false, detail: `${auditLog.lag} audit events waiting: appends to the store are failing` }
            : { ok: true };
          return {
            ok: storeCheck.ok && auditCheck.ok,
            checks: { store: storeCheck, audit: auditCheck, postgresListener: { ok: true } },
          };
        },
      });
      const running = admin;
      closers.unshift(() => running.close());
    }

    return {
      postgres: listener.address,
      admin: admin?.address,
      store,
      vault,
      metrics,
      certPath: material.certPath,
      listener,
      async close() {
        for (const close of closers) await close();
      },
    };
  } catch (error) {
    for (const close of closers) await close();
    throw error;
  }
}
