import { execFile, execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The package as a user gets it: `npm pack`, installed from the tarball into a fresh project
 * (offline: it has no runtime dependencies) on a machine without a C compiler, then used the way
 * the README says. Every entry point of package.json's `exports` is imported with `import` and
 * with `require()`, the command runs, and the README examples run as they are written (plain
 * JavaScript) and typecheck against the shipped declarations under `moduleResolution: nodenext`.
 * All of that on the Node that runs the tests and on Node 22 (set `node-22` of harness/pins,
 * which scripts/fetch-node.sh fetches; CI fails without it, elsewhere its suite is skipped).
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  license: string;
  exports: Record<string, string | Record<string, string>>;
  repository?: { url: string };
  homepage?: string;
  bugs?: { url: string };
};
const specifiers = Object.entries(manifest.exports)
  .filter(([, target]) => typeof target !== 'string')
  .map(([subpath]) => posix.join(manifest.name, subpath));

// npm's own script, run by this Node, so that PATH can be stripped of compilers.
const npmCli = join(
  dirname(process.execPath),
  '..',
  'lib',
  'node_modules',
  'npm',
  'bin',
  'npm-cli.js',
);
const npm = existsSync(npmCli) ? [process.execPath, npmCli] : ['npm'];

/**
 * The pinned Node 22, as scripts/fetch-node.sh left it in .cache: its path, why it is not there
 * (a skip, outside CI), or what is wrong (a failure: under CI a missing one, anywhere a tarball
 * without the pinned sha256).
 */
function pinnedNode22(): { path: string } | { missing: string } | { error: string } {
  const found = spawnSync('bash', [join(root, 'scripts/fetch-node.sh'), '--cached'], {
    encoding: 'utf8',
  });
  if (found.status === 0) return { path: found.stdout.trim() };
  if (found.status === 3 && process.env.CI !== 'true') return { missing: found.stderr.trim() };
  return { error: found.stderr.trim() || `fetch-node.sh --cached exited ${found.status}` };
}

const work = mkdtempSync(join(tmpdir(), 'xenwire-package-'));
let tarball: string;
let packedFiles: string[];

