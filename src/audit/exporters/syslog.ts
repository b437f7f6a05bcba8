/**
 * @module audit/exporters/syslog
 * Streams audit records to a syslog collector: RFC 5424 messages over TCP with octet-counting
 * framing (RFC 6587 §3.4.1, `<length> <message>`), optionally over TLS (RFC 5425).
 *
 * Message: `<PRI>1 TIMESTAMP HOSTNAME sluice PROCID MSGID [sluice@32473 seq="…" hash="…"] MSG`, where
 * TIMESTAMP is the record's `at`, MSGID its type, and MSG the record as ECS JSON (`rfc5424`) or as
 * a CEF line (`cef`). MSG is UTF-8 without the optional BOM: downstream JSON and CEF parsers treat a
 * BOM as part of the payload. 32473 is the private enterprise number RFC 5424 reserves for
 * examples; it only names the SD-ID.
 *
 * Delivery is at-least-once; receivers dedupe on the `seq` SD-PARAM. TCP syslog has no
 * application-level acknowledgement: a record counts as delivered once written to the socket, yet
 * bytes the kernel accepted are lost if the collector tears the connection down before reading
 * them. So the last `resendWindow` records written on a connection are kept and, when that
 * connection drops, written again first on the next one. While disconnected, records wait in a
 * bounded queue (the oldest are dropped, loudly, beyond `maxQueued`) and go out in order after the
 * reconnect, which is retried with backoff.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { Backoff, errorCode, settledWithin, sleep } from '../../core/delivery.ts';
import type { Logger } from '../../core/logger.ts';
import { toCef } from '../cef.ts';
import type { ChainedEvent } from '../chain.ts';
import { toEcs } from './ecs.ts';
import type { AuditExporter } from './types.ts';

export type SyslogFormat = 'rfc5424' | 'cef';

export interface SyslogTlsOptions {
  /** Trusted CA certificate(s), PEM; default: Node's bundled roots. */
  readonly ca?: Buffer;
  /** Name to verify the certificate against (and send as SNI); default: `host` when a name. */
  readonly serverName?: string;
  /** Default true: an unverified collector could be anyone. */
  readonly rejectUnauthorized?: boolean;
}

export interface SyslogExporterOptions {
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  /** MSG as ECS JSON (default) or as a CEF line. */
  readonly format?: SyslogFormat;
  /** RFC 5424 facility 0–23; default 13 ("log audit"). */
  readonly facility?: number;
  /** TLS (RFC 5425) when present. */
  readonly tls?: SyslogTlsOptions;
  /** Records held while disconnected; beyond this the oldest are dropped (default 100,000). */
  readonly maxQueued?: number;
  /** Records written on a connection that are written again after it drops (default 1000). */
  readonly resendWindow?: number;
  /** Reconnect delays (defaults 500 ms doubling to 30 s). */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  /** A connection attempt (TCP and TLS handshake) fails after this long (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** How long `close` waits for queued records to be written (default 5 s). */
  readonly closeTimeoutMs?: number;
}

/** What the header needs besides the record; fixed per process. */
export interface SyslogHeader {
  readonly format: SyslogFormat;
  readonly facility: number;
  readonly hostname: string;
  readonly procId: string;
}

const SEVERITY_WARNING = 4;
const SEVERITY_NOTICE = 5;
const SD_ID = 'sluice@32473';
/** Records framed into one socket write. */
const WRITE_BATCH = 500;
const DRAIN_POLL_MS = 20;

/** Refused credentials and break-glass access stand out; everything else is routine. */
function severity(record: ChainedEvent): number {
  const breakGlass = (record.event as { breakGlass?: unknown } | null)?.breakGlass === true;
  const type = record.type;
  const notable =
    type.endsWith('auth_failed') || type === 'auth.failed' || type.includes('break_glass') || breakGlass;
  return notable ? SEVERITY_WARNING : SEVERITY_NOTICE;
}

/** RFC 5424 header fields are printable US-ASCII without spaces, bounded, and `-` when empty. */
function headerField(value: string, maxLength: number): string {
  const printable = value.replace(/[^\x21-\x7e]/g, '_').slice(0, maxLength);
  return printable === '' ? '-' : printable;
}

/** RFC 5424 §6.3.3: `"`, `\` and `]` are escaped with a backslash inside PARAM-VALUE. */
export function sdParamValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** One record as an RFC 5424 message (unframed). */
export function syslogMessage(record: ChainedEvent, header: SyslogHeader): string {
  const pri = header.facility * 8 + severity(record);
  const sd = `[${SD_ID} seq="${sdParamValue(String(record.seq))}" hash="${sdParamValue(record.hash)}"]`;
  const msg = header.format === 'cef' ? toCef(record) : JSON.stringify(toEcs(record));
  return [
    `<${pri}>1`,
    record.at,
    headerField(header.hostname, 255),
    'sluice',
    headerField(header.procId, 128),
    headerField(record.type, 32),
    sd,
    msg,
  ].join(' ');
}

