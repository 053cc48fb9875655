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
  if (!problems.length)
    problems.push(...modelProblems(value as PlaneConfig), ...portGuardProblems(value as PlaneConfig));
  if (problems.length) {
    throw new UsageError(
      'E_CONFIG',
      `${path}: ${problems.join('; ')} (see schemas/config.schema.json, docs/sandbox.md, docs/model-lane.md and docs/operations.md)`,
    );
  }
  return { config: value as PlaneConfig, path };
}

/**
 * What the schema cannot say about `models` (docs/model-lane.md): names are unique, `stub` is the
 * built-in offline model's, and default_model names one that exists.
 */
export function modelProblems(config: PlaneConfig): string[] {
  const out: string[] = [];
  const names = (config.models ?? []).map((m) => m.name);
  const seen = new Set<string>();
  for (const name of names) {
    if (name === 'stub') out.push('models: "stub" is the built-in offline model; give yours another name');
    else if (seen.has(name)) out.push(`models: the name ${JSON.stringify(name)} is used twice`);
    seen.add(name);
  }
  const def = config.default_model;
  if (def !== undefined && def !== 'stub' && !seen.has(def))
    out.push(
      `default_model ${JSON.stringify(def)} names no model in models (known: stub${names.map((n) => `, ${n}`).join('')})`,
    );
  return out;
}

/**
 * What the schema cannot say about `port_guard` (docs/operations.md, "The model server's port"):
 * each pattern is a JavaScript regular expression, compiled with the `u` flag as the port guard
 * compiles it (src/ops/port-guard.ts), so a typo is refused when the file is read, not when a
 * stray process holds the port.
 */
export function portGuardProblems(config: PlaneConfig): string[] {
  const out: string[] = [];
  for (const key of ['known_holders', 'extra_known_holders'] as const) {
    for (const pattern of config.port_guard?.[key] ?? []) {
      try {
        new RegExp(pattern, 'u');
      } catch (err) {
        out.push(
          `port_guard.${key}: ${JSON.stringify(pattern)} is not a valid regular expression (${(err as Error).message})`,
        );
      }
    }
  }
  return out;
}
