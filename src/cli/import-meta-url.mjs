// Injected by scripts/build-cli.mjs into the CommonJS bundles of the command, as what
// `import.meta` offers the sources: `url`, the bundle file's own URL, worked out when asked for.
export const importMeta = {
  get url() {
    return require('node:url').pathToFileURL(__filename).href;
  },
};
