/**
 * checkpoint.json (docs/spec.md §2): a new process starts from the saved state instead of line 1, only
 * after verifying it (index SHA-256, and seq + hash of the ledger line at its offset); the ended
 * jobs' region is checked against its own SHA-256 when first read (src/ledger/checkpoint.ts, C2).
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CHECKPOINT_INTERVAL_LINES, Plane } from '../src/plane.js';
import { ManualClock, T0 } from './helpers/clock.js';
import { checkpointByDist } from './helpers/cli.js';
import { cli } from './helpers/procs.js';
import { agentSpec, cmd } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs();
const ids = ['job-ckpt000001', 'job-ckpt000002', 'job-ckpt000003', 'job-ckpt000004'] as const;
const [A, B, C, D] = ids;

const opened: Plane[] = [];
afterEach(() => {
  for (const p of opened.splice(0)) p.close();
});
function open(home: string, options: Parameters<typeof Plane.open>[1] = {}): Plane {
  const p = Plane.open(home, options);
  opened.push(p);
  return p;
}

/** Jobs in every kind of state, one of them holding 2 of worker w1's 2 slots. */
async function planeWithHistory(home = tmp(), clock = new ManualClock()) {
  const plane = open(home, { clock });
  await plane.submit([
    ...ids.map((id) => cmd.enqueue(agentSpec({ job_id: id, budgets: { max_concurrency_slots: 2 } }))),
  ]);
  await plane.submit([cmd.claim(A, 'w1', { slots: 2 }), cmd.claim(B, 'w2', { slots: 2 })]);
  clock.advance(1000);
  await plane.submit([cmd.start(B, 'w2'), cmd.toolCall(B, 'w2'), cmd.cancel(C)]);
  clock.advance(1000);
  await plane.submit([cmd.complete(B, 'w2', 1, { tool_calls: 1, output_bytes: 10, wall_ms: 1000 })]);
  return { home, clock, plane };
}

