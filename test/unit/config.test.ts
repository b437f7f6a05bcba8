import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig, type SluiceConfig } from '../../src/config/load.ts';
import { parseSecretRef, resolveSecret } from '../../src/config/secret-ref.ts';
import { GatewayError } from '../../src/core/errors.ts';
import { defaultGuardrails } from '../../src/policy/guardrails.ts';

const MINIMAL = `listen:
  postgres: 127.0.0.1:15432
admin:
  listen: 127.0.0.1:18080
tls:
  mode: auto                 # self-signed cert kept in the store dir; or cert/key paths
store: pglite://./.sluice    # or postgres://...
connections:
  - name: app
    type: postgres
    url: postgres://sluice_upstream@127.0.0.1:5432/app
    password: env:APP_DB_PASSWORD
policies:
  - name: ci-app
    subjects: { groups: [ci] }
    connections: [app]
`;

const lines = (...text: string[]) => `${text.join('\n')}\n`;

/** The problems reported for `text`, one string per line of the error. */
function problems(text: string): string[] {
  try {
    parseConfig(text, 'sluice.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).code).toBe('GW_ERR_CONFIG');
    return (error as Error).message.split('\n');
  }
  throw new Error('expected the config to be rejected');
}

/** A config with one connection `app`, plus `extra` lines appended at the top level. */
function withConnection(...extra: string[]): string {
  return lines(
    'connections:',
    '  - name: app',
    '    type: postgres',
    '    url: postgres://u@db:5432/app',
    ...extra,
  );
}

describe('parseConfig: valid files', () => {
  it('loads the minimal file with every default filled in', () => {
    const expected: SluiceConfig = {
      listen: { postgres: { address: { host: '127.0.0.1', port: 15432 }, tls: 'required' } },
      admin: { enabled: true, listen: { host: '127.0.0.1', port: 18080 }, group: 'sluice-admins' },
      tls: { mode: 'auto' },
      store: { kind: 'pglite', dir: './.sluice' },
      dataDir: './.sluice',
      connections: [
        {
          name: 'app',
          type: 'postgres',
          target: { host: '127.0.0.1', port: 5432, user: 'sluice_upstream', database: 'app' },
          password: { kind: 'env', name: 'APP_DB_PASSWORD' },
          tls: { mode: 'disable' },
          auth: { require: 'any' },
          tags: [],
        },
      ],
      policies: [
        {
          name: 'ci-app',
          subjects: { groups: ['ci'], ids: [], kinds: [], claims: {} },
          connections: ['app'],
          connectionTags: [],
          default: 'allow',
          rules: [],
          guardrails: defaultGuardrails(),
          limits: {},
          masking: 'on',
          review: {
            mode: 'hold',
            timeoutMs: 600_000,
            grantWindowMs: 900_000,
            approvers: { groups: [], count: 1 },
          },
          audit: { failMode: 'closed' },
        },
      ],
      identity: {
        oidc: [],
        revalidateEveryMs: 60_000,
        backoff: { freeFailures: 3, baseDelayMs: 250, maxDelayMs: 5000 },
      },
      timeouts: { authMs: 10_000, idleMs: 3_600_000, idleInTransactionMs: 0, messageAssemblyMs: 30_000 },
      limits: {
        maxQueryBytes: 1024 * 1024,
        maxMessageBytes: 64 * 1024 * 1024,
        maxClientConnections: 1000,
        maxUnauthenticated: 256,
        maxUnauthenticatedPerAddress: 16,
      },
      logging: { level: 'info' },
      approvals: { notify: [] },
      alerts: { webhooks: [], sinkLagThreshold: 10_000, repeatAfterMs: 300_000, checkIntervalMs: 5000 },
      audit: {
        checkpointEvery: 1000,
        checkpointIntervalMs: 60_000,
        statements: true,
        sinks: [],
        previewRows: 20,
        recordings: { inlineMaxBytes: 16 * 1024, chunkBytes: 1024 * 1024, dir: '.sluice/recordings' },
        retention: {},
      },
      masking: {
        detectors: {},
        custom: [],
        scanCapBytes: 8 * 1024 * 1024,
        columns: [],
        derived: 'mask',
        inference: 'deny',
      },
    };
    expect(parseConfig(MINIMAL, 'sluice.yaml')).toEqual(expected);
  });

  it('reads recording files and retention settings; recordings are kept as long as events unless told', () => {
    const config = parseConfig(
      lines(
        'connections: []',
        'audit:',
        '  recordings: { inlineMaxBytes: 4KiB, chunkSize: 64KiB, dir: /var/lib/sluice/rec }',
        '  retention: { events: 90d }',
      ),
      'sluice.yaml',
    );
    expect(config.audit.recordings).toEqual({
      inlineMaxBytes: 4096,
      chunkBytes: 65_536,
      dir: '/var/lib/sluice/rec',
    });
    expect(config.audit.retention).toEqual({ eventsMs: 90 * 86_400_000, recordingsMs: 90 * 86_400_000 });
    const shorter = parseConfig(
      lines('connections: []', 'audit:', '  retention: { events: 365d, recordings: 30d }'),
      'sluice.yaml',
    );
    expect(shorter.audit.retention).toEqual({ eventsMs: 365 * 86_400_000, recordingsMs: 30 * 86_400_000 });
  });

  it('needs nothing but the connections list', () => {
    const config = parseConfig('connections: []\n', 'sluice.yaml');
    expect(config.listen.postgres).toEqual({ address: { host: '127.0.0.1', port: 15432 }, tls: 'required' });
    expect(config.policies).toEqual([]);
  });

  it('loads a fuller file', () => {
    const config = parseConfig(
      lines(
        'listen:',
        '  postgres: { address: "[::1]:15432", tls: off }',
        'admin: { enabled: false, listen: "0.0.0.0:9090" }',
        'tls: { mode: files, cert: /etc/sluice/tls.crt, key: /etc/sluice/tls.key }',
        'store: postgres://sluice@store.internal/sluice',
        'storePassword: file:/run/secrets/store',
        'connections:',
        '  - name: orders_db',
        '    type: postgres',
        '    url: postgresql://svc%40x@[fd00::5]:6432/orders',
        '    password: secret:orders',
        '    tls: { mode: verify-full, ca: /etc/ca.pem, serverName: orders.internal }',
        '    auth: { require: scram-sha-256 }',
        '    tags: [prod, pii]',
        'policies:',
        '  - name: humans',
        '    subjects: { kinds: [human], ids: ["oidc:https://idp#alice"] }',
        '    connections: ["*"]',
        'timeouts: { auth: 5s, idle: 0, idleInTransaction: 2m, messageAssembly: 1500ms }',
        'limits: { maxQueryBytes: 512KiB, maxMessageBytes: 16MiB, maxClientConnections: 50 }',
        'logging: { level: debug }',
      ),
      'sluice.yaml',
    );
    expect(config).toMatchObject({
      listen: { postgres: { address: { host: '::1', port: 15432 }, tls: 'off' } },
      admin: { enabled: false, listen: { host: '0.0.0.0', port: 9090 } },
      tls: { mode: 'files', cert: '/etc/sluice/tls.crt', key: '/etc/sluice/tls.key' },
      store: {
        kind: 'postgres',
        target: { host: 'store.internal', port: 5432, user: 'sluice', database: 'sluice' },
        password: { kind: 'file', name: '/run/secrets/store' },
      },
      dataDir: './.sluice',
      policies: [{ name: 'humans', subjects: { groups: [], kinds: ['human'] }, connections: '*' }],
      timeouts: { authMs: 5000, idleMs: 0, idleInTransactionMs: 120_000, messageAssemblyMs: 1500 },
      limits: { maxQueryBytes: 512 * 1024, maxMessageBytes: 16 * 1024 * 1024, maxClientConnections: 50 },
      logging: { level: 'debug' },
    });
    expect(config.connections[0]).toEqual({
      name: 'orders_db',
      type: 'postgres',
      target: { host: 'fd00::5', port: 6432, user: 'svc@x', database: 'orders' },
      password: { kind: 'secret', name: 'orders' },
      tls: { mode: 'verify-full', ca: '/etc/ca.pem', serverName: 'orders.internal' },
      auth: { require: 'scram-sha-256' },
      tags: ['prod', 'pii'],
    });
  });

  it('puts generated state in the pglite dir unless dataDir says otherwise', () => {
    expect(parseConfig('store: pglite:///var/lib/sluice\nconnections: []\n', 's.yaml').dataDir).toBe(
      '/var/lib/sluice',
    );
    expect(parseConfig('dataDir: /data\nconnections: []\n', 's.yaml').dataDir).toBe('/data');
  });

  it.each(['127.0.0.1', '127.8.9.10', 'localhost', '[::1]'])('accepts tls: off on loopback %s', (host) => {
    const config = parseConfig(
      `listen: { postgres: { address: "${host}:5432", tls: off } }\nconnections: []\n`,
      's',
    );
    expect(config.listen.postgres.tls).toBe('off');
  });
});

describe('parseConfig: every problem with its path and position', () => {
  it('reports an unknown key at the top level and nested, pointing at the key', () => {
    expect(problems(lines('connections: []', 'listn: {}', 'admin:', '  enabled: true', '  port: 1'))).toEqual(
      ['sluice.yaml:2:1 listn: unknown key', 'sluice.yaml:5:3 admin.port: unknown key'],
    );
    expect(problems(withConnection('    passwd: env:X'))).toEqual([
      'sluice.yaml:5:5 connections[0].passwd: unknown key',
    ]);
  });

  it('reports all problems at once, in file order', () => {
    expect(
      problems(
        lines('logging: { level: loud }', 'connections: [{ name: app }]', 'limits: { maxQueryBytes: -1 }'),
      ),
    ).toEqual([
      'sluice.yaml:1:19 logging.level: expected one of trace|debug|info|warn|error|fatal',
      'sluice.yaml:2:15 connections[0].type: required',
      'sluice.yaml:2:15 connections[0].url: required',
      'sluice.yaml:3:26 limits.maxQueryBytes: expected a positive size in bytes: an integer, or a number with B, KiB, MiB or GiB (e.g. 512KiB)',
    ]);
  });

  it('requires connections and a mapping at the top', () => {
    expect(problems('admin: {}\n')).toEqual(['sluice.yaml:1:1 connections: required']);
    expect(problems('')).toEqual(['sluice.yaml:1:1 (top level): expected mapping, got null']);
    expect(problems('- a\n')).toEqual(['sluice.yaml:1:1 (top level): expected mapping, got list']);
  });

  it('reports YAML syntax errors with their position', () => {
    const [first] = problems('connections: [\n');
    expect(first).toMatch(/^sluice\.yaml:\d+:\d+ /);
    expect(problems('connections: []\nconnections: []\n')[0]).toMatch(
      /^sluice\.yaml:2:1 Map keys must be unique/,
    );
  });

  describe('listen and admin', () => {
    it('rejects a malformed address', () => {
      expect(problems(lines('connections: []', 'listen:', '  postgres: 15432'))).toEqual([
        'sluice.yaml:3:13 listen.postgres: expected host:port, or a mapping with address and tls',
      ]);
      expect(problems(lines('connections: []', 'listen: { postgres: "localhost" }'))).toEqual([
        'sluice.yaml:2:21 listen.postgres: expected host:port, e.g. 127.0.0.1:15432 or [::1]:15432',
      ]);
      expect(problems(lines('connections: []', 'listen: { postgres: { address: "::1:80" } }'))).toEqual([
        'sluice.yaml:2:32 listen.postgres.address: expected host:port, e.g. 127.0.0.1:15432 or [::1]:15432',
      ]);
      expect(problems(lines('connections: []', 'admin: { listen: "h:70000" }'))).toEqual([
        'sluice.yaml:2:18 admin.listen: expected host:port, e.g. 127.0.0.1:15432 or [::1]:15432',
      ]);
    });

    it('rejects tls: off on a non-loopback address, saying why', () => {
      const [problem] = problems(
        lines('connections: []', 'listen:', '  postgres: { address: 0.0.0.0:15432, tls: off }'),
      );
      expect(problem).toMatch(
        /^sluice\.yaml:3:44 listen\.postgres\.tls: off is only allowed on a loopback address/,
      );
      expect(problem).toContain('plaintext');
    });

    it('rejects an unknown listener tls value and a wrongly typed listener', () => {
      expect(
        problems(lines('connections: []', 'listen: { postgres: { address: "127.0.0.1:1", tls: maybe } }')),
      ).toEqual(['sluice.yaml:2:52 listen.postgres.tls: expected one of required|off']);
      expect(problems(lines('connections: []', 'listen: { postgres: [] }'))).toEqual([
        'sluice.yaml:2:21 listen.postgres: expected host:port, or a mapping with address and tls',
      ]);
    });

    it('rejects a non-boolean admin.enabled', () => {
      expect(problems(lines('connections: []', 'admin: { enabled: yes }'))).toEqual([
        'sluice.yaml:2:19 admin.enabled: expected boolean, got string',
      ]);
    });
  });

  describe('tls, store and dataDir', () => {
    it('requires cert and key with mode: files, and only then', () => {
      expect(problems(lines('connections: []', 'tls:', '  mode: files', '  cert: a.pem'))).toEqual([
        'sluice.yaml:3:3 tls.key: required with mode: files',
      ]);
      expect(problems(lines('connections: []', 'tls:', '  cert: a.pem'))).toEqual([
        'sluice.yaml:3:9 tls.cert: only used with mode: files',
      ]);
      expect(problems(lines('connections: []', 'tls: { mode: acme }'))).toEqual([
        'sluice.yaml:2:14 tls.mode: expected one of auto|files',
      ]);
    });

    it('rejects an unknown store scheme and an inline store password without echoing it', () => {
      expect(problems(lines('connections: []', 'store: mysql://x'))).toEqual([
        'sluice.yaml:2:8 store: expected pglite://DIR or postgres://user@host:port/database',
      ]);
      const found = problems(lines('connections: []', 'store: postgres://sluice:S3cr3tStore@db/sluice'));
      expect(found).toEqual([
        'sluice.yaml:2:8 store: the url must not contain a password: put a secret reference (e.g. env:NAME) in storePassword',
      ]);
      expect(found.join('\n')).not.toContain('S3cr3tStore');
    });

    it('accepts storePassword only with a postgres store', () => {
      expect(problems(lines('connections: []', 'storePassword: env:STORE_PW'))).toEqual([
        'sluice.yaml:2:16 storePassword: only used with a postgres:// store',
      ]);
    });

    it('rejects an empty dataDir', () => {
      expect(problems(lines('connections: []', 'dataDir: ""'))).toEqual([
        'sluice.yaml:2:10 dataDir: must not be empty',
      ]);
    });
  });

  describe('connections', () => {
    it('checks the name format and uniqueness', () => {
      expect(
        problems(withConnection('  - name: Bad!', '    type: postgres', '    url: postgres://u@h/d')),
      ).toEqual([
        'sluice.yaml:5:11 connections[1].name: use a-z, 0-9, _ and -, start with a letter or digit, at most 63 characters',
      ]);
      expect(
        problems(withConnection('  - name: app', '    type: postgres', '    url: postgres://u@h/d')),
      ).toEqual(['sluice.yaml:5:11 connections[1].name: duplicate name "app" (also connections[0])']);
    });

    it('accepts only type postgres', () => {
      expect(
        problems(lines('connections:', '  - { name: a, type: mysql, url: "postgres://u@h/d" }')),
      ).toEqual(['sluice.yaml:2:22 connections[0].type: expected postgres']);
    });

    it('rejects a password in the url, pointing at the password key, without echoing it', () => {
      const found = problems(
        lines('connections:', '  - name: app', '    type: postgres', '    url: postgres://u:Hunter2Pw@h/app'),
      );
      expect(found).toEqual([
        'sluice.yaml:4:10 connections[0].url: the url must not contain a password: put a secret reference (e.g. env:NAME) in password',
      ]);
      expect(found.join('\n')).not.toContain('Hunter2Pw');
    });

    it('rejects query parameters and urls without user or database', () => {
      const url = (value: string) =>
        problems(lines('connections:', '  - name: app', '    type: postgres', `    url: ${value}`));
      expect(url('postgres://u@h/app?sslmode=disable')).toEqual([
        'sluice.yaml:4:10 connections[0].url: the url must not have query parameters or a fragment; use the dedicated keys instead',
      ]);
      for (const bad of [
        'postgres://h/app',
        'postgres://u%ZZ@h/app',
        'postgres://u@h',
        'postgres://u@h/',
        'http://u@h/app',
        'not a url',
      ]) {
        expect(url(bad)).toEqual([
          'sluice.yaml:4:10 connections[0].url: expected postgres://user@host:port/database',
        ]);
      }
    });

    it('rejects a plain-string password without echoing the value', () => {
      const found = problems(withConnection('    password: correct-horse-battery'));
      expect(found).toEqual([
        'sluice.yaml:5:15 connections[0].password: must be a secret reference (env:NAME, file:PATH or secret:NAME); inline secrets are not accepted',
      ]);
      expect(found.join('\n')).not.toContain('correct-horse');
      expect(problems(withConnection('    password: "env:not valid"'))[0]).toContain(
        'connections[0].password: must be a secret reference',
      );
    });

    it('checks upstream tls and auth settings', () => {
      expect(
        problems(
          lines(
            'connections:',
            '  - name: app',
            '    type: postgres',
            '    url: postgres://u@h/d',
            '    tls:',
            '      mode: verify',
          ),
        ),
      ).toEqual(['sluice.yaml:6:13 connections[0].tls.mode: expected one of disable|require|verify-full']);
      expect(problems(withConnection('    tls: { mode: require, ca: ca.pem }'))).toEqual([
        'sluice.yaml:5:31 connections[0].tls.ca: only used with mode: verify-full',
      ]);
      expect(problems(withConnection('    auth: { require: md5 }'))).toEqual([
        'sluice.yaml:5:22 connections[0].auth.require: expected one of any|scram-sha-256',
      ]);
      expect(problems(withConnection('    tags: [ok, 3]'))).toEqual([
        'sluice.yaml:5:16 connections[0].tags[1]: expected string, got number',
      ]);
    });
  });

  describe('policies', () => {
    it('requires a subject and existing connections', () => {
      expect(
        problems(
          withConnection(
            'policies:',
            '  - name: p',
            '    subjects: { groups: [] }',
            '    connections: [app, missing]',
          ),
        ),
      ).toEqual([
        'sluice.yaml:7:15 policies[0].subjects: list at least one of groups, ids or kinds',
        'sluice.yaml:8:24 policies[0].connections[1]: no connection named "missing"',
      ]);
    });

    it('checks names, kinds and the "*" wildcard', () => {
      const policy = (...body: string[]) => problems(withConnection('policies:', ...body));
      expect(
        policy(
          '  - { name: p, subjects: { kinds: [robot] }, connections: [app] }',
          '  - { name: p, subjects: { ids: [x] }, connections: ["*", app] }',
        ),
      ).toEqual([
        'sluice.yaml:6:36 policies[0].subjects.kinds[0]: expected one of workload|human|service',
        'sluice.yaml:7:13 policies[1].name: duplicate name "p" (also policies[0])',
        'sluice.yaml:7:53 policies[1].connections: "*" already matches every connection; list it alone',
      ]);
      expect(policy('  - { name: p, subjects: { ids: [x] }, connections: [] }')).toEqual([
        'sluice.yaml:6:53 policies[0].connections: list connection names (or "*" for all) in connections, or tags in connectionTags',
      ]);
    });

    it('reads statement rules, guardrails and limits, and rejects what it cannot enforce', () => {
      const config = parseConfig(
        lines(
          MINIMAL.trimEnd(),
          '    default: deny',
          '    connectionTags: [prod]',
          '    rules:',
          '      - { name: reads, action: allow, effects: [read], tables: ["public.*"] }',
          '      - { action: review, kinds: [IndexStmt], reason: indexes need a DBA }',
          '    guardrails:',
          '      destructiveDdl: review',
          '      sideEffectFunctions: { except: [pg_sleep] }',
          '    allowedFunctions: [count, now]',
          '    limits: { rowsPerStatement: 100, bytesPerSession: 1MiB, rowsPerMinute: 100 }',
        ),
        'sluice.yaml',
      );
      const [policy] = config.policies;
      expect(policy).toMatchObject({
        default: 'deny',
        connectionTags: ['prod'],
        rules: [
          { name: 'reads', action: 'allow', effects: ['read'], tables: ['public.*'] },
          { action: 'review', kinds: ['IndexStmt'], reason: 'indexes need a DBA' },
        ],
        allowedFunctions: ['count', 'now'],
        limits: { rowsPerStatement: 100, bytesPerSession: 1024 * 1024, rowsPerMinute: 100 },
      });
      expect(policy?.guardrails.destructiveDdl).toEqual({ action: 'review', except: [] });
      expect(policy?.guardrails.sideEffectFunctions).toEqual({ action: 'deny', except: ['pg_sleep'] });
      expect(policy?.guardrails.doBlocks).toEqual({ action: 'deny', except: [] });

      const bad = (...extra: string[]) => problems(lines(MINIMAL.trimEnd(), ...extra));
      expect(bad('    guardrails: { doBlocks: { action: allow, except: [x] }, nope: allow }')).toEqual([
        expect.stringContaining('policies[0].guardrails.doBlocks.except: doBlocks takes no "except" list'),
        expect.stringContaining('policies[0].guardrails.nope: unknown key'),
      ]);
      expect(bad('    rules: [{ action: maybe, effects: [everything] }]')).toEqual([
        expect.stringContaining('policies[0].rules[0].action: expected one of allow|review|deny'),
        expect.stringContaining('policies[0].rules[0].effects[0]: expected one of read|write'),
      ]);
    });

    it('reads masking settings, and refuses a custom pattern that cannot be used', () => {
      const config = parseConfig(
        lines(
          MINIMAL.trimEnd(),
          '    masking: off',
          'masking:',
          '  detectors: { phone: false, card: hash }',
          '  custom: [{ name: employee-id, pattern: "EMP-[0-9]{6}" }]',
          '  scanCap: 1MiB',
          '  hashKey: env:SLUICE_HASH_KEY',
          '  columns: [{ column: public.customers.ssn, masker: partial, policies: [ci-app] }, { column: customers.email }]',
          '  inference: allow',
        ),
        'sluice.yaml',
      );
      expect(config.policies[0]?.masking).toBe('off');
      expect(config.masking).toEqual({
        detectors: { phone: false, card: 'hash' },
        custom: [{ name: 'employee-id', pattern: 'EMP-[0-9]{6}', masker: 'redact' }],
        scanCapBytes: 1024 * 1024,
        hashKey: { kind: 'env', name: 'SLUICE_HASH_KEY' },
        columns: [
          { column: 'public.customers.ssn', masker: 'partial', policies: ['ci-app'] },
          { column: 'customers.email', masker: 'redact' },
        ],
        derived: 'mask',
        inference: 'allow',
      });
      expect(problems(lines(MINIMAL.trimEnd(), 'masking: { columns: [{ column: ssn }] }'))).toEqual([
        expect.stringContaining('masking.columns[0].column: a column as schema.table.column or table.column'),
      ]);
      expect(
        problems(lines(MINIMAL.trimEnd(), 'masking: { custom: [{ name: bad, pattern: "(a" }] }')),
      ).toEqual([expect.stringMatching(/masking\.custom\[0\]\.pattern: .*does not compile/)]);
      expect(
        problems(lines(MINIMAL.trimEnd(), 'masking: { custom: [{ name: empty, pattern: "x*" }] }')),
      ).toEqual([expect.stringMatching(/masking\.custom\[0\]\.pattern: .*empty/)]);
      expect(problems(lines(MINIMAL.trimEnd(), 'masking: { detectors: { cards: partial } }'))).toEqual([
        expect.stringContaining('masking.detectors.cards: unknown key'),
      ]);
    });

    it('refuses a newer config version or a feature this gateway cannot enforce', () => {
      expect(problems(lines('version: 2', MINIMAL))).toEqual([
        expect.stringContaining('version: this gateway reads config version 1; upgrade Sluice'),
      ]);
      expect(problems(lines('version: 1', 'requires: [row-limits, masking]', MINIMAL))).toEqual([
        expect.stringContaining('requires[1]: this gateway cannot enforce "masking"'),
      ]);
      expect(
        parseConfig(lines('version: 1', 'requires: [guardrails, row-limits]', MINIMAL), 'x.yaml').policies,
      ).toHaveLength(1);
    });
  });

  describe('timeouts, limits and logging', () => {
    it('parses durations and rejects bad ones', () => {
      expect(
        problems(lines('connections: []', 'timeouts:', '  auth: 0', '  idle: 60', '  messageAssembly: soon')),
      ).toEqual([
        'sluice.yaml:3:9 timeouts.auth: must be greater than 0',
        'sluice.yaml:4:9 timeouts.idle: expected a duration such as 30s, 5m or 1h, or 0 to disable, got number (a bare number has no unit)',
        'sluice.yaml:5:20 timeouts.messageAssembly: expected a duration such as 500ms, 10s or 1m, got string',
      ]);
    });

    it('parses sizes and checks the limits against each other', () => {
      const config = parseConfig(
        lines('connections: []', 'limits: { maxQueryBytes: 4096, maxMessageBytes: 1GiB }'),
        's',
      );
      expect(config.limits).toMatchObject({ maxQueryBytes: 4096, maxMessageBytes: 1024 ** 3 });
      expect(
        problems(lines('connections: []', 'limits: { maxQueryBytes: 2MiB, maxMessageBytes: 1MiB }')),
      ).toEqual([
        'sluice.yaml:2:26 limits.maxQueryBytes: cannot exceed maxMessageBytes (a query travels inside one message)',
      ]);
      expect(
        problems(lines('connections: []', 'limits: { maxMessageBytes: 1MB, maxClientConnections: 0.5 }')),
      ).toEqual([
        'sluice.yaml:2:28 limits.maxMessageBytes: expected a positive size in bytes: an integer, or a number with B, KiB, MiB or GiB (e.g. 512KiB)',
        'sluice.yaml:2:55 limits.maxClientConnections: expected a whole number',
      ]);
    });

    it('checks the log level', () => {
      expect(problems(lines('connections: []', 'logging:', '  level: verbose'))).toEqual([
        'sluice.yaml:3:10 logging.level: expected one of trace|debug|info|warn|error|fatal',
      ]);
    });
  });
});

describe('loadConfigFile', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-config-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads a file when its env: secrets are set, without reading their values', async () => {
    const path = join(dir, 'sluice.yaml');
    await writeFile(path, MINIMAL);
    const config = await loadConfigFile(path, { APP_DB_PASSWORD: 'x' });
    expect(config.connections[0]?.password).toEqual({ kind: 'env', name: 'APP_DB_PASSWORD' });
  });

  it('names an unset env: secret with its position, and the file it read', async () => {
    const path = join(dir, 'sluice.yaml');
    await writeFile(path, MINIMAL);
    await expect(loadConfigFile(path, {})).rejects.toThrow(
      `${path}:12:15 connections[0].password: environment variable APP_DB_PASSWORD is not set or empty`,
    );
  });

  it('says when the file cannot be read', async () => {
    await expect(loadConfigFile(join(dir, 'nope.yaml'), {})).rejects.toThrow(
      /nope\.yaml: cannot read the config file \(ENOENT\)/,
    );
  });
});

