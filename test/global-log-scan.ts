/**
 * Global setup: after every test file has run, greps all gateway log output of the whole suite
 * for every credential the tests minted or presented (API keys, OIDC tokens, upstream and vault
 * passwords). Any hit fails the run and names the credential only by a short fingerprint.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-test-logs-'));
  process.env.SLUICE_TEST_LOG_DIR = dir;
  return () => {
    const files = readdirSync(dir);
    const logs = files
      .filter((file) => file.endsWith('.log'))
      .map((file) => readFileSync(join(dir, file), 'utf8'))
      .join('');
    const credentials = files
      .filter((file) => file.startsWith('credentials-'))
      .flatMap((file) => readFileSync(join(dir, file), 'utf8').split('\n'))
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as string);
    rmSync(dir, { recursive: true, force: true });
    const leaked = credentials.filter((credential) => credential.length >= 8 && logs.includes(credential));
    const fingerprint = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 12);
    if (leaked.length > 0) {
      throw new Error(`credentials found in gateway logs: ${leaked.map(fingerprint).join(', ')}`);
    }
    if (credentials.length === 0) {
      // A run of unit tests only: no gateway ran, nothing to scan.
      process.stdout.write('credential log scan: no credentials recorded in this run\n');
      return;
    }
    if (logs.length === 0) {
      throw new Error(
        'the credential log scan saw credentials but no gateway log lines: the recording is broken',
      );
    }
    process.stdout.write(
      `credential log scan: ${credentials.length} credentials, ${(logs.length / 1024).toFixed(0)} KiB of gateway logs, none leaked\n`,
    );
  };
}
