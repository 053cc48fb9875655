/**
 * Evidence files under <home>/evidence/<job_id>/attempt-<n>/, written atomically (temp file,
 * fsync, rename: write-file-atomic) and described by path, SHA-256 and size so the ledger can
 * record them and `audit --evidence` can check them.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { sha256Hex } from '../canonical.js';
import type { EvidenceFile } from '../schema/types.generated.js';

export function attemptEvidenceDir(evidenceRoot: string, jobId: string, attempt: number) {
  const prefix = `attempt-${attempt}`;
  const dir = join(evidenceRoot, jobId, prefix);
  mkdirSync(dir, { recursive: true });
  return { dir, prefix };
}

/** Writes `data` to `<dir>/<name>` atomically and describes it relative to evidence/<job_id>/. */
export async function writeEvidenceFile(
  dir: string,
  prefix: string,
  name: string,
  data: string | Buffer,
): Promise<EvidenceFile> {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  await writeFileAtomic(join(dir, name), buf, { fsync: true });
  return { path: `${prefix}/${name}`, sha256: sha256Hex(buf), bytes: buf.length };
}
