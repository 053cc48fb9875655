import type { Command, Command as Program } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AuditReport } from '../../audit/audit.js';
import { FINDING_CODES, type Finding } from '../../audit/findings.js';
import { ZERO_HASH } from '../../canonical.js';
import { formatHead, parseHeadAnchor } from '../../audit/head.js';
import { ExecplaneError, UsageError } from '../../errors.js';
import { planePaths } from '../../ledger/paths.js';
import { homeOption, jsonOption } from '../options.js';
import { printJson, printLines } from '../output.js';
import { readProgress } from '../progress.js';

/** The version of `audit --json`'s shape: a new member keeps it, a changed one bumps it. */
export const AUDIT_JSON_VERSION = 1;

interface Opts {
  home: string;
  json?: boolean;
  expectHead?: string;
  evidence?: boolean;
}

export function register(program: Program): void {
  program
    .command('audit')
    .description(
      'verify a ledger: integrity chain, schema, legal transitions, invariants 1–8 of docs/spec.md §4',
    )
    .argument('[ledger...]', 'ledger files to audit instead of <home>/jobs.jsonl')
    .addOption(homeOption())
    .addOption(jsonOption())
    .option(
      '--expect-head <HASH@SEQ>',
      'also prove the ledger still carries this head (from `execplane head`)',
    )
    .option('--evidence', 'also check the evidence files that complete and fail events record')
    .addHelpText(
      'after',
      `
Examples:
  execplane audit
  execplane audit --home /srv/plane --json
  execplane audit backups/jobs-2026-11.jsonl jobs.jsonl
  execplane audit --expect-head "$(cat head-at-release.txt)"

Exit codes: 0 clean; 1 findings (each with its line, seq, job_id and a stable code, see
docs/audit.md); 2 the audit could not run (bad arguments, a path that is not a readable file).
--json prints {"version": 1, "ok", "ledgers": [report, …]}, one report per ledger.`,
    )
    .action(async (ledgers: string[], opts: Opts, cmd: Command) => {
      const [{ Auditor }, { auditLedgerFile }] = await Promise.all([
        import('../../audit/audit.js'),
        import('../../audit/audit-file.js'),
      ]);
      if (ledgers.length > 0 && cmd.getOptionValueSource('home') === 'cli')
        throw new UsageError(
          'E_USAGE',
          '--home and LEDGER paths cannot be used together; pass one or the other',
        );
      if (ledgers.length > 1 && opts.expectHead !== undefined)
        throw new UsageError(
          'E_USAGE',
          '--expect-head names the head of one ledger; audit one LEDGER at a time with it',
        );
      const expectHead = opts.expectHead === undefined ? undefined : parseHeadAnchor(opts.expectHead);
      const targets = ledgers.length
        ? ledgers.map((path) => ({ path, evidenceDir: join(dirname(path), 'evidence') }))
        : [homeTarget(opts.home)];
      const reports = targets.map(({ path, evidenceDir }) => {
        if (path === null) return { ledger: path, ...new Auditor({ expectHead }).finish(null) };
        const progress = readProgress('audit', path);
        try {
          const evidence = opts.evidence ? evidenceDir : undefined;
          const onOffset = progress && ((offset: number) => progress.at(offset));
          return { ledger: path, ...auditLedgerFile(path, { expectHead, evidenceDir: evidence, onOffset }) };
        } finally {
          progress?.stop();
        }
      });
      const ok = reports.every((r) => r.ok);
      // One shape whatever the number of ledgers (docs/cli.md, "audit").
      if (opts.json) printJson({ version: AUDIT_JSON_VERSION, ok, ledgers: reports });
      else for (const r of reports) printReport(r);
      if (!ok) {
        const bad = reports.filter((r) => !r.ok);
        throw new ExecplaneError(
          'E_AUDIT_FINDINGS',
          bad.map((r) => `${r.ledger ?? 'the plane'}: ${count(r)} finding(s)`).join('; ') +
            '; see docs/audit.md for the codes',
          1,
        );
      }
    });
}

/** <home>/jobs.jsonl; a home without a ledger holds nothing yet (null), a missing home is an error. */
function homeTarget(home: string): { path: string | null; evidenceDir: string } {
  const paths = planePaths(home);
  if (!existsSync(paths.home) || !statSync(paths.home).isDirectory())
    throw new UsageError(
      'E_INPUT',
      `no plane at ${home}; pass --home DIR (or set EXECPLANE_HOME), or LEDGER paths`,
    );
  return { path: existsSync(paths.ledger) ? paths.ledger : null, evidenceDir: paths.evidence };
}

const count = (r: AuditReport) => r.findings.length + r.findings_omitted;

function printReport(r: AuditReport & { ledger: string | null }): void {
  const name = r.ledger ?? 'the plane (no jobs.jsonl yet)';
  const head = formatHead({ hash: r.last_hash, seq: r.last_seq });
  const lines = collapseRuns(r.findings).map(({ f, to, count: n }) =>
    n > 1
      ? `lines ${f.line}–${to}  ${f.code}  ${n} lines: ${FINDING_CODES[f.code].gist}`
      : `line ${f.line}${f.seq !== null ? ` seq ${f.seq}` : ''}${f.job_id ? ` ${f.job_id}` : ''}  ${f.code}  ${f.message}`,
  );
  if (r.findings_omitted)
    lines.push(`… and ${r.findings_omitted} more finding(s) (see --json for the first ones)`);
  const stopped =
    r.first_break_line !== null
      ? `; transition and invariant checks stopped at line ${r.first_break_line}, where the chain breaks`
      : '';
  const notLedger =
    r.events > 0 && r.last_seq === 0 && r.last_hash === ZERO_HASH
      ? '; no line is a ledger event: is this a ledger?'
      : '';
  lines.push(
    r.ok
      ? `${name}: intact, ${r.events} event(s), head ${head}`
      : `${name}: ${count(r)} finding(s) in ${r.events} line(s)${stopped}${notLedger}`,
  );
  printLines(...lines);
}

/** Consecutive lines with the same finding and no seq (e.g. a binary file) print as one range. */
function collapseRuns(findings: readonly Finding[]): { f: Finding; to: number; count: number }[] {
  const rows: { f: Finding; to: number; count: number }[] = [];
  for (const f of findings) {
    const last = rows[rows.length - 1];
    if (last && last.f.code === f.code && f.seq === null && last.f.seq === null && f.line === last.to + 1) {
      last.to = f.line;
      last.count += 1;
    } else {
      rows.push({ f, to: f.line, count: 1 });
    }
  }
  return rows;
}
