/**
 * The file ledger store on real files (docs/spec.md §2): canonical chained lines, group commit,
 * all-or-nothing batches, torn tails moved aside, corruption refused with the line named,
 * clamped timestamps, the line-size limit, and catch-up that reads only new lines.
 */
import fs, { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import stringify from 'fast-json-stable-stringify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LedgerCorruptError, LineTooLargeError, RefusedError } from '../src/errors.js';
import { MAX_LINE_BYTES } from '../src/ledger/line.js';
import { Plane } from '../src/plane.js';
import { T0, ManualClock } from './helpers/clock.js';
import { chainViolations, ledgerEvents, ledgerLines, rechain, sha256, ZEROS } from './helpers/ledger.js';
import { agentSpec, cmd } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs();
const A = 'job-ledger0001';
const B = 'job-ledger0002';
const C = 'job-ledger0003';

function openPlane(home = tmp(), clock = new ManualClock()) {
  const plane = Plane.open(home, { clock });
  return { home, clock, plane, ledger: join(home, 'jobs.jsonl') };
}

/** A plane with a few events of several kinds: enqueue ×3, claim, start, tool_call, complete. */
async function busyPlane() {
  const p = openPlane();
  await p.plane.submit([cmd.enqueue(agentSpec({ job_id: A })), cmd.enqueue(agentSpec({ job_id: B }))]);
  p.clock.advance(1000);
  await p.plane.submit([cmd.claim(A)]);
  p.clock.advance(1000);
  await p.plane.submit([cmd.start(A)]);
  await p.plane.submit([cmd.toolCall(A)]);
  p.clock.advance(1000);
  await p.plane.submit([cmd.complete(A, 'w1', 1, { tool_calls: 1 })]);
  await p.plane.submit([cmd.enqueue(agentSpec({ job_id: C }))]);
  return p;
}

const closing: Plane[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  syncBuiltinESMExports();
  for (const p of closing.splice(0)) p.close();
});
const track = (p: Plane) => (closing.push(p), p);

