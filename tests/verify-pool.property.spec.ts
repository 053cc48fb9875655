/**
 * Parallel verification (src/ledger/verify-pool.ts) changes how fast a ledger is read, never what
 * is reported about it:
 *   - chunks partition a range's complete lines exactly, whatever the chunk size;
 *   - every line the engine writes is sound; a damaged line never is;
 *   - a pool's threads judge every chunk, and the reader trusts exactly the lines judged sound;
 *   - replay and audit with worker threads, on any ledger the engine wrote and any damage to it,
 *     report exactly what they report without.
 * Worker threads load the compiled JavaScript, so the last two drive dist/ (`npm test` builds it
 * first); the rest runs from the sources.
 */
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, sha256Hex } from '../src/canonical.js';
import { auditBytes } from '../src/audit/audit.js';
import { auditLedgerFile } from '../src/audit/audit-file.js';
import { IntegrityCheck } from '../src/audit/integrity.js';
import { chainProblem } from '../src/ledger/line.js';
import { chunkCount, forEachChunkLine, lineIsSound, type ChunkPlan } from '../src/ledger/sound.js';
import { Plane } from '../src/plane.js';
import { eventSchemaProblems } from '../src/schema/validate.js';
import type * as AuditFileModule from '../src/audit/audit-file.js';
import type * as PlaneModule from '../src/plane.js';
import type * as PoolModule from '../src/ledger/verify-pool.js';
import { linesOf, mutate, mutationArb } from './helpers/mutations.js';
import { engineLedger, programArb } from './helpers/random-ledger.js';
import { requireDist } from './helpers/cli.js';
import { agentSpec } from './helpers/specs.js';
import { readDuringRewrite, tornRace } from './helpers/torn-race.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-verify-');

/** Ledgers the engine wrote, shared by the properties below. */
const ledgers: Buffer[] = [];
beforeAll(async () => {
  for (const program of fc.sample(programArb, { numRuns: 8, seed: 42 })) {
    const bytes = await engineLedger(program);
    if (linesOf(bytes).length >= 3) ledgers.push(bytes);
  }
  expect(ledgers.length).toBeGreaterThanOrEqual(6);
});

function fileWith(bytes: Buffer): string {
  const path = join(tmp(), 'jobs.jsonl');
  writeFileSync(path, bytes);
  return path;
}

/** [start, text] of every complete line of `bytes` at or after `from` (a line start). */
function sequentialLines(bytes: Buffer, from: number): [number, string][] {
  const out: [number, string][] = [];
  for (
    let start = from, nl = bytes.indexOf(10, from);
    nl !== -1;
    start = nl + 1, nl = bytes.indexOf(10, start)
  )
    out.push([start, bytes.toString('utf8', start, nl)]);
  return out;
}

/**
 * A forged line: one field of line `line` set to what another line has (or seq moved), then
 * re-hashed, so the line is sound on its own and only the chain can tell.
 */
const forgeryArb = fc.record({
  line: fc.nat(),
  field: fc.constantFrom('prev' as const, 'seq' as const, 'ts_utc' as const),
  from: fc.nat(),
});

function forge(bytes: Buffer, f: ReturnType<typeof forgeryArb.generate>['value']): Buffer {
  const lines = linesOf(bytes).map((l) => JSON.parse(l.toString('utf8')) as Record<string, unknown>);
  const ev = { ...lines[f.line % lines.length]! };
  const other = lines[f.from % lines.length]!;
  if (f.field === 'seq') ev.seq = (ev.seq as number) + 1 + (f.from % 3);
  else ev[f.field] = f.field === 'prev' ? other.hash : other.ts_utc;
  delete ev.hash;
  ev.hash = sha256Hex(canonicalJson(ev));
  const texts = lines.map((l) => `${canonicalJson(l)}\n`);
  texts[f.line % lines.length] = `${canonicalJson(ev)}\n`;
  return Buffer.from(texts.join(''));
}

