/**
 * Jobs of every type run end to end through the real CLI (`enqueue`, then `work --once`), and
 * independent checks of what they left behind: processes, evidence files, ledger events.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { planePaths } from '../../src/ledger/paths.js';
import type { CompleteEvent, FailEvent, LedgerEvent } from '../../src/schema/types.generated.js';
import type { JobSpec } from '../../src/schema/job-spec.js';
import { ledgerEvents } from './ledger.js';
import { cli } from './procs.js';

type Budgets = JobSpec['budgets'];
type Policy = JobSpec['tool_policy'];

const budgets = (over: Partial<Budgets> = {}): Budgets => ({
  max_wall_time_sec: 60,
  max_tool_calls: 8,
  max_output_bytes: 65_536,
  max_concurrency_slots: 1,
  ...over,
});

export interface SpecOver {
  readonly budgets?: Partial<Budgets>;
  readonly tool_policy?: Partial<Policy>;
}

export function testRunnerSpec(
  commands: string[][],
  o: SpecOver & { timeout_sec?: number; cwd?: string; env_allow?: string[] } = {},
) {
  return {
    job_type: 'test_runner_task' as const,
    budgets: budgets(o.budgets),
    tool_policy: { allow_network: false, allow_subprocess: true, allowed_tools: [], ...o.tool_policy },
    payload: {
      commands,
      timeout_sec: o.timeout_sec ?? 30,
      ...(o.cwd !== undefined ? { cwd: o.cwd } : {}),
      ...(o.env_allow !== undefined ? { env_allow: o.env_allow } : {}),
    },
    max_attempts: 1,
  };
}

export function docSpec(
  inputs: string[],
  o: SpecOver & { max_input_bytes?: number; max_output_bytes?: number } = {},
) {
  return {
    job_type: 'doc_compactor_task' as const,
    budgets: budgets(o.budgets),
    tool_policy: { allow_network: false, allow_subprocess: false, allowed_tools: [], ...o.tool_policy },
    payload: {
      inputs,
      max_input_bytes: o.max_input_bytes ?? 65_536,
      max_output_bytes: o.max_output_bytes ?? 4096,
      title: 'Test summary',
    },
    max_attempts: 1,
  };
}

export function indexSpec(
  payload: {
    include_globs: string[];
    exclude_globs?: string[];
    max_files?: number;
    max_file_bytes?: number;
    keywords?: string[];
  },
  o: SpecOver = {},
) {
  return {
    job_type: 'repo_index_task' as const,
    budgets: budgets(o.budgets),
    tool_policy: { allow_network: false, allow_subprocess: false, allowed_tools: [], ...o.tool_policy },
    payload: { max_files: 100, max_file_bytes: 4096, ...payload },
    max_attempts: 1,
  };
}

export interface Plane {
  readonly root: string;
  readonly home: string;
  readonly workspace: string;
}

/** A fresh plane: <root>/home and an empty workspace <root>/ws (outside the home). */
export function freshPlane(root: string): Plane {
  const home = join(root, 'home');
  const workspace = join(root, 'ws');
  mkdirSync(workspace, { recursive: true });
  return { root, home, workspace };
}

export function writeConfig(p: Plane, config: unknown): void {
  mkdirSync(p.home, { recursive: true });
  writeFileSync(planePaths(p.home).config, typeof config === 'string' ? config : JSON.stringify(config));
}

export interface JobRun {
  readonly jobId: string;
  readonly events: LedgerEvent[];
  readonly end: CompleteEvent | FailEvent;
  readonly evidenceDir: string;
  readonly workStderr: string;
  readonly workExit: number | undefined;
}

/** `execplane enqueue` one spec, then `execplane work --once`; returns what the ledger says. */
export async function runJobViaCli(
  p: Plane,
  spec: unknown,
  o: { env?: Record<string, string>; workArgs?: string[] } = {},
): Promise<JobRun> {
  const file = join(p.root, `spec-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(spec));
  const enq = await cli(['enqueue', '--home', p.home, '--file', file, '--json']);
  expect(enq.exitCode, enq.stderr).toBe(0);
  const jobId = (JSON.parse(enq.stdout) as { job_id: string }).job_id;
  const work = await cli(
    ['work', '--once', '--home', p.home, '--workspace', p.workspace, ...(o.workArgs ?? [])],
    {
      ...(o.env ? { env: o.env } : {}),
    },
  );
  const events = ledgerEvents(planePaths(p.home).ledger).filter((e) => e.job_id === jobId);
  const end = events.find((e) => e.event === 'complete' || e.event === 'fail') as CompleteEvent | FailEvent;
  expect(end, `job ${jobId} did not finish: ${work.stderr}`).toBeDefined();
  return {
    jobId,
    events,
    end,
    evidenceDir: join(planePaths(p.home).evidence, jobId),
    workStderr: String(work.stderr),
    workExit: work.exitCode,
  };
}

/** Every evidence file the end event records exists with that size and SHA-256. */
export function expectEvidenceMatches(run: JobRun): void {
  for (const f of run.end.evidence ?? []) {
    const bytes = readFileSync(join(run.evidenceDir, f.path));
    expect(bytes.length, f.path).toBe(f.bytes);
    expect(createHash('sha256').update(bytes).digest('hex'), f.path).toBe(f.sha256);
  }
}

export function evidenceJson<T = Record<string, unknown>>(run: JobRun, path: string): T {
  return JSON.parse(readFileSync(join(run.evidenceDir, path), 'utf8')) as T;
}

/**
 * Live host processes whose command line contains `marker` (e.g. `sleep\0300.123`): a job's
 * processes have pids of their own PID namespace, so a test finds them on the host by what they
 * run, not by the pid they see.
 */
export function hostProcessesWith(marker: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker) && isAlive(Number(entry)))
        out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

/** A `sleep` argument no other process has: `<n>.<m>` seconds, far from any test's own sleeps. */
export function uniqueSleep(): string {
  return `${300 + Math.floor(Math.random() * 1000)}.${String(process.pid % 1000).padStart(3, '0')}${Math.floor(Math.random() * 1000)}`;
}

/** Alive and not a zombie (a killed orphan may linger unreaped where pid 1 does not reap). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
