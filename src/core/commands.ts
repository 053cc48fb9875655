/**
 * Commands: what callers ask the plane to do. `decide` turns each into at most one event body,
 * which must then pass the job machine (`PlaneState.evolve`) before it can be appended.
 */
import type {
  CompleteEvent,
  ErrorInfo,
  EvidenceFile,
  LedgerEvent,
  ToolCallEvent,
  Usage,
} from '../schema/types.generated.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An event as a command decides it: the store adds `v`, `seq`, `ts_utc`, `prev` and `hash`. */
export type EventBody = DistributiveOmit<LedgerEvent, 'v' | 'seq' | 'ts_utc' | 'prev' | 'hash'>;

interface Fenced {
  readonly job_id: string;
  readonly worker_id: string;
  readonly attempt: number;
}

export type Command =
  | { readonly type: 'enqueue'; readonly spec: unknown }
  | {
      readonly type: 'claim';
      readonly job_id: string;
      readonly worker_id: string;
      readonly worker_slots: number;
      /** The lease runs for this long from the event's commit time. */
      readonly lease_sec: number;
    }
  | ({ readonly type: 'start'; readonly run_header_sha256: string } & Fenced)
  | ({ readonly type: 'heartbeat'; readonly lease_sec: number } & Fenced)
  | ({
      readonly type: 'tool_call';
      readonly tool: string;
      readonly args_sha256: string;
      readonly requested_by: ToolCallEvent['requested_by'];
      readonly needs: ToolCallEvent['needs'];
    } & Fenced)
  | ({
      readonly type: 'complete';
      readonly result: CompleteEvent['result'];
      readonly usage: Usage;
      readonly evidence?: EvidenceFile[];
    } & Fenced)
  | ({
      readonly type: 'fail';
      readonly error: ErrorInfo;
      readonly usage: Usage;
      readonly evidence?: EvidenceFile[];
    } & Fenced)
  /** Records the lapse of the job's current lease; refused unless it has lapsed. */
  | { readonly type: 'expire'; readonly job_id: string; readonly reaper?: string }
  | {
      readonly type: 'retry';
      readonly job_id: string;
      /** No claim before commit time + this. */
      readonly backoff_sec: number;
      readonly by: 'reaper' | 'operator';
      /** An operator's reason, recorded in the event. */
      readonly reason?: string;
    }
  | { readonly type: 'cancel'; readonly job_id: string; readonly reason: string };

export type CommandType = Command['type'];

/** What one accepted command did. */
export interface CommandOutcome {
  readonly command: CommandType;
  readonly job_id: string;
  /** `exists`: an enqueue of a byte-identical spec; nothing was appended for it. */
  readonly status: 'appended' | 'exists';
  /** The seq of the event appended, or of the existing job's enqueue. */
  readonly seq: number;
}
