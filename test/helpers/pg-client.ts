/** node-postgres clients for talking to a test gateway. */
import { Socket } from 'node:net';
import pg from 'pg';

export interface GatewayClientOptions {
  /** The Sluice connection name (the libpq database name); default `app`. */
  readonly database?: string;
  /** Bind the TCP connection to this source address, to test per-address defences (127.0.0.0/8). */
  readonly sourceAddress?: string;
}

/**
 * A client of `gateway` over TLS without certificate verification (the gateway's certificate is
 * self-signed in tests). Errors reach tests through rejected promises; a late 'error' event is
 * expected and ignored.
 */
export function gatewayClient(
  gateway: { readonly host: string; readonly port: number },
  password: string,
  options: GatewayClientOptions = {},
): pg.Client {
  const { sourceAddress } = options;
  const client = new pg.Client({
    host: gateway.host,
    port: gateway.port,
    user: 'agent',
    database: options.database ?? 'app',
    password,
    ssl: { rejectUnauthorized: false },
    ...(sourceAddress === undefined
      ? {}
      : {
          stream: () => {
            const socket = new Socket();
            const connectTo = socket.connect.bind(socket) as (options: object) => Socket;
            // pg calls connect(port, host); bind the source address on the way.
            (socket as unknown as { connect: (port: number, host: string) => Socket }).connect = (
              port,
              host,
            ) => connectTo({ port, host, localAddress: sourceAddress });
            return socket;
          },
        }),
  });
  client.on('error', () => undefined);
  return client;
}
