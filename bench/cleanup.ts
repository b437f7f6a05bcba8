/**
 * Whatever the harness starts or creates registers how to undo it here. The steps run in reverse
 * order exactly once: after a normal run, on a failure, on Ctrl+C / SIGTERM, or when the overall
 * time bound is reached (which also aborts the command in flight).
 */

type Step = { readonly label: string; readonly run: () => Promise<void> };

export interface CleanupScope {
  /** Registers a step to undo something; steps run last-registered first. */
  readonly defer: (label: string, run: () => Promise<void>) => void;
  /** Aborted when the run is interrupted; pass it to every long command. */
  readonly signal: AbortSignal;
}

/** Runs `main`, then cleans up and exits: 0 on success, 1 on failure or timeout, 130/143 on a signal. */
export function runWithCleanup(main: (scope: CleanupScope) => Promise<void>, timeLimitMs: number): void {
  const steps: Step[] = [];
  const abort = new AbortController();
  let exiting = false;

  const exit = async (code: number, reason?: unknown) => {
    if (exiting) return;
    exiting = true;
    abort.abort();
    if (reason !== undefined) console.error(`\nbench: ${reason instanceof Error ? reason.message : reason}`);
    for (const step of steps.reverse()) {
      try {
        await step.run();
      } catch (error) {
        console.error(`bench: cleanup step "${step.label}" failed: ${(error as Error).message}`);
      }
    }
    process.exit(code);
  };

  process.on('SIGINT', () => void exit(130, 'interrupted; cleaning up'));
  process.on('SIGTERM', () => void exit(143, 'terminated; cleaning up'));
  // unref: a finished run must not wait for the bound.
  setTimeout(
    () => void exit(1, `stopped at the overall time bound (${Math.round(timeLimitMs / 1000)} s)`),
    timeLimitMs,
  ).unref();

  const defer = (label: string, run: () => Promise<void>) => {
    steps.push({ label, run });
  };
  main({ defer, signal: abort.signal }).then(
    () => exit(0),
    (error: unknown) => exit(1, error),
  );
}
