/**
 * The one validator for job specs and ledger events (docs/spec.md §9: the predecessor had two that
 * disagreed). Ajv, draft 2020-12, compiled from schemas/*.json ahead of time (validators.generated.ts).
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { SchemaError } from '../errors.js';
import { EVENT_TYPES, JOB_TYPES } from './names.js';
import type { JobSpec, LedgerEvent, PlaneConfig } from './types.generated.js';
import * as generated from './validators.generated.js';

// Compiled ahead of time by scripts/gen-types.js (ajv standalone code, options in
// scripts/gen-validators-lib.js): compiling the schemas at startup cost every process a large part
// of its start (docs/decisions.md, "Startup").
const compiled = {
  job: generated.job as unknown as ValidateFunction<JobSpec>,
  event: generated.event as unknown as ValidateFunction<LedgerEvent>,
  config: generated.config as unknown as ValidateFunction<PlaneConfig>,
};
/** The schema's pattern for an argument a program is given (schemas/job.schema.json). */
const NO_NUL = '^[^\\u0000]*$';

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
      case 'discriminator': {
        const tag = String(e.params.tag);
        return e.params.error === 'mapping'
          ? `${e.instancePath}/${tag}: must be one of ${(KNOWN_TAGS[tag] ?? []).join(', ')}`
          : `${path}: missing required field "${tag}"`;
      }
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

/** Checks a job spec as submitted; throws SchemaError with one line per problem. */
export function validateJobSpec(spec: unknown, what = 'job spec'): JobSpec {
  const { job } = compiled;
  const deep = tooDeep(spec, MAX_SPEC_DEPTH);
  if (deep !== undefined)
    throw new SchemaError([`${deep}: nests deeper than ${MAX_SPEC_DEPTH} levels`], what);
  if (job(spec)) return spec;
  const problems = describeSchemaErrors(job.errors);
  // Without a known job_type the schema cannot pick a branch and says nothing else; check the
  // fields every job type shares too, so one run reports every problem (the payload's aside).
  if (
    isObject(spec) &&
    !(JOB_TYPES as readonly unknown[]).includes(spec.job_type) &&
    !job({ ...spec, job_type: JOB_TYPES[0] })
  ) {
    problems.push(...describeSchemaErrors(job.errors).filter((p) => !p.startsWith('/payload')));
  }
  throw new SchemaError([...new Set(problems)], what);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The values of each discriminator tag, for messages that list them. */
const KNOWN_TAGS: Record<string, readonly string[]> = { job_type: JOB_TYPES, event: EVENT_TYPES };

/** Problems of a ledger event against schemas/event.schema.json (empty when valid). */
export function eventSchemaProblems(event: unknown): string[] {
  const { event: check } = compiled;
  return check(event) ? [] : describeSchemaErrors(check.errors);
}

/** Whether `event` matches schemas/event.schema.json (eventSchemaProblems without the messages). */
export function isSchemaValidEvent(event: unknown): boolean {
  return compiled.event(event);
}

/** Problems of a plane config.json against schemas/config.schema.json (empty when valid). */
export function configSchemaProblems(config: unknown): string[] {
  const { config: check } = compiled;
  return check(config) ? [] : describeSchemaErrors(check.errors);
}
