/**
 * @module protocols/postgres/listener
 * Accepts PostgreSQL clients and owns their sessions: a connection cap, one shared deadline sweep
 * (cheaper than a timer per session on the hot path), and graceful shutdown that tells every
 * client why it is being disconnected.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { ClientFacingError } from '../../core/errors.ts';
import { encodeErrorResponse } from './codec/backend/error-response.ts';
import { errorFields } from './codec/error-fields.ts';
import type { PostgresSessionPorts } from './ports.ts';
import { PostgresSession, type PostgresSessionOptions } from './session.ts';

export interface PostgresListenerOptions extends PostgresSessionOptions {
  readonly host: string;
  readonly port: number;
  readonly maxClientConnections: number;
  /** Connections still authenticating, in all and per source address (login-flood bound). */
  readonly maxUnauthenticated: number;
  readonly maxUnauthenticatedPerAddress: number;
}

export interface PostgresListener {
  readonly address: { readonly host: string; readonly port: number };
  readonly sessions: ReadonlySet<PostgresSession>;
  /** Stops accepting, ends every session with `reason`, and resolves once all sockets are gone. */
  close(reason?: ClientFacingError): Promise<void>;
}

const SWEEP_INTERVAL_MS = 1000;

/**
 * Refuses a connection over a cap before reading anything from it. The client has not sent its
 * startup packet yet, but libpq and others read an ErrorResponse at this point and show it.
 */
function refuseTooMany(socket: Socket, message: string): void {
  // destroySoon, not end: a refused peer that never closes its side must not pin the socket.
  socket.on('error', () => undefined);
  socket.write(
    encodeErrorResponse({
      type: 'ErrorResponse',
      fields: errorFields({ severity: 'FATAL', code: '53300', message: `sluice: ${message}` }),
    }),
  );
  socket.destroySoon();
}

/** Counts connections that have not authenticated yet, in all and per source address. */
class UnauthenticatedCount {
  #total = 0;
  readonly #byAddress = new Map<string, number>();

  admits(address: string, options: PostgresListenerOptions): boolean {
    return (
      this.#total < options.maxUnauthenticated &&
      (this.#byAddress.get(address) ?? 0) < options.maxUnauthenticatedPerAddress
    );
  }

  add(address: string): void {
    this.#total++;
    this.#byAddress.set(address, (this.#byAddress.get(address) ?? 0) + 1);
  }

  remove(address: string): void {
    this.#total--;
    const left = (this.#byAddress.get(address) ?? 1) - 1;
    // Deleting at zero keeps the map as small as the set of addresses connecting right now.
    if (left <= 0) this.#byAddress.delete(address);
    else this.#byAddress.set(address, left);
  }
}

export async function startPostgresListener(
  ports: PostgresSessionPorts,
  options: PostgresListenerOptions,
): Promise<PostgresListener> {
  const sessions = new Set<PostgresSession>();
  const unauthenticated = new UnauthenticatedCount();
  const server: Server = createServer((socket) => {
    const address = socket.remoteAddress ?? '';
    if (sessions.size >= options.maxClientConnections) {
      ports.metrics.error('postgres', 'too_many_connections');
      refuseTooMany(socket, 'too many connections to the gateway');
      return;
    }
    if (!unauthenticated.admits(address, options)) {
      ports.metrics.error('postgres', 'too_many_unauthenticated');
      refuseTooMany(socket, 'too many connections still authenticating; try again shortly');
      return;
    }
    unauthenticated.add(address);
    const session = new PostgresSession(socket, ports, options, {
      authenticated: () => unauthenticated.remove(address),
      closed: (closed, wasAuthenticated) => {
        if (!wasAuthenticated) unauthenticated.remove(address);
        sessions.delete(closed);
      },
    });
    sessions.add(session);
    session.start();
  });
  server.on('error', (error) => ports.logger.error({ err: error.message }, 'postgres listener error'));

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const session of sessions) session.checkDeadlines(now);
  }, SWEEP_INTERVAL_MS);
  sweep.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  const address =
    typeof bound === 'object' && bound
      ? { host: bound.address, port: bound.port }
      : { host: options.host, port: options.port };
  ports.logger.info(
    { address: `${address.host}:${address.port}`, tls: options.tls },
    'postgres listener ready',
  );

  return {
    address,
    sessions,
    async close(reason = new ClientFacingError('57P01', 'sluice: the gateway is shutting down')) {
      clearInterval(sweep);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of [...sessions]) session.terminate(reason);
      await closed;
    },
  };
}
