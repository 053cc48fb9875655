/**
 * The one validator for job specs and ledger events (SPEC §9: the predecessor had two that
 * disagreed). Ajv, draft 2020-12, compiled once per process from schemas/*.json.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import eventSchema from '../../schemas/event.schema.json' with { type: 'json' };
import jobSchema from '../../schemas/job.schema.json' with { type: 'json' };
import { SchemaError } from '../errors.js';
import type { JobSpec, LedgerEvent } from './types.generated.js';

// ajv-formats is CommonJS with a default export; under NodeNext it arrives wrapped.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

let compiled: { job: ValidateFunction<JobSpec>; event: ValidateFunction<LedgerEvent> } | undefined;

function validators() {
  if (!compiled) {
    const ajv = new Ajv2020({ allErrors: true, discriminator: true, strict: true, strictRequired: false });
    addFormats(ajv, ['date-time']);
    ajv.addSchema(jobSchema, 'job.schema.json');
    compiled = {
      job: ajv.getSchema<JobSpec>('job.schema.json') as ValidateFunction<JobSpec>,
      event: ajv.compile<LedgerEvent>(eventSchema),
    };
  }
  return compiled;
}

/** One line per problem: the JSON path, then what is expected there. */
export function describeSchemaErrors(errors: readonly ErrorObject[] | null | undefined): string[] {
  const lines = (errors ?? []).map((e) => {
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
      case 'discriminator':
        return e.params.error === 'mapping'
          ? `${path}/${String(e.params.tag)}: must be one of the known values (see schemas/)`
          : `${path}: missing required field "${String(e.params.tag)}"`;
      default: {
        const hint = (e.parentSchema as { description?: string } | undefined)?.description;
        return `${path}: ${e.message ?? 'is invalid'}${hint && e.keyword === 'pattern' ? ` (${hint})` : ''}`;
      }
    }
  });
  return [...new Set(lines)];
}

/** Checks a job spec as submitted; throws SchemaError with one line per problem. */
export function validateJobSpec(spec: unknown, what = 'job spec'): JobSpec {
  const { job } = validators();
  if (!job(spec)) throw new SchemaError(describeSchemaErrors(job.errors), what);
  return spec;
}

/** Problems of a ledger event against schemas/event.schema.json (empty when valid). */
export function eventSchemaProblems(event: unknown): string[] {
  const { event: check } = validators();
  return check(event) ? [] : describeSchemaErrors(check.errors);
}
