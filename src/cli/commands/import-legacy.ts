import type { Command as Program } from 'commander';
import { ExecplaneError } from '../../errors.js';
import { jsonOption } from '../options.js';
import { printJson, printLines } from '../output.js';

export function register(program: Program): void {
  program
    .command('import-legacy')
    .description("convert the old system's ledger into a v1 ledger, reporting every anomaly it resolves")
    .argument('<old>', "the old system's ledger (JSON lines without seq or hash)")
    .requiredOption('--out <new>', 'the v1 ledger to write (must not exist), e.g. <home>/jobs.jsonl')
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Examples:
  execplane import-legacy old/jobs.jsonl --out .execplane/jobs.jsonl
  execplane import-legacy old/jobs.jsonl --out /tmp/v1.jsonl --json | jq '.anomalies[] | .code'

Every event is written through the engine at its old time, so the output audits clean. Each anomaly
(duplicate enqueue, event for an unknown job, event from a non-holder, unparseable line, lease that
lapsed without a record, …) is printed with its line in OLD and a code (docs/import-legacy.md).
Exit codes: 0 imported; 2 bad input (OLD unreadable, empty or not a legacy ledger; NEW exists).`,
    )
    .action(async (old: string, opts: { out: string; json?: boolean }) => {
      const { importLegacy } = await import('../../legacy/import-legacy.js');
      const report = await importLegacy(old, opts.out);
      if (opts.json) printJson({ ok: report.audit_ok, ...report });
      else {
        const counts = Object.entries(report.counts)
          .filter(([, n]) => n > 0)
          .map(([s, n]) => `${s} ${n}`)
          .join(', ');
        printLines(
          ...report.anomalies.map(
            (a) => `line ${a.line}${a.job_id ? ` ${a.job_id}` : ''}  ${a.code}  ${a.message}`,
          ),
          `${report.out}: ${report.events} event(s) from ${report.legacy_lines} legacy line(s); ` +
            `${report.anomalies.length} anomal${report.anomalies.length === 1 ? 'y' : 'ies'} resolved; jobs: ${counts || 'none'}`,
        );
      }
      if (!report.audit_ok)
        throw new ExecplaneError(
          'E_IMPORT_AUDIT',
          `${report.out} does not audit clean (a bug of import-legacy; please report it); run \`execplane audit ${report.out}\``,
          1,
        );
    });
}
