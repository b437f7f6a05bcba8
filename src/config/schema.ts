/**
 * @module config/schema
 * The shape of `sluice.yaml` and the resolved {@link SluiceConfig} it turns into. Every object is
 * strict (an unknown key is a typo until proven otherwise), every default lives here, and values
 * are converted once at the edge: addresses to `{ host, port }`, durations to milliseconds, sizes
 * to bytes, secrets to {@link SecretRef}s (resolved later, when used).
 *
 * Messages never quote the offending value: a misplaced password must not end up in a log.
 * Every key is documented in docs/configuration.md; keep the two in step.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import { ALERT_KINDS, type AlertKind } from '../core/alerts.ts';
import { parseDuration } from '../core/duration.ts';
import { createScanner } from '../dlp/index.ts';
import type { PrincipalKind } from '../identity/principal.ts';
import {
  defaultGuardrails,
  GUARDRAIL_NAMES,
  GUARDRAILS_WITH_EXCEPTIONS,
  type GuardrailName,
} from '../policy/guardrails.ts';
import type { GuardrailSpec, StatementPolicySpec } from '../policy/statement-policy.ts';
import type { Effect } from '../sql/postgres/index.ts';
import { isSecretName, SECRET_NAME_RULE } from '../vault/secret-name.ts';
import { parseSecretRef, type SecretRef } from './secret-ref.ts';

export type Address = { host: string; port: number };

export type ListenerConfig = {
  address: Address;
  /** `off` is only accepted on a loopback address. */
  tls: 'required' | 'off';
};

export type AdminConfig = {
  enabled: boolean;
  listen: Address;
  /** Principals in this group (API key or OIDC token) may use the authenticated /api/v1 endpoints. */
  group: string;
};

/** The gateway's own certificate for client-facing TLS. */
export type TlsConfig = { mode: 'auto' } | { mode: 'files'; cert: string; key: string };

/** A `postgres://user@host:port/database` URL, minus the password (which is never inline). */
export type PostgresTarget = Address & { user: string; database: string };

export type StoreConfig =
  | { kind: 'pglite'; dir: string }
  | { kind: 'postgres'; target: PostgresTarget; password?: SecretRef };

export type UpstreamTlsMode = 'disable' | 'require' | 'verify-full';

export type ConnectionTlsConfig = {
  mode: UpstreamTlsMode;
  /** CA bundle for `verify-full`; the system CAs when absent. */
  ca?: string;
  /** Name to verify the certificate against, when it differs from the URL's host. */
  serverName?: string;
};

export type ConnectionConfig = {
  name: string;
  type: 'postgres';
  target: PostgresTarget;
  /** Absent means the upstream trusts the gateway without a password. */
  password?: SecretRef;
  tls: ConnectionTlsConfig;
  auth: { require: 'any' | 'scram-sha-256' };
  tags: string[];
};

/** A claim condition: the claim equals the value, or (for a list claim) contains it; a list means any of. */
export type ClaimCondition = string | number | boolean | Array<string | number | boolean>;

export type PolicyLimitsConfig = {
  rowsPerStatement?: number | undefined;
  rowsPerSession?: number | undefined;
  bytesPerSession?: number | undefined;
  /** Per principal, across all of its sessions on the gateway. */
  rowsPerMinute?: number | undefined;
  /** Rows inserted, updated, deleted or merged; once over, further writes are refused. */
  affectedRowsPerSession?: number | undefined;
};

/** Per-policy overrides of `masking.derived` and `masking.inference` (the strictest applies). */
export type PolicyMaskingConfig = {
  derived?: 'mask' | 'deny' | undefined;
  inference?: 'deny' | 'allow' | undefined;
};

/** Who may approve, how many, and how fresh their login must be. */
export type ApproverRule = {
  /** Principals in any of these groups may decide; default: the admin group. */
  groups: string[];
  /** Distinct approvals needed; one deny decides at once. */
  count: number;
  /** The approver's OIDC login (`auth_time`) must be at most this old; API keys never qualify. */
  stepUpMs?: number | undefined;
};

/** How a policy's `review` decisions are carried out. */
export type ReviewConfig = {
  /** `hold`: the connection waits for the decision. `ticket`: refused now, re-run once approved. */
  mode: 'hold' | 'ticket';
  /** Hold: how long the client waits. Ticket: how long the request stays open. */
  timeoutMs: number;
  /** Ticket: how long an approval may be used (once). */
  grantWindowMs: number;
  approvers: ApproverRule;
};

/** Marks a policy as a just-in-time grant: it applies only under an approved access request. */
export type GrantConfig = {
  maxDurationMs: number;
  approvers: ApproverRule;
  /** The requester may approve its own request; flagged and alerted. */
  breakGlass: boolean;
};

export type PolicyConfig = StatementPolicySpec & {
  name: string;
  subjects: {
    groups: string[];
    ids: string[];
    kinds: PrincipalKind[];
    claims: Record<string, ClaimCondition>;
  };
  /** `'*'` grants every connection, including ones added later. */
  connections: '*' | string[];
  /** Connections carrying any of these tags are granted too. */
  connectionTags: string[];
  limits: PolicyLimitsConfig;
  /** `off` opts this policy's sessions out of masking (only if every applicable policy does). */
  masking: 'on' | 'off' | PolicyMaskingConfig;
  review: ReviewConfig;
  /** `closed`: while the audit log cannot be written, this policy's statements are refused. */
  audit: { failMode: 'closed' | 'open' };
  /** Present on grant policies, which never apply outside an approved access request. */
  grant?: GrantConfig | undefined;
};

