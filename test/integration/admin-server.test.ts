import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { type Readiness, type RunningAdminServer, startAdminServer } from '../../src/api/admin-server.ts';
import { createLogger, silentLogger } from '../../src/core/logger.ts';
import { PrometheusMetrics } from '../../src/gateway/prometheus-metrics.ts';

const running: RunningAdminServer[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
});

async function start(options: { readiness?: () => Promise<Readiness>; logger?: typeof silentLogger } = {}) {
  const metrics = new PrometheusMetrics();
  const server = await startAdminServer({
    host: '127.0.0.1',
    port: 0,
    metrics,
    readiness: options.readiness ?? (async () => ({ ok: true, checks: { store: { ok: true } } })),
    logger: options.logger ?? silentLogger,
    version: '9.8.7',
  });
  running.push(server);
  const get = (path: string) => fetch(`http://127.0.0.1:${server.address.port}${path}`);
  return { server, metrics, get };
}

describe('admin server', () => {
  it('listens on a free port when asked for port 0', async () => {
    const { server } = await start();
    expect(server.address.host).toBe('127.0.0.1');
    expect(server.address.port).toBeGreaterThan(0);
  });

  it('answers /healthz', async () => {
    const { get } = await start();
    const response = await get('/healthz');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('answers /readyz with 200 and the checks when every check passes', async () => {
    const { get } = await start();
    const response = await get('/readyz');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ready', checks: { store: { ok: true } } });
  });

  it('answers /readyz with 503 when a check fails', async () => {
    const readiness = async (): Promise<Readiness> => ({
      ok: false,
      checks: { store: { ok: false, detail: 'connection refused' }, postgresListener: { ok: true } },
    });
    const { get } = await start({ readiness });
    const response = await get('/readyz');
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      status: 'unavailable',
      checks: { store: { ok: false, detail: 'connection refused' }, postgresListener: { ok: true } },
    });
  });

  it('answers /readyz with 503 when the readiness probe itself throws', async () => {
    const { get } = await start({
      readiness: async () => {
        throw new Error('store ping timed out');
      },
    });
    const response = await get('/readyz');
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      status: 'unavailable',
      checks: { readiness: { ok: false, detail: 'store ping timed out' } },
    });
  });

  it('serves the counters reported through ConnectionMetrics at /metrics', async () => {
    const { get, metrics } = await start();
    metrics.connectionOpened('postgres');
    metrics.connectionOpened('postgres');
    metrics.connectionClosed('postgres');
    metrics.authFailure('postgres', 'credential');
    metrics.statements('postgres', 1);
    metrics.bytes('postgres', 'client_to_upstream', 100);
    metrics.bytes('postgres', 'client_to_upstream', 23);
    metrics.bytes('postgres', 'upstream_to_client', 4096);
    metrics.error('postgres', 'upstream');

    const response = await get('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    expect(text).toContain('sluice_connections_total{protocol="postgres"} 2');
    expect(text).toContain('sluice_connections_active{protocol="postgres"} 1');
    expect(text).toContain('sluice_auth_failures_total{protocol="postgres",reason="credential"} 1');
    expect(text).toContain('sluice_statements_total{protocol="postgres"} 1');
    expect(text).toContain('sluice_bytes_total{protocol="postgres",direction="client_to_upstream"} 123');
    expect(text).toContain('sluice_bytes_total{protocol="postgres",direction="upstream_to_client"} 4096');
    expect(text).toContain('sluice_session_errors_total{protocol="postgres",kind="upstream"} 1');
    // Default process metrics come along, from this instance's own registry.
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('keeps separate counts per PrometheusMetrics instance', async () => {
    const a = new PrometheusMetrics();
    const b = new PrometheusMetrics();
    a.statements('postgres', 1);
    expect(await a.render()).toContain('sluice_statements_total{protocol="postgres"} 1');
    expect(await b.render()).not.toContain('sluice_statements_total{protocol="postgres"}');
  });

  it('describes every route in an OpenAPI 3.1 document', async () => {
    const { get } = await start();
    const response = await get('/api/v1/openapi.json');
    expect(response.status).toBe(200);
    const document = (await response.json()) as {
      openapi: string;
      info: { version: string };
      paths: Record<string, { get?: { responses: Record<string, { content?: Record<string, unknown> }> } }>;
    };
    expect(document.openapi).toBe('3.1.0');
    expect(document.info.version).toBe('9.8.7');
    expect(Object.keys(document.paths).sort()).toEqual([
      '/api/v1/openapi.json',
      '/healthz',
      '/metrics',
      '/readyz',
    ]);
    expect(Object.keys(document.paths['/readyz']?.get?.responses ?? {}).sort()).toEqual(['200', '503']);
    expect(Object.keys(document.paths['/metrics']?.get?.responses['200']?.content ?? {})).toEqual([
      'text/plain',
    ]);
  });

  it('answers 404 for anything else', async () => {
    const { get } = await start();
    expect((await get('/admin')).status).toBe(404);
  });

  it('keeps probe and scrape requests out of info-level logs', async () => {
    const output = new PassThrough();
    const lines: string[] = [];
    output.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    const { get } = await start({ logger: createLogger({ level: 'info', destination: output }) });
    await get('/healthz');
    await get('/metrics');
    expect(lines.filter((line) => line.includes('request'))).toEqual([]);
  });

  it('stops listening on close', async () => {
    const { server, get } = await start();
    await server.close();
    await expect(get('/healthz')).rejects.toThrow();
  });
});
