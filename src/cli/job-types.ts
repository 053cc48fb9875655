/**
 * The job types a command knows: the built-in ones plus those of the modules named by `--jobs
 * FILE` (repeatable) and by config.json's `jobs` (paths relative to the home). A module may
 * export job types (made with defineJobType, docs/library.md) under any names, as single values
 * or arrays; every such export is taken, and a module that exports none is refused (exit 2),
 * as is one that cannot be loaded, or a name defined twice.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Option } from 'commander';
import { loadPlaneConfig } from '../config/plane-config.js';
import { isExecplaneError, UsageError } from '../errors.js';
import { isJobType, type AnyJobType } from '../jobs/define.js';
import { BUILTIN_JOB_TYPE_SET } from '../plane.js';
import type { JobTypeSchema, JobTypeSet } from '../schema/job-types.js';

/** `--jobs FILE`: a module of job types of your own (repeatable). */
export const jobsOption = () =>
  new Option(
    '--jobs <module.js>',
    'also load the job types this JavaScript module exports (defineJobType; docs/library.md); repeatable',
  ).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);

/**
 * The user's job types (from `jobs`, then config.json's `jobs`): only what defineJobType made is
 * loaded here, not the built-in handlers (a worker adds those: src/jobs/index.ts, jobTypeSet).
 */
export async function loadUserJobTypes(home: string, jobs: readonly string[] = []): Promise<AnyJobType[]> {
  const fromConfig = loadPlaneConfig(home).config.jobs ?? [];
  const modules = [
    ...jobs.map((f) => ({ path: resolve(f), named: `--jobs ${f}` })),
    ...fromConfig.map((f) => ({
      path: isAbsolute(f) ? f : resolve(home, f),
      named: `config.json "jobs" entry ${JSON.stringify(f)}`,
    })),
  ];
  const types: AnyJobType[] = [];
  const seen = new Set<string>();
  for (const m of modules) {
    if (seen.has(m.path)) continue;
    seen.add(m.path);
    types.push(...(await typesOf(m.path, m.named)));
  }
  // A name defined twice, or a built-in one, is refused here with where it came from.
  withNames(
    types,
    modules.map((m) => m.named),
  );
  return types;
}

/** The job types enqueue and `spec` check specs against: the built-in ones and the user's. */
export async function specJobTypes(
  home: string,
  jobs: readonly string[] = [],
): Promise<JobTypeSet<JobTypeSchema<string, unknown>>> {
  const user = await loadUserJobTypes(home, jobs);
  return user.length ? BUILTIN_JOB_TYPE_SET.with(user) : BUILTIN_JOB_TYPE_SET;
}

function withNames(types: readonly AnyJobType[], from: readonly string[]): void {
  try {
    BUILTIN_JOB_TYPE_SET.with(types);
  } catch (err) {
    if (isExecplaneError(err))
      throw new UsageError('E_JOB_TYPE', `${err.message} (loaded from ${from.join(', ')})`);
    throw err;
  }
}

async function typesOf(path: string, named: string): Promise<AnyJobType[]> {
  if (!existsSync(path))
    throw new UsageError(
      'E_JOB_TYPE',
      `${named}: no file ${path}; give the path of a JavaScript module of job types`,
    );
  let exported: Record<string, unknown>;
  try {
    exported = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (err) {
    const first = String((err as Error).message ?? err).split('\n')[0];
    throw new UsageError('E_JOB_TYPE', `${named}: ${path} could not be loaded: ${first}`);
  }
  const found: AnyJobType[] = [];
  for (const value of Object.values(exported)) {
    for (const v of Array.isArray(value) ? value : [value])
      if (isJobType(v) && !found.includes(v)) found.push(v);
  }
  if (found.length === 0)
    throw new UsageError(
      'E_JOB_TYPE',
      `${named}: ${path} exports no job type; export what defineJobType returns (docs/library.md)`,
    );
  return found;
}
