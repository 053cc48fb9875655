#!/usr/bin/env node
// `npm run demo`: the main job end to end on the embedded default, in a fresh plane under
// .execplane-demo/ — enqueue the sample jobs, then replay the ledger and print its state.
// Each step runs the real CLI, printed as a user would type it.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const home = '.execplane-demo';
rmSync(new URL(`../${home}`, import.meta.url), { recursive: true, force: true });

function step(args) {
  process.stdout.write(`\n$ execplane ${args.join(' ')}\n`);
  execFileSync(process.execPath, ['bin/execplane.js', ...args], { cwd: root, stdio: 'inherit' });
}

step(['enqueue', '--home', home, '--demo']);
step(['replay', '--home', home]);
