#!/usr/bin/env node
/**
 * The `xenwire` program straight from the sources: `npm run xenwire -- <command>` runs this
 * through tsx. The installed command is `bin/xenwire.cjs`, which runs the bundle in dist/cli/.
 */
import { runAsProcess } from './main.ts';

await runAsProcess();
