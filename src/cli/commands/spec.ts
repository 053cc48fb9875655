import type { Command as Program } from 'commander';
import { SchemaError } from '../../errors.js';
import { homeOption, jsonOption } from '../options.js';
import { jobsOption, specJobTypes } from '../job-types.js';
import { printJson, printLines } from '../output.js';
import { readJsonInput } from '../read-input.js';

interface Opts {
  home: string;
  jobs?: string[];
  json?: boolean;
  full?: boolean;
}

/** The shape of `spec check --json` (docs/cli.md): raised only if it changes incompatibly. */
const SPEC_CHECK_JSON_VERSION = 1;

export function register(program: Program): void {
  const spec = program
    .command('spec')
    .description('job specs without a plane: list the job types, print an example, check a file')
    .addHelpText(
      'after',
      `
Every field of a spec, with its defaults: docs/job-spec.md; the schema: schemas/job.schema.json.`,
    );

  spec
    .command('types')
    .description('list the job types known here (built-in, and from --jobs or config.json "jobs")')
    .addOption(homeOption())
    .addOption(jobsOption())
    .addOption(jsonOption())
    .action(async (opts: Opts) => {
      const types = await specJobTypes(opts.home, opts.jobs);
      const rows = [...types].map((t) => {
        const { job_type: _t, payload: _p, ...defaults } = types.resolve(types.example(t.name));
        return { name: t.name, description: t.description, defaults };
      });
      if (opts.json) printJson({ version: 1, job_types: rows });
      else printLines(...rows.map((r) => `${r.name.padEnd(20)} ${r.description}`));
    });

  spec
    .command('example')
    .description('print a valid spec of a job type: job_type and an example payload')
    .argument('<job_type>')
    .addOption(homeOption())
    .addOption(jobsOption())
    .option('--full', 'print it as it would be stored: with the job type’s default budgets and tool_policy')
    .addHelpText(
      'after',
      `
Examples:
  execplane spec example test_runner_task > spec.json && execplane enqueue --file spec.json
  execplane spec example agent_task --full`,
    )
    .action(async (jobType: string, opts: Opts) => {
      const types = await specJobTypes(opts.home, opts.jobs);
      const example = types.example(jobType);
      printJson(opts.full ? types.resolve(example) : example);
    });

  spec
    .command('check')
    .description('check a spec file (a spec, or an array of specs) as enqueue would, without enqueuing')
    .argument('<file>', 'the spec file; - reads standard input')
    .addOption(homeOption())
    .addOption(jobsOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Prints "valid" and exits 0, or one line per problem and exits 2. --json prints
{"version": 1, "valid": true, "specs": [...]}: each spec as it would be stored, its job type's
defaults filled in (job_id and created_at_utc are chosen only when it is enqueued).`,
    )
    .action(async (file: string, opts: Opts) => {
      const types = await specJobTypes(opts.home, opts.jobs);
      const input = readJsonInput(file);
      const many = Array.isArray(input);
      const specs: unknown[] = many ? input : [input];
      const problems: string[] = [];
      const complete = specs.map((s, i) => {
        try {
          return types.resolve(s);
        } catch (err) {
          if (!(err instanceof SchemaError)) throw err;
          problems.push(...err.problems.map((p) => (many ? `/${i}${p === '/' ? '' : p}` : p)));
          return null;
        }
      });
      if (problems.length)
        throw new SchemaError(problems, file === '-' ? 'the spec on standard input' : file);
      if (opts.json) printJson({ version: SPEC_CHECK_JSON_VERSION, valid: true, specs: complete });
      else printLines(`${file}: valid (${specs.length} spec${specs.length === 1 ? '' : 's'})`);
    });
}
