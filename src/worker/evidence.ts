/**
 * Evidence files under <home>/evidence/<job_id>/attempt-<n>/, written atomically (temp file,
 * rename; not fsync'd, see writeEvidenceFile) and described by path, SHA-256 and size so the
 * ledger can record them and `audit --evidence` can check them.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '../canonical.js';
import type { EvidenceFile } from '../schema/types.generated.js';

export function attemptEvidenceDir(evidenceRoot: string, jobId: string, attempt: number) {
  const prefix = `attempt-${attempt}`;
  const dir = join(evidenceRoot, jobId, prefix);
  mkdirSync(dir, { recursive: true });
  return { dir, prefix };
}

let tmpFiles = 0;

/** Writes `data` to `<dir>/<name>` atomically and describes it relative to evidence/<job_id>/. */
export function writeEvidenceFile(
  dir: string,
  prefix: string,
  name: string,
  data: string | Buffer,
): EvidenceFile {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  // Atomic (temp file, then rename over the name), synchronous, not fsync'd: the SHA-256 in the
  // ledger is what makes evidence trustworthy, and `audit --evidence` reports a file that a power
  // cut lost. write-file-atomic with fsync (thread-pool hops for realpath, open, write, fsync,
  // rename) halved a drain's throughput (docs/decisions.md, "Evidence durability").
  const path = join(dir, name);
  const tmp = `${path}.tmp-${process.pid}-${++tmpFiles}`;
  try {
    writeFileSync(tmp, buf);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return { path: `${prefix}/${name}`, sha256: sha256Hex(buf), bytes: buf.length };
}
