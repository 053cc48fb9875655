/**
 * The audit's I/O edge: streams a ledger file through the Auditor with bounded memory (one
 * chunk plus one line of at most 64 KiB; longer lines are skipped, not buffered) and, with
 * `evidenceDir`, checks the evidence files the events record.
 */
import { MAX_LINE_BYTES } from '../ledger/line.js';
import { assertReadableFile } from '../ledger/paths.js';
import { scanLines, withReadFd } from '../ledger/scan.js';
import { Auditor, type AuditOptions, type AuditReport } from './audit.js';
import { evidenceFindings } from './evidence.js';

export interface FileAuditOptions extends AuditOptions {
  /** Check evidence files under this directory (<home>/evidence). */
  readonly evidenceDir?: string;
}

/** Audits the ledger at `path`; a path that is not a readable file is a UsageError (exit 2). */
export function auditLedgerFile(path: string, options: FileAuditOptions = {}): AuditReport {
  assertReadableFile(path);
  const auditor = new Auditor(options);
  let lineNo = 0;
  const { torn } = withReadFd(path, (fd) =>
    scanLines(
      fd,
      0,
      (line) => {
        lineNo += 1;
        const ev = auditor.line({
          line: lineNo,
          text: line.text,
          bytes: line.end - line.start,
          oversized: line.oversized,
        });
        if (ev && options.evidenceDir !== undefined) {
          auditor.add(
            evidenceFindings(options.evidenceDir, ev, { line: lineNo, seq: ev.seq, job_id: ev.job_id }),
          );
        }
      },
      MAX_LINE_BYTES,
    ),
  );
  return auditor.finish(torn);
}
