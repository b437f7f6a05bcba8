/**
 * Masking throughput: MB/s of DataRow traffic for one large result (1M rows, 5 text columns, about
 * 1% of rows holding an email) read straight from PostgreSQL, through the gateway with masking
 * off, and with masking on. The reader is a minimal protocol client that counts and discards
 * rows, so the client's own cost does not hide the proxy's.
 */
import { connect, type Socket } from 'node:net';
import { encodeFrontendMessage } from '../src/protocols/postgres/codec/frontend/index.ts';
import { encodeStartupMessage } from '../src/protocols/postgres/codec/frontend/startup-message.ts';
import { backendLimits, MessageFramer } from '../src/protocols/postgres/framer.ts';
import type { Target } from './targets.ts';

const ROWS = 1_000_000;
const QUERY = `SELECT 'customer ' || g AS name,
  'order ' || g || ' shipped to warehouse ' || (g % 97) AS note,
  md5(g::text) AS etag,
  CASE WHEN g % 100 = 0 THEN 'user' || g || '@example.com' ELSE 'city ' || (g % 1000) END AS contact,
  now()::date::text AS day
FROM generate_series(1, ${ROWS}) g`;
const REPEATS = 3;

interface Reading {
  readonly bytes: number;
  readonly seconds: number;
}

/** Logs in (trust or cleartext password), runs QUERY, and counts DataRow bytes until ReadyForQuery. */
async function readResult(env: NodeJS.ProcessEnv): Promise<Reading> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ host: env.PGHOST, port: Number(env.PGPORT) }, () => resolve(s));
    s.once('error', reject);
  });
  const framer = new MessageFramer(backendLimits({ maxMessageBytes: 1 << 30 }), 'tagged');
  socket.write(
    encodeStartupMessage({
      type: 'StartupMessage',
      protocolVersion: 0x30000,
      parameters: { user: env.PGUSER ?? '', database: env.PGDATABASE ?? '' },
    }),
  );
  let started = 0;
  let bytes = 0;
  let readies = 0;
  try {
    return await new Promise<Reading>((resolve, reject) => {
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        framer.push(chunk);
        for (let frame = framer.next(); frame; frame = framer.next()) {
          const tag = String.fromCharCode(frame.tag);
          if (tag === 'R' && frame.payload.readInt32BE(0) === 3) {
            socket.write(
              encodeFrontendMessage({
                type: 'AuthenticationResponse',
                data: Buffer.from(`${env.PGPASSWORD ?? ''}\0`),
              }),
            );
          } else if (tag === 'E') {
            reject(new Error(`server error: ${frame.payload.toString('utf8').replace(/\0/g, ' ')}`));
          } else if (tag === 'D') {
            bytes += frame.end - frame.start;
          } else if (tag === 'Z' && ++readies === 1) {
            started = performance.now();
            socket.write(encodeFrontendMessage({ type: 'Query', query: QUERY }));
          } else if (tag === 'Z') {
            resolve({ bytes, seconds: (performance.now() - started) / 1000 });
          }
        }
      });
    });
  } finally {
    socket.destroy();
  }
}

/** The best of REPEATS runs (the least disturbed by the rest of the machine), in MB/s. */
async function throughput(env: NodeJS.ProcessEnv): Promise<{ mbps: number; mb: number }> {
  let best = 0;
  let mb = 0;
  for (let i = 0; i < REPEATS; i++) {
    const reading = await readResult(env);
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
