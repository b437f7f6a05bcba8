/**
 * The suite-wide "no credential in any log" check (see test/global-log-scan.ts). Test helpers
 * copy every gateway log line, and every credential they mint or present, into a directory the
 * global teardown scans once all files have run.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.SLUICE_TEST_LOG_DIR;

export function recordLogLine(line: string): void {
  if (dir) appendFileSync(join(dir, `gateway-${process.pid}.log`), line);
}

/** Registers a credential (API key, token, password) that must never appear in a log line. */
export function recordCredential(value: string): void {
  if (dir) appendFileSync(join(dir, `credentials-${process.pid}.txt`), `${JSON.stringify(value)}\n`);
}
