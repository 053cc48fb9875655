#!/usr/bin/env node
/**
 * Writes machines/job.table.json: the job machine's transition table as machines/job.compile.ts
 * reads it from the machine (run after `npm run build`). With --check, writes nothing and exits 1
 * when the file is not exactly that (`npm run build` runs it), so the table cannot drift from the machine.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const { compileJobTable } = await import('../dist/machines/job.compile.js');
const path = fileURLToPath(new URL('../machines/job.table.json', import.meta.url));
const text = `${JSON.stringify(compileJobTable(), null, 2)}\n`;
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    // missing: stale
  }
  if (current !== text) {
    process.stderr.write(
      'machines/job.table.json is not the table of machines/job.machine.ts: run `npm run gen:table` and commit it\n',
    );
    process.exit(1);
  }
} else {
  writeFileSync(path, text);
  process.stdout.write(`wrote ${path}\n`);
}
