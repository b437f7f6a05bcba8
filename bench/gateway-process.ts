/**
 * The gateway as its own process, so its CPU is measured apart from pgbench and the harness.
 * Starts exactly what `sluice start --config FILE` starts, then creates a throwaway API key in
 * the gateway's (temporary) store and hands it to the harness.
 *
 * Usage (spawned by the harness with an IPC channel): gateway-process.ts CONFIG_FILE KEY_GROUP
 */
import { loadConfigFile } from '../src/config/load.ts';
import { createLogger } from '../src/core/logger.ts';
import { startGateway } from '../src/gateway/gateway.ts';
import { createApiKey } from '../src/identity/api-keys.ts';
import { serveAsBenchChild } from './child-ipc.ts';

const [configFile, keyGroup] = process.argv.slice(2);

await serveAsBenchChild(async () => {
  if (!configFile || !keyGroup) throw new Error('usage: gateway-process.ts CONFIG_FILE KEY_GROUP');
  const config = await loadConfigFile(configFile);
  const gateway = await startGateway(config, { logger: createLogger({ level: config.logging.level }) });
  const { key } = await createApiKey(gateway.store, { name: 'bench', groups: [keyGroup] });
  return { ready: { port: gateway.postgres.port, apiKey: key }, stop: () => gateway.close() };
});
