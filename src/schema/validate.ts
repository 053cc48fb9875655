/**
 * The one validator for job specs and ledger events (docs/spec.md §9: the predecessor had two that
 * disagreed). Ajv, draft 2020-12, compiled from schemas/*.json ahead of time (validators.generated.ts).
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { SchemaError } from '../errors.js';
import type { LedgerEvent, PlaneConfig } from './types.generated.js';
import type { JobSpec, StoredJob } from './job-spec.js';
import { JOB_TYPES } from './names.js';
import * as generated from './validators.generated.js';

// Compiled ahead of time by scripts/gen-types.js (ajv standalone code, options in
// scripts/gen-validators-lib.js): compiling the schemas at startup cost every process a large part
// of its start (docs/decisions.md, "Startup").
const compiled = {
  job: generated.job as unknown as ValidateFunction<JobSpec>,
  storedJob: generated.stored_job as unknown as ValidateFunction<StoredJob>,
  event: generated.event as unknown as ValidateFunction<LedgerEvent>,
  config: generated.config as unknown as ValidateFunction<PlaneConfig>,
};
/** Each built-in job type's payload schema, compiled (src/schema/builtin-job-types.ts). */
export const builtinPayloadValidators = {
  repo_index_task: generated.repo_index_payload as unknown as ValidateFunction,
  doc_compactor_task: generated.doc_compactor_payload as unknown as ValidateFunction,
  test_runner_task: generated.test_runner_payload as unknown as ValidateFunction,
  agent_task: generated.agent_payload as unknown as ValidateFunction,
};
/** The schema's pattern for an argument a program is given (schemas/job.schema.json). */
const NO_NUL = '^[^\\u0000]*$';

