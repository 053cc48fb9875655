/**
 * execplane as a library (docs/library.md): define job types of your own, open a plane, enqueue
 * jobs, run workers, wait for results, replay and audit.
 */
export { openPlane, Plane } from './plane.js';
export type { OpenOptions, SubmitResult, EachResult, ClaimRequest, StoredJob } from './plane.js';
export type { Command, CommandOutcome } from './core/commands.js';
export type { ReplayReport, JobView } from './replay/report.js';
export { Worker, defaultWorkerId } from './worker/worker.js';
export type { WorkerOptions, WorkerExit } from './worker/worker.js';
export type {
  JobHandler,
  JobHandlerContext,
  JobOutcome,
  HandlerRegistry,
  ToolCallRequest,
} from './worker/types.js';
export { JobAbort, JobError } from './worker/errors.js';
export * from './errors.js';
export type { Clock } from './time.js';
export type * from './schema/types.generated.js';
export { jobMachine, xstateEngine } from '../machines/job.machine.js';
export { tableEngine } from '../machines/job.table.js';
export type { MachineEngine } from '../machines/job.types.js';
export { auditLedgerFile } from './audit/audit-file.js';
export type { FileAuditOptions } from './audit/audit-file.js';
export type { AuditReport } from './audit/audit.js';
export type { Finding, FindingCode } from './audit/findings.js';
export { importLegacy } from './legacy/import-legacy.js';
export type { ImportReport } from './legacy/import-legacy.js';
export { createWorker, defaultHandlers, jobRuntime, jobTypeSet } from './jobs/index.js';
export type { CreateWorkerOptions, JobRuntimeOptions } from './jobs/index.js';
export { defineJobType, isJobType } from './jobs/define.js';
export type { AnyJobType, CommandRequest, JobRuntime, JobType, JobTypeDefinition } from './jobs/define.js';
export {
  BUILTIN_JOB_TYPES,
  agentJob,
  docCompactorJob,
  repoIndexJob,
  testRunnerJob,
} from './jobs/builtins.js';
export { JobTypeSet, GENERIC_DEFAULTS } from './schema/job-types.js';
export type { JobTypeDefaults, JobTypeSchema } from './schema/job-types.js';
export { BUILTIN_JOB_TYPE_SET, validateJobSpec } from './schema/builtin-job-types.js';
export type {
  BuiltinJobSpec,
  BuiltinJobType,
  BuiltinPayloads,
  JobPayload,
  JobSpec,
  JobSpecInput,
} from './schema/job-spec.js';
export type { ExecResult } from './sandbox/exec-tool.js';
export { prepareSandbox } from './sandbox/prepare.js';
export type { JobInfoWithSpec } from './plane.js';
export type { JobInfo } from './replay/job-info.js';
export type { WaitOptions } from './replay/wait.js';
export type {
  WorkerEvent,
  WorkerEventMap,
  WorkerEventName,
  WorkerReadyEvent,
  WorkerClaimedEvent,
  WorkerStartedEvent,
  WorkerCompletedEvent,
  WorkerFailedEvent,
  WorkerLostEvent,
  WorkerExpiredEvent,
  WorkerRetriedEvent,
  WorkerIdleEvent,
  WorkerDegradedEvent,
  WorkerRecoveredEvent,
  WorkerStoppedEvent,
} from './worker/events.js';
