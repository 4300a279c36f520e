import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Every exported name, types included, belongs to one entry point of the `exports` map, so that an
 * import never has to ask which `Foo` it got. The exceptions re-export, and each name they
 * re-export is the very declaration it stands for: the root entry `xenwire` (a few names of the
 * others), `xenwire/xenstore` (its parts `/client` and `/codec`, and the client ends of
 * `/transports`, in one import) and `xenwire/xenstore/server` (the server ends of `/transports`).
 */

const root = join(import.meta.dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { default: string }>;
};
const entries = Object.entries(manifest.exports).flatMap(([name, target]) =>
  typeof target === 'string'
    ? []
    : [
        {
          name: `xenwire${name.slice(1)}`,
          file: join(root, target.default.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts')),
        },
      ],
);

const program = ts.createProgram(
  entries.map((e) => e.file),
  { allowImportingTsExtensions: true, noEmit: true, module: ts.ModuleKind.NodeNext },
);
const checker = program.getTypeChecker();

/** Where a declaration is, e.g. `src/ring/index.ts:120` or `module src/ring/index.ts`. */
function place(declaration: ts.Declaration): string {
  const file = declaration.getSourceFile().fileName.slice(root.length + 1);
  return ts.isSourceFile(declaration) ? `module ${file}` : `${file}:${declaration.pos}`;
}

/** Each exported name of an entry point and the places of the declarations it stands for. */
function exportsOf(file: string): Map<string, readonly string[]> {
  const source = program.getSourceFile(file);
  const module = source && checker.getSymbolAtLocation(source);
  if (!module) throw new Error(`${file} is no module`);
  return new Map(
    checker.getExportsOfModule(module).map((symbol) => {
      const target =
        symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      return [symbol.name, (target.declarations ?? []).map(place)];
    }),
  );
}

const exported = entries.map((entry) => ({ ...entry, names: exportsOf(entry.file) }));
const namesOf = (name: string) => {
  const names = exported.find((e) => e.name === name)?.names;
  if (!names) throw new Error(`${name} is no entry point`);
  return names;
};
/** The entry points that only gather what others export. */
const aggregates = ['xenwire', 'xenwire/xenstore'];
const areas = exported.filter((e) => !aggregates.includes(e.name));
/** Names an area may share with another: the server entry re-exports the server ends. */
const reexported = (exportedName: string, where: string[]) =>
  where.length === 2 &&
  where.includes('xenwire/xenstore/transports') &&
  where.includes('xenwire/xenstore/server') &&
  namesOf(where[0]!).get(exportedName)?.join() === namesOf(where[1]!).get(exportedName)?.join();

describe('entry points', () => {
  it('exports each name from one area entry point only', () => {
    const owners = new Map<string, string[]>();
    for (const { name, names } of areas) {
      for (const exportedName of names.keys()) {
        owners.set(exportedName, [...(owners.get(exportedName) ?? []), name]);
      }
    }
    const shared = [...owners].filter(
      ([exportedName, where]) => where.length > 1 && !reexported(exportedName, where),
    );
    expect(shared).toEqual([]);
    // The server ends, and only they, are both in /transports and in /server.
    const serverEnds = [...owners].filter(([, where]) => where.length > 1).map(([n]) => n);
    expect(serverEnds).toEqual(expect.arrayContaining(['socketListener', 'XenstoreRingServer']));
    expect(serverEnds).not.toContain('socketConnector');
  });

  it('makes `xenwire/xenstore` the client, the codec and the client ends, the same declarations', () => {
    const xenstore = namesOf('xenwire/xenstore');
    const parts = ['xenwire/xenstore/client', 'xenwire/xenstore/codec'].map(namesOf);
    const transports = namesOf('xenwire/xenstore/transports');
    for (const part of parts) {
      for (const [name, declarations] of part)
        expect(xenstore.get(name), name).toEqual(declarations);
    }
    for (const [name, declarations] of xenstore) {
      const owner = [...parts, transports].find((part) => part.has(name));
      expect(owner, `${name} of xenwire/xenstore belongs to none of its parts`).toBeDefined();
      expect(owner?.get(name), name).toEqual(declarations);
    }
  });

  it('re-exports at the root only the declarations of the area entry points', () => {
    const rootNames = exported.find((e) => e.name === 'xenwire')?.names;
    expect(rootNames?.size).toBeGreaterThan(0);
    for (const [name, declarations] of rootNames ?? []) {
      if (declarations.some((at) => at.startsWith('module '))) continue; // `export * as area`
      const owner = areas.find((area) => area.names.has(name));
      expect(owner, `${name} of xenwire belongs to no area`).toBeDefined();
      expect(owner?.names.get(name), name).toEqual(declarations);
    }
  });

  it('keeps `xenwire/xenstore` to the client, the codec and the client ends', () => {
    const names = namesOf('xenwire/xenstore');
    expect(names.has('XenstoreClient')).toBe(true);
    expect(names.has('socketConnector')).toBe(true);
    for (const serverName of [
      'XenstoreServer',
      'DomainTable',
      'QuotaTable',
      'listPayload',
      'socketListener',
    ]) {
      expect(names.has(serverName), serverName).toBe(false);
    }
  });
});
