#!/usr/bin/env node
// Runs one TypeScript file (bench, scripts) through the same loader as bin/sluice.js.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

const [file, ...rest] = process.argv.slice(2);
if (!file) {
  console.error('usage: run-ts.js FILE [ARGS...]');
  process.exit(2);
}
process.argv = [process.argv[0] ?? 'node', file, ...rest];
register();
await import(pathToFileURL(resolve(file)).href);
