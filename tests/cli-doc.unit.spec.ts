import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { buildProgram, commandsFor } from '../src/cli/main.js';

const doc = readFileSync(new URL('../docs/cli.md', import.meta.url), 'utf8');

/** The text of `### \`name …\`` up to the next `### `. */
function section(name: string): string {
  const start = doc.search(new RegExp(`^### \`${name}[ \`]`, 'm'));
  if (start < 0) return '';
  const next = doc.indexOf('\n### ', start + 1);
  return doc.slice(start, next < 0 ? undefined : next);
}

test('docs/cli.md documents every command and every one of its flags', async () => {
  const commands = (await buildProgram()).commands;
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

test('the CLI loads only the command it runs; help, a typo or no command load them all (docs/decisions.md, "Startup")', async () => {
  const all = (await buildProgram()).commands.map((c) => c.name());
  const argv = (...args: string[]) => ['node', 'execplane', ...args];
  for (const name of all) {
    expect(commandsFor(argv(name, '--home', '/x'))).toEqual([name]);
    // The one command loaded registers the same command, with the same help, as all of them.
    const alone = (await buildProgram(commandsFor(argv(name)))).commands;
    expect(alone.map((c) => c.name())).toEqual([name]);
    expect(alone[0]!.helpInformation()).toBe(
      (await buildProgram()).commands.find((c) => c.name() === name)!.helpInformation(),
    );
  }
  expect(commandsFor(argv('--version'))).toEqual([]);
  expect(commandsFor(argv('-V'))).toEqual([]);
  for (const args of [[], ['--help'], ['-h', 'show'], ['help', 'show'], ['sho'], ['--version', 'show']])
    expect(commandsFor(argv(...args))).toEqual(all);
});
