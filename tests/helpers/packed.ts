/**
 * The package as a user gets it: `npm pack` on a copy of the source tree (no dist/, so prepack's
 * clean build is what makes it), then the tarball installed into an empty project by `npm ci`.
 *
 * The copy keeps the checkout's dist/ untouched while other test files use it. The install is
 * offline (`--offline`): the consumer's lockfile is generated from this repository's, so every
 * dependency resolves to the exact version `npm ci` already put in npm's cache, and the tests
 * never reach for the network.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';

export const ROOT = resolve(import.meta.dirname, '../..');

/** What the tree copy holds: everything prepack's build reads, nothing it writes. */
const SOURCE = [
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'README.md',
  'LICENSE',
  'bin',
  'src',
  'machines',
  'schemas',
  'docs',
  'scripts',
];

export interface Packed {
  readonly dir: string;
  readonly tarball: string;
  readonly integrity: string;
  /** The paths inside the tarball, without the `package/` prefix. */
  readonly files: readonly string[];
}

interface LockEntry {
  version?: string;
  dev?: boolean;
  devOptional?: boolean;
  [key: string]: unknown;
}

/** Packs a copy of the source tree into a new temporary directory. */
export async function pack(): Promise<Packed> {
  const dir = mkdtempSync(join(tmpdir(), 'execplane-pack-'));
  const tree = join(dir, 'tree');
  mkdirSync(tree);
  for (const part of SOURCE) cpSync(join(ROOT, part), join(tree, part), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'), 'dir');
  const out = await execa('npm', ['pack', '--json', '--pack-destination', dir], {
    cwd: tree,
    reject: false,
    env: { npm_config_update_notifier: 'false' },
  });
  if (out.exitCode !== 0) throw new Error(`npm pack failed:\n${out.stderr}`);
  const [report] = JSON.parse(out.stdout.slice(out.stdout.indexOf('['))) as {
    filename: string;
    integrity: string;
    files: { path: string }[];
  }[];
  return {
    dir,
    tarball: join(dir, report!.filename),
    integrity: report!.integrity,
    files: report!.files.map((f) => f.path).sort(),
  };
}

/** The consumer's lockfile: the tarball, its dependency closure and the tools, as this repo pins them. */
function consumerLock(packed: Packed, tools: readonly string[]): object {
  const own = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
    dependencies: Record<string, string>;
    engines: Record<string, string>;
    bin: Record<string, string>;
    license: string;
  };
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const packages: Record<string, LockEntry> = {};
  const toolVersions: Record<string, string> = {};
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '') continue;
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const isTool = tools.some((t) => path === `node_modules/${t}`);
    // A production dependency of execplane, or a tool the consumer asks for (and their deps).
    if (!entry.dev && !entry.devOptional) packages[path] = entry;
    else if (isTool || (path.startsWith('node_modules/') && TOOL_DEPS.has(name))) {
      const { dev: _dev, devOptional: _devOptional, ...rest } = entry;
      packages[path] = rest;
    }
    if (isTool) toolVersions[name] = entry.version!;
  }
  const dependencies = { execplane: `file:${packed.tarball}`, ...toolVersions };
  return {
    name: 'consumer',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: 'consumer', dependencies },
      'node_modules/execplane': {
        version: own.version,
        resolved: `file:${packed.tarball}`,
        integrity: packed.integrity,
        license: own.license,
        dependencies: own.dependencies,
        bin: own.bin,
        engines: own.engines,
      },
      ...packages,
    },
  };
}

/** Dependencies of the consumer's tools (TypeScript has none; @types/node has undici-types). */
const TOOL_DEPS = new Set(['undici-types']);

export interface Consumer {
  readonly dir: string;
  /** `npx execplane ARGS` in the consumer, as a user types it. */
  readonly npx: (args: readonly string[], env?: Record<string, string>) => ReturnType<typeof execa>;
}

/** An empty project (type: module) with the tarball and `tools` installed by `npm ci --offline`. */
export async function installPacked(packed: Packed, tools: readonly string[] = []): Promise<Consumer> {
  const dir = mkdtempSync(join(tmpdir(), 'execplane-consumer-'));
  const lock = consumerLock(packed, tools) as { packages: { '': { dependencies: object } } };
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: lock.packages[''].dependencies }, null, 2)}\n`,
  );
  writeFileSync(join(dir, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
  const ci = await execa('npm', ['ci', '--offline', '--no-audit', '--no-fund'], {
    cwd: dir,
    reject: false,
    env: { npm_config_update_notifier: 'false' },
  });
  if (ci.exitCode !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`npm ci --offline of the packed tarball failed:\n${ci.stderr}`);
  }
  return {
    dir,
    npx: (args, env = {}) =>
      execa('npx', ['--offline', '--no-install', 'execplane', ...args], {
        cwd: dir,
        reject: false,
        env: { npm_config_update_notifier: 'false', ...env },
      }),
  };
}
