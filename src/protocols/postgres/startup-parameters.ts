/**
 * @module protocols/postgres/startup-parameters
 * The StartupMessage is attacker-controlled input that PostgreSQL would otherwise apply before any
 * statement is inspected: `options=-c standard_conforming_strings=off` changes how every later
 * query lexes, `replication=database` opens a different protocol, and client-only encodings
 * (SJIS, BIG5, GBK…) let 0x5C hide inside multibyte characters. So parameters are allow-listed,
 * and the upstream always gets UTF8.
 */
import { ClientFacingError } from '../../core/errors.ts';

/** Parameters a client may set, forwarded upstream unchanged: presentation only, never parsing. */
const FORWARDED = new Set([
  'application_name',
  'DateStyle',
  'TimeZone',
  'extra_float_digits',
  'IntervalStyle',
]);

/** Client encodings we accept; the upstream session is always UTF8 (SQL_ASCII clients take bytes as-is). */
const ACCEPTED_ENCODINGS = new Set(['utf8', 'unicode', 'sqlascii']);

export interface StartupRequest {
  /** The `database` parameter names a Sluice connection (`psql -d app`). */
  readonly connectionName: string;
  /** The `user` parameter is only a label for logs: identity comes from the credential. */
  readonly userLabel: string;
  /** Parameters to send upstream (besides user and database, which come from the connection). */
  readonly upstreamParameters: Readonly<Record<string, string>>;
  /** `_pq_.*` protocol options the client asked for; we support none and say so. */
  readonly unsupportedProtocolOptions: readonly string[];
}

function rejected(parameter: string, why: string): ClientFacingError {
  return new ClientFacingError('08004', `sluice: startup parameter "${parameter}" is not allowed: ${why}`, {
    hint: 'Sluice accepts user, database, application_name, client_encoding (UTF8), DateStyle, TimeZone, extra_float_digits and IntervalStyle.',
  });
}

export function parseStartupParameters(
  parameters: Readonly<Record<string, string>>,
): StartupRequest | ClientFacingError {
  // Pinned (SECURITY.md §2, session-setting differential): the gateway parses SQL as the server
  // does only with these two, and startup parameters outrank ALTER ROLE/DATABASE … SET.
  const upstreamParameters: Record<string, string> = {
    client_encoding: 'UTF8',
    standard_conforming_strings: 'on',
  };
  const unsupportedProtocolOptions: string[] = [];
  for (const [name, value] of Object.entries(parameters)) {
    if (name === 'user' || name === 'database') continue;
    if (name.startsWith('_pq_.')) {
      unsupportedProtocolOptions.push(name);
    } else if (name === 'client_encoding') {
      const normalized = value.replace(/['"\-_]/g, '').toLowerCase();
      if (!ACCEPTED_ENCODINGS.has(normalized))
        return rejected(name, `encoding ${JSON.stringify(value)} is unsafe to parse; use UTF8`);
    } else if (FORWARDED.has(name)) {
      upstreamParameters[name] = value;
    } else if (name === 'options' || name === 'replication') {
      return rejected(name, 'it would change server settings before inspection');
    } else {
      return rejected(name, 'unknown parameter');
    }
  }
  const userLabel = parameters.user ?? '';
  if (userLabel === '')
    return new ClientFacingError('28000', 'sluice: no user name specified in the startup packet');
  // PostgreSQL defaults the database to the user name; we do the same for the connection name.
  const connectionName = parameters.database || userLabel;
  return { connectionName, userLabel, upstreamParameters, unsupportedProtocolOptions };
}
