/**
 * A progress bar on stderr for reads of a whole ledger (`replay`, `audit`, a `show` without
 * jobs.index) — only when stderr is a terminal, and only for a ledger big enough to take a while.
 * Redirected or captured, stderr gets nothing from here, so what scripts and tests see is the same
 * as without it. cli-progress draws it (docs/decisions.md, "Reads that scale"), loaded only when a
 * bar is drawn.
 */
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import type cliProgressModule from 'cli-progress';

/** Smaller ledgers are read in well under a second (≈ 35 MB/s folded, docs/benchmarks.md). */
const MIN_BYTES = 16 << 20;

export interface Progress {
  /** The read has reached byte `offset` of the ledger. */
  at(offset: number): void;
  stop(): void;
}

/** A bar for reading `ledgerPath` from its start, or undefined when none is to be drawn. */
export function readProgress(label: string, ledgerPath: string | undefined): Progress | undefined {
  if (!process.stderr.isTTY || ledgerPath === undefined) return undefined;
  let size: number;
  try {
    size = statSync(ledgerPath).size;
  } catch {
    return undefined; // the read itself says what is wrong with the path
  }
  if (size < MIN_BYTES) return undefined;
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof cliProgressModule;
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: `${label} [{bar}] {percentage}% | {value}/{total} MB | ETA {eta_formatted}`,
    barsize: 30,
    hideCursor: true,
    clearOnComplete: true,
    etaBuffer: 50,
  });
  const mb = (bytes: number) => Math.round(bytes / 1e6);
  bar.start(mb(size), 0);
  // Once per MB at most: a million events must not mean a million calls into the bar.
  let next = 1e6;
  return {
    at(offset) {
      if (offset < next) return;
      next = offset + 1e6;
      bar.update(Math.min(mb(offset), mb(size)));
    },
    stop() {
      bar.stop();
    },
  };
}
