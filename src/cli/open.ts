import { existsSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { planePaths } from '../ledger/paths.js';
import { Plane, type OpenOptions } from '../plane.js';
import { warn } from './output.js';

/** Opens what a read command reads: `--ledger FILE` read-only, else the plane in `--home`. */
export function openForRead(
  opts: { home: string; ledger?: string; at?: number },
  fold: Pick<OpenOptions, 'onEvent' | 'useCheckpoint'> = {},
): Plane {
  if (opts.ledger !== undefined) {
    if (!existsSync(opts.ledger))
      throw new UsageError('E_INPUT', `no ledger at ${opts.ledger}; check the path`);
    return Plane.openLedgerFile(opts.ledger, { atSeq: opts.at, onEvent: fold.onEvent });
  }
  if (!existsSync(planePaths(opts.home).home)) {
    throw new UsageError(
      'E_INPUT',
      `no plane at ${opts.home}; pass --home DIR (or set EXECPLANE_HOME), or enqueue a job first`,
    );
  }
  const plane = Plane.open(opts.home, { atSeq: opts.at, ...fold });
  if (plane.checkpointRejected)
    warn(`checkpoint.json ignored (${plane.checkpointRejected}); replayed from line 1`);
  return plane;
}