describe('secret references', () => {
  it('parses env:, file: and secret: and nothing else', () => {
    expect(parseSecretRef('env:APP_DB_PASSWORD')).toEqual({ kind: 'env', name: 'APP_DB_PASSWORD' });
    expect(parseSecretRef('file:/run/secrets/db')).toEqual({ kind: 'file', name: '/run/secrets/db' });
    expect(parseSecretRef('secret:orders-db')).toEqual({ kind: 'secret', name: 'orders-db' });
    for (const text of ['hunter2', 'env:', 'env:1X', 'file:', 'secret:a b', 'vault:x', 'ENV:X']) {
      expect(parseSecretRef(text)).toBeUndefined();
    }
  });

  it('resolves env: and names a missing variable', async () => {
    expect(await resolveSecret({ kind: 'env', name: 'PW' }, { env: { PW: 'value-1' } })).toBe('value-1');
    await expect(resolveSecret({ kind: 'env', name: 'PW' }, { env: {} })).rejects.toThrow(
      'env:PW: environment variable PW is not set',
    );
    await expect(resolveSecret({ kind: 'env', name: 'PW' }, { env: { PW: '' } })).rejects.toThrow(
      'env:PW is empty',
    );
  });

  it('reads file: fresh on each call, trimming the trailing newline', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-secret-'));
    try {
      const path = join(dir, 'pw');
      await writeFile(path, 'first\n');
      const ref = { kind: 'file', name: path } as const;
      expect(await resolveSecret(ref)).toBe('first');
      await writeFile(path, 'rotated');
      expect(await resolveSecret(ref)).toBe('rotated');
      await rm(path);
      await expect(resolveSecret(ref)).rejects.toThrow(`file:${path}: cannot read the file (ENOENT)`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('never puts the value in an error', async () => {
    const readFile = async () => {
      throw new SyntaxError('unexpected token in "TopSecretValue"');
    };
    const error = await resolveSecret({ kind: 'file', name: '/x' }, { readFile }).catch((e: unknown) => e);
    expect(String(error)).not.toContain('TopSecretValue');
  });

  it('uses the vault for secret:, and says when there is none', async () => {
    const vault = { get: async (name: string) => `v-${name}` };
    expect(await resolveSecret({ kind: 'secret', name: 'db' }, { vault })).toBe('v-db');
    await expect(resolveSecret({ kind: 'secret', name: 'db' })).rejects.toThrow(
      'secret:db needs the vault (not available yet)',
    );
  });
});