/** A v3 checkpoint's three parts (its text is ASCII, so characters are bytes). */
function checkpointParts(path: string) {
  const text = readFileSync(path, 'utf8');
  const nl = text.indexOf('\n');
  const header = JSON.parse(text.slice(0, nl)) as Record<string, unknown> & { index_bytes: number };
  const index = text.slice(nl + 1, nl + 1 + header.index_bytes);
  const ended = text.slice(nl + 1 + header.index_bytes);
  const write = (parts: { header?: Record<string, unknown>; index?: string; ended?: string }) =>
    writeFileSync(
      path,
      `${JSON.stringify(parts.header ?? header)}\n${parts.index ?? index}${parts.ended ?? ended}`,
    );
  return { header, index, ended, write };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Events the fold applied while opening (0 means it started from the checkpoint's end). */
function openCounting(home: string) {
  let folded = 0;
  const plane = open(home, { onEvent: () => void (folded += 1) });
  return { plane, folded };
}

describe('checkpoint.json', () => {
  it('maybeCheckpoint(true) writes it; a new plane starting from it equals a fold from line 1', async () => {
    const { home, plane } = await planeWithHistory();
    expect(plane.maybeCheckpoint(true)).toBe(true);
    expect(existsSync(join(home, 'checkpoint.json'))).toBe(true);

    const { plane: fromCheckpoint, folded } = openCounting(home);
    expect(folded).toBe(0);
    expect(fromCheckpoint.checkpointRejected).toBeNull();
    const full = open(home, { useCheckpoint: false });
    expect(fromCheckpoint.report()).toEqual(full.report());
    expect(fromCheckpoint.store.position).toEqual(full.store.position);
  });

  it('after the checkpoint, a new plane folds only the new lines and still equals the full fold', async () => {
    const { home, plane, clock } = await planeWithHistory();
    plane.maybeCheckpoint(true);
    clock.advance(1000);
    await plane.submit([cmd.heartbeat(A, 'w1', 1)]);
    await plane.submit([cmd.claim(D, 'w3', { slots: 2 })]);
    const { plane: resumed, folded } = openCounting(home);
    expect(folded).toBe(2);
    expect(resumed.report()).toEqual(open(home, { useCheckpoint: false }).report());
  });

  it('a plane restored from a checkpoint decides like one that folded everything (slots, fencing)', async () => {
    const { home, plane } = await planeWithHistory();
    plane.maybeCheckpoint(true);
    const resumed = open(home, { clock: new ManualClock(T0 + 5000) });
    // w1 still holds A's 2 slots: invariant 6 must survive the round trip through the file.
    await expect(resumed.submit([cmd.claim(D, 'w1', { slots: 2 })])).rejects.toMatchObject({
      code: 'E_SLOTS_EXCEEDED',
    });
    await expect(resumed.submit([cmd.start(A, 'w2', 1)])).rejects.toMatchObject({ code: 'E_LEASE_LOST' });
    await resumed.submit([cmd.start(A, 'w1', 1)]);
    expect(resumed.report()).toEqual(open(home, { useCheckpoint: false }).report());
  });

  it('is not written on an ordinary call below the interval, nor while the ledger has a torn tail', async () => {
    const { home, plane } = await planeWithHistory();
    expect(plane.maybeCheckpoint()).toBe(false);
    expect(existsSync(join(home, 'checkpoint.json'))).toBe(false);
    appendFileSync(join(home, 'jobs.jsonl'), '{"torn');
    const torn = open(home);
    expect(torn.maybeCheckpoint(true)).toBe(false);
    expect(existsSync(join(home, 'checkpoint.json'))).toBe(false);
  });

  it('a tampered checkpoint index is rejected and the state is still correct', async () => {
    const { home, plane } = await planeWithHistory();
    plane.maybeCheckpoint(true);
    const { index, write } = checkpointParts(join(home, 'checkpoint.json'));
    expect(index).toContain('"w1"');
    write({ index: index.replace('"w1"', '"w9"') });
    const { plane: reopened, folded } = openCounting(home);
    expect(reopened.checkpointRejected).toMatch(/index_sha256/);
    expect(folded).toBe(readFileSync(join(home, 'jobs.jsonl'), 'utf8').split('\n').length - 1);
    expect(reopened.report()).toEqual(open(home, { useCheckpoint: false }).report());
  });

  it('a checkpoint of another length than its header says is rejected', async () => {
    const { home, plane } = await planeWithHistory();
    plane.maybeCheckpoint(true);
    appendFileSync(join(home, 'checkpoint.json'), '\n');
    expect(open(home).checkpointRejected).toMatch(/not as long as its header says/);
  });

  it('a damaged ended-jobs region is found when first read: E_CHECKPOINT_DAMAGED, exit 1, one line', async () => {
    const { home, plane } = await planeWithHistory();
    plane.maybeCheckpoint(true);
    const { ended, write } = checkpointParts(join(home, 'checkpoint.json'));
    expect(ended).toContain('"agent_task"');
    write({ ended: ended.replace('"agent_task"', '"agent_tusk"') });
    // Opening reads the header and the index only (C2): the damage is not seen yet…
    const reopened = open(home);
    expect(reopened.checkpointRejected).toBeNull();
    expect(reopened.state.jobState(B)).toBe('complete');
    // …and is reported, never used, when an ended job's context is first needed.
    for (let i = 0; i < 2; i++) {
      expect(() => reopened.report()).toThrow(
        expect.objectContaining({ code: 'E_CHECKPOINT_DAMAGED', exitCode: 1 }),
      );
    }
    // The same through the CLI, on a checkpoint its own build wrote and the same damage.
    await checkpointByDist(home);
    const built = checkpointParts(join(home, 'checkpoint.json'));
    built.write({ ended: built.ended.replace('"agent_task"', '"agent_tusk"') });
    const r = await cli(['replay', '--home', home, '--from-checkpoint']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/E_CHECKPOINT_DAMAGED.*ended_sha256.*Delete checkpoint\.json/);
    // The full replay reads every line and never looks at the checkpoint's contexts.
    expect((await cli(['replay', '--home', home])).exitCode).toBe(0);
  });

  it('an unreadable checkpoint is rejected and the state is still correct', async () => {
    const { home } = await planeWithHistory();
    writeFileSync(join(home, 'checkpoint.json'), 'not json');
    const reopened = open(home);
    expect(reopened.checkpointRejected).toMatch(/unreadable/);
    expect(reopened.report()).toEqual(open(home, { useCheckpoint: false }).report());
  });

  it('a ledger whose line at the checkpoint offset differs rejects the checkpoint', async () => {
    const { home, plane } = await planeWithHistory();
    plane.maybeCheckpoint(true);
    const checkpoint = readFileSync(join(home, 'checkpoint.json'));
    // Another plane's ledger (the same commands a millisecond later), at least as long.
    const other = tmp();
    const { plane: otherPlane, clock } = await planeWithHistory(other, new ManualClock(T0 + 1));
    clock.advance(500);
    await otherPlane.submit([cmd.cancel(D, 'a different history')]);
    writeFileSync(join(other, 'checkpoint.json'), checkpoint);
    const reopened = open(other);
    expect(reopened.checkpointRejected).toMatch(/no line with seq \d+ and the checkpoint's hash/);
    expect(reopened.report()).toEqual(open(other, { useCheckpoint: false }).report());
    expect(reopened.report().jobs[D]!.state).toBe('cancelled');
  });

  it('a ledger shorter than the checkpoint offset rejects the checkpoint', async () => {
    const { home, plane } = await planeWithHistory();
    plane.maybeCheckpoint(true);
    const ledger = join(home, 'jobs.jsonl');
    const lines = readFileSync(ledger, 'utf8').split('\n');
    writeFileSync(ledger, lines.slice(0, 3).join('\n') + '\n');
    const reopened = open(home);
    expect(reopened.checkpointRejected).not.toBeNull();
    expect(reopened.report().last_seq).toBe(3);
  });

  it('time travel before the checkpoint ignores it and folds from line 1', async () => {
    const { home, plane } = await planeWithHistory();
    plane.maybeCheckpoint(true);
    const past = open(home, { atSeq: 5 });
    expect(past.report().last_seq).toBe(5);
    expect(past.report().jobs[A]!.state).toBe('claimed');
    expect(past.report().jobs[C]!.state).toBe('queued');
  });
});

describe('the digest of the ledger before a checkpoint (src/ledger/prefix.ts)', () => {
  const fileSha = (path: string, end: number) =>
    createHash('sha256').update(readFileSync(path).subarray(0, end)).digest('hex');
  const prefixOf = (home: string) => {
    const { header, index } = checkpointParts(join(home, 'checkpoint.json'));
    return {
      offset: header.offset as number,
      prefix: (JSON.parse(index) as { prefix: [number, string][] }).prefix,
    };
  };

  it('D1: a checkpoint records the SHA-256 of exactly the bytes before it, across processes and segments', async () => {
    const { home, plane, clock } = await planeWithHistory();
    const ledger = join(home, 'jobs.jsonl');
    plane.maybeCheckpoint(true);
    let { offset, prefix } = prefixOf(home);
    expect(prefix).toEqual([[offset, fileSha(ledger, offset)]]);
    // A reader from the checkpoint that never appends adds the bytes it folded as a second segment.
    await plane.submit([cmd.enqueue(agentSpec({ job_id: 'job-ckpt000005' }))]);
    const reader = open(home, { clock });
    await plane.submit([cmd.enqueue(agentSpec({ job_id: 'job-ckpt000006' }))]);
    reader.refresh();
    reader.maybeCheckpoint(true);
    const first = offset;
    ({ offset, prefix } = prefixOf(home));
    expect(prefix).toHaveLength(2);
    expect(prefix[0]).toEqual([first, fileSha(ledger, first)]);
    expect(prefix[1]![0]).toBe(offset);
    expect(prefix[1]![1]).toBe(
      createHash('sha256').update(readFileSync(ledger).subarray(first, offset)).digest('hex'),
    );
    // A writer from it checks both segments before its first append, then keeps one digest.
    const writer = open(home, { clock });
    await writer.submit([cmd.enqueue(agentSpec({ job_id: 'job-ckpt000007' }))]);
    writer.maybeCheckpoint(true);
    ({ offset, prefix } = prefixOf(home));
    expect(prefix).toEqual([[offset, fileSha(ledger, offset)]]);
  });

  it('D2: a changed byte in a later segment is refused, naming the lines of that segment', async () => {
    const { home, plane, clock } = await planeWithHistory();
    const ledger = join(home, 'jobs.jsonl');
    plane.maybeCheckpoint(true);
    const linesAtFirst = readFileSync(ledger, 'utf8').split('\n').length - 1;
    await plane.submit([cmd.enqueue(agentSpec({ job_id: 'job-ckpt000005' }))]);
    await plane.submit([cmd.enqueue(agentSpec({ job_id: 'job-ckpt000006' }))]);
    const reader = open(home, { clock });
    reader.maybeCheckpoint(true);
    const lines = readFileSync(ledger, 'utf8').split('\n');
    lines[linesAtFirst + 1] = lines[linesAtFirst + 1]!.replace('"job-ckpt000006"', '"job-ckpt000008"');
    writeFileSync(ledger, lines.join('\n'));
    const before = readFileSync(ledger);
    const writer = open(home, { clock });
    const attempt = writer.submit([cmd.cancel(A, 'x')]);
    await expect(attempt).rejects.toThrow(
      new RegExp(`line ${linesAtFirst + 1}: lines ${linesAtFirst + 1}–${linesAtFirst + 2} are not the bytes`),
    );
    expect(readFileSync(ledger).equals(before)).toBe(true);
  });

  it('D2: lines folded after the checkpoint and changed before the first append are refused too', async () => {
    const { home, plane, clock } = await planeWithHistory();
    const ledger = join(home, 'jobs.jsonl');
    plane.maybeCheckpoint(true);
    const linesAtCheckpoint = readFileSync(ledger, 'utf8').split('\n').length - 1;
    await plane.submit([cmd.enqueue(agentSpec({ job_id: 'job-ckpt000005' }))]);
    const writer = open(home, { clock }); // folds the line after the checkpoint
    const lines = readFileSync(ledger, 'utf8').split('\n');
    lines[linesAtCheckpoint] = lines[linesAtCheckpoint]!.replace('"job-ckpt000005"', '"job-ckpt000009"');
    writeFileSync(ledger, lines.join('\n'));
    const before = readFileSync(ledger);
    await expect(writer.submit([cmd.cancel(A, 'x')])).rejects.toThrow(
      new RegExp(
        `line ${linesAtCheckpoint + 1}: the lines after checkpoint.json changed after this process read them`,
      ),
    );
    expect(readFileSync(ledger).equals(before)).toBe(true);
  });

  it('a checkpoint without a well-formed prefix digest is not used', async () => {
    const { home, plane } = await planeWithHistory();
    plane.maybeCheckpoint(true);
    const { header, index, write } = checkpointParts(join(home, 'checkpoint.json'));
    for (const prefix of ['[]', '[[1,"00"]]', `[[${String(header.offset)},"${'0'.repeat(63)}"]]`]) {
      const forged = index.replace(/"prefix":\[\[[^\]]*\]\]/, `"prefix":${prefix}`);
      expect(forged).not.toBe(index);
      const at = { ...header, index_sha256: sha256(forged), index_bytes: Buffer.byteLength(forged) };
      write({ header: at, index: forged });
      expect(open(home).checkpointRejected).toMatch(/no well-formed digest/);
    }
  });
});

describe('what a checkpoint may and may not vouch for (CLI)', () => {
  const flipByteInLine = (ledger: string, lineIndex: number) => {
    const lines = readFileSync(ledger, 'utf8').split('\n');
    lines[lineIndex] = lines[lineIndex]!.replace('"v":1', '"v":2');
    writeFileSync(ledger, lines.join('\n'));
  };

  it('replay reads every line: one changed byte before the checkpoint still exits 1 naming the line', async () => {
    const { home } = await planeWithHistory();
    await checkpointByDist(home);
    flipByteInLine(join(home, 'jobs.jsonl'), 2);
    const full = await cli(['replay', '--home', home, '--json']);
    expect(full.exitCode).toBe(1);
    expect(full.stderr).toMatch(/line 3: /);
    // --from-checkpoint trusts the lines the checkpoint covers, as documented.
    expect((await cli(['replay', '--home', home, '--from-checkpoint'])).exitCode).toBe(0);
  });

  it('writers starting from a checkpoint refuse a ledger changed before it: exit 1 naming the lines, nothing appended', async () => {
    const { home } = await planeWithHistory();
    await checkpointByDist(home);
    const ledger = join(home, 'jobs.jsonl');
    flipByteInLine(ledger, 2);
    const before = readFileSync(ledger);
    const spec = join(tmp(), 'spec.json');
    writeFileSync(spec, JSON.stringify(agentSpec({ job_id: 'job-ckpt000009' })));
    for (const args of [
      ['enqueue', '--home', home, '--file', spec],
      ['cancel', '--home', home, A, '--reason', 'x'],
      ['reap', '--home', home],
      ['work', '--home', home, '--once', '--workspace', tmp(), '--unsandboxed-ok'],
    ]) {
      const r = await cli(args);
      expect(r.exitCode, args[0]).toBe(1);
      expect(r.stderr, args[0]).toMatch(
        /E_LEDGER_CORRUPT.*line 1: lines 1–\d+ are not the bytes checkpoint\.json was folded from/,
      );
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(readFileSync(ledger).equals(before)).toBe(true);
  });

  it("a forged checkpoint (index edited, index_sha256 recomputed) cannot change replay's output", async () => {
    const { home } = await planeWithHistory();
    const honest = (await cli(['replay', '--home', home, '--json'])).stdout;
    await checkpointByDist(home);
    const { header, index, write } = checkpointParts(join(home, 'checkpoint.json'));
    // B is the first ended job, complete (state 3); the forgery says cancelled (6).
    const forged = index.replace('"states":"3', '"states":"6');
    expect(forged).not.toBe(index);
    write({ header: { ...header, index_sha256: sha256(forged) }, index: forged });
    expect((await cli(['replay', '--home', home, '--json'])).stdout).toBe(honest);
    // The forgery is real: a reader that chose to trust the checkpoint would have been misled.
    expect((await cli(['replay', '--home', home, '--from-checkpoint', '--json'])).stdout).not.toBe(honest);
  });

  it('a checkpoint written by other code is ignored', async () => {
    const { home, plane } = await planeWithHistory();
    plane.maybeCheckpoint(true);
    const path = join(home, 'checkpoint.json');
    const [header, ...rest] = readFileSync(path, 'utf8').split('\n');
    writeFileSync(
      path,
      [JSON.stringify({ ...JSON.parse(header!), code: '0000000000000000' }), ...rest].join('\n'),
    );
    expect(open(home).checkpointRejected).toMatch(/folded by other code/);
  });
});

describe('when a checkpoint is (re)written', () => {
  it('a full fold writes one past 10,000 new lines, and does not rewrite one that is already current', async () => {
    const home = tmp();
    const writer = open(home, { clock: new ManualClock() });
    await writer.submit(
      Array.from({ length: CHECKPOINT_INTERVAL_LINES }, (_, i) =>
        cmd.enqueue(agentSpec({ job_id: `job-bulk${String(i).padStart(8, '0')}` })),
      ),
    );
    expect(open(home, { useCheckpoint: false }).maybeCheckpoint()).toBe(true);
    const written = readFileSync(join(home, 'checkpoint.json'));
    expect(open(home, { useCheckpoint: false }).maybeCheckpoint()).toBe(false);
    expect(readFileSync(join(home, 'checkpoint.json')).equals(written)).toBe(true);
  });
});