export type TimeoutsConfig = {
  authMs: number;
  /** 0 disables. */
  idleMs: number;
  /** 0 disables. */
  idleInTransactionMs: number;
  messageAssemblyMs: number;
};

export type LimitsConfig = {
  maxQueryBytes: number;
  maxMessageBytes: number;
  maxClientConnections: number;
  /** Connections still in TLS/startup/authentication, across all addresses. */
  maxUnauthenticated: number;
  /** Connections still authenticating from one source address. */
  maxUnauthenticatedPerAddress: number;
};

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** Asymmetric JWS algorithms only: a JWKS publishes public keys, so an HMAC "key" would be public. */
export const OIDC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

export type OidcAlgorithm = (typeof OIDC_ALGORITHMS)[number];

export type OidcIssuerConfig = {
  /** Compared exactly with the token's `iss` and the discovery document's `issuer`. */
  issuer: string;
  /** The token's `aud` must contain at least one of these. */
  audience: string[];
  /** Dotted path to the claim holding the principal's groups. */
  groupsClaim: string;
  /** Prefixed to the subject in the principal's name; `''` for none. */
  subjectPrefix: string;
  kind: PrincipalKind;
  algorithms: OidcAlgorithm[];
  clockSkewMs: number;
  /** Least time between two JWKS fetches (and between discovery retries after a failure). */
  jwksCooldownMs: number;
};

export type IdentityConfig = {
  oidc: OidcIssuerConfig[];
  /** How often live sessions re-check the credential that opened them. */
  revalidateEveryMs: number;
  /** Exponential backoff on failed logins (see identity/auth-throttle). */
  backoff: { freeFailures: number; baseDelayMs: number; maxDelayMs: number };
};

export type MaskerName = 'redact' | 'partial' | 'hash' | 'email' | 'null';
export type DetectorName = 'card' | 'email' | 'ssn' | 'phone' | 'iban' | 'secret';

export type MaskingConfig = {
  /** Content detectors run on every value and message sent to clients; `false` turns one off. */
  detectors: Partial<Record<DetectorName, MaskerName | false>>;
  custom: { name: string; pattern: string; masker: MaskerName }[];
  /** Longer values are redacted whole rather than passed through unscanned. */
  scanCapBytes: number;
  /** Key for `hash` tokens shared across sessions; without it, each session has its own key. */
  hashKey?: SecretRef;
  /**
   * Sensitive columns (`schema.table.column` globs) and how their values are masked; a rule with
   * `policies` applies only to sessions under one of them (the first matching rule wins).
   */
  columns: { column: string; masker: MaskerName; policies?: string[] | undefined }[];
  /** An output computed from a sensitive column: redacted whole (`mask`) or the statement refused. */
  derived: 'mask' | 'deny';
  /** Sensitive columns in WHERE, JOIN, ORDER BY…: refused (`deny`) or allowed. */
  inference: 'deny' | 'allow';
};

export type WebhookConfig = {
  url: string;
  /** `json`: signed with HMAC-SHA256 (`secret`); `slack`: a Slack incoming-webhook body. */
  format: 'json' | 'slack';
  secret?: SecretRef;
};

export type ApprovalsConfig = {
  /** Base URL approvers open (links in notices and webhooks); default: the admin listener. */
  publicUrl?: string | undefined;
  notify: WebhookConfig[];
};

export type AuditConfig = {
  /** Ed25519 private key (PEM) for checkpoints; absent: generated once in the data dir. */
  signingKey?: SecretRef;
  /** Sign the chain's head after this many events… */
  checkpointEvery: number;
  /** …or this long after the first unsigned event. */
  checkpointIntervalMs: number;
  /** Record each statement's decision and outcome (sessions, approvals and admin changes always are). */
  statements: boolean;
  /** Where records go besides the store, once chained (SIEM export). */
  sinks: AuditSinkConfig[];
  /** Rows of each result kept, masked as sent, in the session recording; 0 records none. */
  previewRows: number;
  recordings: RecordingsConfig;
  retention: RetentionConfig;
};

/** Where a statement's masked preview goes when it is too large to keep inline in its record. */
export type RecordingsConfig = {
  /** A preview whose rows' JSON is longer than this goes to a recording file. */
  inlineMaxBytes: number;
  /** A session's recording file is continued in a new chunk past this size. */
  chunkBytes: number;
  /** Default: `<dataDir>/recordings`. */
  dir: string;
};

/** How long records and recording files are kept; absent: forever. */
export type RetentionConfig = {
  eventsMs?: number;
  /** Absent: as long as events. */
  recordingsMs?: number;
};

export type AuditSinkConfig =
  | { type: 'jsonl'; path: string; maxBytes: number; keep: number }
  | { type: 'syslog'; address: Address; format: 'rfc5424' | 'cef'; tls: boolean; ca?: string | undefined }
  | { type: 'webhook'; url: string; secret: SecretRef; spoolDir?: string | undefined };

/** A receiver of operational alerts (see docs/audit.md#alerts). */
export type AlertWebhookConfig = { url: string; secret: SecretRef; events: AlertKind[] };

export type AlertsConfig = {
  webhooks: AlertWebhookConfig[];
  /** An audit sink with at least this many records waiting is behind. */
  sinkLagThreshold: number;
  /** While a condition persists, at most one alert per this interval. */
  repeatAfterMs: number;
  /** How often sink lag is checked. */
  checkIntervalMs: number;
};

