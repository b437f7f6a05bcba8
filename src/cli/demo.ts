/**
 * @module cli/demo
 * `sluice demo` (what `npm start` runs): the embedded demo, with a ready-to-paste psql line.
 */
import type { Command } from 'commander';
import { createLogger } from '../core/logger.ts';
import { untilSignal } from './signals.ts';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run a self-contained demo: embedded database with sample PII, gateway, policy and API key')
    .option('--port <port>', 'PostgreSQL listener port (falls back to a free port when busy)', '15432')
    .option('--admin-port <port>', 'admin HTTP port', '18080')
    .action(async (options: { port: string; adminPort: string }) => {
      // Logs go to stderr at warn, so the instructions below stay readable.
      const logger = createLogger({
        level: process.env.SLUICE_LOG_LEVEL ?? 'warn',
        destination: process.stderr,
      });
      // Imported here: the demo's embedded database engine is tens of megabytes that every other
      // command (sluice start above all) would otherwise load and keep.
      const { startDemo } = await import('../demo/demo.ts');
      const demo = await startDemo({
        port: Number(options.port),
        adminPort: Number(options.adminPort),
        logger,
      });
      const admin = demo.gateway.admin;
      console.log(
        [
          '',
          'Sluice demo is running.',
          '',
          `  API key (group "demo", shown once): ${demo.apiKey}`,
          '',
          '  Connect through the gateway:',
          `    ${demo.psqlCommand}`,
          '',
          '  Then try:',
          '    SELECT name, email, card_number FROM customers LIMIT 5;',
          '    CREATE INDEX ON orders (customer_id);   -- held for approval (DDL is reviewed)',
          '',
          '  Approve it from another terminal (approver key, group "sluice-admins"):',
          `    SLUICE_URL=${demo.adminUrl ?? ''} SLUICE_TOKEN=${demo.approverKey} npx sluice approvals list`,
          `    SLUICE_URL=${demo.adminUrl ?? ''} SLUICE_TOKEN=${demo.approverKey} npx sluice approvals approve ID`,
          '',
          admin ? `  Health and metrics: http://${admin.host}:${admin.port}/healthz  /metrics` : '',
          '  Press Ctrl+C to stop (the demo data is discarded).',
          '',
        ].join('\n'),
      );
      await untilSignal();
      await demo.close();
    });
}
