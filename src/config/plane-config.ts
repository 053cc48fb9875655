/**
 * The plane's optional settings, `<home>/config.json` (docs/spec.md §1), checked against
 * schemas/config.schema.json by the one validator. A missing file means the defaults; a
 * malformed one is a usage error (exit 2) naming the file and the problem, and a worker
 * refuses to start on it rather than guess which programs jobs may run.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { planePaths } from '../ledger/paths.js';
import type { PlaneConfig } from '../schema/types.generated.js';
import { configSchemaProblems } from '../schema/validate.js';

export interface LoadedPlaneConfig {
  readonly config: PlaneConfig;
  /** Where it was read from, or null when the file does not exist (defaults apply). */
  readonly path: string | null;
}

export function loadPlaneConfig(home: string): LoadedPlaneConfig {
  const path = planePaths(home).config;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { config: {}, path: null };
    throw new UsageError(
      'E_CONFIG',
      `${path}: cannot be read (${(err as Error).message}); fix its permissions`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(
      'E_CONFIG',
      `${path}: not valid JSON (${(err as Error).message}); fix it or remove the file to use the defaults`,
    );
  }
  const problems = configSchemaProblems(value);
  if (problems.length) {
    throw new UsageError(
      'E_CONFIG',
      `${path}: ${problems.join('; ')} (see schemas/config.schema.json and docs/sandbox.md)`,
    );
  }
  return { config: value as PlaneConfig, path };
}
