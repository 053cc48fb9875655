import { statSync } from 'node:fs';
import { InvalidArgumentError, Option } from 'commander';
import { DEFAULT_RETRY_POLICY } from '../core/reap.js';
import { defaultHome } from '../ledger/paths.js';
import { UsageError } from '../errors.js';

/** `--home DIR`, on every command. */
export const homeOption = () =>
  new Option('--home <dir>', 'the plane directory')
    .env('EXECPLANE_HOME')
    .default(defaultHome(), '$XDG_STATE_HOME/execplane, else ~/.local/state/execplane')
    .argParser((value: string) => {
      // An empty value (EXECPLANE_HOME="") would make the current directory the home.
      if (value.trim() === '') throw new InvalidArgumentError('must not be empty');
      // A home that exists must be a directory (one that does not yet is made when first written).
      // (statSync's throwIfNoEntry also hides ENOTDIR on Node ≥ 22 but not on 20: caught by code.)
      let stat: ReturnType<typeof statSync> | undefined;
      try {
        stat = statSync(value);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOTDIR')
          throw new InvalidArgumentError(
            `${value}: a part of the path is not a directory (ENOTDIR); a home is a directory`,
          );
        if (code !== 'ENOENT') throw err;
      }
      if (stat && !stat.isDirectory())
        throw new InvalidArgumentError(`${value} exists and is not a directory; a home is a directory`);
      return value;
    });

/** `--ledger FILE`, for read commands: read this ledger file instead of <home>/jobs.jsonl. */
export const ledgerOption = () =>
  new Option('--ledger <file>', 'read this ledger file instead of <home>/jobs.jsonl');

export const jsonOption = () => new Option('--json', 'print one JSON object');

/** `--from-checkpoint`, for read commands that otherwise verify every line (replay, head). */
export const fromCheckpointOption = () =>
  new Option(
    '--from-checkpoint',
    'start from a verified checkpoint.json instead of line 1 (fast; trusts the lines it covers)',
  );

export function parsePositiveInt(name: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^[0-9]+$/.test(value) || Number(value) < 1 || Number(value) > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from 1 to ${max}`);
    }
    return Number(value);
  };
}

/**
 * The longest time a flag may give: a day. Node's timers hold at most 2^31 − 1 ms (≈ 24.8 days);
 * beyond it a timer fires at once (a heartbeat every millisecond, a grace of none), so every
 * duration is bounded well inside it.
 */
export const MAX_FLAG_SECONDS = 86_400;

export function parseSeconds(name: string, max = MAX_FLAG_SECONDS) {
  return (value: string): number => {
    if (!/^[0-9]+(\.[0-9]+)?$/.test(value) || Number(value) > max)
      throw new InvalidArgumentError(`${name} must be a number of seconds from 0 to ${max}`);
    return Number(value);
  };
}

/** The reaper's backoff (work and reap): base × 2^(attempt−1), capped (src/core/reap.ts). */
export const retryBackoffOption = () =>
  new Option('--retry-backoff-sec <s>', 'first retry backoff; doubles per attempt')
    .argParser(parseSeconds('--retry-backoff-sec'))
    .default(DEFAULT_RETRY_POLICY.backoffBaseSec);
export const retryBackoffMaxOption = () =>
  new Option('--retry-backoff-max-sec <s>', 'cap of the retry backoff')
    .argParser(parseSeconds('--retry-backoff-max-sec'))
    .default(DEFAULT_RETRY_POLICY.backoffMaxSec);

export function refuseTogether(opts: object, a: string, b: string): void {
  const o = opts as Record<string, unknown>;
  if (o[a] !== undefined && o[b] !== undefined) {
    throw new UsageError('E_USAGE', `--${flag(a)} and --${flag(b)} cannot be used together`);
  }
}

const flag = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
