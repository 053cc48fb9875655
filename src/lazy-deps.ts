/**
 * Dependencies only writers need, loaded on first use rather than at import: a read-only command
 * (`head`, `replay`, `show`, `audit`) never takes the append lock, and writes a checkpoint only
 * after folding 10,000+ lines past the last one (`replay`); loading these two was a fifth of every
 * process's start (docs/decisions.md, "Writer-only dependencies are loaded on first use"). Both
 * are CommonJS packages, so `require` loads them synchronously.
 */
import { createRequire } from 'node:module';
import type fsxModule from 'fs-native-extensions';
import type writeFileAtomicModule from 'write-file-atomic';

const require = createRequire(import.meta.url);

let fsx: typeof fsxModule | undefined;
let writeFileAtomic: typeof writeFileAtomicModule | undefined;

/** fs-native-extensions: fcntl OFD locks (the append lock, ledger/lock.ts). */
export function lockApi(): typeof fsxModule {
  return (fsx ??= require('fs-native-extensions') as typeof fsxModule);
}

/** write-file-atomic's `sync`: temp file, fsync, rename. */
export function writeFileAtomicSync(
  ...args: Parameters<typeof writeFileAtomicModule.sync>
): ReturnType<typeof writeFileAtomicModule.sync> {
  writeFileAtomic ??= require('write-file-atomic') as typeof writeFileAtomicModule;
  return writeFileAtomic.sync(...args);
}
