/**
 * A minimal protocol client that runs one query and counts the DataRows as they arrive, keeping
 * nothing: for results too large to hold (streaming tests, the masking benchmark). It logs in
 * with trust or a cleartext password (the gateway's API key), so use it without TLS.
 */
import { connect, type Socket } from 'node:net';
import { encodeFrontendMessage } from '../../src/protocols/postgres/codec/frontend/index.ts';
import { encodeStartupMessage } from '../../src/protocols/postgres/codec/frontend/startup-message.ts';
import { backendLimits, MessageFramer } from '../../src/protocols/postgres/framer.ts';

export interface StreamTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly password?: string | undefined;
}

export interface StreamedResult {
  readonly rows: number;
  /** DataRow bytes, headers included. */
  readonly bytes: number;
  /** From sending the query to its ReadyForQuery. */
  readonly seconds: number;
}

export async function streamQuery(target: StreamTarget, query: string): Promise<StreamedResult> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ host: target.host, port: target.port }, () => resolve(s));
    s.once('error', reject);
  });
  const framer = new MessageFramer(backendLimits({ maxMessageBytes: 1 << 30 }), 'tagged');
  socket.write(
    encodeStartupMessage({
      type: 'StartupMessage',
      protocolVersion: 0x30000,
      parameters: { user: target.user, database: target.database },
    }),
  );
  let rows = 0;
  let bytes = 0;
  let readies = 0;
  let started = 0;
  try {
    return await new Promise<StreamedResult>((resolve, reject) => {
      socket.on('error', reject);
      socket.on('close', () => reject(new Error(`connection closed after ${rows} rows`)));
      socket.on('data', (chunk: Buffer) => {
        framer.push(chunk);
        for (let frame = framer.next(); frame; frame = framer.next()) {
          const tag = String.fromCharCode(frame.tag);
          if (tag === 'R' && frame.payload.readInt32BE(0) === 3) {
            const data = Buffer.from(`${target.password ?? ''}\0`);
            socket.write(encodeFrontendMessage({ type: 'AuthenticationResponse', data }));
          } else if (tag === 'E') {
            reject(new Error(frame.payload.toString('utf8').replace(/\0/g, ' ')));
          } else if (tag === 'D') {
            rows++;
            bytes += frame.end - frame.start;
          } else if (tag === 'Z' && ++readies === 1) {
            started = performance.now();
            socket.write(encodeFrontendMessage({ type: 'Query', query }));
          } else if (tag === 'Z') {
            resolve({ rows, bytes, seconds: (performance.now() - started) / 1000 });
          }
        }
      });
    });
  } finally {
    socket.destroy();
  }
}
