/**
 * The job machine's guards: pure predicates of (context, event), one per rule, each with the
 * stable code a refused command carries and a sentence that says why. The machine
 * (job.machine.ts) names the rules each transition composes; a refused event is explained from
 * those same transitions, read out of the compiled table (`explainRefusal`, src/core/evolve.ts),
 * so the reason a writer gives is always a rule the machine applied.
 *
 * Invariants of docs/spec.md §4 guarded here (the audit re-checks them with rules of its own):
 *   1. Single lease      — claim only from queued, only at/after a retry's not_before_unix.
 *   2. Fencing           — attempt +1 per claim; worker events only from the lease holder, with
 *                          the current attempt, at a ts_utc no later than the lease expiry.
 *   3. Expiry is an event — expire only at/after the lease expiry, for the lease on record.
 *   4. Budgets           — tool_call count ≤ max_tool_calls; usage.output_bytes ≤ max_output_bytes;
 *                          start → complete/fail ≤ max_wall_time_sec + WALL_TIME_GRACE_MS; a job
 *                          completes only within max_model_tokens (a fail may report the turn
 *                          that went past it: tokens are known only once the server has spent them).
 *   5. Policy            — a tool_call needs allow_subprocess / allow_network for what it uses,
 *                          and a model-requested tool must be in allowed_tools.
 *   6. Slots             — at claim, the worker's live leased slots + this job's slots ≤ worker_slots.
 *   7. Terminal          — complete and cancelled accept nothing (their states are final).
 */
import type { JobContext, JobMachineEvent } from './job.types.js';

/** Wall time a worker may take past max_wall_time_sec to abort the job and write its fail. */
export const WALL_TIME_GRACE_MS = 10_000;

type Guard = (context: JobContext, event: JobMachineEvent) => boolean;

export interface GuardRule {
  readonly code: string;
  readonly check: Guard;
  readonly explain: (context: JobContext, event: JobMachineEvent) => string;
}

const attemptOf = (e: JobMachineEvent): number | undefined => ('attempt' in e.ev ? e.ev.attempt : undefined);
const workerOf = (e: JobMachineEvent): string | undefined =>
  'worker_id' in e.ev ? e.ev.worker_id : undefined;
const leaseExpiryOf = (e: JobMachineEvent): number | undefined =>
  'lease_expires_unix' in e.ev ? e.ev.lease_expires_unix : undefined;
const usageOf = (e: JobMachineEvent) =>
  e.ev.event === 'complete' || e.ev.event === 'fail' ? e.ev.usage : undefined;
const isoOf = (unixSec: number) => new Date(unixSec * 1000).toISOString();

