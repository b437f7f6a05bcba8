/**
 * Masking throughput: MB/s of DataRow traffic for one large result (1M rows, 5 text columns, about
 * 1% of rows holding an email) read straight from PostgreSQL, through the gateway with masking
 * off, and with masking on. The reader is a minimal protocol client that counts and discards
 * rows, so the client's own cost does not hide the proxy's.
 */
import { streamQuery } from '../test/helpers/stream-query.ts';
import type { Target } from './targets.ts';

const ROWS = 1_000_000;
const QUERY = `SELECT 'customer ' || g AS name,
  'order ' || g || ' shipped to warehouse ' || (g % 97) AS note,
  md5(g::text) AS etag,
  CASE WHEN g % 100 = 0 THEN 'user' || g || '@example.com' ELSE 'city ' || (g % 1000) END AS contact,
  now()::date::text AS day
FROM generate_series(1, ${ROWS}) g`;
const REPEATS = 3;

/** The best of REPEATS runs (the least disturbed by the rest of the machine), in MB/s. */
async function throughput(env: NodeJS.ProcessEnv): Promise<{ mbps: number; mb: number }> {
  let best = 0;
  let mb = 0;
  for (let i = 0; i < REPEATS; i++) {
    const reading = await streamQuery(
      {
        host: env.PGHOST ?? '',
        port: Number(env.PGPORT),
        user: env.PGUSER ?? '',
        database: env.PGDATABASE ?? '',
        password: env.PGPASSWORD,
      },
      QUERY,
    );
    mb = reading.bytes / 1e6;
    best = Math.max(best, mb / reading.seconds);
  }
  return { mbps: best, mb };
}

/** One line per target, ratios against direct. */
export async function measureMasking(targets: {
  direct: Target;
  maskingOff: Target;
  maskingOn: Target;
}): Promise<string[]> {
  const direct = await throughput(targets.direct.env);
  const off = await throughput(targets.maskingOff.env);
  const on = await throughput(targets.maskingOn.env);
  const line = (name: string, r: { mbps: number }) =>
    `${name} ${r.mbps.toFixed(0)} MB/s (${(r.mbps / direct.mbps).toFixed(2)}× direct)`;
  return [
    `masking throughput (${ROWS.toLocaleString('en')} rows × 5 text columns, ${direct.mb.toFixed(0)} MB of DataRow, ` +
      `best of ${REPEATS}): ${line('direct', direct)}; ${line('gateway masking off', off)}; ` +
      `${line('gateway masking on', on)} (target ≥ 0.7× direct)`,
  ];
}
