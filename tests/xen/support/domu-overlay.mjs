// Builds a variant of the Xen lane's DomU image, on the host, without touching the lane's own: a
// TypeScript guest program bundled into one ES module (esbuild, which tsx brings; the image has
// node but not the checkout), the native addon, an /init, and whatever else a part adds, packed
// as a cpio archive appended to the lane's DomU image (the kernel unpacks both; later entries
// win).
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  rmSync,
} from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const cache = `${repo}.cache/xen-lane`;

/** Bundles `entry` (a TypeScript program) into one self-contained ES module at `outfile`. */
export async function bundle(entry, outfile) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
  });
}

/**
 * Writes `.cache/xen-lane/<name>/initramfs-domu-<name>.cpio`: the lane's DomU image plus
 * `/guest/<name>/<program>.mjs` (bundled from `entry`), `/guest/<name>/xenwire.node` and `init`
 * as `/init`; `extra(overlayDir)` may add more files. Returns the image's path.
 */
export async function buildDomuImage({ name, entry, program, init, extra }) {
  const base = `${cache}/initramfs-domu.cpio`;
  const addon = `${repo}native/build/Release/xenwire.node`;
  for (const [path, how] of [
    [base, 'bash xen-lane/build-initramfs.sh domu'],
    [addon, 'npm run build:native'],
  ]) {
    if (!existsSync(path)) throw new Error(`${path} is missing: run ${how} first`);
  }
  const work = `${cache}/${name}`;
  const overlay = `${work}/overlay`;
  rmSync(overlay, { recursive: true, force: true });
  mkdirSync(`${overlay}/guest/${name}`, { recursive: true });
  await bundle(entry, `${overlay}/guest/${name}/${program}.mjs`);
  copyFileSync(addon, `${overlay}/guest/${name}/xenwire.node`);
  copyFileSync(init, `${overlay}/init`);
  execFileSync('chmod', ['755', `${overlay}/init`]);
  await extra?.(overlay);
  const overlayCpio = `${work}/overlay.cpio`;
  execFileSync('sh', [
    '-c',
    `cd "${overlay}" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet > "${overlayCpio}"`,
  ]);
  const image = `${work}/initramfs-domu-${name}.cpio`;
  const out = createWriteStream(image);
  await pipeline(createReadStream(base), out, { end: false });
  await pipeline(createReadStream(overlayCpio), out);
  return image;
}

/**
 * A builder script's command line: `--bundle FILE` writes only the bundle (for a quick check
 * that the program bundles); otherwise the image is built and its path printed.
 */
export async function buildFromCommandLine(spec) {
  if (process.argv[2] === '--bundle') {
    await bundle(spec.entry, process.argv[3]);
    return;
  }
  console.log(await buildDomuImage(spec));
}
