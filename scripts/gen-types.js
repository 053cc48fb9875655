#!/usr/bin/env node
// Generates src/schema/types.generated.ts and src/schema/validators.generated.ts from
// schemas/*.json, so neither the TypeScript types nor the compiled validators can drift from the
// JSON Schemas: tests/schema.unit.spec.ts regenerates and compares.
// Usage: node scripts/gen-types.js [--check]
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generateTypes } from './gen-types-lib.js';
import { generateValidators } from './gen-validators-lib.js';

const outputs = [
  ['types.generated.ts', await generateTypes()],
  ['validators.generated.ts', generateValidators()],
];
for (const [name, text] of outputs) {
  const out = fileURLToPath(new URL(`../src/schema/${name}`, import.meta.url));
  if (process.argv.includes('--check')) {
    if (readFileSync(out, 'utf8') !== text) {
      console.error(`execplane: src/schema/${name} is stale; run: npm run gen:types`);
      process.exit(1);
    }
  } else {
    writeFileSync(out, text);
  }
}
