import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { machineMermaid } from '../machines/diagram.js';

test('docs/job-machine.md shows the diagram generated from the machine definition', () => {
  const doc = readFileSync(new URL('../docs/job-machine.md', import.meta.url), 'utf8');
  const block = /<!-- machine:begin -->\s*```mermaid\n([\s\S]*?)```\s*<!-- machine:end -->/.exec(doc);
  expect(block?.[1]).toBe(machineMermaid());
});
