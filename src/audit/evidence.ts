/**
 * `audit --evidence` (docs/spec.md §7): every evidence file a complete or fail event records
 * (`evidence: [{path, sha256, bytes}]`, path relative to <home>/evidence/<job_id>/) exists inside
 * that directory and still has the recorded size and SHA-256. Reads files (an I/O edge); each file
 * is hashed in chunks, so memory stays bounded.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, sep } from 'node:path';
import type { LedgerEvent } from '../schema/types.generated.js';
import { finding, type Finding, type LineRef } from './findings.js';

const CHUNK_BYTES = 1 << 20;

export function evidenceFindings(evidenceDir: string, ev: LedgerEvent, at: LineRef): Finding[] {
  if ((ev.event !== 'complete' && ev.event !== 'fail') || !ev.evidence) return [];
  const jobDir = join(evidenceDir, ev.job_id);
  const out: Finding[] = [];
  for (const file of ev.evidence) {
    const name = `evidence/${ev.job_id}/${file.path}`;
    if (isAbsolute(file.path) || file.path.split(/[\\/]/).includes('..')) {
      out.push(
        finding(
          at,
          'E_AUDIT_EVIDENCE_PATH',
          `evidence path ${file.path} leads outside evidence/${ev.job_id}/.`,
        ),
      );
      continue;
    }
    const full = join(jobDir, file.path);
    let real: string;
    try {
      real = realpathSync(full);
    } catch {
      out.push(finding(at, 'E_AUDIT_EVIDENCE_MISSING', `${name} is recorded but does not exist.`));
      continue;
    }
    if (!real.startsWith(realpathSync(jobDir) + sep)) {
      out.push(
        finding(at, 'E_AUDIT_EVIDENCE_PATH', `${name} is a link to ${real}, outside evidence/${ev.job_id}/.`),
      );
      continue;
    }
    if (!statSync(real).isFile()) {
      out.push(finding(at, 'E_AUDIT_EVIDENCE_MISMATCH', `${name} is not a regular file.`));
      continue;
    }
    const { sha256, bytes } = hashFile(real);
    if (bytes !== file.bytes || sha256 !== file.sha256) {
      out.push(
        finding(
          at,
          'E_AUDIT_EVIDENCE_MISMATCH',
          `${name} has ${bytes} bytes and SHA-256 ${sha256.slice(0, 12)}…; the ledger recorded ${file.bytes} bytes and ${file.sha256.slice(0, 12)}….`,
        ),
      );
    }
  }
  return out;
}

function hashFile(path: string): { sha256: string; bytes: number } {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  const fd = openSync(path, 'r');
  let bytes = 0;
  try {
    for (
      let n = readSync(fd, buf, 0, CHUNK_BYTES, null);
      n > 0;
      n = readSync(fd, buf, 0, CHUNK_BYTES, null)
    ) {
      hash.update(buf.subarray(0, n));
      bytes += n;
    }
  } finally {
    closeSync(fd);
  }
  return { sha256: hash.digest('hex'), bytes };
}
