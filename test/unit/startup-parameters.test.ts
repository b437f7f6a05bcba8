import { describe, expect, it } from 'vitest';
import { ClientFacingError } from '../../src/core/errors.ts';
import {
  parseStartupParameters,
  type StartupRequest,
} from '../../src/protocols/postgres/startup-parameters.ts';

/** Startup parameters arrive as a null-prototype record, as the codec builds them. */
function params(entries: Record<string, string>): Record<string, string> {
  return Object.assign(Object.create(null) as Record<string, string>, entries);
}

function accepted(entries: Record<string, string>): StartupRequest {
  const result = parseStartupParameters(params(entries));
  if (result instanceof ClientFacingError) throw new Error(`unexpectedly refused: ${result.message}`);
  return result;
}

function refused(entries: Record<string, string>): ClientFacingError {
  const result = parseStartupParameters(params(entries));
  if (!(result instanceof ClientFacingError)) throw new Error('unexpectedly accepted');
  return result;
}

describe('parseStartupParameters', () => {
  it('takes the connection name from database and the user as a label only', () => {
    const request = accepted({ user: 'agent', database: 'app' });
    expect(request).toEqual({
      connectionName: 'app',
      userLabel: 'agent',
      upstreamParameters: { client_encoding: 'UTF8', standard_conforming_strings: 'on' },
      unsupportedProtocolOptions: [],
    });
  });

  it('never forwards user or database upstream (the connection supplies both)', () => {
    const request = accepted({ user: 'postgres', database: 'app' });
    expect(Object.keys(request.upstreamParameters)).toEqual([
      'client_encoding',
      'standard_conforming_strings',
    ]);
  });

  it('defaults the connection name to the user, like PostgreSQL defaults the database', () => {
    expect(accepted({ user: 'app' }).connectionName).toBe('app');
    expect(accepted({ user: 'app', database: '' }).connectionName).toBe('app');
  });

  it('refuses a startup packet without a user with 28000', () => {
    for (const entries of [{}, { database: 'app' }, { user: '', database: 'app' }]) {
      const error = refused(entries);
      expect(error.sqlstate).toBe('28000');
      expect(error.message).toBe('sluice: no user name specified in the startup packet');
    }
  });

  it('forwards the presentation parameters unchanged', () => {
    const request = accepted({
      user: 'agent',
      database: 'app',
      application_name: 'my app; DROP TABLE x',
      DateStyle: 'ISO, MDY',
      TimeZone: 'Europe/Paris',
      extra_float_digits: '3',
      IntervalStyle: 'iso_8601',
    });
    expect(request.upstreamParameters).toEqual({
      client_encoding: 'UTF8',
      standard_conforming_strings: 'on',
      application_name: 'my app; DROP TABLE x',
      DateStyle: 'ISO, MDY',
      TimeZone: 'Europe/Paris',
      extra_float_digits: '3',
      IntervalStyle: 'iso_8601',
    });
  });

  it('accepts the spellings of UTF8 and SQL_ASCII, and still asks the upstream for UTF8', () => {
    for (const encoding of [
      'UTF8',
      'utf8',
      'UTF-8',
      'utf-8',
      "'UTF8'",
      '"utf8"',
      'Unicode',
      'SQL_ASCII',
      'sql_ascii',
    ]) {
      const request = accepted({ user: 'agent', client_encoding: encoding });
      expect(request.upstreamParameters.client_encoding, encoding).toBe('UTF8');
    }
  });

  it('refuses client-only and other encodings with 08004', () => {
    for (const encoding of [
      'SJIS',
      'BIG5',
      'GBK',
      'GB18030',
      'UHC',
      'JOHAB',
      'LATIN1',
      'WIN1252',
      'EUC_JP',
      '',
      'auto',
    ]) {
      const error = refused({ user: 'agent', client_encoding: encoding });
      expect(error.sqlstate, encoding).toBe('08004');
      expect(error.message).toContain('startup parameter "client_encoding" is not allowed');
    }
  });

  it('refuses options and replication, which change the server before any statement is seen', () => {
    for (const entries of [
      { options: '-c standard_conforming_strings=off' },
      { options: '' },
      { replication: 'database' },
      { replication: 'true' },
    ]) {
      const error = refused({ user: 'agent', database: 'app', ...entries });
      expect(error.sqlstate).toBe('08004');
      expect(error.message).toMatch(/^sluice: startup parameter "(options|replication)" is not allowed/);
    }
  });

  it('refuses unknown parameters, including GUCs the server would accept', () => {
    for (const name of [
      'search_path',
      'standard_conforming_strings',
      'session_authorization',
      'role',
      '__proto__',
      'constructor',
    ]) {
      const error = refused({ user: 'agent', [name]: 'x' });
      expect(error.sqlstate, name).toBe('08004');
      expect(error.message).toBe(`sluice: startup parameter "${name}" is not allowed: unknown parameter`);
    }
  });

  it('does not echo a refused value (it could be anything)', () => {
    const error = refused({ user: 'agent', options: '-c secret_value=hunter2' });
    expect(error.message).not.toContain('hunter2');
    expect(error.hint ?? '').not.toContain('hunter2');
  });

  it('collects _pq_ protocol options to report as unsupported, without forwarding them', () => {
    const request = accepted({ user: 'agent', '_pq_.compression': 'on', '_pq_.other': 'x' });
    expect(request.unsupportedProtocolOptions).toEqual(['_pq_.compression', '_pq_.other']);
    expect(Object.keys(request.upstreamParameters)).toEqual([
      'client_encoding',
      'standard_conforming_strings',
    ]);
  });

  it('every refusal carries a hint listing what is accepted', () => {
    expect(refused({ user: 'agent', options: 'x' }).hint).toMatch(
      /^Sluice accepts user, database, application_name/,
    );
  });
});
