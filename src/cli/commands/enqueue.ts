import type { Command as Program } from 'commander';
import type { Command } from '../../core/commands.js';
import { demoSpecs } from '../../demo/specs.js';
import { SchemaError, UsageError } from '../../errors.js';
import { openPlane } from '../../plane.js';
import type { JobTypeSchema, JobTypeSet } from '../../schema/job-types.js';
import { jobsOption, specJobTypes } from '../job-types.js';
import { homeOption, jsonOption, refuseTogether } from '../options.js';
import { noteCommitted, printJson, printLines, warn } from '../output.js';
import { readJsonInput } from '../read-input.js';

interface Opts {
  home: string;
  file?: string;
  demo?: boolean;
  json?: boolean;
  jobs?: string[];
}

export function register(program: Program): void {
  program
    .command('enqueue')
    .description('validate job specs and append them to the ledger (one group commit)')
    .addOption(homeOption())
    .option('--file <spec.json>', 'a job spec, or an array of specs; - reads standard input')
    .option(
      '--demo',
      'enqueue the embedded sample jobs (they read the sample project the demo writes: docs/operations.md, "The demo")',
    )
    .addOption(jobsOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Examples:
  execplane enqueue --file spec.json
  cat specs.json | execplane enqueue --file - --json
  execplane enqueue --demo
  execplane enqueue --jobs ./my-jobs.js --file my-spec.json

A spec needs only job_type and payload; the job type's defaults fill in budgets and tool_policy
(docs/job-spec.md; "execplane spec example TYPE" prints one).

A repeat of an existing job_id with a byte-identical spec reports "exists" and appends nothing;
with a different spec it is refused (exit 1). Invalid specs exit 2 with one line per problem.`,
    )
    .action(async (opts: Opts) => {
      refuseTogether(opts, 'file', 'demo');
      if (opts.file === undefined && !opts.demo)
        throw new UsageError('E_USAGE', 'enqueue needs --file <spec.json>, --file - or --demo');
      const input = opts.demo ? demoSpecs() : readJsonInput(opts.file as string);
      const many = Array.isArray(input);
      const specs: unknown[] = many ? input : [input];
      if (specs.length === 0)
        throw new UsageError('E_USAGE', 'the input holds an empty array: nothing to enqueue');
      const jobTypes = await specJobTypes(opts.home, opts.jobs);
      checkAll(
        jobTypes,
        specs,
        opts.file === '-' ? 'the spec on standard input' : (opts.file ?? 'a demo spec'),
      );
      const plane = openPlane(opts.home, { jobTypes });
      try {
        const commands: Command[] = specs.map((spec) => ({ type: 'enqueue', spec }));
        const { outcomes, tornTailMoved } = await plane.submit(commands);
        noteCommitted();
        if (tornTailMoved)
          warn(`a torn tail of ${tornTailMoved.bytes} byte(s) was moved aside to ${tornTailMoved.path}`);
        const rows = outcomes.map((o) => ({
          job_id: o.job_id,
          seq: o.seq,
          status: o.status === 'appended' ? 'enqueued' : 'exists',
        }));
        if (opts.json) printJson(many || opts.demo ? { jobs: rows } : rows[0]);
        else printLines(...rows.map((r) => `${r.job_id}\t${r.status}\tseq ${r.seq}`));
      } finally {
        plane.close();
      }
    });
}

/** Validates every spec first, so one bad spec in a batch reports all problems at once. */
function checkAll(
  jobTypes: JobTypeSet<JobTypeSchema<string, unknown>>,
  specs: unknown[],
  source: string,
): void {
  const problems: string[] = [];
  specs.forEach((spec, i) => {
    try {
      jobTypes.resolve(spec);
    } catch (err) {
      if (!(err instanceof SchemaError)) throw err;
      const prefix = specs.length > 1 ? `/${i}` : '';
      problems.push(
        ...err.problems.map((p) => (prefix && p.startsWith('/:') ? prefix + p.slice(1) : prefix + p)),
      );
    }
  });
  if (problems.length) throw new SchemaError(problems, source);
}
