/** node-postgres clients for talking to a test gateway. */
import { Socket } from 'node:net';
import pg from 'pg';

/**
 * A client of `gateway` (connection `app`, TLS without verification) whose TCP connection comes
 * from `sourceAddress`, so per-address defences can be tested from one machine (127.0.0.0/8).
 * Errors reach tests through rejected promises; a late 'error' event is expected and ignored.
 */
export function gatewayClientFrom(
  gateway: { readonly host: string; readonly port: number },
  sourceAddress: string,
  password: string,
): pg.Client {
  const client = new pg.Client({
    host: gateway.host,
    port: gateway.port,
    user: 'agent',
    database: 'app',
    password,
    ssl: { rejectUnauthorized: false },
    stream: () => {
      const socket = new Socket();
      const connectTo = socket.connect.bind(socket) as (options: object) => Socket;
      // pg calls connect(port, host); bind the source address on the way.
      (socket as unknown as { connect: (port: number, host: string) => Socket }).connect = (port, host) =>
        connectTo({ port, host, localAddress: sourceAddress });
      return socket;
    },
  });
  client.on('error', () => undefined);
  return client;
}
