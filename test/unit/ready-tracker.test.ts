/**
 * The owed-ReadyForQuery model against the sequences that made the plain counter drift (and so
 * let a client dodge the idle deadlines), plus the ordinary flows that must stay exact.
 */
import { describe, expect, it } from 'vitest';
import { ReadyTracker } from '../../src/protocols/postgres/ready-tracker.ts';

describe('ReadyTracker', () => {
  it('counts one response per Query, Sync and FunctionCall in ordinary flows', () => {
    const t = new ReadyTracker();
    t.query();
    t.extended(); // Parse
    t.extended(); // Bind
    t.extended(); // Execute
    t.sync();
    t.functionCall();
    expect(t.outstanding).toBe(3);
    t.readyForQuery();
    t.readyForQuery();
    t.readyForQuery();
    expect(t.outstanding).toBe(0);
  });

  it('an error inside an extended batch swallows the Query pipelined before its Sync', () => {
    const t = new ReadyTracker();
    t.extended(); // Parse of a failing statement
    t.query(); // discarded by the server after the error
    t.sync();
    expect(t.outstanding).toBe(2);
    t.error();
    t.readyForQuery(); // for the Sync
    expect(t.outstanding).toBe(0);
  });

  it('an error in a simple Query does not drop anything', () => {
    const t = new ReadyTracker();
    t.query();
    t.query();
    t.error();
    t.readyForQuery();
    expect(t.outstanding).toBe(1);
  });

  it('an error in a batch does not drop a later, separate Query', () => {
    const t = new ReadyTracker();
    t.extended();
    t.sync();
    t.query();
    t.error(); // from the batch: the server skips to its Sync only
    t.readyForQuery();
    expect(t.outstanding).toBe(1);
  });

  it('Syncs sent during simple COPY FROM STDIN are ignored by the server', () => {
    const t = new ReadyTracker();
    t.query(); // COPY t FROM STDIN
    t.copyInStarted();
    t.sync(); // ignored by the server in copy-in mode
    t.sync();
    t.copyEnd();
    t.readyForQuery(); // for the COPY query
    expect(t.outstanding).toBe(0);
  });

  it("extended COPY: the batch's own Sync is swallowed and libpq's Sync after CopyDone answers", () => {
    const t = new ReadyTracker();
    t.extended(); // Parse COPY
    t.extended(); // Bind
    t.extended(); // Execute
    t.sync(); // reaches the server in copy-in mode: ignored
    t.copyInStarted();
    t.copyEnd(); // CopyDone
    t.sync(); // libpq's second Sync
    t.readyForQuery();
    expect(t.outstanding).toBe(0);
  });

  it('a CopyDone pipelined before the CopyInResponse still ends the copy', () => {
    const t = new ReadyTracker();
    t.query(); // COPY … FROM STDIN
    t.copyEnd(); // the client did not wait for CopyInResponse
    t.sync(); // after CopyDone: the server is out of copy mode and answers it
    t.copyInStarted();
    t.readyForQuery(); // COPY
    expect(t.outstanding).toBe(1);
    t.readyForQuery();
    expect(t.outstanding).toBe(0);
  });

  it('a stray CopyDone from before a COPY cannot end it', () => {
    const t = new ReadyTracker();
    t.copyEnd(); // ignored by the server outside copy mode
    t.query(); // COPY … FROM STDIN
    t.copyInStarted();
    t.sync(); // still inside the copy: ignored
    t.copyEnd();
    t.readyForQuery();
    expect(t.outstanding).toBe(0);
  });

  it('a COPY that fails on the server counts Syncs again at once', () => {
    const t = new ReadyTracker();
    t.extended(); // Execute COPY
    t.sync(); // swallowed
    t.copyInStarted();
    t.error(); // bad data: the server leaves copy mode and skips to Sync
    t.sync();
    t.readyForQuery();
    expect(t.outstanding).toBe(0);
  });
});
