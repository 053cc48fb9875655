/**
 * Job types as the schema layer knows them: a name, a payload schema and the defaults a spec of
 * that type gets, without the handler that runs it (src/jobs/define.ts adds that). A JobTypeSet
 * turns a spec as written (docs/job-spec.md: only job_type and payload required) into the
 * complete spec the plane stores, so replay and audit never need the definitions: the ledger
 * holds every job's spec in full, and its schema (schemas/event.schema.json) reads any job type.
 *
 * T1. A spec is checked against schemas/job.schema.json (the envelope, and the payload of a
 *     built-in type), then its job type must be in the set, then its payload must match that
 *     type's schema: every problem is reported at once, one line each, and nothing is stored.
 * T2. Defaults fill only what the spec leaves out, field by field (a spec's `budgets` with one
 *     field keeps the type's other three); the result is complete and deterministic, so the same
 *     file submitted twice is the same stored spec (docs/spec.md §3, the duplicate rule).
 * T3. `$schema` is accepted and never stored.
 */
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type * as Ajv2020Module from 'ajv/dist/2020.js';
import { SchemaError, UsageError } from '../errors.js';
import type { JobPayload, JobSpec, JobSpecInput } from './job-spec.js';
import type { BudgetFields, Budgets, ToolPolicy, ToolPolicyFields } from './types.generated.js';
import { describeSchemaErrors, jobEnvelopeProblems } from './validate.js';

/** What a spec of a type gets for what it leaves out. */
export interface JobTypeDefaults {
  readonly budgets?: BudgetFields;
  readonly tool_policy?: ToolPolicyFields;
  readonly priority?: number;
  readonly max_attempts?: number;
}

/** A job type without its handler: everything enqueue, replay and audit need of it. */
export interface JobTypeSchema<T extends string = string, P = JobPayload> {
  readonly name: T;
  /** One line: what a job of this type does (listed by `execplane spec types`). */
  readonly description: string;
  /** JSON Schema (draft 2020-12) of the payload. */
  readonly payloadSchema: Readonly<Record<string, unknown>>;
  readonly defaults?: JobTypeDefaults;
  /** A valid payload, for `execplane spec example` and the docs. */
  readonly examplePayload: P;
  /**
   * A compiled check of the payload (e.g. Ajv's standalone code), used instead of compiling
   * payloadSchema on first use; it returns the problems, one line each, paths under /payload.
   */
  readonly payloadProblems?: (payload: unknown) => string[];
}

/** A job type's name: lowercase letters, digits and _, starting with a letter (the schema's JobType). */
export const JOB_TYPE_NAME = /^[a-z][a-z0-9_]{0,63}$/;

/** What a type that says nothing gets: a modest budget, and no network, processes or tools. */
export const GENERIC_DEFAULTS: { readonly budgets: Budgets; readonly tool_policy: ToolPolicy } = {
  budgets: {
    max_wall_time_sec: 600,
    max_tool_calls: 32,
    max_output_bytes: 1_048_576,
    max_concurrency_slots: 1,
  },
  tool_policy: { allow_network: false, allow_subprocess: false, allowed_tools: [] },
};

const require = createRequire(import.meta.url);
type AjvClass = typeof Ajv2020Module.Ajv2020;
let ajv: InstanceType<AjvClass> | undefined;

/** Ajv 2020, strict, with the date-time and other formats: loaded only for a type's own schema. */
function userAjv(): InstanceType<AjvClass> {
  if (ajv) return ajv;
  const { Ajv2020 } = require('ajv/dist/2020.js') as { Ajv2020: AjvClass };
  const addFormats = require('ajv-formats') as (a: InstanceType<AjvClass>) => void;
  ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
  addFormats(ajv);
  return ajv;
}

/** A set of job types, by name: the built-in ones and any of the user's own. */
export class JobTypeSet<Types extends JobTypeSchema<string, unknown> = JobTypeSchema> {
  private readonly byName = new Map<string, Types>();
  private readonly compiled = new Map<string, (payload: unknown) => string[]>();

