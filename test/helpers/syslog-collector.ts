/**
 * A real RFC 5424 syslog collector for tests: TCP (or TLS) with RFC 6587 octet counting, parsing
 * each frame; it can be stopped (listener and connections) and started again on the same port.
 */
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';

export interface Frame {
  readonly pri: number;
  readonly timestamp: string;
  readonly host: string;
  readonly app: string;
  readonly procId: string;
  readonly msgId: string;
  readonly sd: Record<string, Record<string, string>>;
  readonly msg: string;
}

/** Test-side RFC 5424 parser: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`. */
function parseSyslog(message: string): Frame {
  const header = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) /.exec(message);
  if (header === null) throw new Error(`not RFC 5424: ${message.slice(0, 80)}`);
  let rest = message.slice(header[0].length);
  const sd: Record<string, Record<string, string>> = {};
  const element = /^\[([^ \]=]+)((?: [^ =\]"]+="(?:[^"\\]|\\.)*")*)\]/;
  for (let match = element.exec(rest); match !== null; match = element.exec(rest)) {
    const params: Record<string, string> = {};
    for (const param of (match[2] ?? '').matchAll(/ ([^ =\]"]+)="((?:[^"\\]|\\.)*)"/g)) {
      params[param[1] as string] = (param[2] as string).replace(/\\(.)/g, '$1');
    }
    sd[match[1] as string] = params;
    rest = rest.slice(match[0].length);
  }
  if (Object.keys(sd).length === 0) {
    if (!rest.startsWith('-')) throw new Error('no STRUCTURED-DATA');
    rest = rest.slice(1);
  }
  const [, pri, timestamp, host, app, procId, msgId] = header as unknown as string[];
  return {
    pri: Number(pri),
    timestamp: timestamp as string,
    host: host as string,
    app: app as string,
    procId: procId as string,
    msgId: msgId as string,
    sd,
    msg: rest.startsWith(' ') ? rest.slice(1) : rest,
  };
}

/** Splits RFC 6587 octet-counted frames off the front of `buffer`; returns what is left. */
function takeFrames(buffer: Buffer, onFrame: (message: string) => void): Buffer {
  let rest = buffer;
  for (;;) {
    const space = rest.indexOf(0x20);
    if (space < 0) return rest;
    const length = Number(rest.subarray(0, space).toString('ascii'));
    if (!Number.isInteger(length) || length <= 0) throw new Error('bad octet count');
    if (rest.length < space + 1 + length) return rest;
    onFrame(rest.subarray(space + 1, space + 1 + length).toString('utf8'));
    rest = rest.subarray(space + 1 + length);
  }
}

export interface Collector {
  readonly frames: Frame[];
  readonly port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** A syslog collector on one port that can be torn down (listener and connections) and restarted. */
export async function collector(tlsMaterial?: { cert: string; key: string }): Promise<Collector> {
  const frames: Frame[] = [];
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const onSocket = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered: Buffer = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => {
      buffered = takeFrames(Buffer.concat([buffered, data]), (message) => frames.push(parseSyslog(message)));
    });
  };
  const start = async () => {
    server =
      tlsMaterial === undefined
        ? createNetServer(onSocket)
        : createTlsServer({ cert: tlsMaterial.cert, key: tlsMaterial.key }, onSocket);
    await new Promise<void>((resolve) => server?.listen(port, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  };
  await start();
  return {
    frames,
    port,
    start,
    async stop() {
      const closed = new Promise((resolve) => server?.close(resolve));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
