/**
 * The checkpoint's code fingerprint (C1 of src/ledger/checkpoint/format.ts) covers every rule that
 * shapes folded state: a checkpoint folded under other rules — even by the same version of
 * execplane with one guard changed — is never used.
 */
import { cpSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GUARD_CODE, guardRules } from '../machines/job.guards.js';
import { TABLE_CODE } from '../machines/job.table.js';
import { contextUpdates, UPDATE_CODE } from '../machines/job.updates.js';
import { PLANE_STATE_CODE } from '../src/core/plane-state.js';
import { CODE_FINGERPRINT, codeFingerprint, FOLD_CODE } from '../src/ledger/checkpoint/format.js';
import { execa } from 'execa';
import { checkpointByDist, execplane, requireDist, ROOT } from './helpers/cli.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-foldcode-');

/** The names a module declares at its top level (functions, classes, constants, variables). */
function topLevelDeclarations(path: string): string[] {
  const text = readFileSync(join(ROOT, path), 'utf8');
  return [...text.matchAll(/^(?:export )?(?:const|let|var|function\*?|class) ([A-Za-z_$][\w$]*)/gm)].map(
    (m) => m[1]!,
  );
}

describe('the code fingerprint of checkpoint.json (C1)', () => {
  it.each([
    ['machines/job.guards.ts', 'GUARD_CODE', GUARD_CODE],
    ['machines/job.updates.ts', 'UPDATE_CODE', UPDATE_CODE],
    ['machines/job.table.ts', 'TABLE_CODE', TABLE_CODE],
    ['src/core/plane-state.ts', 'PLANE_STATE_CODE', PLANE_STATE_CODE],
  ] as const)('%s lists every one of its declarations in %s', (path, listName, list) => {
    const declared = topLevelDeclarations(path).filter((name) => name !== listName);
    expect(declared.length).toBeGreaterThan(2);
    expect(Object.keys(list).sort()).toEqual([...declared].sort());
  });

  it("changes when any guard's check or any context update changes", () => {
    for (const [name, rule] of Object.entries(guardRules)) {
      const changed = { ...guardRules, [name]: { ...rule, check: () => true } };
      const code = { ...FOLD_CODE, guards: { ...GUARD_CODE, guardRules: changed } };
      expect(codeFingerprint(code), name).not.toBe(CODE_FINGERPRINT);
    }
    for (const name of Object.keys(contextUpdates)) {
      const changed = { ...contextUpdates, [name]: () => undefined };
      const code = { ...FOLD_CODE, updates: { ...UPDATE_CODE, contextUpdates: changed } };
      expect(codeFingerprint(code), name).not.toBe(CODE_FINGERPRINT);
    }
    expect(codeFingerprint(FOLD_CODE)).toBe(CODE_FINGERPRINT);
  });

  it('a build whose guard changed, same version, refuses the checkpoint the original build wrote', async () => {
    requireDist();
    // Two builds side by side: the real one, and a copy in which `leaseLive` lets a holder write
    // only before its lease's expiry instant, not at it (`<=` → `<`).
    const patched = tmp();
    for (const dir of ['bin', 'dist']) cpSync(join(ROOT, dir), join(patched, dir), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(patched, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(patched, 'node_modules'));
    const guards = join(patched, 'dist/machines/job.guards.js');
    const before = readFileSync(guards, 'utf8');
    const after = before.replace(
      'e.ts_ms <= c.lease.expires_unix * 1000',
      'e.ts_ms < c.lease.expires_unix * 1000',
    );
    expect(after).not.toBe(before);
    writeFileSync(guards, after);

    const home = tmp();
    const spec = JSON.stringify({
      job_id: 'job-foldcode01',
      job_type: 'agent_task',
      budgets: { max_wall_time_sec: 60, max_tool_calls: 1, max_output_bytes: 4096, max_concurrency_slots: 1 },
      tool_policy: { allow_network: false, allow_subprocess: false, allowed_tools: [] },
      payload: { prompt: 'hello', max_turns: 1 },
    });
    expect((await execplane(['enqueue', '--home', home, '--file', '-'], { input: spec })).code).toBe(0);
    await checkpointByDist(home);

    const real = await execplane(['head', '--home', home, '--from-checkpoint']);
    expect(real.code).toBe(0);
    expect(real.stderr).toBe('');
    const other = await execa(
      process.execPath,
      [join(patched, 'bin/execplane.js'), 'head', '--home', home, '--from-checkpoint'],
      {
        reject: false,
        env: { NO_COLOR: '1' },
      },
    );
    expect(other.exitCode).toBe(0);
    expect(other.stderr).toMatch(/checkpoint\.json ignored \(checkpoint\.json was folded by other code/);
    expect(other.stdout.trim()).toBe(real.stdout.trim()); // both folded the same ledger to the same head
  });
});