export type SluiceConfig = {
  listen: { postgres: ListenerConfig };
  admin: AdminConfig;
  tls: TlsConfig;
  store: StoreConfig;
  /** Generated state (the auto TLS certificate; the demo's vault master key). */
  dataDir: string;
  connections: ConnectionConfig[];
  policies: PolicyConfig[];
  identity: IdentityConfig;
  timeouts: TimeoutsConfig;
  limits: LimitsConfig;
  logging: { level: LogLevel };
  masking: MaskingConfig;
  approvals: ApprovalsConfig;
  audit: AuditConfig;
  alerts: AlertsConfig;
  /** Present when the file has a `vault` section. */
  vault?: VaultConfig;
};

/** Without `masterKey`, the vault's master key is `$SLUICE_MASTER_KEY` when that is set. */
export type VaultConfig = { masterKey?: SecretRef };

/** A problem found in the raw YAML value; the loader adds the file position. */
export type ConfigIssue = { path: (string | number)[]; message: string };

const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const NAME_RULE = 'use a-z, 0-9, _ and -, start with a letter or digit, at most 63 characters';
const DEFAULT_STORE_DIR = './.sluice';
const KIB = 1024;
const POSTGRES_SCHEME = /^postgres(ql)?:/;

type RefineCtx = z.core.$RefinementCtx<unknown>;

function reject(ctx: RefineCtx, message: string, path: (string | number)[] = []): typeof z.NEVER {
  ctx.addIssue({ code: 'custom', message, path });
  return z.NEVER;
}

/** Names appear in audit records and `psql -d NAME`, so they stay identifier-like. */
const nameSchema = z.string().regex(NAME_PATTERN, { error: NAME_RULE });
const nonEmptyString = z.string().min(1);

// ---- addresses -----------------------------------------------------------------------------

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

export function isLoopback(host: string): boolean {
  if (isIPv4(host)) return LOOPBACK.check(host, 'ipv4');
  if (isIPv6(host)) return LOOPBACK.check(host, 'ipv6');
  return host === 'localhost';
}

/** `host:port`, with IPv6 hosts in brackets (`[::1]:15432`). Port 0 asks the OS for a free one. */
export function parseAddress(text: string): Address | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const [, ipv6, name, portText] = match;
  const port = Number(portText);
  if (port > 65_535) return undefined;
  if (ipv6 !== undefined) return isIPv6(ipv6) ? { host: ipv6, port } : undefined;
  return name === undefined ? undefined : { host: name, port };
}

const addressSchema = z.string().transform((text, ctx) => {
  return parseAddress(text) ?? reject(ctx, 'expected host:port, e.g. 127.0.0.1:15432 or [::1]:15432');
});

const listenerSchema = z.union(
  [
    addressSchema.transform((address): ListenerConfig => ({ address, tls: 'required' })),
    z
      .strictObject({ address: addressSchema, tls: z.enum(['required', 'off']).default('required') })
      .superRefine((listener, ctx) => {
        if (listener.tls === 'off' && !isLoopback(listener.address.host)) {
          reject(
            ctx,
            'off is only allowed on a loopback address (127.0.0.0/8, ::1, localhost): ' +
              'clients send their API key or token as the password, which would cross the network in plaintext',
            ['tls'],
          );
        }
      }),
  ],
  { error: 'expected host:port, or a mapping with address and tls' },
);

// ---- scalars with units ----------------------------------------------------------------------

export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  return typeof value === 'object' ? 'mapping' : typeof value;
}

/** A duration string (`500ms`, `10s`, `5m`, `1h`), or `0`. */
function duration(options: { zeroDisables: boolean }) {
  const expected = options.zeroDisables
    ? 'expected a duration such as 30s, 5m or 1h, or 0 to disable'
    : 'expected a duration such as 500ms, 10s or 1m';
  return z.unknown().transform((value, ctx) => {
    const ms = typeof value === 'string' ? parseDuration(value) : value === 0 ? 0 : undefined;
    if (ms === undefined) {
      const bareNumber = typeof value === 'number' ? ' (a bare number has no unit)' : '';
      return reject(ctx, `${expected}, got ${typeName(value)}${bareNumber}`);
    }
    if (ms === 0 && !options.zeroDisables) return reject(ctx, 'must be greater than 0');
    return ms;
  });
}

const SIZE_UNITS: Readonly<Record<string, number>> = { B: 1, KiB: KIB, MiB: KIB ** 2, GiB: KIB ** 3 };

