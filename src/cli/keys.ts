/**
 * @module cli/keys
 * `sluice keys create|list|revoke`: API keys for agents, CI jobs and services. The plaintext key is
 * printed once, by `create`; nothing can show it again.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { keyCreatedEvent, keyRevokedEvent, recordNow } from '../audit/events.ts';
import { parseDuration } from '../core/duration.ts';
import { createApiKey } from '../identity/api-keys.ts';
import type { ApiKeyRecord } from '../store/store.ts';
import { operator } from './operator.ts';
import { addStoreOptions, type StoreOptions, withStore } from './store-option.ts';
import { printFields, printTable } from './table.ts';

interface CreateOptions extends StoreOptions {
  name: string;
  groups: string[];
  expires?: number;
  json?: boolean;
}

interface OutputOptions extends StoreOptions {
  json?: boolean;
}

export function registerKeysCommands(program: Command): void {
  const keys = program
    .command('keys')
    .description('manage API keys (credentials for agents, CI jobs, services)');

  addStoreOptions(
    keys
      .command('create')
      .description('create an API key and print it (shown only this once)')
      .requiredOption('--name <name>', 'unique among active keys; 1-64 of A-Z a-z 0-9 . _ -')
      .requiredOption('--groups <list>', 'comma-separated groups, matched by policies', parseList)
      .option('--expires <duration>', 'lifetime such as 12h or 30d (default: never)', parseLifetime)
      .option('--json', 'print one JSON object'),
  ).action((opts: CreateOptions) =>
    withStore(opts, async (store) => {
      const { record, key } = await createApiKey(store, {
        name: opts.name,
        groups: opts.groups,
        expiresInMs: opts.expires,
      });
      await recordNow(store.audit, keyCreatedEvent(operator(), record));
      if (opts.json) {
        const { id, name, prefix, groups, createdAt, expiresAt } = record;
        console.log(JSON.stringify({ id, name, key, prefix, groups, createdAt, expiresAt }));
        return;
      }
      console.log(key);
      console.log();
      printFields([
        ['id', record.id],
        ['name', record.name],
        ['groups', record.groups.join(',')],
        ['expires', formatDate(record.expiresAt, 'never')],
      ]);
      console.log();
      console.log('This key will not be shown again: store it now (Sluice keeps only its hash).');
    }),
  );

  addStoreOptions(
    keys
      .command('list')
      .description('list API keys (never the keys themselves)')
      .option('--json', 'print JSON'),
  ).action((opts: OutputOptions) =>
    withStore(opts, async (store) => {
      const records = await store.apiKeys.list();
      if (opts.json) {
        console.log(JSON.stringify(records.map(publicView)));
        return;
      }
      if (records.length === 0) {
        console.log('no API keys');
        return;
      }
      printTable(
        ['ID', 'NAME', 'PREFIX', 'GROUPS', 'CREATED', 'EXPIRES', 'REVOKED', 'LAST USED'],
        records.map((r) => [
          r.id,
          r.name,
          r.prefix,
          r.groups.join(','),
          formatDate(r.createdAt, '-'),
          formatDate(r.expiresAt, 'never'),
          formatDate(r.revokedAt, '-'),
          formatDate(r.lastUsedAt, 'never'),
        ]),
      );
    }),
  );

  addStoreOptions(
    keys
      .command('revoke')
      .description('revoke an API key by id, or the active key with that name')
      .argument('<id-or-name>')
      .option('--json', 'print the revoked key as JSON'),
  ).action((idOrName: string, opts: OutputOptions) =>
    withStore(opts, async (store) => {
      const record = await store.apiKeys.revoke(idOrName);
      if (!record) {
        console.error(`sluice: no API key with id "${idOrName}" and no active key named "${idOrName}"`);
        process.exitCode = 1;
        return;
      }
      await recordNow(store.audit, keyRevokedEvent(operator(), record));
      if (opts.json) console.log(JSON.stringify(publicView(record)));
      else console.log(`revoked ${record.id} (${record.name}) at ${formatDate(record.revokedAt, '-')}`);
    }),
  );
}

/** Everything about a key except its hash. */
function publicView(record: ApiKeyRecord) {
  const { id, name, prefix, groups, createdAt, expiresAt, revokedAt, lastUsedAt } = record;
  return { id, name, prefix, groups, createdAt, expiresAt, revokedAt, lastUsedAt };
}

function parseList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function parseLifetime(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0)
    throw new InvalidArgumentError('expected a positive duration such as 12h or 30d');
  return ms;
}

function formatDate(date: Date | null, absent: string): string {
  return date ? date.toISOString().replace(/\.\d{3}Z$/, 'Z') : absent;
}
