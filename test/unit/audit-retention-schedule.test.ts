/**
 * The retention schedule: a pass runs at startup, what it removed is recorded as `audit.pruned`,
 * stopping waits for a pass in progress (the store must not close under it), and a failing pass is
 * logged rather than thrown. The cutoffs themselves are tested with given times in
 * test/integration/audit-retention.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/events.ts';
import { type AuditPruner, startRetention } from '../../src/audit/retention.ts';
import { recordingLogger } from '../helpers/gateway.ts';

const DAY = 86_400_000;

function schedule(log: AuditPruner) {
  const emitted: AuditEvent[] = [];
  const { logs: lines, logger } = recordingLogger();
  const stop = startRetention({
    log,
    audit: { emit: (event) => emitted.push(event) },
    recordingsDir: '/nonexistent/sluice-recordings',
    eventsMs: DAY,
    logger,
  });
  return { emitted, lines, stop };
}

describe('retention schedule', () => {
  it('prunes at startup with the configured cutoff, and stop waits for the pass to record itself', async () => {
    const cutoffs: string[] = [];
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { emitted, stop } = schedule({
      async prune(before) {
        cutoffs.push(before);
        await held;
        return { throughSeq: 9, throughAt: '2026-11-01T00:00:00.000Z', anchorSeq: 10 };
      },
    });
    expect(cutoffs).toHaveLength(1);
    expect(Date.parse(cutoffs[0] ?? '')).toBeLessThanOrEqual(Date.now() - DAY);
    const stopped = stop();
    release();
    await stopped;
    expect(emitted).toEqual([
      expect.objectContaining({
        type: 'audit.pruned',
        throughSeq: 9,
        anchorSeq: 10,
        sessionRecordingsRemoved: 0,
      }),
    ]);
  });

  it('logs a failing pass instead of throwing, and records nothing', async () => {
    const { emitted, lines, stop } = schedule({
      prune: () => Promise.reject(new Error('store unavailable')),
    });
    await stop();
    expect(emitted).toEqual([]);
    expect(lines.join('')).toContain('audit retention failed');
  });
});
