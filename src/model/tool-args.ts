/**
 * A tool's arguments checked against its JSON Schema before the tool runs (loop.ts, M1). The
 * schemas are the built-in tools' own and those MCP servers list at run time, so they are
 * compiled here at run time (Ajv, loaded on the first agent job that calls a tool) instead of
 * ahead of time like the spec and event validators. MCP servers are configured by the
 * operator, so their schemas are trusted like the rest of config.json (Ajv compiles a schema
 * to code; docs/model-lane.md, "MCP servers").
 */
import { createRequire } from 'node:module';
import { canonicalJson } from '../canonical.js';
import type * as Ajv2020Module from 'ajv/dist/2020.js';
import type { Ajv2020 as Ajv2020Class } from 'ajv/dist/2020.js';

const require = createRequire(import.meta.url);
let ajv: Ajv2020Class | undefined;

/** A check of one tool's arguments: undefined when they pass, else one line saying what is wrong. */
export type ArgsCheck = (args: unknown) => string | undefined;

/**
 * Checks by the schema's canonical JSON: a long-running worker compiles each distinct schema
 * once (Ajv keeps every schema it compiled; recompiling per job grew the heap without bound).
 * Past MAX_CACHED distinct schemas (MCP servers whose schemas keep changing) Ajv and the cache
 * start afresh.
 */
const cache = new Map<string, ArgsCheck>();
const MAX_CACHED = 512;

export function argsValidator(schema: Readonly<Record<string, unknown>>): ArgsCheck {
  const key = canonicalJson(schema);
  let check = cache.get(key);
  if (!check) {
    if (cache.size >= MAX_CACHED) {
      cache.clear();
      ajv = undefined;
    }
    check = compileCheck(schema);
    cache.set(key, check);
  }
  return check;
}

function compileCheck(schema: Readonly<Record<string, unknown>>): ArgsCheck {
  if (!ajv) {
    const { Ajv2020 } = require('ajv/dist/2020.js') as typeof Ajv2020Module;
    // strict off: MCP servers' schemas carry keywords of other drafts and annotations of their own.
    ajv = new Ajv2020({ strict: false, allErrors: false, validateSchema: false });
  }
  let validate: ReturnType<Ajv2020Class['compile']>;
  try {
    const { $schema: _ignored, ...rest } = schema;
    validate = ajv.compile(rest);
  } catch (err) {
    // A schema Ajv cannot compile: the tool still gets an object, and judges it itself.
    const why = (err as Error).message.slice(0, 200);
    return (args) =>
      typeof args === 'object' && args !== null && !Array.isArray(args)
        ? undefined
        : `the arguments must be an object (the tool's schema could not be compiled: ${why})`;
  }
  return (args) => {
    if (validate(args)) return undefined;
    const e = validate.errors?.[0];
    if (!e) return 'the arguments do not match the tool schema';
    const where = e.instancePath === '' ? 'the arguments' : `arguments${e.instancePath}`;
    const extra =
      e.keyword === 'additionalProperties'
        ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})`
        : '';
    return `${where} ${e.message ?? 'are invalid'}${extra}`.slice(0, 500);
  };
}
