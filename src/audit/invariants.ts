/**
 * Invariants 1–7 of docs/spec.md §4, re-checked by rules of the audit's own. They are written from the
 * spec's text, as plainly as possible, and share no code with machines/ (no guard, no machine,
 * no evolve): a bug in a guard must not be able to vouch for itself. Invariant 8 (integrity) is
 * integrity.ts.
 *
 *   1. Single lease   — a claim only of a queued job (enqueued, or retried since its last
 *                       attempt ended), and not before the retry's not_before_unix.
 *   2. Fencing        — a claim's attempt is the previous + 1 (and ≤ max_attempts), a retry names
 *                       the next attempt; start, heartbeat, tool_call, complete and fail come from
 *                       the lease holder, with its attempt, at or before the lease expiry; a lease
 *                       (claim, heartbeat) ends after the event that takes it.
 *   3. Expiry         — an expire names the lease on record (worker, attempt, expiry) and is at or
 *                       after that expiry.
 *   4. Budgets        — tool_call events of an attempt ≤ max_tool_calls; usage.tool_calls equals
 *                       them; usage.output_bytes ≤ max_output_bytes; start → complete/fail ≤
 *                       max_wall_time_sec + AUDIT_WALL_TIME_GRACE_MS; a complete reports
 *                       usage.model_tokens ≤ max_model_tokens.
 *   5. Policy         — subprocess needs allow_subprocess, network needs allow_network, and a
 *                       model-requested tool must be in allowed_tools.
 *   6. Slots          — at a claim, the slots of the jobs the worker holds live leases on (live up
 *                       to and including the expiry instant) + the job's ≤ worker_slots.
 *   7. Terminal       — nothing follows complete or cancel, nor the end (fail or expire) of a
 *                       job's last attempt.
 * And job identity: every event names an enqueued job, and a job_id is enqueued once.
 *
 * An event that breaks a rule is reported and not applied, so later events are judged against
 * the lawful history before them (as the machine does).
 */
import type { Budgets, LedgerEvent, ToolPolicy } from '../schema/types.generated.js';
import { parseTsUtc } from '../time.js';
import { finding, type Finding, type FindingCode, type LineRef } from './findings.js';

/** docs/spec.md §4 (invariant 4): the grace past max_wall_time_sec (the machine's WALL_TIME_GRACE_MS; a test pins both). */
export const AUDIT_WALL_TIME_GRACE_MS = 10_000;
/** docs/spec.md §3: max_attempts when a spec omits it. */
export const AUDIT_DEFAULT_MAX_ATTEMPTS = 3;

/** queued → leased → ended (failed/expired, may be retried) or final (nothing may follow). */
type Phase = 'queued' | 'leased' | 'ended' | 'final';

interface Lease {
  readonly worker: string;
  readonly attempt: number;
  readonly expiresMs: number;
}

interface JobFacts {
  readonly maxAttempts: number;
  readonly budgets: Budgets;
  readonly policy: ToolPolicy;
  phase: Phase;
  /** Why the job is final. */
  finalBy: string;
  attempt: number;
  lease: Lease | null;
  notBeforeMs: number;
  startedMs: number | null;
  toolCalls: number;
}

/** Lease and backoff times are instants with millisecond precision (event.schema.json). */
const unixToMs = (unix: number) => Math.round(unix * 1000);
const iso = (ms: number) => new Date(ms).toISOString();

export class InvariantCheck {
  private readonly jobs = new Map<string, JobFacts>();
  /** worker_id → jobs it holds a lease on (invariant 6). */
  private readonly leasesOf = new Map<string, Set<string>>();

