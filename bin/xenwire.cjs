#!/usr/bin/env node
// The `xenwire` command. It runs the bundle in dist/cli/ (`npm run build` makes it); in a source
// checkout without dist/, the TypeScript sources through tsx, a dev dependency. CommonJS, like
// the bundle: a short call then never sets up Node's ES module loader.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

// Node 22's on-disk cache of compiled code spares each call most of the parsing. Node 20 has
// none, and there loading node:module would only cost time.
if (Number(process.versions.node.split('.')[0]) >= 22) require('node:module').enableCompileCache();

const bundle = join(__dirname, '..', 'dist', 'cli', 'main.cjs');
if (existsSync(bundle)) {
  require(bundle).runAsProcess();
} else {
  import('tsx/esm/api')
    .then(({ register }) => {
      register();
      return import('../src/cli/main.ts');
    })
    .then(({ runAsProcess }) => runAsProcess())
    .catch((error) => {
      console.error(
        error?.code === 'ERR_MODULE_NOT_FOUND'
          ? 'xenwire: dist/ is missing: run `npm run build` first'
          : error,
      );
      process.exit(1);
    });
}
