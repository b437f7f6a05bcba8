#!/usr/bin/env node
// The published entry point. tsx compiles the TypeScript sources on load, so `npm install && npm start`
// needs no build step; the runtime code is the same as a tsc build would emit.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
