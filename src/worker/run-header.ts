/**
 * The run header: what a later reader needs to know about how an attempt ran (docs/spec.md §7) —
 * who ran it, with which version, on which workspace, under which validator, policy, budgets
 * and sandbox. `start` pins its SHA-256 (run_header_sha256): a worker builds it under the lock of
 * the commit that claims and starts the attempt, and writes its file before anything of the
 * attempt runs (docs/decisions.md, "Throughput (issue 18)").
 */
import { hostname } from 'node:os';
import { canonicalJson, sha256Hex } from '../canonical.js';
import type { StoredJob } from '../plane.js';
import { VERSION } from '../version.js';

export interface RunHeaderInput {
  readonly job: StoredJob;
  readonly attempt: number;
  readonly workerId: string;
  readonly workspace: string;
  readonly writtenAtUtc: string;
  /** Facts contributed by the runtime's sandbox/handlers (sandbox mode, model endpoint, …). */
  readonly extra: Readonly<Record<string, unknown>>;
}

export const VALIDATOR = 'ajv 8, JSON Schema draft 2020-12, schemas/job.schema.json';

/** The host's name, read once per process (a syscall per job otherwise). */
let host: string | undefined;

export function buildRunHeader(input: RunHeaderInput): string {
  const header = {
    v: 1,
    job_id: input.job.job_id,
    job_type: input.job.job_type,
    attempt: input.attempt,
    worker_id: input.workerId,
    worker_version: `execplane ${VERSION}`,
    node_version: process.version,
    host: (host ??= hostname()),
    pid: process.pid,
    workspace_realpath: input.workspace,
    validator: VALIDATOR,
    tool_policy_sha256: sha256Hex(canonicalJson(input.job.tool_policy)),
    budgets_sha256: sha256Hex(canonicalJson(input.job.budgets)),
    written_at_utc: input.writtenAtUtc,
    ...input.extra,
  };
  return JSON.stringify(header, null, 2) + '\n';
}
