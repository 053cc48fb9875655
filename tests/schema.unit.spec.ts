/**
 * The JSON Schemas and the TypeScript types cannot drift (issue 2, point 3), and the samples
 * the plane ships are valid against them.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EVENT_TYPES } from '../src/schema/names.js';
import { describe, expect, it } from 'vitest';
import eventSchema from '../schemas/event.schema.json' with { type: 'json' };
import jobSchema from '../schemas/job.schema.json' with { type: 'json' };
import { demoSpecs } from '../src/demo/specs.js';
import { SchemaError } from '../src/errors.js';
import { validateJobSpec } from '../src/schema/builtin-job-types.js';
import { eventSchemaProblems } from '../src/schema/validate.js';
import { agentSpec } from './helpers/specs.js';

// bin/ is plain JavaScript without declarations; its one export is typed here.
const GEN_LIB: string = '../scripts/gen-types-lib.js';
const { generateTypes } = (await import(GEN_LIB)) as { generateTypes: () => Promise<string> };

describe('schemas ↔ types', () => {
  it('src/schema/types.generated.ts equals a fresh generation from schemas/*.json', async () => {
    const committed = readFileSync(
      fileURLToPath(new URL('../src/schema/types.generated.ts', import.meta.url)),
      'utf8',
    );
    expect(committed).toBe(await generateTypes());
  });

  it('both schemas are draft 2020-12', () => {
    for (const s of [jobSchema, eventSchema])
      expect(s.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
  });

  it('every event type of docs/spec.md §2 has its schema', () => {
    const events = eventSchema.allOf.map((r) => {
      const name = r.then.$ref.replace('#/$defs/', '') as keyof typeof eventSchema.$defs;
      return (eventSchema.$defs[name] as { properties: { event: { const: string } } }).properties.event.const;
    });
    expect(events.sort()).toEqual([...EVENT_TYPES].sort());
  });
});

describe('samples', () => {
  it.each(demoSpecs().map((spec) => [spec.job_type, spec] as const))(
    'the demo %s spec validates',
    (_t, spec) => {
      expect(validateJobSpec(spec)).toEqual(spec);
    },
  );

  it('the demo covers every job type of docs/spec.md §3', () => {
    expect(new Set(demoSpecs().map((s) => s.job_type))).toEqual(
      new Set(['repo_index_task', 'doc_compactor_task', 'test_runner_task', 'agent_task']),
    );
  });

  it("the tests' own sample spec validates", () => {
    expect(() => validateJobSpec(agentSpec({ job_id: 'job-sample0001' }))).not.toThrow();
  });

  it('a completed demo spec makes a valid enqueue event', () => {
    const job = { ...demoSpecs()[0]!, job_id: 'job-sample0001', created_at_utc: '2030-01-01T00:00:00.000Z' };
    const ev = {
      v: 1,
      seq: 1,
      ts_utc: '2030-01-01T00:00:00.000Z',
      event: 'enqueue',
      prev: '0'.repeat(64),
      hash: 'f'.repeat(64),
      job_id: job.job_id,
      job,
    };
    expect(eventSchemaProblems(ev)).toEqual([]);
    expect(eventSchemaProblems({ ...ev, job: { ...job, created_at_utc: undefined } })).not.toEqual([]);
  });

  it('a closed object refuses unknown fields everywhere, one problem per field', () => {
    const spec = agentSpec();
    const bad = {
      ...spec,
      extra: 1,
      budgets: { ...spec.budgets, extra: 2 },
      payload: { ...spec.payload, extra: 3 },
    };
    let problems: readonly string[] = [];
    try {
      validateJobSpec(bad);
    } catch (e) {
      if (!(e instanceof SchemaError)) throw e;
      problems = e.problems;
    }
    expect(problems).toEqual(
      expect.arrayContaining([
        '/: unknown field "extra" (not allowed here)',
        '/budgets: unknown field "extra" (not allowed here)',
        '/payload: unknown field "extra" (not allowed here)',
      ]),
    );
  });
});