  check(ev: LedgerEvent, at: LineRef): Finding[] {
    const out: Finding[] = [];
    const flag = (code: FindingCode, message: string) => out.push(finding(at, code, message));
    const id = ev.job_id;
    const t = parseTsUtc(ev.ts_utc);

    if (ev.event === 'enqueue') {
      if (this.jobs.has(id)) {
        flag('E_AUDIT_DUPLICATE_ENQUEUE', `job ${id} is enqueued a second time; a job_id is enqueued once.`);
      } else {
        this.jobs.set(id, {
          maxAttempts: ev.job.max_attempts ?? AUDIT_DEFAULT_MAX_ATTEMPTS,
          budgets: ev.job.budgets,
          policy: ev.job.tool_policy,
          phase: 'queued',
          finalBy: '',
          attempt: 0,
          lease: null,
          notBeforeMs: 0,
          startedMs: null,
          toolCalls: 0,
        });
      }
      return out;
    }
    const job = this.jobs.get(id);
    if (!job) {
      flag('E_AUDIT_UNKNOWN_JOB', `${ev.event} for job ${id}, which was never enqueued.`);
      return out;
    }
    if (job.phase === 'final') {
      flag(
        'E_AUDIT_INV7_AFTER_TERMINAL',
        `${ev.event} for job ${id}, which ${job.finalBy}; nothing may follow.`,
      );
      return out;
    }

    switch (ev.event) {
      case 'claim': {
        if (job.phase !== 'queued')
          flag('E_AUDIT_INV1_NOT_QUEUED', `claim of job ${id}, which is not queued (${this.describe(job)}).`);
        if (t < job.notBeforeMs)
          flag(
            'E_AUDIT_INV1_BACKOFF',
            `claim of job ${id} before its retry's not_before ${iso(job.notBeforeMs)}.`,
          );
        if (ev.attempt !== job.attempt + 1)
          flag(
            'E_AUDIT_INV2_ATTEMPT',
            `claim with attempt ${ev.attempt}; the next attempt is ${job.attempt + 1}.`,
          );
        else if (ev.attempt > job.maxAttempts)
          flag(
            'E_AUDIT_INV2_ATTEMPT',
            `claim with attempt ${ev.attempt}, beyond max_attempts ${job.maxAttempts}.`,
          );
        if (unixToMs(ev.lease_expires_unix) <= t)
          flag('E_AUDIT_INV2_LEASE_LAPSED', `the claim's lease ends at or before the claim itself.`);
        const held = this.heldSlots(ev.worker_id, t);
        const need = job.budgets.max_concurrency_slots;
        if (held + need > ev.worker_slots)
          flag(
            'E_AUDIT_INV6_SLOTS',
            `worker ${ev.worker_id} holds ${held} slot(s) and claims ${need} more, over its worker_slots ${ev.worker_slots}.`,
          );
        if (out.length) return out;
        job.phase = 'leased';
        job.attempt = ev.attempt;
        job.startedMs = null;
        job.toolCalls = 0;
        this.setLease(id, job, {
          worker: ev.worker_id,
          attempt: ev.attempt,
          expiresMs: unixToMs(ev.lease_expires_unix),
        });
        return out;
      }
      case 'start':
      case 'heartbeat':
      case 'tool_call':
      case 'complete':
      case 'fail': {
        const lease = job.lease;
        if (!lease)
          flag('E_AUDIT_INV2_NOT_HOLDER', `${ev.event} from ${ev.worker_id}, but job ${id} holds no lease.`);
        else if (lease.worker !== ev.worker_id)
          flag(
            'E_AUDIT_INV2_NOT_HOLDER',
            `${ev.event} from ${ev.worker_id}; the lease is held by ${lease.worker}.`,
          );
        else if (lease.attempt !== ev.attempt)
          flag(
            'E_AUDIT_INV2_NOT_HOLDER',
            `${ev.event} for attempt ${ev.attempt}; the lease is attempt ${lease.attempt}.`,
          );
        else if (t > lease.expiresMs)
          flag(
            'E_AUDIT_INV2_LEASE_LAPSED',
            `${ev.event} at ${ev.ts_utc}, after the lease expired at ${iso(lease.expiresMs)}.`,
          );
        if (ev.event === 'heartbeat' && unixToMs(ev.lease_expires_unix) <= t)
          flag('E_AUDIT_INV2_LEASE_LAPSED', `the heartbeat renews the lease to a time not after itself.`);
        if (ev.event === 'tool_call') {
          if (job.toolCalls + 1 > job.budgets.max_tool_calls)
            flag(
              'E_AUDIT_INV4_TOOL_CALLS',
              `tool call ${job.toolCalls + 1} of attempt ${ev.attempt}; max_tool_calls is ${job.budgets.max_tool_calls}.`,
            );
          const denied = policyDenials(job.policy, ev.tool, ev.requested_by, ev.needs);
          if (denied.length)
            flag('E_AUDIT_INV5_POLICY', `tool ${ev.tool} is not allowed: ${denied.join('; ')}.`);
        }
        if (ev.event === 'complete' || ev.event === 'fail') {
          const { usage } = ev;
          if (usage.output_bytes > job.budgets.max_output_bytes)
            flag(
              'E_AUDIT_INV4_OUTPUT',
              `usage.output_bytes ${usage.output_bytes} exceeds max_output_bytes ${job.budgets.max_output_bytes}.`,
            );
          const maxTokens = job.budgets.max_model_tokens;
          if (ev.event === 'complete' && maxTokens !== undefined && (usage.model_tokens ?? 0) > maxTokens)
            flag(
              'E_AUDIT_INV4_MODEL_TOKENS',
              `job completed with usage.model_tokens ${usage.model_tokens}, over max_model_tokens ${maxTokens}.`,
            );
          if (usage.tool_calls !== job.toolCalls)
            flag(
              'E_AUDIT_INV4_USAGE_MISMATCH',
              `usage.tool_calls ${usage.tool_calls}, but the attempt has ${job.toolCalls} tool_call event(s).`,
            );
          const limitMs = job.budgets.max_wall_time_sec * 1000 + AUDIT_WALL_TIME_GRACE_MS;
          if (job.startedMs !== null && t - job.startedMs > limitMs)
            flag(
              'E_AUDIT_INV4_WALL_TIME',
              `${t - job.startedMs} ms from start to ${ev.event}, over max_wall_time_sec ${job.budgets.max_wall_time_sec} plus ${AUDIT_WALL_TIME_GRACE_MS} ms grace.`,
            );
        }
        if (out.length) return out;
        if (ev.event === 'start') job.startedMs = t;
        else if (ev.event === 'heartbeat')
          this.setLease(id, job, { ...lease!, expiresMs: unixToMs(ev.lease_expires_unix) });
        else if (ev.event === 'tool_call') job.toolCalls += 1;
        else if (ev.event === 'complete') this.end(id, job, 'final', 'completed');
        else this.end(id, job, 'ended', `failed on its last attempt (${job.attempt} of ${job.maxAttempts})`);
        return out;
      }
      case 'expire': {
        const lease = job.lease;
        if (!lease) {
          flag('E_AUDIT_INV3_LEASE_MISMATCH', `expire of job ${id}, which holds no lease.`);
        } else if (
          lease.worker !== ev.worker_id ||
          lease.attempt !== ev.attempt ||
          lease.expiresMs !== unixToMs(ev.lease_expires_unix)
        ) {
          flag(
            'E_AUDIT_INV3_LEASE_MISMATCH',
            `expire names ${ev.worker_id} attempt ${ev.attempt} until ${iso(unixToMs(ev.lease_expires_unix))}; ` +
              `the lease on record is ${lease.worker} attempt ${lease.attempt} until ${iso(lease.expiresMs)}.`,
          );
        } else if (t < lease.expiresMs) {
          flag(
            'E_AUDIT_INV3_EARLY_EXPIRE',
            `expire at ${ev.ts_utc}, before the lease expiry ${iso(lease.expiresMs)}.`,
          );
        }
        if (out.length) return out;
        this.end(id, job, 'ended', `expired on its last attempt (${job.attempt} of ${job.maxAttempts})`);
        return out;
      }
      case 'retry': {
        if (ev.attempt !== job.attempt + 1)
          flag(
            'E_AUDIT_INV2_ATTEMPT',
            `retry names attempt ${ev.attempt}; the next attempt is ${job.attempt + 1}.`,
          );
        // A retry of a job that has not ended is the machine's to refuse (transitions.ts); here
        // it is simply not applied, so a claim that relies on it is still NOT_QUEUED.
        if (out.length || job.phase !== 'ended') return out;
        job.phase = 'queued';
        job.notBeforeMs = unixToMs(ev.not_before_unix);
        return out;
      }
      case 'cancel':
        this.end(id, job, 'final', 'was cancelled');
        return out;
    }
  }