export const guardRules = {
  notBeforeReached: {
    code: 'E_BACKOFF',
    check: (c, e) => e.ts_ms >= c.not_before_unix * 1000,
    explain: (c) => `the job is backing off until ${isoOf(c.not_before_unix)}`,
  },
  isNextAttempt: {
    code: 'E_STALE_ATTEMPT',
    check: (c, e) => attemptOf(e) === c.attempt + 1,
    explain: (c, e) => `attempt ${attemptOf(e)} is not the next attempt (${c.attempt + 1})`,
  },
  withinMaxAttempts: {
    code: 'E_ATTEMPTS_EXHAUSTED',
    check: (c, e) => (attemptOf(e) ?? Infinity) <= c.max_attempts,
    explain: (c) => `all ${c.max_attempts} attempts are used`,
  },
  attemptsLeft: {
    code: 'E_ATTEMPTS_EXHAUSTED',
    check: (c) => c.attempt < c.max_attempts,
    explain: (c) => `all ${c.max_attempts} attempts are used`,
  },
  leaseInFuture: {
    code: 'E_LEASE_INVALID',
    check: (_c, e) => {
      const exp = leaseExpiryOf(e);
      return exp !== undefined && exp * 1000 > e.ts_ms;
    },
    explain: (_c, e) => `lease_expires_unix ${leaseExpiryOf(e)} is not after the event time`,
  },
  slotsAvailable: {
    code: 'E_SLOTS_EXCEEDED',
    check: (c, e) =>
      e.ev.event === 'claim' && e.held_slots + c.budgets.max_concurrency_slots <= e.ev.worker_slots,
    explain: (c, e) =>
      `worker ${workerOf(e)} holds ${e.held_slots} slot(s); this job needs ${c.budgets.max_concurrency_slots} ` +
      `and the worker declared ${e.ev.event === 'claim' ? e.ev.worker_slots : '?'}`,
  },
  isLeaseHolder: {
    code: 'E_LEASE_LOST',
    check: (c, e) => c.lease !== null && c.lease.worker_id === workerOf(e),
    explain: (c, e) =>
      c.lease === null
        ? `the job holds no lease`
        : `worker ${workerOf(e)} does not hold the lease (held by ${c.lease.worker_id})`,
  },
  isCurrentAttempt: {
    code: 'E_LEASE_LOST',
    check: (c, e) => attemptOf(e) === c.attempt,
    explain: (c, e) => `attempt ${attemptOf(e)} is not the current attempt (${c.attempt})`,
  },
  leaseLive: {
    code: 'E_LEASE_LOST',
    check: (c, e) => c.lease !== null && e.ts_ms <= c.lease.expires_unix * 1000,
    explain: (c) => `the lease expired at ${c.lease ? isoOf(c.lease.expires_unix) : '?'}`,
  },
  leaseLapsed: {
    code: 'E_LEASE_NOT_LAPSED',
    check: (c, e) => c.lease !== null && e.ts_ms >= c.lease.expires_unix * 1000,
    explain: (c) => `the lease runs until ${c.lease ? isoOf(c.lease.expires_unix) : '?'}`,
  },
  isRecordedLease: {
    code: 'E_LEASE_MISMATCH',
    check: (c, e) => c.lease !== null && c.lease.expires_unix === leaseExpiryOf(e),
    explain: (c, e) =>
      `lease_expires_unix ${leaseExpiryOf(e)} is not the lease on record (${c.lease?.expires_unix})`,
  },
  toolCallsLeft: {
    code: 'E_BUDGET_TOOL_CALLS',
    check: (c) => c.tool_calls < c.budgets.max_tool_calls,
    explain: (c) => `max_tool_calls (${c.budgets.max_tool_calls}) is reached`,
  },
  policyAllows: {
    code: 'E_POLICY_DENIED',
    check: (c, e) => {
      if (e.ev.event !== 'tool_call') return false;
      const p = c.tool_policy;
      if (e.ev.needs.includes('subprocess') && !p.allow_subprocess) return false;
      if (e.ev.needs.includes('network') && !p.allow_network) return false;
      return e.ev.requested_by !== 'model' || p.allowed_tools.includes(e.ev.tool);
    },
    explain: (c, e) =>
      e.ev.event === 'tool_call'
        ? `tool ${e.ev.tool} (${e.ev.requested_by}, needs [${e.ev.needs.join(', ')}]) is not allowed by the job's tool_policy ` +
          `(allow_subprocess=${c.tool_policy.allow_subprocess}, allow_network=${c.tool_policy.allow_network}, ` +
          `allowed_tools=[${c.tool_policy.allowed_tools.join(', ')}])`
        : 'not a tool call',
  },
  usageMatchesToolCalls: {
    code: 'E_USAGE_MISMATCH',
    check: (c, e) => usageOf(e)?.tool_calls === c.tool_calls,
    explain: (c, e) =>
      `usage.tool_calls ${usageOf(e)?.tool_calls} differs from the ${c.tool_calls} tool_call event(s) of this attempt`,
  },
  outputWithinBudget: {
    code: 'E_BUDGET_OUTPUT',
    check: (c, e) => (usageOf(e)?.output_bytes ?? Infinity) <= c.budgets.max_output_bytes,
    explain: (c, e) =>
      `usage.output_bytes ${usageOf(e)?.output_bytes} exceeds max_output_bytes ${c.budgets.max_output_bytes}`,
  },
  modelTokensWithinBudget: {
    code: 'E_BUDGET_MODEL_TOKENS',
    check: (c, e) =>
      e.ev.event !== 'complete' ||
      c.budgets.max_model_tokens === undefined ||
      (e.ev.usage.model_tokens ?? 0) <= c.budgets.max_model_tokens,
    explain: (c, e) =>
      `usage.model_tokens ${usageOf(e)?.model_tokens} exceeds max_model_tokens ${c.budgets.max_model_tokens}`,
  },
  wallTimeWithinBudget: {
    code: 'E_BUDGET_WALL_TIME',
    check: (c, e) =>
      c.started_at_ms === null ||
      e.ts_ms - c.started_at_ms <= c.budgets.max_wall_time_sec * 1000 + WALL_TIME_GRACE_MS,
    explain: (c) =>
      `the attempt ran past max_wall_time_sec ${c.budgets.max_wall_time_sec} (+${WALL_TIME_GRACE_MS} ms grace)`,
  },
} satisfies Record<string, GuardRule>;

export type GuardName = keyof typeof guardRules;

/**
 * Every declaration of this module, for the checkpoint's code fingerprint (C1 of
 * src/ledger/checkpoint/format.ts): a checkpoint folded under other rules is never taken.
 * `tests/fold-code.unit.spec.ts` fails when a declaration is missing here.
 */
export const GUARD_CODE = {
  WALL_TIME_GRACE_MS,
  attemptOf,
  workerOf,
  leaseExpiryOf,
  usageOf,
  isoOf,
  guardRules,
};
