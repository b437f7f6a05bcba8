/**
 * @module cli/main
 * The `sluice` command. Only `cli/` prints; every other module logs through pino.
 */
import { Command } from 'commander';
import { registerApprovalsCommands } from './approvals.ts';
import { registerAuditCommands } from './audit.ts';
import { registerDemoCommand } from './demo.ts';
import { registerKeysCommands } from './keys.ts';
import { registerPolicyCommands } from './policy.ts';
import { registerSecretsCommands } from './secrets.ts';
import { registerSessionsCommands } from './sessions.ts';
import { registerStartCommand } from './start.ts';

const program = new Command()
  .name('sluice')
  .description('Identity-aware, protocol-aware gateway for databases and infrastructure')
  .showHelpAfterError();

registerStartCommand(program);
registerDemoCommand(program);
registerKeysCommands(program);
registerSecretsCommands(program);
registerPolicyCommands(program);
registerAuditCommands(program);
registerSessionsCommands(program);
registerApprovalsCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  console.error(`sluice: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
