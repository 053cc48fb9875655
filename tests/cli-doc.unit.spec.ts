import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { buildProgram } from '../src/cli/main.js';

const doc = readFileSync(new URL('../docs/cli.md', import.meta.url), 'utf8');

/** The text of `### \`name …\`` up to the next `### `. */
function section(name: string): string {
  const start = doc.search(new RegExp(`^### \`${name}[ \`]`, 'm'));
  if (start < 0) return '';
  const next = doc.indexOf('\n### ', start + 1);
  return doc.slice(start, next < 0 ? undefined : next);
}

test('docs/cli.md documents every command and every one of its flags', () => {
  const commands = buildProgram().commands;
  expect(commands.length).toBeGreaterThan(5);
  for (const cmd of commands) {
    const text = section(cmd.name());
    expect(text, `no section for ${cmd.name()}`).not.toBe('');
    for (const opt of cmd.options) {
      if (opt.long === '--help') continue;
      expect(text, `${cmd.name()} ${opt.long}`).toContain(`\`${opt.long}`);
    }
  }
});
