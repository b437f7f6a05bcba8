/**
 * @module core/logger
 * One pino logger for the process. Redaction is configured here, once, so no module can log a
 * credential by accident: any field named like a secret is censored wherever it appears.
 */
import { type Logger, pino } from 'pino';

export type { Logger };

/** Field names that may hold a credential anywhere in a log object. */
const SECRET_FIELDS = ['password', 'token', 'key', 'apiKey', 'secret', 'authorization', 'credential'];

export const REDACT_PATHS = SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]);

export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const base = {
    level: options.level ?? process.env.SLUICE_LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
  };
  return options.destination ? pino(base, options.destination) : pino(base);
}

/** A logger that drops everything, for unit tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
