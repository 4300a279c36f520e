#!/usr/bin/env node
// The `xenwire` command. It runs the compiled program in dist/ (`npm run build` makes it). In a
// source checkout without dist/, it runs the TypeScript sources through tsx, a dev dependency.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
let entry = compiled;
if (!existsSync(compiled)) {
  try {
    const { register } = await import('tsx/esm/api');
    register();
  } catch {
    console.error('xenwire: dist/ is missing: run `npm run build` first');
    process.exit(1);
  }
  entry = new URL('../src/cli/main.ts', import.meta.url);
}
const { runAsProcess } = await import(entry.href);
await runAsProcess();