  private describe(job: JobFacts): string {
    if (job.phase === 'leased' && job.lease)
      return `leased to ${job.lease.worker} until ${iso(job.lease.expiresMs)}`;
    return job.phase === 'ended' ? `its attempt ${job.attempt} ended and no retry followed` : job.phase;
  }

  /** Slots of the jobs `worker` holds a live lease on at `t` (live through the expiry instant). */
  private heldSlots(worker: string, t: number): number {
    let slots = 0;
    for (const id of this.leasesOf.get(worker) ?? []) {
      const job = this.jobs.get(id)!;
      if (job.lease && job.lease.expiresMs >= t) slots += job.budgets.max_concurrency_slots;
    }
    return slots;
  }

  private setLease(id: string, job: JobFacts, lease: Lease | null): void {
    if (job.lease) this.leasesOf.get(job.lease.worker)?.delete(id);
    job.lease = lease;
    if (lease) {
      let set = this.leasesOf.get(lease.worker);
      if (!set) this.leasesOf.set(lease.worker, (set = new Set()));
      set.add(id);
    }
  }

  /** The attempt ended, or the job did: the lease goes, and an ended last attempt is final. */
  private end(id: string, job: JobFacts, phase: 'ended' | 'final', reason: string): void {
    this.setLease(id, job, null);
    job.phase = phase === 'final' || job.attempt >= job.maxAttempts ? 'final' : 'ended';
    job.finalBy = reason;
  }
}

function policyDenials(
  policy: ToolPolicy,
  tool: string,
  requestedBy: 'handler' | 'model',
  needs: readonly ('subprocess' | 'network')[],
): string[] {
  const denied: string[] = [];
  if (needs.includes('subprocess') && !policy.allow_subprocess)
    denied.push('it needs subprocess, allow_subprocess is false');
  if (needs.includes('network') && !policy.allow_network)
    denied.push('it needs network, allow_network is false');
  if (requestedBy === 'model' && !policy.allowed_tools.includes(tool))
    denied.push(`the model asked for it and it is not in allowed_tools [${policy.allowed_tools.join(', ')}]`);
  return denied;
}
