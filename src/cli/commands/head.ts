import type { Command, Command as Program } from 'commander';
import { formatHead } from '../../audit/head.js';
import { toTsUtc } from '../../time.js';
import { fromCheckpointOption, homeOption, jsonOption, ledgerOption } from '../options.js';
import { openForRead } from '../open.js';
import { printJson, printLines, warn } from '../output.js';

export function register(program: Program): void {
  program
    .command('head')
    .description('print the ledger head as HASH@SEQ, to record elsewhere for `audit --expect-head`')
    .addOption(homeOption())
    .addOption(ledgerOption())
    .addOption(fromCheckpointOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Examples:
  execplane head > head-at-release.txt
  execplane audit --expect-head "$(cat head-at-release.txt)"

The ledger is verified line by line, as replay verifies it, before its head is printed (a corrupt
ledger exits 1); --from-checkpoint skips the lines checkpoint.json covers (a quick look, not an
anchor to record). Recorded outside the plane (a commit, a ticket, a log), the head proves later that the ledger
only grew since: see docs/audit.md.`,
    )
    .action(
      (opts: { home: string; ledger?: string; fromCheckpoint?: boolean; json?: boolean }, cmd: Command) => {
        const plane = openForRead({ ...opts, homeGiven: cmd.getOptionValueSource('home') === 'cli' });
        try {
          const { seq, hash, tsMs } = plane.state.head;
          if (plane.store.torn)
            warn(`a torn tail of ${plane.store.torn.bytes} byte(s) after the last complete line was ignored`);
          const head = formatHead({ hash, seq });
          if (opts.json) printJson({ head, seq, hash, ts_utc: seq > 0 ? toTsUtc(tsMs) : null });
          else printLines(head);
        } finally {
          plane.close();
        }
      },
    );
}
