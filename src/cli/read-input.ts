/**
 * Reads a JSON input a user gives a command (`enqueue --file F`, `--file -`): bounded in size,
 * UTF-8, and JSON whose meaning nothing downstream could change. Every problem is a usage error
 * (exit 2) naming where it is; nothing is appended.
 *
 * I1. At most MAX_INPUT_BYTES are read (`--file /dev/zero` ends at once, not in swap).
 * I2. The bytes must be UTF-8: decoding would turn anything else into U+FFFD silently.
 * I3. No object may hold a key twice: JSON.parse keeps the last, so a reviewer reading the first
 *     `"allow_network": false` would be misled.
 * I4. Every number must be one JSON can carry exactly through a parse and a write: finite
 *     (`1e400` is Infinity, which JSON writes as null), not `-0` (written back as 0), and one
 *     whose double, written back, is the same decimal number (`9007199254740993`, `1e-400` and
 *     `0.10000000000000000555` are not: they would be stored as other numbers).
 * I5. No spec nests deeper than MAX_SPEC_DEPTH (src/schema/validate.ts checks each spec too). It
 *     is checked before the text is parsed, and nothing here recurses: a 64 MiB input can nest
 *     millions of levels, which JSON.parse takes many seconds and gigabytes to build.
 * I6. No spec is too large for its enqueue line (MAX_LINE_BYTES): refused here, naming which spec
 *     of a batch it is, before the ledger is opened (the append would refuse it too, unnamed).
 */
import { isUtf8 } from 'node:buffer';
import { closeSync, openSync, readSync } from 'node:fs';
import { createScanner } from 'jsonc-parser';
import { UsageError } from '../errors.js';
import { enqueueLineBytes, MAX_LINE_BYTES } from '../ledger/line.js';
import { MAX_SPEC_DEPTH, pointerToken as pointer } from '../schema/validate.js';

/** I1: the largest input a command reads, 64 MiB (a spec is at most one 64 KiB ledger line). */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

/** Reads and parses a JSON file (or stdin for `-`) of a job spec or an array of them; see I1–I6. */
export function readJsonInput(file: string): unknown {
  const name = file === '-' ? 'standard input' : file;
  const bytes = readBounded(file, name);
  if (!isUtf8(bytes)) {
    throw new UsageError(
      'E_INPUT',
      `${name} is not valid UTF-8 (line ${firstBadLine(bytes)}); save it as UTF-8`,
    );
  }
  const text = bytes.toString('utf8');
  const scan = scanJson(text);
  if (scan.deep !== undefined)
    throw new UsageError('E_INPUT', `${name}: ${scan.deep}: nests deeper than ${MAX_SPEC_DEPTH} levels`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const where = (err as Error).message.replace(
      /^.*?(at position \d+|Unexpected end of JSON input).*$/s,
      '$1',
    );
    throw new UsageError('E_JSON', `${name} is not valid JSON (${where}); fix the syntax and retry`);
  }
  if (scan.problem) throw new UsageError('E_INPUT', `${name}: ${scan.problem}`);
  const specs: unknown[] = Array.isArray(value) ? value : [value];
  specs.forEach((spec, i) => {
    const bytes = lineBytes(spec);
    if (bytes > MAX_LINE_BYTES) {
      throw new UsageError(
        'E_LINE_TOO_LARGE',
        `${name}: ${Array.isArray(value) ? `/${i}` : '/'}: its enqueue event would be ${bytes} bytes or more, ` +
          `over the ${MAX_LINE_BYTES}-byte line limit; put large data in files the job reads`,
      );
    }
  });
  return value;
}

/** I6: the bytes of a spec's enqueue line (at least), or 0 when it plainly fits or is no object. */
function lineBytes(spec: unknown): number {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) return 0; // for the schema
  // Sealing costs a hash; the event adds under 1 KiB to the spec, so most need none.
  if (Buffer.byteLength(JSON.stringify(spec)) < MAX_LINE_BYTES - 1024) return 0;
  return enqueueLineBytes(spec as Record<string, unknown>);
}

function readBounded(file: string, name: string): Buffer {
  let fd: number;
  try {
    fd = file === '-' ? 0 : openSync(file, 'r');
  } catch (err) {
    throw new UsageError(
      'E_INPUT',
      `cannot read ${name} (${(err as NodeJS.ErrnoException).code ?? 'EIO'}); check the path`,
    );
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, MAX_INPUT_BYTES + 1 - total));
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') {
          // A non-blocking stdin with nothing yet: wait a little rather than spin.
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
          continue;
        }
        if (code === 'EOF') break;
        throw new UsageError('E_INPUT', `cannot read ${name} (${code ?? 'EIO'}); check the path`);
      }
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
      if (total > MAX_INPUT_BYTES) {
        throw new UsageError(
          'E_INPUT',
          `${name} is larger than ${MAX_INPUT_BYTES} bytes; a spec is at most 64 KiB, and a file of many at most 64 MiB`,
        );
      }
    }
  } finally {
    if (fd !== 0) closeSync(fd);
  }
  return Buffer.concat(chunks, total);
}

