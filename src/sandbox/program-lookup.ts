/**
 * Finds an allowlisted program on the worker's PATH, as an absolute path. Relative PATH entries
 * (`.`, empty) are skipped, so a file named like an allowlisted program inside the workspace is
 * never what runs.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';

export async function findProgram(name: string, pathVar: string | undefined): Promise<string | undefined> {
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // not here; next PATH entry
    }
  }
  return undefined;
}
