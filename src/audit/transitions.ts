/**
 * Every event is a legal transition of its job's machine (docs/spec.md §4): the events are folded through
 * the same `PlaneState.evolve` replay and the write path use. A refused event is reported and left out of
 * the state, so later events are judged against the legal history before them.
 *
 * This is the machine vouching for the ledger; invariants.ts re-checks invariants 1–7 with rules
 * of its own, so a bug in a guard cannot vouch for itself.
 */
import { PlaneState } from '../core/plane-state.js';
import type { LedgerEvent } from '../schema/types.generated.js';
import { finding, type Finding, type LineRef } from './findings.js';

export class TransitionCheck {
  private readonly state = new PlaneState();

  check(ev: LedgerEvent, at: LineRef): Finding[] {
    const refusal = this.state.evolve(ev);
    if (!refusal) return [];
    const where = refusal.jobState ? ` in state ${refusal.jobState}` : '';
    return [
      finding(
        at,
        'E_AUDIT_ILLEGAL_TRANSITION',
        `the job machine refuses this ${ev.event} of job ${ev.job_id}${where}: ${refusal.message} (${refusal.code}).`,
      ),
    ];
  }
}
