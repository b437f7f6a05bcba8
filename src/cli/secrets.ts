/**
 * @module cli/secrets
 * `sluice secrets set|rotate|list`: upstream credentials in the encrypted vault. Values are read
 * from stdin (a pipe, or typed with echo off on a terminal) and never printed, not even by `list`.
 * The master key comes from `--master-key-file`, else `vault.masterKey` of `--config`, else
 * `$SLUICE_MASTER_KEY`.
 */
import type { Command } from 'commander';
import { recordNow } from '../audit/events.ts';
import { loadConfigFile } from '../config/load.ts';
import type { Store } from '../store/store.ts';
import {
  assertSecretName,
  MASTER_KEY_ENV,
  MAX_SECRET_BYTES,
  type MasterKey,
  masterKeyFromRef,
  openVault,
  resolveMasterKey,
  type SecretInfo,
  type Vault,
  VaultError,
} from '../vault/index.ts';
import { operator } from './operator.ts';
import { addStoreOptions, openStoreFromOptions, type StoreOptions } from './store-option.ts';
import { printTable } from './table.ts';

interface SecretsOptions extends StoreOptions {
  masterKeyFile?: string;
  json?: boolean;
}

export function registerSecretsCommands(program: Command): void {
  const secrets = program
    .command('secrets')
    .description('manage upstream credentials in the encrypted vault (referenced as password: secret:NAME)');

  addVaultOptions(
    secrets
      .command('set')
      .description('create a secret from a value read on stdin (never echoed)')
      .argument('<name>', 'a-z 0-9 _ . -, starting with a letter or digit, at most 63 characters'),
  ).action((name: string, opts: SecretsOptions) =>
    withVault(opts, name, async (vault, store) => {
      const version = await vault.set(name, await readValue(name));
      await recordNow(store.audit, { type: 'secret.set', actor: operator(), name, version });
      report(opts, { name, version, keyId: vault.keyId }, `secret "${name}" set: version ${version}`);
    }),
  );

  addVaultOptions(
    secrets
      .command('rotate')
      .description('give a secret a new value read on stdin; new upstream connections use it at once')
      .argument('<name>'),
  ).action((name: string, opts: SecretsOptions) =>
    withVault(opts, name, async (vault, store) => {
      const version = await vault.rotate(name, await readValue(name));
      await recordNow(store.audit, { type: 'secret.rotated', actor: operator(), name, version });
      report(opts, { name, version, keyId: vault.keyId }, `secret "${name}" rotated to version ${version}`);
    }),
  );

  addVaultOptions(
    secrets.command('list').description('list secrets: names, versions, dates, key id (never values)'),
  ).action((opts: SecretsOptions) =>
    withVault(opts, undefined, async (vault) => {
      const listed = await vault.list();
      if (opts.json) {
        console.log(JSON.stringify(listed.map(publicView)));
        return;
      }
      if (listed.length === 0) {
        console.log('no secrets');
        return;
      }
      printTable(
        ['NAME', 'VERSIONS', 'LATEST', 'CREATED', 'UPDATED', 'KEY ID'],
        listed.map((s) => [
          s.name,
          String(s.versions),
          String(s.latestVersion),
          formatDate(s.createdAt),
          formatDate(s.updatedAt),
          s.keyId,
        ]),
      );
    }),
  );
}

function addVaultOptions(cmd: Command): Command {
  return addStoreOptions(cmd)
    .option('--master-key-file <path>', `file holding the vault master key (default: $${MASTER_KEY_ENV})`)
    .option('--json', 'print JSON');
}

/** Only what `list` may show; spelled out so a field added to SecretInfo is not printed by accident. */
function publicView(secret: SecretInfo) {
  const { name, versions, latestVersion, createdAt, updatedAt, keyId } = secret;
  return { name, versions, latestVersion, createdAt, updatedAt, keyId };
}

function report(
  opts: SecretsOptions,
  result: { name: string; version: number; keyId: string },
  text: string,
) {
  if (opts.json) console.log(JSON.stringify(result));
  else console.log(`${text} (master key id ${result.keyId})`);
  if (!opts.json && result.version > 1) {
    console.log('New upstream connections use it now; older versions are kept for audit, never used.');
  }
}

async function masterKeyFromOptions(opts: SecretsOptions, env: NodeJS.ProcessEnv): Promise<MasterKey> {
  if (opts.masterKeyFile !== undefined)
    return masterKeyFromRef({ kind: 'file', name: opts.masterKeyFile }, env);
  if (opts.config !== undefined) {
    const configured = (await loadConfigFile(opts.config, env)).vault?.masterKey;
    if (configured) return masterKeyFromRef(configured, env);
  }
  const found = await resolveMasterKey(undefined, env);
  if (!found) {
    throw new VaultError(
      'no_master_key',
      `no vault master key: pass --master-key-file PATH or set ${MASTER_KEY_ENV} (32 bytes, base64 or hex)`,
    );
  }
  return found;
}

/** Runs `work` on the vault; `name` (when the command takes one) is checked before anything else. */
async function withVault(
  opts: SecretsOptions,
  name: string | undefined,
  work: (vault: Vault, store: Store) => Promise<void>,
): Promise<void> {
  if (name !== undefined) assertSecretName(name);
  // Then the key: a missing or malformed key should not wait for the store to boot.
  const master = await masterKeyFromOptions(opts, process.env);
  let store: Store | undefined;
  try {
    store = await openStoreFromOptions(opts);
    await work(await openVault(store, master.key, { source: master.source }), store);
  } finally {
    master.key.fill(0);
    await store?.close();
  }
}

/** The value from stdin: a pipe minus one trailing line ending, or typed on a terminal with echo off. */
async function readValue(name: string): Promise<string> {
  const value = process.stdin.isTTY
    ? await readHidden(`value for secret "${name}" (not echoed): `)
    : await readPiped();
  if (value === '') {
    throw new VaultError(
      'invalid_value',
      `no value for secret "${name}" on stdin; pipe it in, e.g. printf '%s' "$VALUE" | sluice secrets set ${name}`,
    );
  }
  return value;
}

async function readPiped(): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    total += chunk.length;
    // Room for the value plus a CRLF; anything longer is refused without reading it all.
    if (total > MAX_SECRET_BYTES + 2) {
      throw new VaultError('invalid_value', `the value on stdin is longer than ${MAX_SECRET_BYTES} bytes`);
    }
  }
  const bytes = Buffer.concat(chunks);
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/\r?\n$/, '');
  bytes.fill(0);
  for (const chunk of chunks) chunk.fill(0);
  return text;
}

function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let typed: string[] = [];
    const finish = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: string): void => {
      for (const character of chunk) {
        if (character === '\r' || character === '\n' || character === '\u0004') {
          finish();
          resolve(typed.join(''));
          return;
        }
        if (character === '\u0003') {
          finish();
          reject(new Error('cancelled'));
          return;
        }
        if (character === '\u007f' || character === '\b') typed = typed.slice(0, -1);
        else typed.push(character);
      }
    };
    stdin.on('data', onData);
  });
}

function formatDate(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
