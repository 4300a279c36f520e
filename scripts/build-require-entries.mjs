#!/usr/bin/env node
/**
 * Writes the `require` target of every entry point in package.json's `exports`: a CommonJS file
 * that loads the entry's ES module with require(), which Node 20.19+ and 22.12+ do natively. On
 * an older Node that cannot, it throws an error saying so, instead of ERR_REQUIRE_ESM. Every
 * entry point must name `types`, `require` (the .cjs written here) and `default` (the module).
 * Run by `npm run build`, after tsc has compiled the modules.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

for (const [subpath, target] of Object.entries(manifest.exports)) {
  if (typeof target === 'string') continue;
  const specifier = posix.join(manifest.name, subpath);
  const { types, require: shim, default: module } = target;
  if (!types || !shim?.endsWith('.cjs') || !module?.endsWith('.js')) {
    throw new Error(
      `package.json exports["${subpath}"] needs "types", "require" (a .cjs file) and "default"`,
    );
  }
  const shimPath = join(root, shim);
  const loaded = `./${relative(dirname(shimPath), join(root, module))}`;
  const before =
    `require('${specifier}') needs Node.js 20.19 or later (22.12 or later on Node 22), which ` +
    'load ES modules with require(); this is Node ';
  const after = `. Use import('${specifier}') instead.`;
  writeFileSync(
    shimPath,
    `'use strict';
// require('${specifier}'): the package is ES modules, which require() loads on Node 20.19+ and 22.12+.
try {
  module.exports = require(${JSON.stringify(loaded)});
} catch (error) {
  if (error?.code !== 'ERR_REQUIRE_ESM') throw error;
  throw new Error(${JSON.stringify(before)} + process.version + ${JSON.stringify(after)}, {
    cause: error,
  });
}
`,
  );
}
