/** What every figure gets: the mode, a temp directory, and the generated ledgers (made once). */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { generateLedger, type GeneratedLedger, type LedgerShape } from './gen-ledger.js';

export interface BenchContext {
  readonly quick: boolean;
  readonly root: string;
  log(message: string): void;
  /** A fresh directory under the run's temp root. */
  dir(name: string): string;
  /** The big ledger: 1,000,000 events over 100,000 jobs (--quick: 100,000 over 10,000). */
  bigLedger(): GeneratedLedger;
  /** 1,000 events over 100 jobs. */
  smallLedger(): GeneratedLedger;
}

export const BIG: LedgerShape = { events: 1_000_000, jobs: 100_000 };
export const BIG_QUICK: LedgerShape = { events: 100_000, jobs: 10_000 };
export const SMALL: LedgerShape = { events: 1_000, jobs: 100 };

export function benchContext(root: string, quick: boolean, log: (m: string) => void): BenchContext {
  const ledgers = new Map<string, GeneratedLedger>();
  let dirs = 0;
  const ledger = (name: string, shape: LedgerShape) => {
    let l = ledgers.get(name);
    if (!l) {
      const t = performance.now();
      l = generateLedger(join(root, `${name}.jsonl`), shape);
      log(
        `generated ${name} ledger: ${l.events} events, ${l.jobs} jobs, ` +
          `${(l.bytes / 1e6).toFixed(0)} MB in ${((performance.now() - t) / 1000).toFixed(1)} s`,
      );
      ledgers.set(name, l);
    }
    return l;
  };
  return {
    quick,
    root,
    log,
    dir(name) {
      const d = join(root, `${String(++dirs).padStart(2, '0')}-${name}`);
      mkdirSync(d, { recursive: true });
      return d;
    },
    bigLedger: () => ledger('big', quick ? BIG_QUICK : BIG),
    smallLedger: () => ledger('small', SMALL),
  };
}