/** RFC 6587 octet counting: the byte length of the message, a space, the message. */
export function octetFrame(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

export class SyslogExporter implements AuditExporter {
  readonly #options: SyslogExporterOptions;
  readonly #header: SyslogHeader;
  readonly #target: string;
  readonly #maxQueued: number;
  readonly #resendWindow: number;
  readonly #backoff: Backoff;
  /** Not yet written, in seq order. */
  #queue: ChainedEvent[] = [];
  /** Written on the current connection, newest last; resent if it drops. */
  #unconfirmed: ChainedEvent[] = [];
  #socket: Socket | undefined;
  #connected = false;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #dropped = 0;
  /** No more records accepted. */
  #closing = false;
  /** No more reconnects either. */
  #stopped = false;

  /** Starts connecting at once, so a misconfigured collector shows in the logs at startup. */
  constructor(options: SyslogExporterOptions) {
    const facility = options.facility ?? 13;
    if (!Number.isInteger(facility) || facility < 0 || facility > 23) {
      throw new RangeError('syslog export: facility must be an integer 0–23');
    }
    this.#options = options;
    this.#header = {
      format: options.format ?? 'rfc5424',
      facility,
      hostname: hostname(),
      procId: String(process.pid),
    };
    this.#target = `${options.host}:${options.port}`;
    this.#maxQueued = options.maxQueued ?? 100_000;
    this.#resendWindow = options.resendWindow ?? 1000;
    this.#backoff = new Backoff(options.reconnectMinMs ?? 500, options.reconnectMaxMs ?? 30_000);
    this.#connect();
  }

  get lag(): number {
    return this.#queue.length;
  }

  get failures(): number {
    return this.#failures;
  }

  /** Records dropped because the queue was full. */
  get dropped(): number {
    return this.#dropped;
  }

  deliver(records: readonly ChainedEvent[]): void {
    if (this.#closing) {
      this.#options.logger.error({ records: records.length }, 'syslog export: closed; records not sent');
      return;
    }
    this.#queue.push(...records);
    this.#bound();
    this.#pump();
  }

  async close(): Promise<void> {
    this.#closing = true;
    const timeoutMs = this.#options.closeTimeoutMs ?? 5000;
    const drained = await settledWithin(this.#drain(), timeoutMs);
    this.#stopped = true;
    clearTimeout(this.#reconnectTimer);
    if (!drained) {
      this.#options.logger.error(
        { syslog: this.#target, lost: this.#queue.length },
        'syslog export: records not sent before shutdown',
      );
    }
    const socket = this.#socket;
    if (socket === undefined) return;
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.end();
    if (!(await settledWithin(closed, 1000))) socket.destroy();
  }

  /** Until everything queued has left the process (reconnects keep happening meanwhile). */
  async #drain(): Promise<void> {
    while (!this.#stopped && (this.#queue.length > 0 || (this.#socket?.writableLength ?? 0) > 0)) {
      await sleep(DRAIN_POLL_MS);
    }
  }

  #bound(): void {
    const excess = this.#queue.length - this.#maxQueued;
    if (excess <= 0) return;
    this.#queue.splice(0, excess);
    this.#dropped += excess;
    this.#options.logger.error(
      { syslog: this.#target, dropped: this.#dropped },
      'syslog export: queue full; the oldest records were dropped',
    );
  }

  #connect(): void {
    const { host, port, tls } = this.#options;
    const socket = tls === undefined ? netConnect({ host, port }) : tlsConnect(tlsOptions(host, port, tls));
    this.#socket = socket;
    socket.setTimeout(this.#options.connectTimeoutMs ?? 10_000);
    socket.once('timeout', () => socket.destroy(new Error('connect timeout')));
    socket.once(tls === undefined ? 'connect' : 'secureConnect', () => this.#onConnected(socket));
    socket.on('drain', () => this.#pump());
    socket.on('error', (error) => {
      this.#failures++;
      this.#options.logger.warn(
        { syslog: this.#target, err: errorCode(error) },
        'syslog export: connection error',
      );
    });
    socket.once('close', () => this.#onClosed());
    // Collectors send nothing, but reading is how a close by the collector is noticed.
    socket.resume();
  }

  #onConnected(socket: Socket): void {
    socket.setTimeout(0);
    socket.setKeepAlive(true, 30_000);
    socket.setNoDelay(true);
    this.#connected = true;
    this.#backoff.reset();
    this.#options.logger.info(
      { syslog: this.#target, resending: this.#queue.length },
      'syslog export: connected',
    );
    this.#pump();
  }

  #onClosed(): void {
    this.#connected = false;
    this.#socket = undefined;
    // What this connection took may not have been read: it goes out again, first (at-least-once).
    this.#queue = [...this.#unconfirmed, ...this.#queue];
    this.#unconfirmed = [];
    this.#bound();
    if (this.#stopped) return;
    const delay = this.#backoff.next();
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#connect();
    }, delay);
    this.#reconnectTimer.unref();
  }

  /** Writes queued records until the socket asks to wait ('drain' resumes). */
  #pump(): void {
    const socket = this.#socket;
    if (!this.#connected || socket === undefined) return;
    while (this.#queue.length > 0 && !socket.writableNeedDrain) {
      const batch = this.#queue.splice(0, WRITE_BATCH);
      this.#unconfirmed.push(...batch);
      if (this.#unconfirmed.length > this.#resendWindow) {
        this.#unconfirmed.splice(0, this.#unconfirmed.length - this.#resendWindow);
      }
      socket.write(Buffer.concat(batch.map((record) => octetFrame(syslogMessage(record, this.#header)))));
    }
  }
}

function tlsOptions(host: string, port: number, tls: SyslogTlsOptions): ConnectionOptions {
  const options: ConnectionOptions = {
    host,
    port,
    rejectUnauthorized: tls.rejectUnauthorized ?? true,
    minVersion: 'TLSv1.2',
  };
  if (tls.ca !== undefined) options.ca = tls.ca;
  if (tls.serverName !== undefined) options.servername = tls.serverName;
  return options;
}
