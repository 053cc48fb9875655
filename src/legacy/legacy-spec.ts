/**
 * A legacy job spec as a v1 spec (docs/spec.md §3), or why it cannot be one. Mappings (docs/import-legacy.md):
 * created_at_utc is normalised to v1's millisecond UTC form; fields the v1 schema does not know
 * are dropped and reported; anything else the schema rejects keeps the job out of the import.
 */
import { SchemaError } from '../errors.js';
import type { JobSpec } from '../schema/job-spec.js';
import { validateCompleteSpec } from '../schema/validate.js';
import { toTsUtc } from '../time.js';
import { parseLegacyTs } from './legacy-line.js';

export type SpecMapping =
  | { readonly ok: true; readonly spec: JobSpec; readonly dropped: readonly string[] }
  | { readonly ok: false; readonly problems: readonly string[] };

const UNKNOWN_FIELD = /^(\/\S*): unknown field "(.+)" \(not allowed here\)$/;
const MAX_REPAIRS = 64;

export function toV1Spec(job: Record<string, unknown>): SpecMapping {
  const spec = structuredClone(job);
  const dropped: string[] = [];
  if ('created_at_utc' in spec) {
    const ms = parseLegacyTs(spec.created_at_utc);
    if (Number.isNaN(ms)) {
      delete spec.created_at_utc;
      dropped.push('/created_at_utc (not a timestamp; the enqueue time is used)');
    } else {
      spec.created_at_utc = toTsUtc(ms);
    }
  }
  for (let i = 0; i <= MAX_REPAIRS; i++) {
    let problems: readonly string[];
    try {
      return { ok: true, spec: validateCompleteSpec(spec), dropped };
    } catch (err) {
      if (!(err instanceof SchemaError)) throw err;
      problems = err.problems;
    }
    const unknown = problems.map((p) => UNKNOWN_FIELD.exec(p)).filter((m) => m !== null);
    if (unknown.length === 0 || unknown.length !== problems.length) return { ok: false, problems };
    for (const [, path, field] of unknown) {
      const parent = path === '/' ? spec : pointer(spec, path!);
      if (parent && field! in parent) {
        delete parent[field!];
        dropped.push(`${path === '/' ? '' : path}/${field}`);
      }
    }
  }
  return { ok: false, problems: ['too many unknown fields'] };
}

function pointer(root: Record<string, unknown>, path: string): Record<string, unknown> | undefined {
  let node: unknown = root;
  for (const part of path.split('/').slice(1)) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return typeof node === 'object' && node !== null ? (node as Record<string, unknown>) : undefined;
}
