/**
 * A command's stdout or stderr, streamed into an evidence file with a byte cap (docs/spec.md §7, §9:
 * the predecessor buffered whole outputs before truncating them).
 *
 * C1. Bytes are kept as bytes: nothing is decoded, so invalid UTF-8 is stored as it came.
 * C2. Memory is one chunk at a time: each chunk is written (awaited, so the pipe applies
 *     backpressure to the child) before the next is read; past the cap chunks are counted and
 *     dropped.
 * C3. The file appears atomically: written under a temporary name, fsynced, then renamed, with
 *     its SHA-256 computed on the way, so the ledger can record it like any evidence file.
 */
import { createHash } from 'node:crypto';
import { open, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { EvidenceFile } from '../schema/types.generated.js';

export interface CaptureResult {
  readonly file: EvidenceFile;
  /** Bytes the stream produced. */
  readonly seen: number;
  /** Bytes kept in the file (≤ seen). */
  readonly kept: number;
  readonly truncated: boolean;
}

export class CappedCapture {
  private readonly hash = createHash('sha256');
  private readonly tmpPath: string;
  private handle: Promise<FileHandle>;
  private seen = 0;
  private kept = 0;

  /**
   * @param allow how many of `n` new bytes may still be kept (the job's output budget), and
   *   counts the n bytes against it.
   */
  constructor(
    private readonly dir: string,
    private readonly prefix: string,
    private readonly name: string,
    private readonly allow: (n: number) => number,
  ) {
    this.tmpPath = join(dir, `.${name}.${process.pid}.tmp`);
    this.handle = open(this.tmpPath, 'w');
    this.handle.catch(() => undefined); // reported by write/finish, which await it
  }

  async write(chunk: Buffer): Promise<void> {
    this.seen += chunk.length;
    const keep = Math.min(chunk.length, this.allow(chunk.length));
    if (keep <= 0) return;
    const part = keep === chunk.length ? chunk : chunk.subarray(0, keep);
    this.hash.update(part);
    this.kept += keep;
    const h = await this.handle;
    await h.write(part);
  }

  /** Drains `stream` into the file (C2); resolves when it ends or is destroyed. */
  async drain(stream: NodeJS.ReadableStream | null | undefined): Promise<void> {
    if (!stream) return;
    try {
      for await (const chunk of stream) await this.write(chunk as Buffer);
    } catch (err) {
      // A stream destroyed after its process group is gone (see exec.ts) ends the capture.
      if ((err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') throw err;
    }
  }

  async finish(): Promise<CaptureResult> {
    const h = await this.handle;
    await h.sync();
    await h.close();
    await rename(this.tmpPath, join(this.dir, this.name));
    return {
      file: { path: `${this.prefix}/${this.name}`, sha256: this.hash.digest('hex'), bytes: this.kept },
      seen: this.seen,
      kept: this.kept,
      truncated: this.kept < this.seen,
    };
  }
}