describe('lines (docs/spec.md §2, invariant 8)', () => {
  it('every line is canonical JSON: sorted keys, no spaces, one per \\n', async () => {
    const { ledger, plane } = await busyPlane();
    track(plane);
    const text = readFileSync(ledger, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = ledgerLines(ledger);
    expect(lines).toHaveLength(7);
    for (const line of lines) expect(line).toBe(stringify(JSON.parse(line)));
  });

  it('hash = SHA-256 of the canonical event without hash; prev chains from 64 zeros; seq 1..n', async () => {
    const { ledger, plane } = await busyPlane();
    track(plane);
    const events = ledgerEvents(ledger);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(events[0]!.prev).toBe(ZEROS);
    events.forEach((ev, i) => {
      const { hash, ...rest } = ev;
      expect(hash).toBe(sha256(stringify(rest)));
      if (i > 0) expect(ev.prev).toBe(events[i - 1]!.hash);
      expect(ev.v).toBe(1);
    });
    expect(chainViolations(ledgerLines(ledger))).toEqual([]);
    expect(plane.report().last_hash).toBe(events.at(-1)!.hash);
  });

  it('ts_utc is the injected clock, ISO-8601 UTC with milliseconds', async () => {
    const { ledger, plane, clock } = track2(openPlane());
    clock.ms = T0 + 1234;
    await plane.submit([cmd.enqueue(agentSpec({ job_id: A }))]);
    expect(ledgerEvents(ledger)[0]!.ts_utc).toBe('2030-01-01T00:00:01.234Z');
  });

  it('ts_utc is clamped non-decreasing when the clock goes backwards', async () => {
    const { ledger, plane, clock } = track2(openPlane());
    clock.ms = T0 + 60_000;
    await plane.submit([cmd.enqueue(agentSpec({ job_id: A }))]);
    clock.ms = T0; // an hour of NTP correction, say
    await plane.submit([cmd.enqueue(agentSpec({ job_id: B })), cmd.claim(A, 'w1', { lease_sec: 30 })]);
    const events = ledgerEvents(ledger);
    expect(events.map((e) => e.ts_utc)).toEqual(Array(3).fill('2030-01-01T00:01:00.000Z'));
    // The lease runs from the clamped commit time, not from the clock's reading.
    expect(events[2]).toMatchObject({ event: 'claim', lease_expires_unix: T0 / 1000 + 90 });
    expect(chainViolations(ledgerLines(ledger))).toEqual([]);
  });

  it('an event over 64 KiB is refused (E_LINE_TOO_LARGE) and the file is untouched', async () => {
    const { ledger, plane } = track2(openPlane());
    await plane.submit([cmd.enqueue(agentSpec({ job_id: A }))]);
    const before = readFileSync(ledger);
    const huge = { ...agentSpec({ job_id: B }), meta: { blob: 'x'.repeat(MAX_LINE_BYTES) } };
    const err = await plane.submit([cmd.enqueue(huge)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LineTooLargeError);
    expect(err).toMatchObject({ code: 'E_LINE_TOO_LARGE' });
    expect(readFileSync(ledger)).toEqual(before);
    expect(plane.state.has(B)).toBe(false);
    // Just under the limit is fine.
    const big = { ...agentSpec({ job_id: C }), meta: { blob: 'x'.repeat(MAX_LINE_BYTES - 1000) } };
    await plane.submit([cmd.enqueue(big)]);
    const last = readFileSync(ledger, 'utf8').split('\n').at(-2)!;
    expect(Buffer.byteLength(last) + 1).toBeLessThanOrEqual(MAX_LINE_BYTES);
  });
});

function track2<T extends { plane: Plane }>(p: T): T {
  track(p.plane);
  return p;
}

describe('commit (S1–S3)', () => {
  it('a batch is one group commit: one write and one fdatasync for all its events', async () => {
    const { ledger, plane } = track2(openPlane());
    const write = vi.spyOn(fs, 'writeSync');
    const sync = vi.spyOn(fs, 'fdatasyncSync');
    syncBuiltinESMExports();
    const specs = ['job-batch00001', 'job-batch00002', 'job-batch00003', 'job-batch00004', 'job-batch00005'];
    const { events, outcomes } = await plane.submit(
      specs.map((id) => cmd.enqueue(agentSpec({ job_id: id }))),
    );
    expect(write).toHaveBeenCalledTimes(1);
    expect(sync).toHaveBeenCalledTimes(1);
    expect(outcomes.map((o) => o.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(events.map((e) => e.ts_utc)).size).toBe(1);
    expect(ledgerLines(ledger)).toHaveLength(5);
  });

  it('a refused command in a batch leaves the file byte-identical and the state as it was', async () => {
    const { ledger, plane } = await busyPlane();
    track(plane);
    const bytes = readFileSync(ledger);
    const digest = plane.report().state_digest;
    const batches = [
      // the last command refused, after two that would have been accepted
      [cmd.enqueue(agentSpec({ job_id: 'job-ledger0009' })), cmd.claim(B), cmd.claim(B, 'w2')],
      [cmd.claim(B), cmd.enqueue(agentSpec({ job_id: C, prompt: 'a different spec' }))],
      [cmd.cancel(C), cmd.complete(A)],
      [cmd.heartbeat(B, 'w1', 1)],
      [cmd.expire(C)],
      [cmd.claim('job-notthere1')],
    ];
    for (const batch of batches) {
      await expect(plane.submit(batch)).rejects.toBeInstanceOf(RefusedError);
      expect(readFileSync(ledger)).toEqual(bytes);
      expect(plane.report().state_digest).toBe(digest);
    }
    // …and the plane still appends at the right seq afterwards.
    const { outcomes } = await plane.submit([cmd.claim(B)]);
    expect(outcomes[0]!.seq).toBe(8);
    expect(chainViolations(ledgerLines(ledger))).toEqual([]);
  });

  it('a byte-identical repeat appends nothing and reports the existing seq', async () => {
    const { ledger, plane } = await busyPlane();
    track(plane);
    const bytes = readFileSync(ledger);
    const { outcomes, events } = await plane.submit([cmd.enqueue(agentSpec({ job_id: B }))]);
    expect(outcomes).toEqual([{ command: 'enqueue', job_id: B, status: 'exists', seq: 2 }]);
    expect(events).toEqual([]);
    expect(readFileSync(ledger)).toEqual(bytes);
  });

  it('decides under the lock against the current state, including other processes’ appends', async () => {
    const { home, plane: first } = await busyPlane();
    const second = track(Plane.open(home, { clock: new ManualClock(T0 + 10_000) }));
    await second.submit([cmd.claim(B, 'w2')]);
    // `first` has not refreshed; its claim must still see the claim of w2 and be refused.
    track(first);
    await expect(first.submit([cmd.claim(B, 'w1')])).rejects.toMatchObject({ code: 'E_ILLEGAL_TRANSITION' });
    await first.submit([cmd.start(B, 'w2', 1)]);
    expect(first.report()).toEqual(Plane.open(home, { useCheckpoint: false }).report());
  });
});

describe('torn tail (S4)', () => {
  async function tornPlane() {
    const p = await busyPlane();
    p.plane.close();
    const complete = readFileSync(p.ledger);
    // Half of a real line, as a crash in the middle of a write would leave.
    const half = Buffer.from(stringify({ event: 'cancel', job_id: B, reason: 'crash', seq: 8 }).slice(0, 30));
    appendFileSync(p.ledger, half);
    return { ...p, complete, half };
  }

  it('a reader reports the torn tail and folds the complete lines', async () => {
    const { home, complete, half } = await tornPlane();
    const plane = track(Plane.open(home, { useCheckpoint: false }));
    const report = plane.report();
    expect(report.torn_tail).toEqual({ line: 8, offset: complete.length, bytes: half.length });
    expect(report.last_seq).toBe(7);
    const clean = tmp();
    writeFileSync(join(clean, 'jobs.jsonl'), complete);
    const reference = track(Plane.open(clean)).report();
    expect(report.state_digest).toBe(reference.state_digest);
  });

  it('the next submit moves the torn bytes to jobs.jsonl.torn-<offset> and appends after the last line', async () => {
    const { home, ledger, complete, half } = await tornPlane();
    const plane = track(Plane.open(home, { clock: new ManualClock(T0 + 10_000) }));
    const { tornTailMoved, outcomes } = await plane.submit([cmd.cancel(B)]);
    const aside = `${ledger}.torn-${complete.length}`;
    expect(tornTailMoved).toEqual({ path: aside, bytes: half.length });
    expect(readFileSync(aside)).toEqual(half);
    expect(outcomes[0]!.seq).toBe(8);
    const after = readFileSync(ledger);
    expect(after.subarray(0, complete.length)).toEqual(complete);
    expect(after.at(-1)).toBe(10);
    expect(chainViolations(ledgerLines(ledger))).toEqual([]);
    expect(plane.report().torn_tail).toBeNull();
  });

  it('a refused or no-op submit leaves the torn tail in place (the file byte-identical)', async () => {
    const { home, ledger } = await tornPlane();
    const bytes = readFileSync(ledger);
    const plane = track(Plane.open(home, { clock: new ManualClock(T0 + 10_000) }));
    await expect(plane.submit([cmd.start(B, 'w1', 1)])).rejects.toBeInstanceOf(RefusedError);
    const { tornTailMoved } = await plane.submit([cmd.enqueue(agentSpec({ job_id: B }))]);
    expect(tornTailMoved).toBeNull();
    expect(readFileSync(ledger)).toEqual(bytes);
    expect(plane.report().torn_tail).not.toBeNull();
  });

  it('a second torn tail at the same offset is kept too, never overwritten', async () => {
    const { home, ledger, complete, half } = await tornPlane();
    const plane = track(Plane.open(home, { clock: new ManualClock(T0 + 10_000) }));
    await plane.submit([cmd.claim(B)]);
    writeFileSync(ledger, complete); // back to the same length, then torn again at that offset
    appendFileSync(ledger, '{"second');
    const again = track(Plane.open(home, { clock: new ManualClock(T0 + 20_000) }));
    const { tornTailMoved } = await again.submit([cmd.cancel(B)]);
    expect(readFileSync(`${ledger}.torn-${complete.length}`)).toEqual(half);
    expect(tornTailMoved!.path).not.toBe(`${ledger}.torn-${complete.length}`);
    expect(readFileSync(tornTailMoved!.path, 'utf8')).toBe('{"second');
  });
});

describe('corruption (S5)', () => {
  /** Ways to damage line 3 of a 7-line ledger; each must be refused naming line 3. */
  const damage: [string, (lines: string[]) => string[]][] = [
    ['one changed byte in the middle', (ls) => ls.map((l, i) => (i === 2 ? flipMiddleByte(l) : l))],
    ['a line missing (seq gap)', (ls) => ls.filter((_, i) => i !== 2)],
    ['a non-object line', (ls) => [...ls.slice(0, 2), '[]', ...ls.slice(2)]],
    ['a garbage line', (ls) => [...ls.slice(0, 2), 'garbage', ...ls.slice(2)]],
    ['a duplicated line', (ls) => [...ls.slice(0, 2), ls[1]!, ...ls.slice(2)]],
  ];

  it.each(damage)('%s: Plane.open throws LedgerCorruptError naming the line', async (_name, edit) => {
    const { ledger, plane } = await busyPlane();
    plane.close();
    writeFileSync(ledger, edit(ledgerLines(ledger)).join('\n') + '\n');
    const err = (() => {
      try {
        Plane.open(join(ledger, '..'), { useCheckpoint: false });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(LedgerCorruptError);
    expect(err).toMatchObject({ code: 'E_LEDGER_CORRUPT', line: 3 });
    expect((err as Error).message).toMatch(/jobs\.jsonl: line 3: /);
  });

  it('a line re-hashed over its own non-canonical bytes is corruption: the hash is over the canonical form', async () => {
    const { ledger, plane } = await busyPlane();
    plane.close();
    const lines = ledgerLines(ledger);
    const ev = JSON.parse(lines[2]!) as Record<string, unknown>;
    const { hash: _old, ...rest } = ev;
    const spaced = JSON.stringify(rest, null, 1).replace(/\n/g, ''); // valid JSON, not canonical
    lines[2] = spaced.replace(/}$/, `,"hash":"${sha256(spaced)}"}`);
    writeFileSync(ledger, lines.join('\n') + '\n');
    expect(() => Plane.open(join(ledger, '..'), { useCheckpoint: false })).toThrow(
      /line 3: not the canonical JSON/,
    );
  });

  it('an impossible date (Feb 31) in ts_utc is corruption, not a rolled-over time', async () => {
    const { ledger, plane } = await busyPlane();
    plane.close();
    const events = ledgerEvents(ledger).map((e) => ({ ...e }));
    for (const e of events.slice(3)) e.ts_utc = '2030-02-31T00:00:00.000Z';
    writeFileSync(ledger, rechain(events));
    expect(() => Plane.open(join(ledger, '..'), { useCheckpoint: false })).toThrow(/line 4: /);
  });

  it('bytes at the end that cannot be an interrupted append (no "{", or too long) are corruption, not a torn tail', async () => {
    for (const tail of ['garbage without a newline', `{"${'x'.repeat(MAX_LINE_BYTES)}`]) {
      const { home, ledger, plane } = await busyPlane();
      plane.close();
      appendFileSync(ledger, tail);
      const before = readFileSync(ledger);
      // Neither a reader nor a would-be writer gets past it, and nothing is moved aside.
      expect(() => Plane.open(home, { useCheckpoint: false })).toThrow(
        /line 8: .*cannot be an interrupted append/,
      );
      expect(readFileSync(ledger).equals(before)).toBe(true);
      expect(existsSync(`${ledger}.torn-${before.length - tail.length}`)).toBe(false);
    }
  });

  it('a well-chained line whose ts_utc goes backwards is corruption (invariant 8)', async () => {
    const { ledger, plane } = await busyPlane();
    plane.close();
    const events = ledgerEvents(ledger).map((e) => ({ ...e }));
    events[3]!.ts_utc = '2029-12-31T23:59:59.999Z';
    writeFileSync(ledger, rechain(events));
    expect(chainViolations(ledgerLines(ledger))).toEqual(['line 4: ts_utc goes backwards']);
    expect(() => Plane.open(join(ledger, '..'), { useCheckpoint: false })).toThrow(
      /line 4: .*E_TS_BACKWARDS/,
    );
  });

  it('a writer that meets corruption in new lines refuses and does not modify the file', async () => {
    const { home, ledger, plane: writer } = await busyPlane();
    track(writer);
    const other = track(Plane.open(home, { clock: new ManualClock(T0 + 10_000) }));
    await other.submit([cmd.claim(B, 'w2')]);
    await other.submit([cmd.start(B, 'w2', 1)]);
    const lines = ledgerLines(ledger);
    writeFileSync(ledger, lines.map((l, i) => (i === 7 ? flipMiddleByte(l) : l)).join('\n') + '\n');
    const bytes = readFileSync(ledger);
    await expect(writer.submit([cmd.cancel(C)])).rejects.toMatchObject({ code: 'E_LEDGER_CORRUPT', line: 8 });
    await expect(writer.submit([cmd.cancel(C)])).rejects.toBeInstanceOf(LedgerCorruptError);
    expect(readFileSync(ledger)).toEqual(bytes);
  });

  it('a ledger truncated below what was read is corruption, not a fresh start', async () => {
    const { ledger, plane } = await busyPlane();
    track(plane);
    const lines = ledgerLines(ledger);
    writeFileSync(ledger, lines.slice(0, 3).join('\n') + '\n');
    expect(() => plane.refresh()).toThrow(LedgerCorruptError);
  });
});

describe('catch-up (S6)', () => {
  it('position.offset advances by exactly the bytes appended', async () => {
    const { ledger, plane } = track2(openPlane());
    expect(plane.store.position).toEqual({ offset: 0, lines: 0 });
    await plane.submit([cmd.enqueue(agentSpec({ job_id: A })), cmd.enqueue(agentSpec({ job_id: B }))]);
    expect(plane.store.position).toEqual({ offset: statSync(ledger).size, lines: 2 });
    await plane.submit([cmd.claim(A)]);
    expect(plane.store.position).toEqual({ offset: statSync(ledger).size, lines: 3 });
  });

  it('two planes on one home see each other’s appends via refresh()', async () => {
    const home = tmp();
    const one = track(Plane.open(home, { clock: new ManualClock() }));
    const two = track(Plane.open(home, { clock: new ManualClock() }));
    await one.submit([cmd.enqueue(agentSpec({ job_id: A }))]);
    expect(two.state.has(A)).toBe(false);
    two.refresh();
    expect(two.report()).toEqual(one.report());
    await two.submit([cmd.claim(A, 'w2')]);
    one.refresh();
    expect(one.report().jobs[A]).toMatchObject({ state: 'claimed', attempt: 1 });
    expect(one.store.position).toEqual(two.store.position);
  });

  it('refresh reads only the bytes after its offset (it never looks at folded lines again)', async () => {
    const { home, ledger, plane: reader } = await busyPlane();
    track(reader);
    const writer = track(Plane.open(home, { clock: new ManualClock(T0 + 10_000) }));
    const offset = reader.store.position.offset;
    await writer.submit([cmd.claim(B, 'w2')]);
    // Damage an already-folded line: a reader that re-read the file would now fail.
    const text = readFileSync(ledger, 'utf8');
    writeFileSync(ledger, flipMiddleByte(text.slice(0, offset)) + text.slice(offset));
    reader.refresh();
    expect(reader.report().jobs[B]).toMatchObject({ state: 'claimed' });
    expect(reader.store.position.offset).toBe(statSync(ledger).size);
  });

  it('a plane opened on a home with no files creates nothing until its first append', () => {
    const home = join(tmp(), 'fresh');
    const plane = track(Plane.open(home));
    expect(plane.report()).toMatchObject({ last_seq: 0, last_hash: ZEROS, torn_tail: null });
    expect(existsSync(home)).toBe(false);
  });
});

/** Changes the byte in the middle of `line` to another printable ASCII byte. */
function flipMiddleByte(line: string): string {
  const i = Math.floor(line.length / 2);
  const c = line[i] === 'a' ? 'b' : 'a';
  return line.slice(0, i) + c + line.slice(i + 1);
}
