/**
 * The ended region of one loaded checkpoint.json (C2 of checkpoint.ts): the stored contexts of
 * the jobs that had ended (complete, cancelled) when it was written. The state holds those jobs
 * by their state only (P4 of src/core/plane-state.ts); this is where their contexts are read,
 * explicitly, by the ledger store (`LedgerStore.loadEnded`), never behind a getter of the core.
 *
 * The region is read through the descriptor opened at load (a checkpoint renamed over this one
 * since does not matter), checked against ended_sha256 and split into lines on first use; a
 * region that fails that check throws CheckpointDamagedError, then and on every later use.
 */
import { closeSync } from 'node:fs';
import type { JobRecord, JobStateValue } from '../../../machines/job.types.js';
import { sha256Hex } from '../../canonical.js';
import { CheckpointDamagedError } from '../../errors.js';
import { readAt } from '../scan.js';
import { CONTEXT_FIELDS, rowToContext } from './format.js';

export class EndedRegion {
  private bytes: Buffer | undefined;
  /** Byte offset of each line in `bytes`, and the region's end. */
  private starts: Float64Array | undefined;
  /** Why the region could not be used: every later use throws it again. */
  private failure: Error | undefined;

  constructor(
    private fd: number | undefined,
    private readonly at: number,
    private readonly size: number,
    private readonly sha256: string,
    readonly count: number,
  ) {}

  /** Line `i` with its `\n`: what a new checkpoint stores again for a job nobody loaded. */
  line(i: number): Buffer {
    const { bytes, starts } = this.load();
    return bytes.subarray(starts[i], starts[i + 1]);
  }

  /** The job stored on line `i`, in state `value`, and where its enqueue line is. */
  job(i: number, value: JobStateValue): { job: JobRecord; enqueueOffset: number } {
    const line = this.line(i);
    const row = JSON.parse(line.toString('utf8', 0, line.length - 1)) as unknown[];
    return {
      job: { value, context: rowToContext(row) },
      enqueueOffset: row[CONTEXT_FIELDS.length] as number,
    };
  }

  /** Closes the descriptor (a region read already keeps its bytes). */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private load(): { bytes: Buffer; starts: Float64Array } {
    if (this.bytes && this.starts) return { bytes: this.bytes, starts: this.starts };
    if (this.failure) throw this.failure;
    if (this.fd === undefined) throw new Error('checkpoint.json: ended jobs read after the plane was closed');
    try {
      return this.read(this.fd);
    } catch (err) {
      this.failure = err as Error;
      throw err;
    } finally {
      this.close();
    }
  }

  private read(fd: number): { bytes: Buffer; starts: Float64Array } {
    const bytes = Buffer.allocUnsafe(this.size);
    const got = readAt(fd, bytes, this.size, this.at);
    if (got !== this.size || sha256Hex(bytes) !== this.sha256) {
      throw new CheckpointDamagedError('its ended-jobs region does not match the ended_sha256 of its header');
    }
    const starts = new Float64Array(this.count + 1);
    let line = 0;
    for (let nl = bytes.indexOf(10); nl !== -1 && line < this.count; nl = bytes.indexOf(10, nl + 1)) {
      starts[++line] = nl + 1;
    }
    if (line !== this.count || starts[line] !== this.size) {
      throw new CheckpointDamagedError(`its ended-jobs region holds ${line} lines, not ${this.count}`);
    }
    this.bytes = bytes;
    this.starts = starts;
    return { bytes, starts };
  }
}