function firstBadLine(bytes: Buffer): number {
  let line = 1;
  let start = 0;
  for (let nl = bytes.indexOf(10); ; nl = bytes.indexOf(10, start)) {
    const end = nl === -1 ? bytes.length : nl;
    if (!isUtf8(bytes.subarray(start, end))) return line;
    if (nl === -1) return line;
    start = nl + 1;
    line++;
  }
}

/**
 * A JSON number literal's exact decimal value in one canonical spelling (`digits e exponent`,
 * no leading or trailing zeros): two literals are the same number exactly when these agree.
 * `1.0`, `1` and `10e-1` agree; `0.1` and `0.10000000000000000555` do not.
 */
export function decimalValue(literal: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (!m) return literal;
  const [, sign, int, frac = '', exp = '0'] = m;
  let digits = (int! + frac).replace(/^0+/, '');
  if (digits === '') return '0';
  let exponent = BigInt(exp) - BigInt(frac.length);
  const trailing = digits.length - digits.replace(/0+$/, '').length;
  digits = digits.slice(0, digits.length - trailing);
  exponent += BigInt(trailing);
  return `${sign}${digits}e${exponent}`;
}

/** jsonc-parser's SyntaxKind (an ambient const enum, which isolatedModules cannot read). */
const T = {
  openBrace: 1,
  closeBrace: 2,
  openBracket: 3,
  closeBracket: 4,
  comma: 5,
  colon: 6,
  string: 10,
  number: 11,
  eof: 17,
} as const;

/**
 * I3–I5 on JSON text, token by token with a stack of its own (never recursion): `deep`, the path
 * of the first container nested deeper than a spec may be (the scan stops there), else `problem`,
 * the first I3 or I4 problem with its JSON path. On text that is not JSON the answer means
 * nothing beyond `deep` (JSON.parse reports the syntax).
 */
export function scanJson(text: string): { deep?: string; problem?: string } {
  // One frame per open container: its path, the keys an object has had so far (null for an
  // array), and the index of an array's current element.
  const frames: { path: string; keys: Set<string> | null; index: number }[] = [];
  let key = ''; // the current member's key, in the innermost object
  let expectKey = false;
  let problem: string | undefined;
  // A spec may nest MAX_SPEC_DEPTH levels; an array of specs one more.
  let maxLevels = MAX_SPEC_DEPTH;
  const valuePath = () => {
    const top = frames.at(-1);
    if (!top) return '';
    return top.keys ? `${top.path}/${pointer(key)}` : `${top.path}/${top.index}`;
  };
  const open = (keys: Set<string> | null): string | undefined => {
    if (frames.length === 0 && keys === null) maxLevels = MAX_SPEC_DEPTH + 1;
    const path = valuePath();
    if (frames.length >= maxLevels) return path || '/';
    frames.push({ path, keys, index: 0 });
    expectKey = keys !== null;
    return undefined;
  };
  const scanner = createScanner(text, true);
  // Plain numbers: T stands in for SyntaxKind, so the tokens are compared as numbers.
  for (let token: number = scanner.scan(); token !== T.eof; token = scanner.scan()) {
    switch (token) {
      case T.openBrace:
      case T.openBracket: {
        const deep = open(token === T.openBrace ? new Set() : null);
        if (deep !== undefined) return { deep };
        break;
      }
      case T.closeBrace:
      case T.closeBracket:
        frames.pop();
        expectKey = false;
        break;
      case T.comma: {
        const top = frames.at(-1);
        if (top?.keys) expectKey = true;
        else if (top) top.index++;
        break;
      }
      case T.colon:
        expectKey = false;
        break;
      case T.string: {
        const top = frames.at(-1);
        if (!expectKey || !top?.keys) break;
        key = scanner.getTokenValue();
        if (top.keys.has(key))
          problem ??= `${top.path}/${pointer(key)}: the key ${JSON.stringify(key)} appears twice in one object; keep one`;
        top.keys.add(key);
        break;
      }
      case T.number: {
        const raw = text.slice(scanner.getTokenOffset(), scanner.getTokenOffset() + scanner.getTokenLength());
        if (problem) break;
        const value = Number(raw);
        const path = valuePath() || '/';
        if (!Number.isFinite(value)) problem = `${path}: the number ${raw} is beyond what JSON can carry`;
        else if (Object.is(value, -0)) problem = `${path}: -0 would be written back as 0; write 0`;
        else if (decimalValue(raw) !== decimalValue(JSON.stringify(value)))
          problem =
            `${path}: the number ${raw} cannot be carried exactly (it would be written back as ` +
            `${JSON.stringify(value)}); write that, or the number as a string`;
        break;
      }
      default:
        break;
    }
  }
  return problem === undefined ? {} : { problem };
}