describe('chunks and soundness (sources)', () => {
  it('the chunks of a range hold each of its complete lines exactly once, in order', () => {
    fc.assert(
      fc.property(
        fc.nat(),
        fc.integer({ min: 1, max: 3000 }),
        fc.nat(),
        fc.option(fc.integer({ min: 1, max: 200 }), { nil: undefined }),
        (pick, chunkBytes, fromLine, tornBytes) => {
          const ledger = ledgers[pick % ledgers.length]!;
          // A torn tail: the first bytes of a line the file does not finish.
          const bytes = tornBytes ? Buffer.concat([ledger, ledger.subarray(0, tornBytes)]) : ledger;
          const starts = sequentialLines(ledger, 0).map(([s]) => s);
          const from = starts[fromLine % starts.length]!;
          const plan: ChunkPlan = { from, to: bytes.length, chunkBytes };
          const path = fileWith(bytes);
          const fd = openSync(path, 'r');
          const seen: [number, string][] = [];
          try {
            for (let k = 0; k < chunkCount(plan); k++) {
              const complete = forEachChunkLine(
                fd,
                plan,
                k,
                (bytes, start) => {
                  seen.push([start, bytes.toString('utf8')]);
                  return true;
                },
                { buf: Buffer.alloc(0) },
              );
              expect(complete).toBe(true);
            }
          } finally {
            closeSync(fd);
          }
          expect(seen).toEqual(sequentialLines(bytes, from));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('every line the engine wrote is sound, and a line with a changed byte is not', () => {
    for (const ledger of ledgers)
      for (const [, text] of sequentialLines(ledger, 0)) expect(lineIsSound(Buffer.from(text))).toBe(true);
    fc.assert(
      fc.property(
        fc.nat(),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        (pick, lineNo, at, value) => {
          const lines = sequentialLines(ledgers[pick % ledgers.length]!, 0);
          const bytes = Buffer.from(lines[lineNo % lines.length]![1]);
          fc.pre(value !== 10 && bytes[at % bytes.length] !== value);
          bytes[at % bytes.length] = value;
          expect(lineIsSound(bytes)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a sound line passes every check of its own that replay and audit make, whatever its content', () => {
    // Lines edited as JSON and re-hashed (so their hash vouches for them), laid out canonically
    // or not: soundness may only ever skip checks the line would pass. Half the edits use values
    // a field could hold (some of them valid, some not quite: an impossible date, a job that is
    // not the job_id's), half any JSON at all.
    const plausible: Record<string, readonly unknown[]> = {
      seq: [1, 2, 999_999, 2 ** 53, 0],
      v: [1, 2],
      event: ['claim', 'start', 'heartbeat', 'complete', 'enqueue', 'retry'],
      job_id: ['job-random0001', 'job-random0002'],
      ts_utc: ['2026-01-01T00:00:00.000Z', '2026-02-31T00:00:00.000Z', '2026-01-01T00:00:00Z'],
      prev: ['0'.repeat(64), 'a'.repeat(64), 'A'.repeat(64)],
      attempt: [0, 1, 2, 1.5],
      worker_id: ['w-1', 'w 1'],
    };
    let sound = 0;
    fc.assert(
      fc.property(
        fc.nat(),
        fc.nat(),
        fc.constantFrom(...Object.keys(plausible), 'job', 'extra'),
        fc.oneof(
          fc.nat().map((n) => ({ plausible: n })),
          fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }).map((v) => ({ any: v })),
        ),
        fc.boolean(),
        (pick, lineNo, field, edit, canonical) => {
          const lines = sequentialLines(ledgers[pick % ledgers.length]!, 0);
          const ev = JSON.parse(lines[lineNo % lines.length]![1]) as Record<string, unknown>;
          if ('any' in edit) {
            if (edit.any === undefined) delete ev[field];
            else ev[field] = edit.any;
          } else if (plausible[field]) {
            ev[field] = plausible[field][edit.plausible % plausible[field].length];
          } else if (field === 'job' && ev.job) {
            ev.job = { ...ev.job, job_id: 'job-other0001' };
          }
          delete ev.hash;
          ev.hash = sha256Hex(canonicalJson(ev));
          const text = canonical ? canonicalJson(ev) : JSON.stringify(ev, null, 1);
          if (!lineIsSound(Buffer.from(text))) return;
          sound += 1;
          const parsed = JSON.parse(text) as Record<string, unknown>;
          expect(chainProblem(text, parsed, parsed.seq as number, parsed.prev as string)).toBeUndefined();
          expect(eventSchemaProblems(parsed)).toEqual([]);
          const { findings } = new IntegrityCheck().check({
            line: 1,
            text,
            bytes: Buffer.byteLength(text) + 1,
          });
          const links = ['E_AUDIT_SEQ_GAP', 'E_AUDIT_PREV_MISMATCH', 'E_AUDIT_TS_BACKWARDS'];
          expect(findings.filter((f) => !links.includes(f.code))).toEqual([]);
        },
      ),
      { numRuns: 600 },
    );
    expect(sound).toBeGreaterThan(60); // edits that keep a line valid (and so sound) were made
  });

  it('a torn tail rewritten while the ledger is read is never stitched into a line', () => {
    // The read ends at the lines complete when it began; by the time it looks at what follows,
    // that is complete lines (the next read's), not a tail.
    const race = tornRace(tmp());
    expect(readDuringRewrite(race, (path, options) => Plane.openLedgerFile(path, options))).toEqual({
      last_seq: race.lines,
      torn: undefined,
      verifiedAhead: 0,
    });
    // Read again, the file is the lines before the tail and the two appended in its place.
    const again = Plane.openLedgerFile(race.path);
    expect(again.report().last_seq).toBe(race.lines + 2);
    again.close();
  });

  it('a line whose bytes are not UTF-8 is corrupt, even where its text hashes right', async () => {
    // A real U+FFFD (EF BF BD) replaced by invalid bytes that decode to U+FFFD (F0 90 80): the
    // decoded text, and so its hash, stay the same; only the bytes can tell.
    const home = tmp();
    const p = Plane.open(home, { useCheckpoint: false });
    await p.submit([{ type: 'enqueue', spec: agentSpec({ job_id: 'job-utf8aaaa1', prompt: 'a \ufffd b' }) }]);
    p.close();
    const path = join(home, 'jobs.jsonl');
    const bytes = readFileSync(path);
    const at = bytes.indexOf(Buffer.from('\ufffd'));
    expect(at).toBeGreaterThan(0);
    Buffer.from([0xf0, 0x90, 0x80]).copy(bytes, at);
    writeFileSync(path, bytes);
    expect(lineIsSound(bytes.subarray(0, bytes.length - 1))).toBe(false);
    expect(() => Plane.openLedgerFile(path)).toThrow(/line 1: not valid UTF-8/);
    const report = auditLedgerFile(path);
    expect(report.findings.map((f) => [f.code, f.line])).toEqual([['E_AUDIT_PARSE', 1]]);
    expect(auditBytes(bytes).findings.map((f) => [f.code, f.line])).toEqual([['E_AUDIT_PARSE', 1]]);
  });

  it('a line over the length limit is not sound, and a chunk holding one says so', () => {
    const text = `{"pad":"${'x'.repeat(70_000)}"}`;
    expect(lineIsSound(Buffer.from(text))).toBe(false);
    const path = fileWith(Buffer.from(`${text}\n`));
    const fd = openSync(path, 'r');
    try {
      const plan = { from: 0, to: text.length + 1, chunkBytes: 1024 };
      expect(forEachChunkLine(fd, plan, 0, () => true, { buf: Buffer.alloc(0) })).toBe(false);
    } finally {
      closeSync(fd);
    }
  });
});

describe('with worker threads (dist)', () => {
  let pool: typeof PoolModule;
  let plane: typeof PlaneModule;
  let audit: typeof AuditFileModule;
  beforeAll(async () => {
    requireDist();
    // The paths are strings to TypeScript (`as string`), so it types the modules as their sources.
    /* eslint-disable @typescript-eslint/no-unnecessary-type-assertion */
    pool = (await import('../dist/src/ledger/verify-pool.js' as string)) as typeof PoolModule;
    plane = (await import('../dist/src/plane.js' as string)) as typeof PlaneModule;
    audit = (await import('../dist/src/audit/audit-file.js' as string)) as typeof AuditFileModule;
    /* eslint-enable @typescript-eslint/no-unnecessary-type-assertion */
  });

  it('threads judge every chunk; the reader trusts the lines before a damaged one, and no later', async () => {
    const original = Buffer.concat(ledgers);
    // Not a ledger (the chain breaks where the ledgers meet) but every line is sound but one.
    const lines = sequentialLines(original, 0);
    const bad = lines[Math.floor(lines.length / 2)]!;
    const damaged = Buffer.from(original);
    damaged[bad[0] + 5] = 0x20; // a space: not canonical
    const path = fileWith(damaged);
    const fd = openSync(path, 'r');
    const v = pool.VerifyPool.start(fd, 0, damaged.length, { threads: 2, minBytes: 0, chunkBytes: 700 });
    expect(v).not.toBeNull();
    try {
      for (let waited = 0; v!.progress().judged < v!.progress().chunks; waited += 10) {
        expect(waited).toBeLessThan(30_000);
        await new Promise((r) => setTimeout(r, 10));
      }
      const chunkOfBad = Math.floor(bad[0] / 700);
      for (const [start, text] of lines) {
        const end = start + Buffer.byteLength(text) + 1;
        const sameChunkAfter = Math.floor(start / 700) === chunkOfBad && start >= bad[0];
        expect(v!.isSound(start, end), `line at ${start}`).toBe(!sameChunkAfter);
      }
    } finally {
      v!.close();
      closeSync(fd);
    }
  });

  it('with threads too, a torn tail rewritten during the read is neither trusted nor stitched', () => {
    const race = tornRace(tmp());
    // readerWaits: the lines are read by the threads' verdicts, not by the reader's own checks.
    const verify = { threads: 1, minBytes: 0, chunkBytes: 64 << 10, readerWaits: true };
    const r = readDuringRewrite(race, (path, options) =>
      plane.Plane.openLedgerFile(path, { ...options, verify }),
    );
    expect({ last_seq: r.last_seq, torn: r.torn }).toEqual({ last_seq: race.lines, torn: undefined });
    expect(r.verifiedAhead).toBe(race.lines);
  });

  /** What replay and audit say of `path`; `split`: fold to that seq first, then the rest (from > 0). */
  const outcome = (path: string, verify: PoolModule.VerifyOptions, split?: number) => {
    const report = audit.auditLedgerFile(path, { verify });
    let replay: unknown;
    let verifiedAhead = 0;
    try {
      const p = plane.Plane.openLedgerFile(path, { verify, atSeq: split });
      try {
        p.refresh();
        const r = p.report();
        replay = { digest: r.state_digest, last_seq: r.last_seq, torn: r.torn_tail };
        verifiedAhead = p.store.linesVerifiedAhead;
      } finally {
        p.close();
      }
    } catch (err) {
      replay = { error: String(err), code: (err as { code?: string }).code };
    }
    return { result: { report, replay }, verifiedAhead };
  };

  it('replay and audit report the same with threads as without, on clean and damaged ledgers', () => {
    fc.assert(
      fc.property(
        fc.nat(),
        fc.option(fc.oneof(mutationArb, forgeryArb), { freq: 4, nil: undefined }),
        fc.integer({ min: 200, max: 4000 }),
        fc.integer({ min: 1, max: 2 }),
        fc.boolean(),
        fc.option(fc.nat(), { nil: undefined }),
        (pick, m, chunkBytes, threads, readerWaits, split) => {
          const original = ledgers[pick % ledgers.length]!;
          const bytes = !m ? original : 'field' in m ? forge(original, m) : mutate(original, m);
          const path = fileWith(bytes);
          const at = split === undefined ? undefined : 1 + (split % linesOf(original).length);
          const sequential = outcome(path, { threads: 0 }, at);
          // readerWaits: every line is read by the threads' verdicts (on a ledger this small the
          // reader would otherwise claim every chunk before a thread has started).
          const parallel = outcome(path, { threads, minBytes: 0, chunkBytes, readerWaits }, at);
          expect(parallel.result).toEqual(sequential.result);
          expect(sequential.verifiedAhead).toBe(0);
          // On an undamaged ledger read by the threads' verdicts, every line was verified ahead.
          if (!m && readerWaits) expect(parallel.verifiedAhead).toBe(linesOf(original).length);
        },
      ),
      { numRuns: 60 },
    );
  });
});