  constructor(types: Iterable<Types>) {
    for (const t of types) {
      if (!JOB_TYPE_NAME.test(t.name)) {
        throw new UsageError(
          'E_JOB_TYPE',
          `job type name ${JSON.stringify(t.name)} is invalid: use lowercase letters, digits and _ (at most 64), starting with a letter`,
        );
      }
      if (this.byName.has(t.name)) {
        throw new UsageError(
          'E_JOB_TYPE',
          `job type ${t.name} is defined twice; give each job type its own name`,
        );
      }
      this.byName.set(t.name, t);
    }
  }

  get(name: string): Types | undefined {
    return this.byName.get(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  [Symbol.iterator](): IterableIterator<Types> {
    return this.byName.values();
  }

  /** This set with `more` added (a name already here is refused). */
  with<More extends JobTypeSchema<string, unknown>>(more: Iterable<More>): JobTypeSet<Types | More> {
    return new JobTypeSet<Types | More>([...this.byName.values(), ...more]);
  }

  /**
   * The complete spec for `spec` as written (T1–T3); throws SchemaError naming every problem.
   * job_id and created_at_utc stay absent when absent (the plane fills them in under its lock).
   */
  resolve(spec: unknown, what = 'job spec'): JobSpec {
    const problems = jobEnvelopeProblems(spec);
    const input = spec as JobSpecInput;
    const type =
      typeof input === 'object' && input !== null && typeof input.job_type === 'string'
        ? this.byName.get(input.job_type)
        : undefined;
    if (typeof input === 'object' && input !== null && typeof input.job_type === 'string' && !type) {
      if (JOB_TYPE_NAME.test(input.job_type)) problems.push(this.unknownType(input.job_type));
    } else if (type && typeof input.payload === 'object' && input.payload !== null) {
      problems.push(...this.payloadProblems(type, input.payload).filter((p) => !problems.includes(p)));
    }
    if (problems.length > 0 || !type) throw new SchemaError(problems, what);
    return withDefaults(input, type.defaults);
  }

  /** The smallest valid spec of a type: its job_type and its example payload. */
  example(name: string): JobSpecInput {
    const type = this.byName.get(name);
    if (!type) throw new UsageError('E_JOB_TYPE', this.unknownType(name).replace(/^\/job_type: /, ''));
    return { job_type: type.name, payload: type.examplePayload as JobPayload };
  }

  private unknownType(name: string): string {
    return (
      `/job_type: no job type ${JSON.stringify(name)} here; known: ${this.names().join(', ')} ` +
      '(a job type of your own is loaded with --jobs FILE or config.json "jobs": docs/library.md)'
    );
  }

  private payloadProblems(type: Types, payload: unknown): string[] {
    if (type.payloadProblems) return type.payloadProblems(payload);
    let check = this.compiled.get(type.name);
    if (!check) {
      let validate: ValidateFunction;
      try {
        validate = userAjv().compile({ ...type.payloadSchema });
      } catch (err) {
        throw new UsageError(
          'E_JOB_TYPE',
          `job type ${type.name}: its payloadSchema is not a JSON Schema Ajv 2020 compiles: ${(err as Error).message}`,
        );
      }
      check = (p) => (validate(p) ? [] : underPayload(validate.errors));
      this.compiled.set(type.name, check);
    }
    return check(payload);
  }
}

/** Problems of a payload's own schema, with their paths under /payload. */
export function underPayload(errors: readonly ErrorObject[] | null | undefined): string[] {
  return describeSchemaErrors(
    (errors ?? []).map((e) => ({ ...e, instancePath: `/payload${e.instancePath}` })),
  );
}

/** T2: the spec with the type's defaults (then the generic ones) where it says nothing. */
function withDefaults(spec: JobSpecInput, defaults: JobTypeDefaults | undefined): JobSpec {
  const { $schema: _schema, budgets, tool_policy, ...rest } = spec;
  const full: JobSpec = {
    ...rest,
    budgets: { ...GENERIC_DEFAULTS.budgets, ...defaults?.budgets, ...budgets },
    tool_policy: { ...GENERIC_DEFAULTS.tool_policy, ...defaults?.tool_policy, ...tool_policy },
  };
  if (full.priority === undefined && defaults?.priority !== undefined) full.priority = defaults.priority;
  if (full.max_attempts === undefined && defaults?.max_attempts !== undefined)
    full.max_attempts = defaults.max_attempts;
  return full;
}
