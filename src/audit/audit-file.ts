/**
 * The audit's I/O edge: streams a ledger file through the Auditor with bounded memory (one
 * chunk plus one line of at most 64 KiB; longer lines are skipped, not buffered) and, with
 * `evidenceDir`, checks the evidence files the events record.
 */
import { fstatSync } from 'node:fs';
import { MAX_LINE_BYTES } from '../ledger/line.js';
import { assertReadableFile } from '../ledger/paths.js';
import { scanLines, withReadFd } from '../ledger/scan.js';
import { VerifyPool, type VerifyOptions } from '../ledger/verify-pool.js';
import { Auditor, type AuditOptions, type AuditReport } from './audit.js';
import { evidenceFindings } from './evidence.js';

export interface FileAuditOptions extends AuditOptions {
  /** Check evidence files under this directory (<home>/evidence). */
  readonly evidenceDir?: string;
  /** Worker threads checking lines ahead of the audit (src/ledger/verify-pool.ts). */
  readonly verify?: VerifyOptions;
  /** Told the offset of each line as it is read (a progress bar). */
  readonly onOffset?: (offset: number) => void;
}

/** Audits the ledger at `path`; a path that is not a readable file is a UsageError (exit 2). */
export function auditLedgerFile(path: string, options: FileAuditOptions = {}): AuditReport {
  assertReadableFile(path);
  const auditor = new Auditor(options);
  let lineNo = 0;
  const { torn } = withReadFd(path, (fd) => {
    const size = fstatSync(fd).size;
    const pool = VerifyPool.start(fd, 0, size, options.verify);
    try {
      return scanLines(
        fd,
        0,
        (line) => {
          lineNo += 1;
          options.onOffset?.(line.start);
          const raw = {
            line: lineNo,
            text: line.text,
            bytes: line.end - line.start,
            oversized: line.oversized,
            notUtf8: line.notUtf8,
          };
          const ev = auditor.line(raw, pool?.isSound(line.start, line.end));
          if (ev && options.evidenceDir !== undefined) {
            auditor.add(
              evidenceFindings(options.evidenceDir, ev, { line: lineNo, seq: ev.seq, job_id: ev.job_id }),
            );
          }
        },
        MAX_LINE_BYTES,
        size,
      );
    } finally {
      pool?.close();
    }
  });
  return auditor.finish(torn);
}
