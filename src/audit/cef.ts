/**
 * @module audit/cef
 * One audit record as an ArcSight Common Event Format line, for SIEMs that ingest CEF:
 * `CEF:0|Sluice|sluice|VERSION|<type>|<type>|<severity>|<extension>`. The chain fields travel in
 * custom strings (cs1 seq, cs2 hash, cs3 prevHash), so the export can still be matched to the
 * verified log; the whole event is in `msg` as canonical JSON.
 */
import { type ChainedEvent, canonicalJson } from './chain.ts';

const VERSION = '0.1.0';

/** `|` and `\` are the header's separators (CEF spec, "Character Encoding"). */
function header(text: string): string {
  return text.replace(/[\\|]/g, (c) => `\\${c}`).replace(/[\r\n]/g, ' ');
}

/** `=` and `\` are the extension's separators; line breaks are written as \n and \r. */
function extension(text: string): string {
  return text
    .replace(/[\\=]/g, (c) => `\\${c}`)
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r');
}

/** 0–10: refusals of credentials and break-glass access stand out; the rest is routine. */
function severity(type: string): number {
  if (type.endsWith('auth_failed') || type === 'auth.failed') return 5;
  if (type.includes('break_glass')) return 8;
  return 3;
}

function field(event: unknown, name: string): string | undefined {
  if (typeof event !== 'object' || event === null) return undefined;
  const value = (event as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

export function toCef(record: ChainedEvent): string {
  const actor = (record.event as { actor?: { name?: string; sourceAddress?: string } } | null)?.actor;
  const pairs: [string, string | undefined][] = [
    ['rt', String(Date.parse(record.at))],
    ['cat', record.type],
    ['suser', actor?.name],
    ['src', actor?.sourceAddress ?? field(record.event, 'sourceAddress')],
    ['cs1Label', 'seq'],
    ['cs1', String(record.seq)],
    ['cs2Label', 'hash'],
    ['cs2', record.hash],
    ['cs3Label', 'prevHash'],
    ['cs3', record.prevHash],
    ['msg', canonicalJson(record.event)],
  ];
  const ext = pairs
    .filter((pair): pair is [string, string] => pair[1] !== undefined && pair[1] !== '')
    .map(([key, value]) => `${key}=${extension(value)}`)
    .join(' ');
  const type = header(record.type);
  return `CEF:0|Sluice|sluice|${VERSION}|${type}|${type}|${severity(record.type)}|${ext}`;
}