function npmRun(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; node?: string }) {
  const [command, ...rest] = options.node && npm.length > 1 ? [options.node, ...npm.slice(1)] : npm;
  return run(command!, [...rest, ...args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** A fresh project with the tarball installed by one Node, on a PATH without compilers. */
class Consumer {
  readonly project: string;
  readonly installed: string;
  /** A PATH holding only this Node and a shell. */
  readonly bin: string;
  installOutput = '';

  constructor(
    readonly name: string,
    readonly nodePath: string,
  ) {
    this.project = join(work, name, 'project');
    this.installed = join(this.project, 'node_modules', manifest.name);
    this.bin = join(work, name, 'bin');
  }

  async install() {
    mkdirSync(this.bin, { recursive: true });
    symlinkSync(this.nodePath, join(this.bin, 'node'));
    symlinkSync('/bin/sh', join(this.bin, 'sh'));
    mkdirSync(this.project);
    writeFileSync(
      join(this.project, 'package.json'),
      JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }),
    );
    const install = await npmRun(
      ['install', '--offline', '--no-audit', '--no-fund', '--foreground-scripts', tarball],
      { cwd: this.project, env: { ...process.env, PATH: this.bin }, node: this.nodePath },
    );
    this.installOutput = `${install.stdout}${install.stderr}`;
  }

  node(args: string[], env: NodeJS.ProcessEnv = process.env) {
    return run(this.nodePath, args, { cwd: this.project, env });
  }
}

const current = new Consumer('current', process.execPath);

interface Example {
  readonly document: string;
  readonly language: string;
  readonly code: string;
}

/** The README examples, as they are written. */
function examples(): Example[] {
  const documents = execFileSync('git', ['ls-files', 'README.md', '*/README.md'], {
    cwd: root,
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean);
  return documents.flatMap((document) =>
    [...readFileSync(join(root, document), 'utf8').matchAll(/```(ts|js)\n([\s\S]*?)```/g)].map(
      (m) => ({ document, language: m[1]!, code: m[2]! }),
    ),
  );
}

/**
 * A copy of the tracked files to pack from: `npm pack` builds dist/ first, and a dist/ appearing
 * in the checkout would change what the other suites' `bin/xenwire.cjs` runs while they run.
 */
function sourceCopy(): string {
  const source = join(work, 'source');
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' });
  for (const file of files.split('\0').filter(Boolean)) {
    if (existsSync(join(root, file))) cpSync(join(root, file), join(source, file));
  }
  symlinkSync(join(root, 'node_modules'), join(source, 'node_modules'));
  return source;
}

beforeAll(async () => {
  const packed = await npmRun(['pack', '--json', '--pack-destination', work], {
    cwd: sourceCopy(),
  });
  const [report] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, report!.filename);
  packedFiles = report!.files.map((file) => file.path);
  await current.install();
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the npm package', () => {
  it('has a LICENSE, repository metadata, and no test code', () => {
    expect(manifest.license).toBe('MIT');
    expect(packedFiles).toContain('LICENSE');
    expect(readFileSync(join(current.installed, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    expect(manifest.repository?.url).toMatch(/github\.com\/xenwire\/xenwire/);
    expect(manifest.homepage).toBeDefined();
    expect(manifest.bugs?.url).toBeDefined();
    expect(packedFiles.filter((file) => /(^|\/)(tests?|testing)\/|\.test\./.test(file))).toEqual(
      [],
    );
  });

  it('says which Node require() needs where require() of ES modules is missing', () => {
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      if (typeof target === 'string') continue;
      const shim = readFileSync(join(current.installed, target.require!), 'utf8');
      // What an older Node does: refuse to require() an ES module.
      const refuse = () => {
        throw Object.assign(new Error('require() of ES Module'), { code: 'ERR_REQUIRE_ESM' });
      };
      const load = new Function('module', 'require', 'process', shim);
      const specifier = posix.join(manifest.name, subpath);
      expect(() => load({}, refuse, { version: 'v20.11.0' })).toThrow(
        `require('${specifier}') needs Node.js 20.19 or later (22.12 or later on Node 22), ` +
          `which load ES modules with require(); this is Node v20.11.0. Use import('${specifier}') instead.`,
      );
    }
  });

  it('maps the compiled code to shipped sources, and the declarations too', () => {
    const maps = packedFiles.filter((file) => file.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(0);
    for (const file of packedFiles.filter((f) => f.startsWith('dist/') && f.endsWith('.d.ts'))) {
      expect(packedFiles, file).toContain(`${file}.map`);
    }
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(join(current.installed, map), 'utf8')) as {
        sources: string[];
      };
      for (const source of sources) {
        expect(packedFiles, `${map} names ${source}`).toContain(
          posix.normalize(posix.join(posix.dirname(map), source)),
        );
      }
    }
  });

  it('leaves internals out of the declarations', () => {
    const server = readFileSync(
      join(current.installed, 'dist/xenstore/server/server.d.ts'),
      'utf8',
    );
    expect(server).toContain('class XenstoreServer');
    expect(server).not.toMatch(/\breadonly store: Store\b/);
  });

  it('has README links that resolve inside the package', () => {
    for (const document of packedFiles.filter((file) => file.endsWith('.md'))) {
      const text = readFileSync(join(current.installed, document), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const resolved = posix.normalize(posix.join(posix.dirname(document), target!));
        const found = packedFiles.some(
          (file) => file === resolved || file.startsWith(`${resolved.replace(/\/$/, '')}/`),
        );
        expect(found, `${document} links to ${target}`).toBe(true);
      }
    }
  });

  it('typechecks the README examples and require() from CommonJS under nodenext', async () => {
    const dir = join(current.project, 'typed');
    mkdirSync(dir, { recursive: true });
    examples().forEach((example, i) => {
      const name = `${example.document.replace(/[^a-z0-9]+/gi, '-')}-${i + 1}`;
      writeFileSync(
        join(dir, `${name}.${example.language === 'js' ? 'mjs' : 'mts'}`),
        example.code,
      );
    });
    writeFileSync(
      join(dir, 'require.cts'),
      `import assert = require('node:assert/strict');
const { XenstoreServer } = require('xenwire/xenstore/server');
const server: import('xenwire/xenstore/server').XenstoreServer = new XenstoreServer();
assert.ok(server);
`,
    );
    writeFileSync(
      join(current.project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          allowJs: true,
          checkJs: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(root, 'node_modules', '@types')],
        },
        include: ['typed'],
      }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const checked = await current.node([tsc, '-p', current.project]).catch((error) => error);
    expect(`${checked.stdout ?? ''}${checked.stderr ?? ''}`).toBe('');
  }, 120_000);
});

describe(`the package used on the Node that runs the tests (${process.version})`, () => {
  usedFrom(current);
});

const node22 = pinnedNode22();
const skipped = 'missing' in node22 ? ` (skipped: ${node22.missing})` : '';
describe.skipIf('missing' in node22)(`the package used on Node 22${skipped}`, () => {
  if ('error' in node22) {
    it('has the pinned Node 22', () => {
      throw new Error(node22.error);
    });
    return;
  }
  const consumer = new Consumer('node-22', 'path' in node22 ? node22.path : '');
  beforeAll(() => consumer.install(), 300_000);

  it('is Node 22', async () => {
    expect((await consumer.node(['--version'])).stdout).toMatch(/^v22\.\d+\.\d+\n$/);
  });
  usedFrom(consumer);
});

/** What a user does with the installed package, on the consumer's Node. */
function usedFrom(consumer: Consumer) {
  it('says in one line what is missing when installed without a compiler', () => {
    const lines = consumer.installOutput.split('\n').filter((line) => line.startsWith('xenwire:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/native addon not built \(a C compiler, make, python3 not found/);
    expect(lines[0]).toMatch(/mapping pages, \/dev\/xen\/evtchn and gntdev\/gntalloc/);
    expect(lines[0]).toContain('npm rebuild xenwire');
    // node-gyp's chatter stays out of it.
    expect(consumer.installOutput).not.toMatch(/gyp info/);
  });

  it('gives a build command that works from the project when a native feature is used', async () => {
    const { stdout } = await consumer.node([
      '--input-type=module',
      '-e',
      `import { mapFile } from 'xenwire/device';
       try { mapFile('/etc/hostname', { length: 1 }); } catch (e) { console.log(e.code, e.message); }`,
    ]);
    expect(stdout).toMatch(/^ENOSYS .*`npm rebuild xenwire`/);
  });

  it.each(specifiers)('%s loads with import and with require(), the same exports', async (name) => {
    const keys = `Object.keys(m).sort().join(',')`;
    const imported = await consumer.node([
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(name)}); console.log(${keys});`,
    ]);
    const required = await consumer.node([
      '-e',
      `const m = require(${JSON.stringify(name)}); console.log(${keys});`,
    ]);
    expect(imported.stdout.trim().length).toBeGreaterThan(0);
    expect(required.stdout).toBe(imported.stdout);
    // Loading an ES module with require() is not experimental any more: no warning.
    expect(required.stderr).toBe('');
  });

  it('runs the xenwire command from the project', async () => {
    const xenwire = join(consumer.project, 'node_modules', '.bin', 'xenwire');
    const env = {
      ...process.env,
      PATH: `${consumer.bin}:${process.env.PATH}`,
      XENSTORED_PATH: join(work, 'none.sock'),
    };
    expect((await run(xenwire, ['--version'], { env })).stdout).toBe(
      `xenwire ${manifest.version}\n`,
    );
    const read = await run(xenwire, ['--mock', 'read', '/local/domain/0/name'], { env });
    expect(read.stdout).toBe('Domain-0\n');
    // Failures end each bundled command with its status and message, as from the sources.
    const failed = (args: string[]) =>
      run(xenwire, args, { env }).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
      );
    expect(await failed(['read'])).toEqual({
      code: 1,
      stderr: 'xenwire: Usage: xenwire read [-h] [-p] [-s] [-R] key [...]\n',
    });
    expect(await failed(['--json', 'read', '/x'])).toEqual({
      code: 1,
      stderr: '{"error":"xs_open: No such file or directory","code":"ENOENT"}\n',
    });
    expect(await failed(['serve', '--bogus'])).toMatchObject({ code: 2 });
    const doctor = await run(xenwire, ['doctor', '--json'], { env }).catch((error) => error);
    const report = JSON.parse(doctor.stdout) as {
      checks: { name: string; detail: string; hint?: string }[];
    };
    const addon = report.checks.find((check) => check.name === 'native addon');
    expect(addon?.hint).toContain('npm rebuild xenwire');
    // The command ran on this consumer's Node.
    const { stdout: nodeVersion } = await consumer.node(['--version']);
    const nodeCheck = report.checks.find((check) => check.name === 'Node.js');
    expect(nodeCheck?.detail.startsWith(`${nodeVersion.trim()} `)).toBe(true);
  });

  it('runs the README examples as plain JavaScript', async () => {
    const dir = join(consumer.project, 'examples');
    mkdirSync(dir, { recursive: true });
    const root = examples().filter((example) => example.document === 'README.md');
    expect(root.length).toBeGreaterThan(0);
    for (const [i, example] of root.entries()) {
      expect(example.language, `README.md example ${i + 1}`).toBe('js');
      const file = join(dir, `README-${i + 1}.mjs`);
      writeFileSync(file, example.code);
      const { stderr } = await consumer.node([file]);
      expect(stderr, relative(consumer.project, file)).toBe('');
    }
  }, 120_000);
}
