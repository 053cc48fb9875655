/**
 * Pid files against what a path may really name (H6, H7 of src/ops/pid-file.ts): only a regular
 * file holding a pid record is ever `stale` or removed; a ledger, garbage, a FIFO, a device or a
 * symlink is `unverified` to an inspector and refused by a holder, and stays as it was. A held
 * file is `live` to a reader that may only read it (a read-only mount). In-process: this test
 * holds the files itself, as a worker would.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import fsx from 'fs-native-extensions';
import { afterEach, describe, expect, test } from 'vitest';
import { holdPidFile, inspectPidFile, removeStalePidFile, type HeldPidFile } from '../src/ops/pid-file.js';
import { selfIdentity } from '../src/ops/proc.js';
import { osPart } from './helpers/os-parts.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-pid-file-');
const held: HeldPidFile[] = [];
const mounts: string[] = [];
afterEach(() => {
  for (const h of held.splice(0)) h.release();
  for (const m of mounts.splice(0)) execFileSync('umount', [m]);
});

const record = (pid: number, start_ticks: number) =>
  `${JSON.stringify({ pid, start_ticks, started_at_utc: '2026-01-01T00:00:00.000Z' })}\n`;
const LEDGER = '{"seq":1,"event":"enqueue"}\n{"seq":2,"event":"claim"}\n';

function run(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('only a pid file is stale, and only a stale pid file is removed (H6)', () => {
  test.each([
    ['a ledger', LEDGER],
    ['garbage', 'secret\n'],
    ['JSON without a start time', '{"pid":999}\n'],
  ])('%s nobody holds: unverified, and removeStalePidFile leaves it', (_what, text) => {
    const file = join(tmp(), 'x');
    writeFileSync(file, text);
    expect(inspectPidFile(file)).toEqual({
      kind: 'unverified',
      why: 'nobody holds it and it records no pid and start time: not a pid file',
    });
    expect(removeStalePidFile(file)).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  test('a pid record nobody holds is stale and is removed', () => {
    const file = join(tmp(), 'w.pid');
    writeFileSync(file, record(999_999, 1));
    expect(inspectPidFile(file)).toMatchObject({ kind: 'stale', record: { pid: 999_999 } });
    expect(removeStalePidFile(file)).toBe(true);
    expect(existsSync(file)).toBe(false);
  });

  test('a FIFO and a device are unverified at once (never read, never blocked on)', () => {
    const fifo = join(tmp(), 'fifo');
    execFileSync('mkfifo', [fifo]);
    for (const path of [fifo, '/dev/zero'])
      expect(inspectPidFile(path)).toEqual({
        kind: 'unverified',
        why: 'not a regular file, which a pid file always is',
      });
    expect(removeStalePidFile(fifo)).toBe(false);
    expect(existsSync(fifo)).toBe(true);
  });

  test('a symlink to a stale pid file is not followed: unverified, the link and its target stay', () => {
    const dir = tmp();
    const target = join(dir, 'target');
    writeFileSync(target, record(999_999, 1));
    symlinkSync(target, join(dir, 'link.pid'));
    expect(inspectPidFile(join(dir, 'link.pid'))).toMatchObject({ kind: 'unverified', why: /symbolic link/ });
    expect(removeStalePidFile(join(dir, 'link.pid'))).toBe(false);
    expect(existsSync(join(dir, 'link.pid'))).toBe(true);
  });
});

describe('holding refuses what is not a pid file (H6)', () => {
  test('an existing file with no record: E_PID_FILE (exit 2), the file unchanged, and kept', () => {
    const file = join(tmp(), 'jobs.jsonl');
    writeFileSync(file, LEDGER);
    expect(() => holdPidFile(file)).toThrow(expect.objectContaining({ code: 'E_PID_FILE', exitCode: 2 }));
    expect(readFileSync(file, 'utf8')).toBe(LEDGER);
  });

  test('a symlink: E_PID_FILE, its target unchanged', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'target'), 'data\n');
    symlinkSync(join(dir, 'target'), join(dir, 'w.pid'));
    expect(() => holdPidFile(join(dir, 'w.pid'))).toThrow(expect.objectContaining({ code: 'E_PID_FILE' }));
    expect(readFileSync(join(dir, 'target'), 'utf8')).toBe('data\n');
  });

  test('a FIFO: E_PID_FILE, without blocking', () => {
    const fifo = join(tmp(), 'w.pid');
    execFileSync('mkfifo', [fifo]);
    expect(() => holdPidFile(fifo)).toThrow(expect.objectContaining({ code: 'E_PID_FILE' }));
  });

  test('a path under /proc is refused before any directory is made', () => {
    expect(() => holdPidFile('/proc/execplane-test/w.pid')).toThrow(
      expect.objectContaining({ code: 'E_PID_FILE', message: expect.stringMatching(/under \/proc/) }),
    );
  });

  test('a stale pid file and an empty file are taken over', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'stale.pid'), record(999_999, 1));
    writeFileSync(join(dir, 'empty.pid'), '');
    for (const name of ['stale.pid', 'empty.pid']) {
      const h = holdPidFile(join(dir, name));
      held.push(h);
      expect(inspectPidFile(join(dir, name))).toMatchObject({ kind: 'live', record: { pid: process.pid } });
    }
  });
});

describe('HeldPidFile.update', () => {
  test('rewrites the facts in place; the identity stays first and cannot be overridden', () => {
    const file = join(tmp(), 'w.pid');
    const h = holdPidFile(file, { claiming: true, pid: 1 });
    held.push(h);
    const id = selfIdentity();
    h.update({ claiming: false, why: 'once_spent', start_ticks: 0, started_at_utc: 'never' });
    const text = readFileSync(file, 'utf8');
    expect(Object.keys(JSON.parse(text) as object)).toEqual([
      'pid',
      'start_ticks',
      'started_at_utc',
      'claiming',
      'why',
    ]);
    expect(JSON.parse(text)).toEqual({
      ...id,
      started_at_utc: h.record.started_at_utc,
      claiming: false,
      why: 'once_spent',
    });
    expect(h.record).toEqual(JSON.parse(text));
    expect(inspectPidFile(file)).toMatchObject({ kind: 'live', record: { claiming: false } });
    h.release();
    h.update({ claiming: true }); // after release: nothing
    expect(existsSync(file)).toBe(false);
  });
});

describe('a reader that may only read (H7)', () => {
  test('a held file, through a read-only descriptor, is live; a free one still stale', () => {
    const file = join(tmp(), 'w.pid');
    // Held by this process: inspection takes a shared lock on an O_RDONLY descriptor.
    held.push(holdPidFile(file));
    expect(inspectPidFile(file)).toMatchObject({ kind: 'live', record: { pid: process.pid } });
  });

  const CAN_MOUNT = osPart(
    process.getuid?.() === 0,
    'the read-only pid file test needs root, to bind-mount a directory read-only',
  );
  test.runIf(CAN_MOUNT)(
    'a held file seen through a read-only mount is live (it was "cannot open it (EROFS)")',
    () => {
      const dir = tmp();
      const rw = join(dir, 'rw');
      const ro = join(dir, 'ro');
      mkdirSync(rw);
      mkdirSync(ro);
      expect(run('mount', ['--bind', rw, ro])).toBe(true);
      mounts.push(ro);
      expect(run('mount', ['-o', 'remount,bind,ro', ro])).toBe(true);
      expect(() => writeFileSync(join(ro, 'probe'), '')).toThrow(/EROFS/);

      held.push(holdPidFile(join(rw, 'w.pid'), { worker: 'w1' }));
      expect(inspectPidFile(join(ro, 'w.pid'))).toMatchObject({
        kind: 'live',
        record: { pid: process.pid, worker: 'w1' },
      });
      // Held by another descriptor with a record: not stale through the mount either.
      const other = join(rw, 'other.pid');
      writeFileSync(other, record(process.pid, selfIdentity().start_ticks));
      const fd = openSync(other, 'r+');
      try {
        expect(fsx.tryLock(fd)).toBe(true);
        expect(inspectPidFile(join(ro, 'other.pid')).kind).not.toBe('stale');
      } finally {
        closeSync(fd);
      }
      expect(inspectPidFile(join(ro, 'other.pid')).kind).toBe('stale');
      // …and it cannot be removed from there.
      expect(removeStalePidFile(join(ro, 'other.pid'))).toBe(false);
    },
  );
});
