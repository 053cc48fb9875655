/** Reading a ledger the way an observer does: whole, or following it as it grows. */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';

/** The complete lines of a ledger file, each with its `\n`. */
export function ledgerLinesOf(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  lines.pop();
  return lines.map((l) => `${l}\n`);
}

/** Follows a growing file: `read()` returns the complete lines appended since the last call. */
export class LedgerTail {
  private offset = 0;
  private fd: number | undefined;

  constructor(private readonly path: string) {}

  read(): string[] {
    if (this.fd === undefined) {
      if (!existsSync(this.path)) return [];
      this.fd = openSync(this.path, 'r');
    }
    const size = fstatSync(this.fd).size;
    if (size <= this.offset) return [];
    const buf = Buffer.allocUnsafe(size - this.offset);
    const n = readSync(this.fd, buf, 0, buf.length, this.offset);
    const end = buf.lastIndexOf(10, n - 1);
    if (end < 0) return [];
    this.offset += end + 1;
    return buf.toString('utf8', 0, end).split('\n');
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
  }
}
