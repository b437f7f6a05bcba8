// The store worker's entry point (src/store/worker-store.ts starts it). A worker thread does not
// inherit the tsx loader bin/sluice.js registered, so it registers its own before loading the module.
import { register } from 'tsx/esm/api';

register();
await import('../src/store/store-worker.ts');