/** One line per problem: the JSON path, then what is expected there. */
export function describeSchemaErrors(errors: readonly ErrorObject[] | null | undefined): string[] {
  // An `if` that held and a `then` that did not: the `then`'s own errors say what is wrong.
  const lines = (errors ?? [])
    .filter((e) => e.keyword !== 'if')
    .map((e) => {
      const path = e.instancePath === '' ? '/' : e.instancePath;
      switch (e.keyword) {
        case 'required':
          return `${path}: missing required field "${String(e.params.missingProperty)}"`;
        case 'additionalProperties':
          return `${path}: unknown field "${String(e.params.additionalProperty)}" (not allowed here)`;
        case 'const':
          return `${path}: must be ${JSON.stringify(e.params.allowedValue)}`;
        case 'enum':
          return `${path}: must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
        default: {
          if (e.keyword === 'pattern' && e.params.pattern === NO_NUL)
            return `${path}: must not contain a NUL character (no program can be given one)`;
          const hint = (e.parentSchema as { description?: string } | undefined)?.description;
          return `${path}: ${e.message ?? 'is invalid'}${hint && e.keyword === 'pattern' ? ` (${hint})` : ''}`;
        }
      }
    });
  return [...new Set(lines)];
}

/**
 * How deep a job spec's values may nest (the spec itself is level 1). A spec the writer accepts
 * must be one every reader can read back, and readers call a line nested deeper than
 * MAX_EVENT_DEPTH (src/ledger/line.ts, twice this and more) corrupt: 4,000 levels of `meta` once
 * passed enqueue and then stopped every reader of the plane with a stack overflow.
 */
export const MAX_SPEC_DEPTH = 32;

/** A key as a JSON Pointer token (RFC 6901), as Ajv writes paths in the schema's messages. */
export const pointerToken = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * The JSON path of the first container (in document order) nested more than `max` levels deep
 * (the value itself is level 1), or undefined. Iterative, for any depth; a path is built only for
 * the container it names.
 */
export function tooDeep(value: unknown, max: number): string | undefined {
  interface Frame {
    readonly v: unknown;
    readonly level: number;
    readonly parent: Frame | null;
    readonly key: string;
  }
  const stack: Frame[] = [{ v: value, level: 1, parent: null, key: '' }];
  while (stack.length) {
    const frame = stack.pop()!;
    const { v, level } = frame;
    if (typeof v !== 'object' || v === null) continue;
    if (level > max) {
      const keys: string[] = [];
      for (let f: Frame | null = frame; f?.parent; f = f.parent) keys.push(f.key);
      return keys.length
        ? keys
            .reverse()
            .map((k) => `/${pointerToken(k)}`)
            .join('')
        : '/';
    }
    // Children pushed last to first, so they are visited in document order.
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--)
        stack.push({ v: v[i], level: level + 1, parent: frame, key: String(i) });
    } else {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i]!;
        stack.push({ v: (v as Record<string, unknown>)[k], level: level + 1, parent: frame, key: k });
      }
    }
  }
  return undefined;
}

/**
 * Problems of a job spec as written against schemas/job.schema.json (its envelope, and the payload
 * of a built-in type), plus what the schema cannot say: a nesting deeper than MAX_SPEC_DEPTH, a
 * created_at_utc that is no real time. Which job types exist is the JobTypeSet's to say
 * (src/schema/job-types.ts).
 */
export function jobEnvelopeProblems(spec: unknown): string[] {
  const deep = tooDeep(spec, MAX_SPEC_DEPTH);
  if (deep !== undefined) return [`${deep}: nests deeper than ${MAX_SPEC_DEPTH} levels`];
  const problems = compiled.job(spec) ? [] : describeSchemaErrors(compiled.job.errors);
  const created = isObject(spec) ? spec.created_at_utc : undefined;
  if (
    typeof created === 'string' &&
    !problems.some((p) => p.startsWith('/created_at_utc')) &&
    !isRealTime(created)
  )
    problems.push(`/created_at_utc: ${JSON.stringify(created)} is not a real date and time`);
  return problems;
}

/**
 * Checks a complete spec as the plane stores it (schemas/job.schema.json#/$defs/StoredJobSpec):
 * the last check before an enqueue event is sealed (src/core/decide.ts).
 */
export function validateStoredJob(spec: unknown, what = 'job spec'): StoredJob {
  const deep = tooDeep(spec, MAX_SPEC_DEPTH);
  if (deep !== undefined)
    throw new SchemaError([`${deep}: nests deeper than ${MAX_SPEC_DEPTH} levels`], what);
  if (compiled.storedJob(spec) && isRealTime(spec.created_at_utc)) return spec;
  const problems = describeSchemaErrors(compiled.storedJob.errors);
  throw new SchemaError(problems.length ? problems : ['/created_at_utc: is not a real date and time'], what);
}

/**
 * Checks a spec that must already be complete (its budgets and tool_policy in full) and of a
 * built-in job type, without job_id or created_at_utc needed: what import-legacy accepts.
 */
export function validateCompleteSpec(spec: unknown, what = 'job spec'): JobSpec {
  const problems = jobEnvelopeProblems(spec);
  if (problems.length === 0 && isObject(spec)) {
    if (!(JOB_TYPES as readonly unknown[]).includes(spec.job_type))
      problems.push(`/job_type: must be one of ${JOB_TYPES.map((t) => JSON.stringify(t)).join(', ')}`);
    const filled = { job_id: 'job-complete0', created_at_utc: '2000-01-01T00:00:00Z', ...spec };
    if (!compiled.storedJob(filled)) problems.push(...describeSchemaErrors(compiled.storedJob.errors));
  }
  if (problems.length) throw new SchemaError([...new Set(problems)], what);
  return spec as JobSpec;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;

/**
 * Whether an RFC 3339 date-time (the schema's pattern) names a real instant: month 1–12, a day
 * its month has, 00:00:00–23:59:60, an offset within ±23:59 — what the schemas cannot say
 * without a non-standard `format` a plain Ajv does not know.
 */
export function isRealTime(s: string): boolean {
  const m = RFC3339.exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, sec, oh, om] = m.slice(1).map((g): number => Number(g ?? 0));
  const daysIn = new Date(Date.UTC(y!, mo, 0)).getUTCDate();
  return (
    mo! >= 1 &&
    mo! <= 12 &&
    d! >= 1 &&
    d! <= daysIn &&
    h! <= 23 &&
    mi! <= 59 &&
    sec! <= 60 &&
    oh! <= 23 &&
    om! <= 59
  );
}

/**
 * Problems of a ledger event against schemas/event.schema.json (empty when valid), and of an
 * enqueued spec's created_at_utc (isRealTime).
 */
export function eventSchemaProblems(event: unknown): string[] {
  const { event: check } = compiled;
  if (!check(event)) return describeSchemaErrors(check.errors);
  return realCreatedTime(event) ? [] : ['/job/created_at_utc: is not a real date and time'];
}

/** Whether `event` matches schemas/event.schema.json (eventSchemaProblems without the messages). */
export function isSchemaValidEvent(event: unknown): boolean {
  return compiled.event(event) && realCreatedTime(event);
}

const realCreatedTime = (event: LedgerEvent): boolean =>
  event.event !== 'enqueue' || isRealTime(event.job.created_at_utc);

/** Problems of a plane config.json against schemas/config.schema.json (empty when valid). */
export function configSchemaProblems(config: unknown): string[] {
  const { config: check } = compiled;
  return check(config) ? [] : describeSchemaErrors(check.errors);
}
