/**
 * The baseline proxy: a plain Node TCP relay, piping bytes both ways with Nagle off and nothing
 * else. It is the cheapest thing a Node proxy can be, so "gateway vs relay" isolates what the
 * gateway adds (framing, decoding, TLS, auth) from what Node sockets cost anyway.
 *
 * Usage (spawned by the harness with an IPC channel): tcp-relay.ts TARGET_HOST TARGET_PORT
 */
import { connect, createServer, type Socket } from 'node:net';
import { serveAsBenchChild } from './child-ipc.ts';

function relay(client: Socket, targetHost: string, targetPort: number): void {
  const upstream = connect({ host: targetHost, port: targetPort });
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  client.pipe(upstream);
  upstream.pipe(client);
  const closeBoth = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', closeBoth);
  upstream.on('error', closeBoth);
  client.on('close', closeBoth);
  upstream.on('close', closeBoth);
}

const [targetHost = '127.0.0.1', targetPort = '5432'] = process.argv.slice(2);

await serveAsBenchChild(async () => {
  const server = createServer((client) => relay(client, targetHost, Number(targetPort)));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('relay has no TCP address');
  return {
    ready: { port: address.port },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
});
