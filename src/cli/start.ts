/**
 * @module cli/start
 * `sluice start --config FILE`: runs the gateway until SIGINT/SIGTERM, then shuts down gracefully
 * (clients get FATAL 57P01 "the gateway is shutting down").
 */
import type { Command } from 'commander';
import { loadConfigFile } from '../config/load.ts';
import { settledWithin } from '../core/delivery.ts';
import { createLogger } from '../core/logger.ts';
import { startGateway } from '../gateway/gateway.ts';
import { untilSignal } from './signals.ts';

/** close() bounds its own steps (draining sessions, flushing the audit log); this bounds the whole. */
const SHUTDOWN_DEADLINE_MS = 60_000;

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('run the gateway')
    .requiredOption('-c, --config <file>', 'YAML configuration file (see docs/configuration.md)')
    .action(async (options: { config: string }) => {
      const config = await loadConfigFile(options.config);
      const logger = createLogger({ level: config.logging.level });
      const gateway = await startGateway(config, { logger });
      console.error(
        `sluice: postgres on ${gateway.postgres.host}:${gateway.postgres.port}` +
          (gateway.admin ? `, admin on http://${gateway.admin.host}:${gateway.admin.port}` : ''),
      );
      await untilSignal();
      // Graceful, but bounded: a peer that never answers (a vanished store, say) must not keep
      // the process alive after it was told to stop.
      if (!(await settledWithin(gateway.close(), SHUTDOWN_DEADLINE_MS))) {
        logger.error({ deadlineMs: SHUTDOWN_DEADLINE_MS }, 'shutdown did not finish in time; exiting');
        process.exit(1);
      }
    });
}
