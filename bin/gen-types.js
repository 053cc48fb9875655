#!/usr/bin/env node
// Generates src/schema/types.generated.ts from schemas/*.json, so the TypeScript types
// cannot drift from the JSON Schemas: tests/schema.unit.spec.ts regenerates and compares.
// Usage: node bin/gen-types.js [--check]
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generateTypes } from './gen-types-lib.js';

const out = fileURLToPath(new URL('../src/schema/types.generated.ts', import.meta.url));
const text = await generateTypes();
if (process.argv.includes('--check')) {
  if (readFileSync(out, 'utf8') !== text) {
    console.error('execplane: src/schema/types.generated.ts is stale; run: npm run gen:types');
    process.exit(1);
  }
} else {
  writeFileSync(out, text);
}
