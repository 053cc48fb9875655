/**
 * The layers of docs/architecture.md are lint rules (eslint.config.js), and these tests attack
 * them: each writes an import that crosses a layer the wrong way — wrapped over several lines, as
 * prettier writes long imports — into a real module's text, and requires `eslint` to refuse it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';

// The layer rules need no types: lint without building the TypeScript program, for speed.
const eslint = new ESLint({ cwd: ROOT, overrideConfig: tseslint.configs.disableTypeChecked });

async function problems(file: string, prepend: string): Promise<string[]> {
  const text = `${prepend}\n${readFileSync(join(ROOT, file), 'utf8')}`;
  const [result] = await eslint.lintText(text, { filePath: join(ROOT, file) });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

const wrapped = (names: string[], from: string) =>
  `import {\n  ${names.join(',\n  ')},\n} from '${from}';\nvoid [${names.join(', ')}];`;

describe('the layers are lint rules', () => {
  it.each([
    // The audit's own rules share no code with the machine, its fold or the store (docs/audit.md).
    ['src/audit/invariants.ts', '../../machines/job.guards.js', 'guardRules'],
    ['src/audit/invariants.ts', '../core/plane-state.js', 'PlaneState'],
    ['src/audit/invariants.ts', '../replay/report.js', 'buildReport'],
    ['src/audit/invariants.ts', '../plane.js', 'Plane'],
    // The pure core: no store, no worker, no I/O.
    ['src/core/decide.ts', '../ledger/line.js', 'sealEvent'],
    ['src/core/decide.ts', '../worker/worker.js', 'Worker'],
    ['src/core/decide.ts', 'node:fs', 'readFileSync'],
    ['src/core/decide.ts', '../version.js', 'VERSION'],
    // The machine stands on nothing but the schema's types.
    ['machines/job.guards.ts', '../src/core/plane-state.js', 'PlaneState'],
    ['machines/job.guards.ts', 'execa', 'execa'],
    // Lower layers never reach up.
    ['src/ledger/store.ts', '../plane.js', 'Plane'],
    ['src/ledger/store.ts', '../worker/worker.js', 'Worker'],
    ['src/plane.ts', './worker/worker.js', 'Worker'],
    ['src/replay/report.ts', '../plane.js', 'Plane'],
  ])('%s may not import from %s (%s)', async (file, from, name) => {
    const found = await problems(file, wrapped([name], from));
    expect(
      found.some((p) => /boundaries\/dependencies|no-restricted-imports/.test(p)),
      found.join('\n'),
    ).toBe(true);
  });

  it('and the modules as they are pass them', async () => {
    for (const file of [
      'src/audit/invariants.ts',
      'src/core/decide.ts',
      'machines/job.guards.ts',
      'src/ledger/store.ts',
      'src/plane.ts',
    ]) {
      expect(await problems(file, ''), file).toEqual([]);
    }
  });

  it('a file of ours outside every layer is refused', async () => {
    const [result] = await eslint.lintText('export const x = 1;\n', { filePath: join(ROOT, 'src/stray.ts') });
    expect(result?.messages.map((m) => m.ruleId)).toContain('boundaries/no-unknown-files');
  });
});