/** A positive byte count: an integer or `512KiB`, `1MiB`, `64MiB`, `1GiB`. */
export function parseByteSize(value: unknown): number | undefined {
  let bytes: number | undefined;
  if (typeof value === 'number') bytes = value;
  else if (typeof value === 'string') {
    const match = /^(\d+)\s*(B|KiB|MiB|GiB)?$/.exec(value.trim());
    if (match) bytes = Number(match[1]) * (SIZE_UNITS[match[2] ?? 'B'] ?? Number.NaN);
  }
  return bytes !== undefined && Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

const byteSize = z.unknown().transform((value, ctx) => {
  return (
    parseByteSize(value) ??
    reject(
      ctx,
      'expected a positive size in bytes: an integer, or a number with B, KiB, MiB or GiB (e.g. 512KiB)',
    )
  );
});

// ---- secrets and URLs ------------------------------------------------------------------------

const secretRefSchema = z.string().transform((text, ctx) => {
  return (
    parseSecretRef(text) ??
    reject(
      ctx,
      'must be a secret reference (env:NAME, file:PATH or secret:NAME); inline secrets are not accepted',
    )
  );
});

/**
 * `postgres://user@host[:port]/database`, or the reason it is not one. The password has its own
 * key (a secret reference) and query parameters are refused: every upstream option has a key of
 * its own, so none can hide in a URL (e.g. an `sslmode=disable` undoing `tls.mode`).
 */
function parsePostgresTarget(text: string, passwordKey: string): PostgresTarget | { error: string } {
  const expected = { error: 'expected postgres://user@host:port/database' };
  let url: URL;
  let user: string;
  let database: string;
  try {
    url = new URL(text);
    user = decodeURIComponent(url.username);
    database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  } catch {
    return expected;
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') return expected;
  if (url.password !== '') {
    return {
      error: `the url must not contain a password: put a secret reference (e.g. env:NAME) in ${passwordKey}`,
    };
  }
  if (url.search !== '' || url.hash !== '') {
    return { error: 'the url must not have query parameters or a fragment; use the dedicated keys instead' };
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (user === '' || database === '' || database.includes('/') || host === '') return expected;
  return { host, port: url.port === '' ? 5432 : Number(url.port), user, database };
}

const vaultSchema = z
  .strictObject({ masterKey: secretRefSchema.optional() })
  .transform((vault): VaultConfig => (vault.masterKey ? { masterKey: vault.masterKey } : {}));

// ---- sections --------------------------------------------------------------------------------

const tlsSchema = z
  .strictObject({
    mode: z.enum(['auto', 'files']).default('auto'),
    cert: nonEmptyString.optional(),
    key: nonEmptyString.optional(),
  })
  .transform((tls, ctx): TlsConfig => {
    if (tls.mode === 'auto') {
      if (tls.cert !== undefined) reject(ctx, 'only used with mode: files', ['cert']);
      if (tls.key !== undefined) reject(ctx, 'only used with mode: files', ['key']);
      return { mode: 'auto' };
    }
    if (tls.cert === undefined) reject(ctx, 'required with mode: files', ['cert']);
    if (tls.key === undefined) reject(ctx, 'required with mode: files', ['key']);
    return tls.cert !== undefined && tls.key !== undefined
      ? { mode: 'files', cert: tls.cert, key: tls.key }
      : z.NEVER;
  });

const storeSchema = z.string().transform((text, ctx): StoreConfig => {
  if (text.startsWith('pglite://')) {
    const dir = text.slice('pglite://'.length);
    return dir === ''
      ? reject(ctx, 'expected pglite://DIR, e.g. pglite://./.sluice')
      : { kind: 'pglite', dir };
  }
  if (POSTGRES_SCHEME.test(text)) {
    const target = parsePostgresTarget(text, 'storePassword');
    return 'error' in target ? reject(ctx, target.error) : { kind: 'postgres', target };
  }
  return reject(ctx, 'expected pglite://DIR or postgres://user@host:port/database');
});

const connectionTlsSchema = z
  .strictObject({
    mode: z.enum(['disable', 'require', 'verify-full']).default('disable'),
    ca: nonEmptyString.optional(),
    serverName: nonEmptyString.optional(),
  })
  .transform((tls, ctx): ConnectionTlsConfig => {
    // `require` encrypts without checking who answers; a CA there would suggest otherwise.
    if (tls.mode !== 'verify-full') {
      if (tls.ca !== undefined) reject(ctx, 'only used with mode: verify-full', ['ca']);
      if (tls.serverName !== undefined) reject(ctx, 'only used with mode: verify-full', ['serverName']);
    }
    return {
      mode: tls.mode,
      ...(tls.ca === undefined ? {} : { ca: tls.ca }),
      ...(tls.serverName === undefined ? {} : { serverName: tls.serverName }),
    };
  });

const connectionSchema = z
  .strictObject({
    name: nameSchema,
    type: z.literal('postgres'),
    url: z.string().transform((text, ctx) => {
      const target = parsePostgresTarget(text, 'password');
      return 'error' in target ? reject(ctx, target.error) : target;
    }),
    password: secretRefSchema.optional(),
    tls: connectionTlsSchema.prefault({}),
    auth: z.strictObject({ require: z.enum(['any', 'scram-sha-256']).default('any') }).prefault({}),
    tags: z.array(nonEmptyString).default([]),
  })
  .transform(
    (c): ConnectionConfig => ({
      name: c.name,
      type: c.type,
      target: c.url,
      ...(c.password === undefined ? {} : { password: c.password }),
      tls: c.tls,
      auth: c.auth,
      tags: c.tags,
    }),
  );

const actionSchema = z.enum(['allow', 'review', 'deny']);

const EFFECTS = [
  'read',
  'write',
  'ddl',
  'dcl',
  'admin',
  'session',
  'transaction',
  'copy',
  'procedural',
] as const satisfies readonly Effect[];

const ruleSchema = z.strictObject({
  name: nameSchema.optional(),
  action: actionSchema,
  effects: z.array(z.enum(EFFECTS)).min(1).optional(),
  kinds: z
    .array(z.string().regex(/^[A-Z][A-Za-z_]*$/, { error: 'a statement kind such as IndexStmt' }))
    .min(1)
    .optional(),
  tables: z.array(nonEmptyString).min(1).optional(),
  functions: z.array(nonEmptyString).min(1).optional(),
  reason: nonEmptyString.optional(),
});

const guardrailSchema = z.union([
  actionSchema.transform((action): GuardrailSpec => ({ action, except: [] })),
  z.strictObject({ action: actionSchema.default('deny'), except: z.array(nonEmptyString).default([]) }),
]);

const guardrailsSchema = z
  .strictObject(Object.fromEntries(GUARDRAIL_NAMES.map((name) => [name, guardrailSchema.optional()])))
  .default({})
  .transform((given, ctx) => {
    const out = defaultGuardrails();
    for (const name of GUARDRAIL_NAMES) {
      const spec = (given as Partial<Record<GuardrailName, GuardrailSpec>>)[name];
      if (spec === undefined) continue;
      if (spec.except.length > 0 && !GUARDRAILS_WITH_EXCEPTIONS.has(name)) {
        reject(ctx, `${name} takes no "except" list`, [name, 'except']);
      }
      if (spec.except.includes('*')) {
        reject(ctx, `"*" would exempt everything; use "${name}: allow" to turn the guardrail off`, [
          name,
          'except',
        ]);
      }
      out[name] = spec;
    }
    return out;
  });

const claimValue = z.union([z.string(), z.number(), z.boolean()]);

const policyLimitsSchema = z
  .strictObject({
    rowsPerStatement: z.int().min(1).optional(),
    rowsPerSession: z.int().min(1).optional(),
    bytesPerSession: byteSize.optional(),
    rowsPerMinute: z.int().min(1).optional(),
    affectedRowsPerSession: z.int().min(1).optional(),
  })
  .default({});

const approversSchema = z
  .strictObject({
    groups: z.array(nonEmptyString).min(1).optional(),
    count: z.int().min(1).max(10).default(1),
    stepUp: duration({ zeroDisables: false }).optional(),
  })
  .prefault({})
  .transform(
    ({ groups, count, stepUp }): ApproverRule => ({
      // Empty means "the admin group", filled in by the gateway, which knows admin.group.
      groups: groups ?? [],
      count,
      ...(stepUp === undefined ? {} : { stepUpMs: stepUp }),
    }),
  );

const reviewSchema = z
  .strictObject({
    mode: z.enum(['hold', 'ticket']).default('hold'),
    timeout: duration({ zeroDisables: false }).default(600_000),
    grantWindow: duration({ zeroDisables: false }).default(900_000),
    approvers: approversSchema,
  })
  .prefault({})
  .transform(
    ({ mode, timeout, grantWindow, approvers }): ReviewConfig => ({
      mode,
      timeoutMs: timeout,
      grantWindowMs: grantWindow,
      approvers,
    }),
  );

const grantSchema = z
  .strictObject({
    maxDuration: duration({ zeroDisables: false }).default(3_600_000),
    approvers: approversSchema,
    breakGlass: z.boolean().default(false),
  })
  .transform(
    ({ maxDuration, approvers, breakGlass }): GrantConfig => ({
      maxDurationMs: maxDuration,
      approvers,
      breakGlass,
    }),
  );

const policySchema = z
  .strictObject({
    name: nameSchema,
    subjects: z
      .strictObject({
        groups: z.array(nonEmptyString).default([]),
        ids: z.array(nonEmptyString).default([]),
        kinds: z.array(z.enum(['workload', 'human', 'service'])).default([]),
        claims: z.record(nonEmptyString, z.union([claimValue, z.array(claimValue).min(1)])).default({}),
      })
      .superRefine((subjects, ctx) => {
        // An empty subject list would match nobody; almost certainly a mistake, so say so.
        if (subjects.groups.length + subjects.ids.length + subjects.kinds.length === 0) {
          reject(ctx, 'list at least one of groups, ids or kinds');
        }
      }),
    connections: z
      .array(nonEmptyString)
      .default([])
      .transform((names, ctx): PolicyConfig['connections'] => {
        if (!names.includes('*')) return names;
        return names.length === 1 ? '*' : reject(ctx, '"*" already matches every connection; list it alone');
      }),
    connectionTags: z.array(nonEmptyString).default([]),
    default: actionSchema.default('allow'),
    rules: z.array(ruleSchema).default([]),
    guardrails: guardrailsSchema,
    allowedFunctions: z.array(nonEmptyString).optional(),
    limits: policyLimitsSchema,
    masking: z
      .union([
        z.enum(['on', 'off']),
        z.strictObject({
          derived: z.enum(['mask', 'deny']).optional(),
          inference: z.enum(['deny', 'allow']).optional(),
        }),
      ])
      .default('on'),
    review: reviewSchema,
    audit: z.strictObject({ failMode: z.enum(['closed', 'open']).default('closed') }).prefault({}),
    grant: grantSchema.optional(),
  })
  .superRefine((policy, ctx) => {
    if (policy.connections !== '*' && policy.connections.length === 0 && policy.connectionTags.length === 0) {
      reject(ctx, 'list connection names (or "*" for all) in connections, or tags in connectionTags', [
        'connections',
      ]);
    }
  })
  .transform(
    ({ allowedFunctions, ...policy }): PolicyConfig => ({
      ...policy,
      ...(allowedFunctions === undefined ? {} : { allowedFunctions }),
    }),
  );

/** Why a custom DLP pattern cannot be used (RE2 syntax, matches the empty string…), if it cannot. */
function customPatternProblem(pattern: string): string | undefined {
  try {
    createScanner({ detectors: {}, custom: [{ name: 'check', pattern }], hashKey: Buffer.alloc(32) });
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

const maskerSchema = z.enum(['redact', 'partial', 'hash', 'email', 'null']);
const detectorSetting = z.union([maskerSchema, z.literal(false)]).optional();

const maskingSchema = z
  .strictObject({
    detectors: z
      .strictObject({
        card: detectorSetting,
        email: detectorSetting,
        ssn: detectorSetting,
        phone: detectorSetting,
        iban: detectorSetting,
        secret: detectorSetting,
      })
      .default({}),
    custom: z
      .array(
        z
          .strictObject({ name: nameSchema, pattern: nonEmptyString, masker: maskerSchema.default('redact') })
          .superRefine((custom, ctx) => {
            const problem = customPatternProblem(custom.pattern);
            if (problem !== undefined) reject(ctx, problem, ['pattern']);
          }),
      )
      .default([]),
    scanCap: byteSize.default(8 * KIB ** 2),
    hashKey: secretRefSchema.optional(),
    columns: z
      .array(
        z.strictObject({
          column: z.string().regex(/^[^.\s]+(\.[^.\s]+){1,2}$/, {
            error: 'a column as schema.table.column or table.column (globs allowed)',
          }),
          masker: maskerSchema.default('redact'),
          policies: z.array(nameSchema).min(1).optional(),
        }),
      )
      .default([]),
    derived: z.enum(['mask', 'deny']).default('mask'),
    inference: z.enum(['deny', 'allow']).default('deny'),
  })
  .prefault({})
  .transform(
    ({ scanCap, hashKey, detectors, ...rest }): MaskingConfig => ({
      ...rest,
      detectors: Object.fromEntries(Object.entries(detectors).filter(([, setting]) => setting !== undefined)),
      scanCapBytes: scanCap,
      ...(hashKey === undefined ? {} : { hashKey }),
    }),
  );

const timeoutsSchema = z.strictObject({
  auth: duration({ zeroDisables: false }).default(10_000),
  idle: duration({ zeroDisables: true }).default(3_600_000),
  idleInTransaction: duration({ zeroDisables: true }).default(0),
  messageAssembly: duration({ zeroDisables: false }).default(30_000),
});

const limitsSchema = z
  .strictObject({
    maxQueryBytes: byteSize.default(KIB ** 2),
    maxMessageBytes: byteSize.default(64 * KIB ** 2),
    maxClientConnections: z.int().min(1).default(1000),
    maxUnauthenticated: z.int().min(1).default(256),
    maxUnauthenticatedPerAddress: z.int().min(1).default(16),
  })
  .superRefine((limits, ctx) => {
    if (limits.maxQueryBytes > limits.maxMessageBytes) {
      reject(ctx, 'cannot exceed maxMessageBytes (a query travels inside one message)', ['maxQueryBytes']);
    }
  });

// ---- identity --------------------------------------------------------------------------------

const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** Kept verbatim: it must equal the tokens' `iss` exactly, trailing slash included. */
const issuerSchema = z.string().superRefine((text, ctx) => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    reject(ctx, 'expected an https:// URL, e.g. https://idp.example.com');
    return;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    reject(ctx, 'expected an https:// URL, e.g. https://idp.example.com');
  } else if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    reject(ctx, 'an issuer has no user, password, query or fragment');
  } else if (url.protocol === 'http:' && !isLoopback(url.hostname.replace(/^\[(.*)\]$/, '$1'))) {
    reject(
      ctx,
      'http:// is only allowed for a loopback issuer (127.0.0.0/8, ::1, localhost): ' +
        'signing keys fetched over plain HTTP could be replaced in transit',
    );
  }
});

const algorithmSchema = z.string().transform((alg, ctx): OidcAlgorithm => {
  const known = OIDC_ALGORITHMS.find((candidate) => candidate === alg);
  if (known) return known;
  if (/^HS\d+$/i.test(alg) || alg.toLowerCase() === 'none') {
    return reject(
      ctx,
      'symmetric (HS*) algorithms and none are not accepted: tokens must be signed with the issuer private key',
    );
  }
  return reject(ctx, `expected one of ${OIDC_ALGORITHMS.join('|')}`);
});

const oidcIssuerSchema = z
  .strictObject({
    issuer: issuerSchema,
    audience: z.union([nonEmptyString.transform((one) => [one]), z.array(nonEmptyString).min(1)]),
    groupsClaim: z
      .string()
      .regex(/^[^.]+(\.[^.]+)*$/, {
        error: 'expected a claim name or a dotted path, e.g. groups or realm.roles',
      })
      .default('groups'),
    subjectPrefix: z.string().default(''),
    kind: z.enum(['workload', 'human', 'service']).default('workload'),
    algorithms: z
      .array(algorithmSchema)
      .min(1)
      .transform((algs) => [...new Set(algs)])
      .default([...OIDC_ALGORITHMS]),
    clockSkew: duration({ zeroDisables: true })
      .refine((ms) => ms <= MAX_CLOCK_SKEW_MS, {
        error: 'must be at most 5m: a larger skew keeps expired tokens usable',
      })
      .default(30_000),
    jwksCooldown: duration({ zeroDisables: false }).default(30_000),
  })
  .transform(
    ({ clockSkew, jwksCooldown, ...issuer }): OidcIssuerConfig => ({
      ...issuer,
      clockSkewMs: clockSkew,
      jwksCooldownMs: jwksCooldown,
    }),
  );

const identitySchema = z
  .strictObject({
    oidc: z
      .array(oidcIssuerSchema)
      .superRefine((issuers, ctx) => {
        // A token picks its issuer entry by `iss`; two entries for one issuer would be ambiguous.
        const seen = new Map<string, number>();
        issuers.forEach(({ issuer }, i) => {
          const first = seen.get(issuer);
          if (first === undefined) seen.set(issuer, i);
          else reject(ctx, `duplicate issuer (also identity.oidc[${first}])`, [i, 'issuer']);
        });
      })
      .default([]),
    revalidateEvery: duration({ zeroDisables: false }).default(60_000),
    backoff: z
      .strictObject({
        freeFailures: z.int().min(0).default(3),
        baseDelay: duration({ zeroDisables: true }).default(250),
        // Below the default 10 s authentication deadline, so a throttled answer is still 28P01.
        maxDelay: duration({ zeroDisables: true }).default(5_000),
      })
      .prefault({}),
  })
  .transform(
    ({ oidc, revalidateEvery, backoff }): IdentityConfig => ({
      oidc,
      revalidateEveryMs: revalidateEvery,
      backoff: {
        freeFailures: backoff.freeFailures,
        baseDelayMs: backoff.baseDelay,
        maxDelayMs: backoff.maxDelay,
      },
    }),
  );

/** The config format version this gateway reads; a newer file is refused rather than half-enforced. */
export const CONFIG_VERSION = 1;

/**
 * Capabilities a file can insist on with `requires`. A gateway that does not know one refuses to
 * start, so an older release never silently ignores a rule it cannot enforce.
 */
export const CONFIG_FEATURES = [
  'statement-rules',
  'guardrails',
  'allowed-functions',
  'claims',
  'connection-tags',
  'row-limits',
  'approvals',
  'access-grants',
] as const;

export const configSchema = z
  .strictObject({
    version: z
      .int()
      .min(1)
      .refine((v) => v <= CONFIG_VERSION, {
        error: `this gateway reads config version ${CONFIG_VERSION}; upgrade Sluice to use a newer file`,
      })
      .default(CONFIG_VERSION),
    requires: z
      .array(
        z.string().refine((f) => (CONFIG_FEATURES as readonly string[]).includes(f), {
          error: (issue) =>
            `this gateway cannot enforce "${String(issue.input)}" (it knows ${CONFIG_FEATURES.join(', ')}); upgrade Sluice or remove it`,
        }),
      )
      .default([]),
    listen: z
      .strictObject({
        postgres: listenerSchema.default({ address: { host: '127.0.0.1', port: 15432 }, tls: 'required' }),
      })
      .prefault({}),
    admin: z
      .strictObject({
        enabled: z.boolean().default(true),
        listen: addressSchema.default({ host: '127.0.0.1', port: 18080 }),
        group: nonEmptyString.default('sluice-admins'),
      })
      .prefault({}),
    tls: tlsSchema.prefault({}),
    store: storeSchema.default({ kind: 'pglite', dir: DEFAULT_STORE_DIR }),
    storePassword: secretRefSchema.optional(),
    vault: vaultSchema.optional(),
    dataDir: nonEmptyString.optional(),
    connections: z.array(connectionSchema),
    policies: z.array(policySchema).default([]),
    identity: identitySchema.prefault({}),
    timeouts: timeoutsSchema.prefault({}),
    limits: limitsSchema.prefault({}),
    logging: z
      .strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info') })
      .prefault({}),
    masking: maskingSchema,
    audit: z
      .strictObject({
        signingKey: secretRefSchema.optional(),
        checkpointEvery: z.int().min(1).default(1000),
        checkpointInterval: duration({ zeroDisables: false }).default(60_000),
        statements: z.boolean().default(true),
        previewRows: z.int().min(0).max(1000).default(20),
        recordings: z
          .strictObject({
            inlineMaxBytes: byteSize.default(16 * KIB),
            chunkSize: byteSize.default(KIB ** 2),
            dir: nonEmptyString.optional(),
          })
          .prefault({})
          // The default dir depends on dataDir, so it is filled in with it, below.
          .transform(({ inlineMaxBytes, chunkSize, dir }) => ({
            inlineMaxBytes,
            chunkBytes: chunkSize,
            dir,
          })),
        retention: z
          .strictObject({
            events: duration({ zeroDisables: false }).optional(),
            recordings: duration({ zeroDisables: false }).optional(),
          })
          .prefault({})
          .transform(({ events, recordings }): RetentionConfig => {
            const recordingsMs = recordings ?? events;
            return {
              ...(events === undefined ? {} : { eventsMs: events }),
              ...(recordingsMs === undefined ? {} : { recordingsMs }),
            };
          }),
        sinks: z
          .array(
            z.discriminatedUnion('type', [
              z.strictObject({
                type: z.literal('jsonl'),
                path: nonEmptyString,
                maxSize: byteSize.default(100 * KIB ** 2),
                keep: z.int().min(0).default(5),
              }),
              z.strictObject({
                type: z.literal('syslog'),
                address: addressSchema,
                format: z.enum(['rfc5424', 'cef']).default('rfc5424'),
                tls: z.boolean().default(false),
                ca: nonEmptyString.optional(),
              }),
              z.strictObject({
                type: z.literal('webhook'),
                url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
                secret: secretRefSchema,
                spoolDir: nonEmptyString.optional(),
              }),
            ]),
          )
          .default([]),
      })
      .prefault({})
      .transform(
        ({
          signingKey,
          checkpointEvery,
          checkpointInterval,
          statements,
          sinks,
          previewRows,
          recordings,
          retention,
        }) => ({
          ...(signingKey === undefined ? {} : { signingKey }),
          checkpointEvery,
          checkpointIntervalMs: checkpointInterval,
          statements,
          previewRows,
          recordings,
          retention,
          sinks: sinks.map((sink): AuditSinkConfig => {
            if (sink.type !== 'jsonl') return sink;
            const { maxSize, ...rest } = sink;
            return { ...rest, maxBytes: maxSize };
          }),
        }),
      ),
    alerts: z
      .strictObject({
        webhooks: z
          .array(
            z.strictObject({
              url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
              secret: secretRefSchema,
              events: z
                .array(z.enum(ALERT_KINDS))
                .min(1)
                .default(() => [...ALERT_KINDS]),
            }),
          )
          .default([]),
        sinkLagThreshold: z.int().min(1).default(10_000),
        repeatAfter: duration({ zeroDisables: false }).default(300_000),
        checkInterval: duration({ zeroDisables: false }).default(5000),
      })
      .prefault({})
      .transform(
        ({ repeatAfter, checkInterval, ...alerts }): AlertsConfig => ({
          ...alerts,
          repeatAfterMs: repeatAfter,
          checkIntervalMs: checkInterval,
        }),
      ),
    approvals: z
      .strictObject({
        publicUrl: z
          .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
          .transform((url) => url.replace(/\/+$/, ''))
          .optional(),
        notify: z
          .array(
            z
              .strictObject({
                url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
                format: z.enum(['json', 'slack']).default('json'),
                secret: secretRefSchema.optional(),
              })
              .superRefine((hook, ctx) => {
                if (hook.format === 'json' && hook.secret === undefined) {
                  reject(
                    ctx,
                    'json webhooks are signed: give an HMAC key (env:NAME, file:PATH or secret:NAME)',
                    ['secret'],
                  );
                }
              })
              .transform(
                ({ secret, ...hook }): WebhookConfig => ({
                  ...hook,
                  ...(secret === undefined ? {} : { secret }),
                }),
              ),
          )
          .default([]),
      })
      .prefault({}),
  })
  .transform(
    ({
      storePassword,
      dataDir,
      timeouts,
      vault,
      version: _version,
      requires: _requires,
      audit,
      ...rest
    }): SluiceConfig => {
      const resolvedDataDir = dataDir ?? (rest.store.kind === 'pglite' ? rest.store.dir : DEFAULT_STORE_DIR);
      return {
        ...rest,
        ...(vault === undefined ? {} : { vault }),
        store:
          rest.store.kind === 'postgres' && storePassword
            ? { ...rest.store, password: storePassword }
            : rest.store,
        dataDir: resolvedDataDir,
        audit: {
          ...audit,
          recordings: {
            ...audit.recordings,
            dir: audit.recordings.dir ?? join(resolvedDataDir, 'recordings'),
          },
        },
        timeouts: {
          authMs: timeouts.auth,
          idleMs: timeouts.idle,
          idleInTransactionMs: timeouts.idleInTransaction,
          messageAssemblyMs: timeouts.messageAssembly,
        },
      };
    },
  );

/**
 * Rules that span entries (unique names, references between sections). They run on the raw
 * value so they are reported together with every type error, not only once the rest is valid.
 */
export function crossCheck(raw: unknown): ConfigIssue[] {
  if (!isRecord(raw)) return [];
  const issues: ConfigIssue[] = [];
  const connectionNames = uniqueNames(raw, 'connections', issues);
  uniqueNames(raw, 'policies', issues);
  if (Array.isArray(raw.policies)) {
    raw.policies.forEach((policy, i) => {
      if (!isRecord(policy) || !Array.isArray(policy.connections)) return;
      policy.connections.forEach((name, j) => {
        if (typeof name === 'string' && name !== '*' && name !== '' && !connectionNames.has(name)) {
          issues.push({ path: ['policies', i, 'connections', j], message: `no connection named "${name}"` });
        }
      });
    });
  }
  const postgresStore = typeof raw.store === 'string' && POSTGRES_SCHEME.test(raw.store);
  if (raw.storePassword !== undefined && !postgresStore) {
    issues.push({ path: ['storePassword'], message: 'only used with a postgres:// store' });
  }
  issues.push(...vaultReferenceIssues(raw));
  return issues;
}

/**
 * `secret:` references: only where the vault can be open by then, and only with vault names.
 * The store and the master key are needed to open the vault, so neither can come from it.
 */
function vaultReferenceIssues(raw: Record<string, unknown>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const isVaultRef = (value: unknown): value is string =>
    typeof value === 'string' && value.startsWith('secret:');
  if (isVaultRef(raw.storePassword)) {
    issues.push({
      path: ['storePassword'],
      message:
        'cannot be a secret: reference: the store must open before the vault, which lives in it; use env:NAME or file:PATH',
    });
  }
  if (isRecord(raw.vault) && isVaultRef(raw.vault.masterKey)) {
    issues.push({
      path: ['vault', 'masterKey'],
      message: 'cannot be a secret: reference: the master key unlocks the vault; use env:NAME or file:PATH',
    });
  }
  if (Array.isArray(raw.connections)) {
    raw.connections.forEach((connection, i) => {
      if (!isRecord(connection) || !isVaultRef(connection.password)) return;
      if (!isSecretName(connection.password.slice('secret:'.length))) {
        issues.push({ path: ['connections', i, 'password'], message: `secret names: ${SECRET_NAME_RULE}` });
      }
    });
  }
  return issues;
}

function uniqueNames(raw: Record<string, unknown>, section: string, issues: ConfigIssue[]): Set<string> {
  const firstIndex = new Map<string, number>();
  const list = raw[section];
  if (!Array.isArray(list)) return new Set();
  list.forEach((entry, i) => {
    if (!isRecord(entry) || typeof entry.name !== 'string') return;
    const first = firstIndex.get(entry.name);
    if (first === undefined) firstIndex.set(entry.name, i);
    else
      issues.push({
        path: [section, i, 'name'],
        message: `duplicate name "${entry.name}" (also ${section}[${first}])`,
      });
  });
  return new Set(firstIndex.keys());
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
