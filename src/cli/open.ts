import { UsageError } from '../errors.js';
import { assertPlaneExists, assertReadableFile } from '../ledger/paths.js';
import { Plane, type OpenOptions } from '../plane.js';
import { warn } from './output.js';

/** Opens what a read command reads: `--ledger FILE` read-only, else the plane in `--home`. */
export function openForRead(
  opts: { home: string; ledger?: string; at?: number; homeGiven?: boolean; fromCheckpoint?: boolean },
  fold: Pick<OpenOptions, 'onEvent' | 'useCheckpoint'> = {},
): Plane {
  if (opts.ledger !== undefined) {
    if (opts.homeGiven) throw new UsageError('E_USAGE', '--home and --ledger cannot be used together');
    if (opts.fromCheckpoint) {
      throw new UsageError(
        'E_USAGE',
        '--from-checkpoint reads <home>/checkpoint.json: use it with --home, not --ledger',
      );
    }
    assertReadableFile(opts.ledger);
    return Plane.openLedgerFile(opts.ledger, { atSeq: opts.at, onEvent: fold.onEvent });
  }
  assertPlaneExists(opts.home);
  // Read commands prove what they print: every line, unless the caller asks for the checkpoint.
  const plane = Plane.open(opts.home, {
    atSeq: opts.at,
    useCheckpoint: opts.fromCheckpoint === true,
    ...fold,
  });
  if (plane.checkpointRejected)
    warn(`checkpoint.json ignored (${plane.checkpointRejected}); replayed from line 1`);
  return plane;
}
