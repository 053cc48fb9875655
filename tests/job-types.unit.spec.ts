/**
 * Job types (src/schema/job-types.ts, src/jobs/define.ts) and the published schemas: a plain
 * Ajv 2020 reads the schemas; the smallest spec is {job_type, payload} and is stored complete;
 * a job type of the user's own is checked, defaulted, enqueued, replayed and audited without its
 * definition; a definition that cannot work is refused with one clear line.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterEach, describe, expect, it } from 'vitest';
import { auditLedgerFile } from '../src/audit/audit-file.js';
import { SchemaError, UsageError } from '../src/errors.js';
import { defineJobType, isJobType } from '../src/jobs/define.js';
import { BUILTIN_JOB_TYPES } from '../src/jobs/builtins.js';
import { jobTypeSet } from '../src/jobs/index.js';
import { openPlane } from '../src/plane.js';
import { BUILTIN_JOB_TYPE_SCHEMAS, validateJobSpec } from '../src/schema/builtin-job-types.js';
import { JobTypeSet } from '../src/schema/job-types.js';
import { JOB_TYPES } from '../src/schema/names.js';

const schema = (name: string) =>
  JSON.parse(readFileSync(new URL(`../schemas/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;

const problemsOf = (f: () => unknown): readonly string[] => {
  try {
    f();
  } catch (err) {
    if (err instanceof SchemaError) return err.problems;
    throw err;
  }
  throw new Error('expected a SchemaError');
};

const wordCount = defineJobType<'word_count', { text: string; min_length?: number }>({
  name: 'word_count',
  description: 'counts words',
  payloadSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['text'],
    properties: { text: { type: 'string', maxLength: 100 }, min_length: { type: 'integer', minimum: 1 } },
  },
  defaults: { budgets: { max_wall_time_sec: 30 }, max_attempts: 1 },
  examplePayload: { text: 'hello world' },
  handler: ({ job }) => Promise.resolve({ result: { words: job.payload.text.split(/\s+/).length } }),
});

const homes: string[] = [];
afterEach(() => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});
const newHome = () => {
  const h = mkdtempSync(join(tmpdir(), 'execplane-jobtypes-'));
  homes.push(h);
  return h;
};

describe('the published schemas', () => {
  it('compile with a plain Ajv 2020 in strict mode (no custom keywords, no formats needed)', () => {
    const ajv = new Ajv2020(); // defaults: strict, no ajv-formats
    ajv.addSchema(schema('job.schema.json'), 'job.schema.json');
    ajv.addSchema(schema('event.schema.json'), 'event.schema.json');
    expect(() => ajv.compile(schema('config.schema.json'))).not.toThrow();
    const job = ajv.getSchema('job.schema.json')!;
    const examples = (schema('job.schema.json').examples ?? []) as unknown[];
    expect(examples.length).toBeGreaterThan(0);
    for (const e of examples) expect(job(e), JSON.stringify(job.errors)).toBe(true);
    for (const e of examples) expect(() => validateJobSpec(e)).not.toThrow();
    expect(job({ job_type: 'repo_index_task', payload: { include_globs: [] } })).toBe(false);
    expect(job({ $schema: './x.json', job_type: 'x_task', payload: {} })).toBe(true);
  });

  it('no keyword outside draft 2020-12 appears in any schema', () => {
    const text = ['job', 'event', 'config'].map((n) => readFileSync(`schemas/${n}.schema.json`, 'utf8'));
    for (const t of text) {
      expect(t).not.toContain('"discriminator"');
      expect(t).not.toContain('"format"');
      expect(t).not.toContain('"tsType"');
    }
  });

  it('every field of a job spec carries a description (editors show it as hover help)', () => {
    const defs = schema('job.schema.json').$defs as Record<string, { properties?: Record<string, unknown> }>;
    const missing: string[] = [];
    for (const [name, def] of Object.entries(defs)) {
      for (const [field, s] of Object.entries(def.properties ?? {})) {
        if (s === false) continue;
        if (typeof (s as { description?: unknown }).description !== 'string')
          missing.push(`${name}.${field}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('specs as written', () => {
  it.each(JOB_TYPES)(
    'the smallest %s spec is {job_type, payload}, stored complete with its defaults',
    (t) => {
      const example = BUILTIN_JOB_TYPE_SCHEMAS[t].examplePayload;
      const full = validateJobSpec({ job_type: t, payload: example });
      const defaults = BUILTIN_JOB_TYPE_SCHEMAS[t].defaults;
      expect(full.budgets).toMatchObject(defaults!.budgets!);
      expect(Object.keys(full.budgets).sort()).toEqual(
        ['max_concurrency_slots', 'max_output_bytes', 'max_tool_calls', 'max_wall_time_sec'].sort(),
      );
      expect(Object.keys(full.tool_policy).sort()).toEqual([
        'allow_network',
        'allow_subprocess',
        'allowed_tools',
      ]);
      expect(full.payload).toEqual(example);
    },
  );

  it('defaults fill in field by field; what the spec says wins; $schema is accepted and not stored', () => {
    const full = validateJobSpec({
      $schema: './node_modules/execplane/schemas/job.schema.json',
      job_type: 'test_runner_task',
      payload: { commands: [['node', '--version']], timeout_sec: 5 },
      budgets: { max_tool_calls: 2 },
      tool_policy: { allow_network: true },
    });
    expect(full).not.toHaveProperty('$schema');
    expect(full.budgets).toEqual({
      max_wall_time_sec: 900,
      max_tool_calls: 2,
      max_output_bytes: 8_388_608,
      max_concurrency_slots: 1,
    });
    expect(full.tool_policy).toEqual({ allow_network: true, allow_subprocess: true, allowed_tools: [] });
  });

  it('every problem at once, one line each: envelope, unknown type, created_at_utc', () => {
    expect(
      problemsOf(() =>
        validateJobSpec({
          job_type: 'no_such_task',
          payload: {},
          budgets: { max_wall_time_sec: 0 },
          extra: 1,
        }),
      ),
    ).toEqual(
      expect.arrayContaining([
        '/: unknown field "extra" (not allowed here)',
        '/budgets/max_wall_time_sec: must be >= 1',
        expect.stringMatching(/^\/job_type: no job type "no_such_task" here; known: repo_index_task, /),
      ]),
    );
    expect(
      problemsOf(() =>
        validateJobSpec({
          job_type: 'agent_task',
          payload: { prompt: 'x', max_turns: 1 },
          created_at_utc: '2026-02-29T00:00:00Z',
        }),
      ),
    ).toEqual(['/created_at_utc: "2026-02-29T00:00:00Z" is not a real date and time']);
    expect(problemsOf(() => validateJobSpec({ job_type: 'Bad-Name', payload: {} }))).toEqual([
      expect.stringMatching(/^\/job_type: must match pattern/),
    ]);
    expect(problemsOf(() => validateJobSpec({ payload: {} }))).toEqual([
      '/: missing required field "job_type"',
    ]);
  });
});

describe('a job type of your own', () => {
  const types = new JobTypeSet([...Object.values(BUILTIN_JOB_TYPE_SCHEMAS), wordCount]);

  it('its payload is checked against its own schema, and its defaults apply', () => {
    const full = types.resolve({ job_type: 'word_count', payload: { text: 'a b c' } });
    expect(full).toMatchObject({ max_attempts: 1, budgets: { max_wall_time_sec: 30, max_tool_calls: 32 } });
    expect(
      problemsOf(() => types.resolve({ job_type: 'word_count', payload: { text: 1, extra: true } })),
    ).toEqual(
      expect.arrayContaining([
        '/payload: unknown field "extra" (not allowed here)',
        '/payload/text: must be string',
      ]),
    );
    expect(types.example('word_count')).toEqual({ job_type: 'word_count', payload: { text: 'hello world' } });
  });

  it('is enqueued, and the ledger replays and audits with no definition at hand', async () => {
    const home = newHome();
    const plane = openPlane(home, { jobTypes: [wordCount] });
    const id = await plane.enqueue({ job_type: 'word_count', payload: { text: 'x y' } });
    expect(await plane.enqueue({ job_id: id, job_type: 'word_count', payload: { text: 'x y' } })).toBe(id);
    expect(plane.jobSpec(id)).toMatchObject({
      job_type: 'word_count',
      max_attempts: 1,
      budgets: { max_wall_time_sec: 30 },
    });
    plane.close();
    // A plane opened without the definition reads it, and refuses to enqueue another.
    const reader = openPlane(home);
    expect(reader.state.jobState(id)).toBe('queued');
    await expect(reader.enqueue({ job_type: 'word_count', payload: { text: 'z' } })).rejects.toThrow(
      /no job type "word_count"/,
    );
    reader.close();
    const report = auditLedgerFile(join(home, 'jobs.jsonl'));
    expect(report.findings).toEqual([]);
  });

  it('a definition that cannot work is refused when it is made, or when its schema is first compiled', () => {
    const base = {
      name: 'ok_type',
      payloadSchema: { type: 'object' },
      handler: () => Promise.resolve({ result: {} }),
    };
    expect(() => defineJobType({ ...base, name: 'Has-Dash' })).toThrow(UsageError);
    expect(() => defineJobType({ ...base, handler: undefined })).toThrow(
      /exactly one of handler or createHandler/,
    );
    expect(() =>
      defineJobType({ ...base, createHandler: () => () => Promise.resolve({ result: {} }) }),
    ).toThrow(/exactly one/);
    expect(() => defineJobType({ ...base, payloadSchema: [] as unknown as Record<string, unknown> })).toThrow(
      /payloadSchema must be/,
    );
    expect(() => jobTypeSet([defineJobType({ ...base, name: 'agent_task' })])).toThrow(
      /agent_task is defined twice/,
    );
    const broken = new JobTypeSet([
      defineJobType({ ...base, name: 'broken', payloadSchema: { type: 'object', foo: 1 } }),
    ]);
    expect(() => broken.resolve({ job_type: 'broken', payload: {} })).toThrow(
      /payloadSchema is not a JSON Schema Ajv 2020 compiles/,
    );
  });

  it('the built-in types are job types made by defineJobType, like any other', () => {
    expect(BUILTIN_JOB_TYPES.map((t) => t.name)).toEqual([...JOB_TYPES]);
    for (const t of BUILTIN_JOB_TYPES) expect(isJobType(t)).toBe(true);
    expect(isJobType({ name: 'x' })).toBe(false);
  });
});
