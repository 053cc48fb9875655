import type { Command as Program } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { loadPlaneConfig } from '../../config/plane-config.js';
import {
  DEFAULT_GRACE_MS,
  EXIT_PORT_HELD,
  formatGuardEvent,
  guardPort,
  knownHolderPatterns,
} from '../../ops/port-guard.js';
import { homeOption, jsonOption, parsePositiveInt } from '../options.js';
import { escapeLines } from '../escape.js';
import { finishDespiteBrokenPipe, printJson, printLines } from '../output.js';

/** config.json's bound on port_guard.grace_ms (schemas/config.schema.json), for the flag too. */
const MAX_GRACE_MS = 120_000;

function parseGraceMs(value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) > MAX_GRACE_MS)
    throw new InvalidArgumentError(`--grace-ms must be a whole number from 0 to ${MAX_GRACE_MS}`);
  return Number(value);
}

export function register(program: Program): void {
  program
    .command('port-guard')
    .description(
      "make the model server's port free before it starts: reclaim it from a stray model server, never touch anyone else",
    )
    .argument('<port>', 'the TCP port (1 to 65535)', parsePositiveInt('PORT', 65_535))
    .addOption(homeOption())
    .addOption(jsonOption())
    .addOption(
      new Option(
        '--grace-ms <ms>',
        `between SIGTERM and SIGKILL (default: config.json port_guard.grace_ms, else ${DEFAULT_GRACE_MS})`,
      ).argParser(parseGraceMs),
    )
    .addHelpText(
      'after',
      `
Examples:
  execplane port-guard 8001
  execplane port-guard 8001 --grace-ms 10000 --json
  ExecStartPre=execplane port-guard 8001        (in the model server's systemd unit)

Who holds the port is read from /proc. Free: PORT_OK. Held only by known model-server processes
(vLLM, llama.cpp's llama-server, or config.json port_guard.known_holders / extra_known_holders):
PORT_RECLAIM pid=… cmd="…" and SIGTERM for each, PORT_KILL and SIGKILL for any still there after
the grace, then PORT_RECLAIMED once the port is free. Held by anything else: PORT_HELD_UNKNOWN
pid=… cmd="…" and nothing is signalled. A process is signalled only while its pid still has the
start time it had when it was found (PORT_SKIP otherwise). One line per step on stdout.

Exit codes: 0 the port is free (PORT_OK, PORT_RECLAIMED); ${EXIT_PORT_HELD} it is not: held by an unknown
process (PORT_HELD_UNKNOWN), still held after reclaiming (PORT_STILL_HELD), or it could not be
inspected (PORT_PROBE_FAILED: fail closed); 2 usage or an invalid config.json.
See docs/operations.md, "The model server's port".`,
    )
    .action(async (port: number, opts: { home: string; json?: boolean; graceMs?: number }) => {
      // `port-guard P | head -1 && start-server`: exit 0 only once the port is verified free (G4).
      finishDespiteBrokenPipe();
      const guard = loadPlaneConfig(opts.home).config.port_guard ?? {};
      const report = await guardPort({
        port,
        known: knownHolderPatterns(guard),
        graceMs: opts.graceMs ?? guard.grace_ms ?? DEFAULT_GRACE_MS,
        onEvent: opts.json ? undefined : (e) => printLines(formatGuardEvent(e)),
      });
      if (opts.json) printJson(report);
      if (report.exit_code !== 0) {
        // The tokens are the record; this line is for the person reading the journal.
        process.stderr.write(`execplane: port ${port} is not free: ${escapeLines(report.reason ?? '')}\n`);
        process.exitCode = report.exit_code;
      }
    });
}
