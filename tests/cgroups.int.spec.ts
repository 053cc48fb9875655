/**
 * The job cgroups (src/sandbox/limits.ts) on this machine's cgroup v1: a name a reused pid cannot
 * repeat, and the cgroups of dead workers swept at the next probe — a pid the kernel reused once
 * made mkdir fail with EEXIST and failed a job (E_SANDBOX_SETUP) in CI.
 */
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { createJobCgroup, probeCgroups } from '../src/sandbox/limits.js';
import { osPart } from './helpers/os-parts.js';

const support = probeCgroups();
const limits = {
  max_memory_bytes: 64 * 1024 * 1024,
  max_processes: 16,
  max_cpu_sec: 10,
  max_file_size_bytes: 1024 * 1024,
  max_open_files: 64,
};

test.runIf(
  osPart(support.kind === 'v1', 'the cgroup tests need writable cgroup v1 memory and pids controllers'),
)(
  'a cgroup left by a dead pid is swept at the next probe; one of a live pid stays; new names never collide with them',
  () => {
    if (support.kind !== 'v1') return;
    // A pid that is surely not running now (beyond pid_max's usual range is refused by the
    // kernel, so take one the kernel has no process for at this moment).
    let dead = 4_000_000;
    while (existsSync(`/proc/${dead}`)) dead += 1;
    const left = `execplane-${dead}-1`;
    const alive = `execplane-${process.pid}-left-1`;
    for (const dir of [support.memory, support.pids]) {
      mkdirSync(join(dir, left));
      mkdirSync(join(dir, alive));
    }
    try {
      const again = probeCgroups();
      expect(again.kind).toBe('v1');
      for (const dir of [support.memory, support.pids]) {
        expect(existsSync(join(dir, left))).toBe(false);
        expect(existsSync(join(dir, alive))).toBe(true);
      }
      // This process's own cgroups carry a nonce: the name the pid alone would give is taken, and
      // creating still works.
      for (const dir of [support.memory, support.pids]) mkdirSync(join(dir, `execplane-${process.pid}-1`));
      const cg = createJobCgroup(support, limits);
      expect(cg).toBeDefined();
      cg!.remove();
      for (const dir of [support.memory, support.pids]) rmdirSync(join(dir, `execplane-${process.pid}-1`));
    } finally {
      for (const dir of [support.memory, support.pids]) {
        for (const name of [left, alive]) if (existsSync(join(dir, name))) rmdirSync(join(dir, name));
      }
    }
  },
);
