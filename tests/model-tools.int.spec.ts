/**
 * The built-in model tools (src/model/tools/, T1–T3) with real files and a real in-process
 * Worker: each tool's happy path, the path attacks the sandbox must refuse (P1–P4 and W1–W4 of
 * src/sandbox/paths.ts), and the ledger's side of T2 — every refusal leaves no `tool_call`
 * event, every call that ran leaves exactly one, appended (and readable from the file) before
 * its effect. The scope's announce does what the loop's does: ctx.toolCall with requested_by
 * "model".
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { planePaths } from '../src/ledger/paths.js';
import { callNeeds } from '../src/model/loop.js';
import { builtinTools, BUILTIN_TOOL_NAMES } from '../src/model/tools/index.js';
import { SEARCH_FILE_MAX_BYTES } from '../src/model/tools/search-workspace.js';
import type { ModelTool, ToolResult } from '../src/model/types.js';
import { TOOL_NAME } from '../src/model/types.js';
import { TOOL_RESULT_MAX_BYTES } from '../src/model/loop.js';
import { argsValidator } from '../src/model/tool-args.js';
import { prepareSandbox } from '../src/sandbox/prepare.js';
import type { CompleteEvent, LedgerEvent, ToolCallEvent } from '../src/schema/types.generated.js';
import type { JobSpec } from '../src/schema/job-spec.js';
import type { JobHandlerContext } from '../src/worker/types.js';
import { ledgerEvents } from './helpers/ledger.js';
import { freshPlane } from './helpers/sandbox.js';
import { agentSpec } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';
import { enqueueAll, startWorker } from './helpers/worker.js';

const tmp = useTmpDirs('execplane-model-tools-');
const haveBwrap = spawnSync('bwrap', ['--version'], { stdio: 'ignore' }).status === 0;
const SECRET = 'outside-secret-content';

interface Call {
  readonly name: string;
  readonly args: Record<string, unknown>;
  readonly result: ToolResult;
  readonly announced: boolean;
}

/** The calls of a run, as a tuple of the `N` a test made. */
type Calls<N extends number, A extends Call[] = []> = A['length'] extends N ? A : Calls<N, [...A, Call]>;

type Invoke = (
  name: string,
  args: Record<string, unknown>,
  /** Runs right after the tool_call event is appended, before the tool goes on. */
  onAnnounce?: () => void,
) => Promise<Call>;

interface Layout {
  readonly root: string;
  readonly home: string;
  readonly ws: string;
  readonly outside: string;
}

interface JobRun extends Layout {
  readonly calls: Call[];
  readonly events: LedgerEvent[];
  readonly toolCalls: ToolCallEvent[];
  readonly end: LedgerEvent | undefined;
}

/**
 * A workspace <root>/ws with files, and <root>/outside holding the secret; `setup` adds more.
 * Then one agent_task under `policy`, whose handler runs `body` with the built-in tools.
 */
async function runTools(
  o: {
    policy?: Partial<JobSpec['tool_policy']>;
    budgets?: Partial<JobSpec['budgets']>;
    setup?: (l: Layout) => void;
  },
  body: (invoke: Invoke, l: Layout, ctx: JobHandlerContext<unknown>) => Promise<void>,
): Promise<JobRun> {
  const p = freshPlane(realpathSync(tmp()));
  const l: Layout = { root: p.root, home: p.home, ws: p.workspace, outside: join(p.root, 'outside') };
  mkdirSync(l.outside);
  writeFileSync(join(l.outside, 'secret.txt'), SECRET);
  mkdirSync(join(l.ws, 'docs'));
  writeFileSync(join(l.ws, 'docs', 'a.md'), '# Title\nThe Needle is here.\n');
  writeFileSync(join(l.ws, 'notes.txt'), 'one\ntwo\nthree\n');
  symlinkSync(join(l.outside, 'secret.txt'), join(l.ws, 'link-out'));
  symlinkSync(l.outside, join(l.ws, 'dir-out'));
  o.setup?.(l);

  const ledger = planePaths(l.home).ledger;
  const plane = await enqueueAll(l.home, [
    agentSpec({
      budgets: {
        max_tool_calls: 100,
        max_output_bytes: 4 * 1024 * 1024,
        max_wall_time_sec: 300,
        ...o.budgets,
      },
      tool_policy: { allowed_tools: [...BUILTIN_TOOL_NAMES], ...o.policy },
    }),
  ]);
  plane.close();
  const sandbox = await prepareSandbox({ home: l.home });
  const tools = new Map(builtinTools({ sandbox }).map((t) => [t.name, t]));
  const calls: Call[] = [];
  let failure: unknown;
  const { exit } = startWorker(
    l.home,
    async (ctx) => {
      let ran = 0;
      const invoke: Invoke = async (name, args, onAnnounce) => {
        const tool = tools.get(name) as ModelTool;
        let announced = false;
        const result = await tool.run(args, {
          ctx,
          index: ran + 1,
          announce: async () => {
            if (announced) throw new Error(`${name} announced twice`);
            await ctx.toolCall({
              tool: name,
              args,
              requested_by: 'model',
              needs: callNeeds(tool, ctx.job.tool_policy),
            });
            announced = true;
            onAnnounce?.();
          },
        });
        if (announced) ran += 1;
        const call = { name, args, result, announced };
        calls.push(call);
        return call;
      };
      try {
        await body(invoke, l, ctx);
      } catch (err) {
        failure = err;
        throw err;
      }
      return { result: {} };
    },
    { workspace: l.ws, once: true },
  );
  await exit;
  if (failure) throw failure as Error;
  const events = ledgerEvents(ledger);
  return {
    ...l,
    calls,
    events,
    toolCalls: events.filter((e): e is ToolCallEvent => e.event === 'tool_call'),
    end: events.find((e) => e.event === 'complete' || e.event === 'fail'),
  };
}

/** T2: exactly the calls that announced are in the ledger, in order, as the model's. */
function expectLedgerMatches(run: JobRun): void {
  expect(run.end?.event, JSON.stringify(run.end)).toBe('complete');
  expect(run.toolCalls.map((e) => e.tool)).toEqual(run.calls.filter((c) => c.announced).map((c) => c.name));
  for (const e of run.toolCalls) expect(e.requested_by).toBe('model');
}

/** A refusal: ok false with `code`, and not announced (so not in the ledger). */
function expectRefused(call: Call, code: string | RegExp): void {
  expect(call.result.ok, JSON.stringify(call.result)).toBe(false);
  if (!call.result.ok) expect(call.result.code).toMatch(code);
  expect(call.announced).toBe(false);
}

function content(call: Call): string {
  expect(call.result.ok, JSON.stringify(call.result)).toBe(true);
  expect(call.announced).toBe(true);
  return call.result.ok ? call.result.content : '';
}

/** What the ledger file holds at this moment (the announce resolved once it was fsynced). */
const toolCallsNow = (home: string) =>
  ledgerEvents(planePaths(home).ledger).filter((e) => e.event === 'tool_call').length;

describe('the tools as the model sees them', () => {
  test('valid OpenAI function names, object schemas without extra properties, and what they need', async () => {
    const sandbox = await prepareSandbox({ home: join(realpathSync(tmp()), 'home') });
    const tools = builtinTools({ sandbox });
    expect(tools.map((t) => t.name)).toEqual([...BUILTIN_TOOL_NAMES]);
    for (const t of tools) {
      expect(t.name).toMatch(TOOL_NAME);
      expect(t.parameters).toMatchObject({ type: 'object', additionalProperties: false });
      expect(t.description.length).toBeGreaterThan(40);
      expect(t.needs).toEqual(t.name === 'run_command' ? ['subprocess'] : []);
    }
    const policy = (allow_network: boolean) => ({ allow_network, allow_subprocess: true, allowed_tools: [] });
    const run = tools.find((t) => t.name === 'run_command')!;
    expect(callNeeds(run, policy(true))).toEqual(['subprocess', 'network']);
    expect(callNeeds(run, policy(false))).toEqual(['subprocess']);
    // The bounds are in the schemas, where the loop's Ajv enforces them.
    const check = (name: string) => argsValidator(tools.find((t) => t.name === name)!.parameters);
    expect(check('read_file')({ path: 'a', max_bytes: 65_537 })).toMatch(/max_bytes/);
    expect(check('read_file')({ path: 'a', extra: 1 })).toMatch(/additional/);
    expect(check('list_files')({ max_entries: 2001 })).toMatch(/max_entries/);
    expect(check('search_workspace')({ query: '' })).toMatch(/query/);
    expect(check('run_command')({ argv: [] })).toMatch(/argv/);
    expect(check('run_command')({ argv: ['true'], timeout_sec: 601 })).toMatch(/timeout_sec/);
    expect(check('write_file')({ path: 'a', content: 'x', mode: 'append' })).toMatch(/mode/);
    expect(check('write_file')({ path: 'a', content: 'x'.repeat(1024 * 1024 + 1) })).toMatch(/content/);
    // A worker compiles each distinct schema once, however many jobs (and MCP sessions, whose
    // schemas arrive as new objects) use it: Ajv keeps what it compiles.
    const schema = tools.find((t) => t.name === 'read_file')!.parameters;
    expect(argsValidator(JSON.parse(JSON.stringify(schema)) as typeof schema)).toBe(check('read_file'));
    expect(argsValidator({ ...schema, required: ['path', 'offset'] })).not.toBe(check('read_file'));
  });
});

describe('list_files', () => {
  test('lists files with sizes under a directory, by glob, truncated at max_entries; refusals are not in the ledger', async () => {
    const run = await runTools({}, async (invoke) => {
      await invoke('list_files', {});
      await invoke('list_files', { path: 'docs' });
      await invoke('list_files', { glob: '**/*.md' });
      await invoke('list_files', { max_entries: 1 });
      await invoke('list_files', { path: '../' });
      await invoke('list_files', { path: '/etc' });
      await invoke('list_files', { path: 'dir-out' });
      await invoke('list_files', { path: 'notes.txt' });
      await invoke('list_files', { path: 'missing' });
    });
    const [all, docs, md, one, up, abs, dirOut, file, missing] = run.calls as Calls<9>;
    expect(content(all).split('\n')).toEqual([
      '4 files (not a git checkout: walked) under the workspace',
      // Symlinks are listed, never followed: nothing of the outside, not even a size.
      'dir-out\tsymlink',
      'docs/a.md\t28',
      'link-out\tsymlink',
      'notes.txt\t14',
      'truncated: false',
    ]);
    expect(content(docs)).toContain('under "docs"\ndocs/a.md\t28\ntruncated: false');
    expect(content(md).split('\n').slice(1, -1)).toEqual(['docs/a.md\t28']);
    expect(content(one)).toMatch(/\ndir-out\tsymlink\ntruncated: true \(1 of 4 shown;/);
    expectRefused(up, 'path_rejected:outside_workspace');
    expectRefused(abs, 'path_rejected:absolute');
    expectRefused(dirOut, 'path_rejected:symlink_escape');
    expectRefused(file, 'path_rejected:not_a_directory');
    expectRefused(missing, 'path_rejected:not_found');
    expectLedgerMatches(run);
    expect(run.toolCalls).toHaveLength(4);
  });

  test('in a git checkout, only the tracked files', async () => {
    const git = spawnSync('git', ['--version']).status === 0;
    if (!git) return;
    const run = await runTools(
      {
        setup: (l) => {
          writeFileSync(join(l.ws, 'untracked.txt'), 'x');
          execFileSync('git', ['init', '-q'], { cwd: l.ws });
          execFileSync('git', ['add', 'notes.txt', 'docs/a.md'], { cwd: l.ws });
        },
      },
      async (invoke) => {
        await invoke('list_files', {});
      },
    );
    expect(content(run.calls[0]!).split('\n')).toEqual([
      '2 git-tracked files under the workspace',
      'docs/a.md\t28',
      'notes.txt\t14',
      'truncated: false',
    ]);
  });
});

describe('read_file', () => {
  test('a byte range with the size and what follows; UTF-8 kept whole; invalid bytes replaced and said', async () => {
    const run = await runTools(
      {
        setup: (l) => {
          writeFileSync(join(l.ws, 'utf8.txt'), 'aé€b'); // a, 2 bytes, 3 bytes, b: 7 bytes
          writeFileSync(join(l.ws, 'bad.bin'), Buffer.from([0x61, 0xff, 0x62, 0x00]));
        },
      },
      async (invoke) => {
        await invoke('read_file', { path: 'notes.txt' });
        await invoke('read_file', { path: './docs/../notes.txt', offset: 4, max_bytes: 3 });
        await invoke('read_file', { path: 'notes.txt', offset: 14 });
        await invoke('read_file', { path: 'utf8.txt', max_bytes: 4 }); // would cut € after its first byte
        await invoke('read_file', { path: 'bad.bin' });
      },
    );
    const [whole, range, atEnd, utf8, bad] = run.calls as Calls<5>;
    expect(content(whole)).toBe(
      'path: notes.txt; size: 14; bytes: 0-14; more: false\n---\none\ntwo\nthree\n',
    );
    expect(content(range)).toBe(
      'path: notes.txt; size: 14; bytes: 4-7; more: true (next offset 7)\n---\ntwo',
    );
    expect(content(atEnd)).toBe('path: notes.txt; size: 14; bytes: 14-14; more: false\n---\n');
    expect(content(utf8)).toBe('path: utf8.txt; size: 7; bytes: 0-3; more: true (next offset 3)\n---\naé');
    expect(content(bad)).toMatch(/note: invalid UTF-8 replaced with U\+FFFD; note: contains NUL bytes/);
    expect(content(bad)).toContain('a\uFFFDb\0');
    expectLedgerMatches(run);
  });

  test('escapes, a directory and an offset past the end are refused, unannounced', async () => {
    const run = await runTools({}, async (invoke, l) => {
      await invoke('read_file', { path: '../outside/secret.txt' });
      await invoke('read_file', { path: join(l.outside, 'secret.txt') });
      await invoke('read_file', { path: 'link-out' });
      await invoke('read_file', { path: 'dir-out/secret.txt' });
      await invoke('read_file', { path: 'docs' });
      await invoke('read_file', { path: 'notes.txt', offset: 1e15 });
      await invoke('read_file', { path: 'notes.txt', offset: 15 });
      await invoke('read_file', { path: 'a\0b' });
    });
    const codes = [
      'path_rejected:outside_workspace',
      'path_rejected:absolute',
      'path_rejected:symlink_escape',
      'path_rejected:symlink_escape',
      'path_rejected:not_a_file',
      'E_OFFSET_PAST_END',
      'E_OFFSET_PAST_END',
      'path_rejected:invalid',
    ];
    run.calls.forEach((c, i) => expectRefused(c, codes[i]!));
    for (const c of run.calls) expect(JSON.stringify(c.result)).not.toContain(SECRET);
    expectLedgerMatches(run);
    expect(run.toolCalls).toEqual([]);
  });
});

describe('search_workspace', () => {
  test('case-insensitive hits as path:line: text; binary and escaping files skipped; bounded and saying so', async () => {
    const run = await runTools(
      {
        setup: (l) => {
          writeFileSync(join(l.ws, 'notes.txt'), 'no\nneedle one\nNEEDLE two\n');
          writeFileSync(join(l.ws, 'blob.bin'), Buffer.concat([Buffer.from('needle'), Buffer.from([0])]));
          // Past the per-file cap: never read, so never found.
          writeFileSync(join(l.ws, 'big.txt'), 'x'.repeat(SEARCH_FILE_MAX_BYTES) + '\nneedle late\n');
          writeFileSync(join(l.outside, 'secret.txt'), `needle ${SECRET}`);
        },
      },
      async (invoke) => {
        await invoke('search_workspace', { query: 'needle' });
        await invoke('search_workspace', { query: 'NEEDLE', glob: 'docs/**' });
        await invoke('search_workspace', { query: 'needle', max_results: 2 });
        await invoke('search_workspace', { query: 'absent-everywhere' });
      },
    );
    const [all, globbed, capped, none] = run.calls as Calls<4>;
    expect(content(all).split('\n')).toEqual([
      `3 hits for "needle" (case-insensitive) in 2 files; searched 4 of 6 files, ${SEARCH_FILE_MAX_BYTES + 7 + 28 + 25} bytes`,
      'docs/a.md:2: The Needle is here.',
      'notes.txt:2: needle one',
      'notes.txt:3: NEEDLE two',
      `1 file(s) searched only in their first ${SEARCH_FILE_MAX_BYTES} bytes`,
      '1 binary file(s) skipped',
      // dir-out and link-out: symlinks that lead outside.
      '2 file(s) skipped: their path leaves the workspace or cannot be opened',
    ]);
    expect(content(globbed).split('\n')).toEqual([
      '1 hit for "NEEDLE" (case-insensitive) in 1 file; searched 1 of 1 files, 28 bytes',
      'docs/a.md:2: The Needle is here.',
    ]);
    expect(content(capped)).toMatch(
      /^2 hits .*\n.*\n.*\nstopped: max_results \(2\) reached; more hits may exist/,
    );
    expect(content(none)).toMatch(/^0 hits for "absent-everywhere"/);
    for (const c of run.calls) expect(JSON.stringify(c.result)).not.toContain(SECRET);
    expectLedgerMatches(run);
    expect(run.toolCalls).toHaveLength(4);
  });
});

describe('every result fits what the loop sends the model whole', () => {
  test('a long read ends early with the exact next offset; long lists and many hits say they stopped', async () => {
    const line = (i: number) => `${String(i).padStart(5, '0')} needle ${'x'.repeat(180)}\n`;
    const big = Array.from({ length: 400 }, (_, i) => line(i)).join('');
    const run = await runTools(
      {
        setup: (l) => {
          writeFileSync(join(l.ws, 'big.txt'), big);
          mkdirSync(join(l.ws, 'many'));
          for (let i = 0; i < 600; i++)
            writeFileSync(join(l.ws, 'many', `file-with-a-long-name-${String(i).padStart(4, '0')}.txt`), '');
        },
      },
      async (invoke) => {
        await invoke('read_file', { path: 'big.txt', max_bytes: 65_536 });
        await invoke('list_files', { path: 'many', max_entries: 2000 });
        await invoke('search_workspace', { query: 'needle', max_results: 200 });
      },
    );
    const [read, list, search] = run.calls as Calls<3>;
    for (const c of run.calls)
      expect(Buffer.byteLength(content(c))).toBeLessThanOrEqual(TOOL_RESULT_MAX_BYTES);
    const [head, text] = content(read).split('\n---\n') as [string, string];
    const next = Number(/more: true \(next offset (\d+)\)/.exec(head)?.[1]);
    expect(text).toBe(big.slice(0, next));
    expect(content(list)).toMatch(/\ntruncated: true \(\d+ of 600 shown; narrow `path` or `glob`\)$/);
    expect(content(search)).toMatch(/\nstopped: the result is full; narrow the search/);
    expectLedgerMatches(run);
  });
});

describe('write_file', () => {
  test("a machine fault (or the ledger's) is not turned into a tool error: it ends the attempt for the worker to classify", async () => {
    // What a full disk looks like to the tool: an errno error with a syscall, thrown by the
    // announce (the ledger append) or the write itself. A refusal would let the job go on.
    const enospc = () =>
      Object.assign(new Error('ENOSPC: no space left on device, write'), {
        code: 'ENOSPC',
        syscall: 'write',
      });
    let thrown: unknown;
    await expect(
      runTools({}, async (invoke, l) => {
        try {
          await invoke('write_file', { path: 'full.txt', content: 'x' }, () => {
            throw enospc();
          });
        } catch (err) {
          thrown = err;
          expect(existsSync(join(l.ws, 'full.txt'))).toBe(false);
          throw err;
        }
      }),
    ).rejects.toThrow(/ENOSPC/);
    expect((thrown as NodeJS.ErrnoException).code).toBe('ENOSPC');
  });

  test('creates a file and its directories after the tool_call is in the ledger; create refuses an existing file', async () => {
    const seen: { events: number; present: boolean }[] = [];
    const run = await runTools({}, async (invoke, l) => {
      const target = join(l.ws, 'new', 'deep', 'plan.md');
      await invoke('write_file', { path: 'new/deep/plan.md', content: 'héllo\n' }, () =>
        seen.push({ events: toolCallsNow(l.home), present: existsSync(join(l.ws, 'new')) }),
      );
      seen.push({ events: toolCallsNow(l.home), present: existsSync(target) });
      await invoke('write_file', { path: 'notes.txt', content: 'clobbered' });
      await invoke('write_file', { path: 'notes.txt', content: 'replaced\n', mode: 'overwrite' });
      await invoke('write_file', { path: 'docs', content: 'x', mode: 'overwrite' });
    });
    const [created, exists, overwrote, dir] = run.calls as Calls<4>;
    expect(content(created)).toBe('created new/deep/plan.md (7 bytes)');
    // At announce the event was on disk and nothing was written yet; after it, the file was.
    expect(seen).toEqual([
      { events: 1, present: false },
      { events: 1, present: true },
    ]);
    expect(readFileSync(join(run.ws, 'new/deep/plan.md'), 'utf8')).toBe('héllo\n');
    expectRefused(exists, 'path_rejected:exists');
    expect(content(overwrote)).toBe('overwrote notes.txt (9 bytes)');
    expect(readFileSync(join(run.ws, 'notes.txt'), 'utf8')).toBe('replaced\n');
    expectRefused(dir, 'path_rejected:not_a_file');
    expectLedgerMatches(run);
    // The bytes written are output.
    expect((run.end as CompleteEvent).usage.output_bytes).toBe(7 + 9);
  });

  test('escapes are refused and write nothing outside: .., absolute, symlinks at any component, hard links', async () => {
    const run = await runTools(
      {
        setup: (l) => {
          writeFileSync(join(l.outside, 'victim.txt'), 'untouched');
          symlinkSync(join(l.outside, 'victim.txt'), join(l.ws, 'link-victim'));
          symlinkSync(join(l.outside, 'nowhere'), join(l.ws, 'dangling'));
          symlinkSync('docs', join(l.ws, 'docs-link'));
          linkSync(join(l.ws, 'notes.txt'), join(l.ws, 'notes-hard.txt'));
        },
      },
      async (invoke, l) => {
        await invoke('write_file', { path: '../outside/x.txt', content: 'x' });
        await invoke('write_file', { path: join(l.outside, 'x.txt'), content: 'x' });
        await invoke('write_file', { path: 'dir-out/x.txt', content: 'x' });
        await invoke('write_file', { path: 'dir-out/sub/x.txt', content: 'x' });
        await invoke('write_file', { path: 'link-victim', content: 'x', mode: 'overwrite' });
        await invoke('write_file', { path: 'link-victim', content: 'x' });
        await invoke('write_file', { path: 'dangling', content: 'x', mode: 'overwrite' });
        await invoke('write_file', { path: 'dangling/x.txt', content: 'x' });
        await invoke('write_file', { path: 'notes.txt/x.txt', content: 'x' });
        await invoke('write_file', { path: 'notes-hard.txt', content: 'x', mode: 'overwrite' });
        await invoke('write_file', { path: '.', content: 'x', mode: 'overwrite' });
        // A symlink to a directory inside is followed, as reads follow it.
        await invoke('write_file', { path: 'docs-link/b.md', content: 'inside' });
      },
    );
    const codes = [
      'path_rejected:outside_workspace',
      'path_rejected:absolute',
      'path_rejected:symlink_escape',
      'path_rejected:symlink_escape',
      'path_rejected:symlink_escape',
      'path_rejected:symlink_escape',
      'path_rejected:symlink_escape',
      'path_rejected:symlink_escape',
      'path_rejected:not_a_directory',
      'path_rejected:hard_link',
      'path_rejected:not_a_file',
    ];
    codes.forEach((code, i) => expectRefused(run.calls[i]!, code));
    expect(content(run.calls[11]!)).toBe('created docs/b.md (6 bytes)');
    expect(readFileSync(join(run.outside, 'victim.txt'), 'utf8')).toBe('untouched');
    expect(existsSync(join(run.outside, 'x.txt'))).toBe(false);
    expect(existsSync(join(run.outside, 'sub'))).toBe(false);
    expect(existsSync(join(run.outside, 'nowhere'))).toBe(false);
    expect(readFileSync(join(run.ws, 'notes.txt'), 'utf8')).toBe('one\ntwo\nthree\n');
    expectLedgerMatches(run);
    expect(run.toolCalls.map((e) => e.tool)).toEqual(['write_file']);
  });

  test('a symlink swapped in after the checks, for the file or a directory above it, writes nothing outside', async () => {
    const run = await runTools(
      { setup: (l) => writeFileSync(join(l.outside, 'victim.txt'), 'untouched') },
      async (invoke, l) => {
        // The final component becomes a symlink to outside between the checks and the open.
        const swapFile = (name: string) => () => {
          rmSync(join(l.ws, name), { force: true });
          symlinkSync(join(l.outside, 'victim.txt'), join(l.ws, name));
        };
        await invoke('write_file', { path: 'fresh.txt', content: 'EVIL' }, swapFile('fresh.txt'));
        await invoke(
          'write_file',
          { path: 'notes.txt', content: 'EVIL', mode: 'overwrite' },
          swapFile('notes.txt'),
        );
        // The directory it goes into is renamed and a symlink to outside put in its place: the write
        // follows the directory it checked (held open), which is still inside.
        await invoke('write_file', { path: 'docs/a.md', content: 'moved along', mode: 'overwrite' }, () => {
          renameSync(join(l.ws, 'docs'), join(l.ws, 'docs-old'));
          symlinkSync(l.outside, join(l.ws, 'docs'));
        });
        // A directory still to be made: a dangling symlink to outside appears where it goes.
        await invoke('write_file', { path: 'made/x.txt', content: 'EVIL' }, () => {
          symlinkSync(join(l.outside, 'made'), join(l.ws, 'made'));
        });
      },
    );
    const [fresh, notes, moved, made] = run.calls as Calls<4>;
    // Found only while writing, after the announce: in the ledger, refused, nothing written outside.
    // (O_EXCL meets the new symlink as an existing name; O_NOFOLLOW refuses it; no directory is
    // made through a dangling one.)
    expect([fresh, notes, made].map((c) => [c.announced, c.result.ok ? 'ok' : c.result.code])).toEqual([
      [true, 'path_rejected:exists'],
      [true, 'path_rejected:symlink_escape'],
      [true, 'path_rejected:symlink_escape'],
    ]);
    expect(content(moved)).toBe('overwrote docs-old/a.md (11 bytes)');
    expect(readFileSync(join(run.ws, 'docs-old/a.md'), 'utf8')).toBe('moved along');
    expect(readFileSync(join(run.outside, 'victim.txt'), 'utf8')).toBe('untouched');
    expect(existsSync(join(run.outside, 'a.md'))).toBe(false);
    expect(existsSync(join(run.outside, 'made'))).toBe(false);
    expectLedgerMatches(run);
    expect(run.toolCalls).toHaveLength(4);
  });

  test('refused without a ledger event when the policy says write_workspace: false, or the output budget is short', async () => {
    const denied = await runTools({ policy: { write_workspace: false } }, async (invoke) => {
      await invoke('write_file', { path: 'x.txt', content: 'x' });
    });
    expectRefused(denied.calls[0]!, 'E_POLICY_DENIED');
    expect(existsSync(join(denied.ws, 'x.txt'))).toBe(false);
    expectLedgerMatches(denied);
    expect(denied.toolCalls).toEqual([]);

    const short = await runTools({ budgets: { max_output_bytes: 1024 } }, async (invoke) => {
      await invoke('write_file', { path: 'x.txt', content: 'x'.repeat(1025) });
    });
    expectRefused(short.calls[0]!, 'E_BUDGET_OUTPUT');
    expect(existsSync(join(short.ws, 'x.txt'))).toBe(false);
    expect(short.toolCalls).toEqual([]);
  });
});

describe.skipIf(!haveBwrap)('run_command', () => {
  // Writes its uid and a marker file, so the test sees when the command ran.
  const UID_JS = "require('node:fs').writeFileSync('ran.txt', 'x'); console.log(process.getuid());";
  const NET_JS = (port: number) =>
    `const s = require('node:net').connect(${port}, '127.0.0.1');
     s.on('connect', () => { console.log('reached'); s.destroy(); });
     s.on('error', (e) => console.log('blocked ' + e.code));`;

  test('an allowed program runs inside the sandbox after its tool_call; refusals are coded and unannounced', async () => {
    const seen: boolean[] = [];
    const run = await runTools(
      {
        policy: { allow_subprocess: true },
        setup: (l) => {
          writeFileSync(join(l.ws, 'uid.js'), UID_JS);
          mkdirSync(join(l.ws, 'sub'));
        },
      },
      async (invoke, l) => {
        await invoke('run_command', { argv: ['node', 'uid.js'] }, () =>
          seen.push(existsSync(join(l.ws, 'ran.txt'))),
        );
        await invoke('run_command', { argv: ['sh', '-c', 'id -u'] });
        await invoke('run_command', { argv: ['node', '-e', 'process.exit(0)'] });
        await invoke('run_command', { argv: ['ls -la'] });
        await invoke('run_command', { argv: ['/bin/ls'] });
        await invoke('run_command', { argv: ['ls'], cwd: '../' });
        await invoke('run_command', { argv: ['ls'], cwd: 'dir-out' });
        await invoke('run_command', { argv: ['ls'], cwd: 'missing' });
        await invoke('run_command', { argv: ['ls', 'a\0b'] });
        await invoke('run_command', { argv: ['false'], cwd: 'sub' });
        await invoke('run_command', { argv: ['sleep', '30'], timeout_sec: 1 });
      },
    );
    const [uid, sh, inline, shellString, path, up, dirOut, missing, nul, fails, slow] =
      run.calls as Calls<11>;
    expect(seen).toEqual([false]);
    expect(content(uid)).toMatch(
      /^exit_code: 0; signal: none; timed_out: false; duration_ms: \d+; network: netns\nstdout: 6 bytes:\n65534\n\nstderr: empty$/,
    );
    expect(uid.result.ok && uid.result.evidence).toEqual([
      'attempt-1/call-01.json',
      'attempt-1/call-01.stdout',
      'attempt-1/call-01.stderr',
    ]);
    expectRefused(sh, 'E_PROGRAM_NOT_ALLOWED');
    expectRefused(inline, 'E_INLINE_CODE');
    expectRefused(shellString, 'E_SHELL_STRING');
    expectRefused(path, 'E_PROGRAM_NOT_ALLOWED');
    expectRefused(up, 'path_rejected:outside_workspace');
    expectRefused(dirOut, 'path_rejected:symlink_escape');
    expectRefused(missing, 'path_rejected:not_found');
    expectRefused(nul, 'E_TOOL_ARGS_INVALID');
    expect(content(fails)).toMatch(/^exit_code: 1; .*timed_out: false/);
    expect(content(slow)).toMatch(/timed_out: true/);
    expectLedgerMatches(run);
    expect(run.toolCalls.map((e) => e.needs)).toEqual([['subprocess'], ['subprocess'], ['subprocess']]);
    // Their evidence carries the model's call number, so files never collide.
    expect(fails.result.evidence?.[0]).toBe('attempt-1/call-02.json');
    expect(slow.result.evidence?.[0]).toBe('attempt-1/call-03.json');
  });

  test('the network is cut unless the policy allows it, and then the call records it needs network', async () => {
    const server = createServer((s) => s.on('error', () => {}).end());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    try {
      const setup = (l: Layout) => writeFileSync(join(l.ws, 'net.js'), NET_JS(port));
      const cut = await runTools({ policy: { allow_subprocess: true }, setup }, async (invoke) => {
        await invoke('run_command', { argv: ['node', 'net.js'] });
      });
      expect(content(cut.calls[0]!)).toMatch(/network: netns\nstdout: \d+ bytes:\nblocked E/);
      expect(cut.toolCalls.map((e) => e.needs)).toEqual([['subprocess']]);

      const open = await runTools(
        { policy: { allow_subprocess: true, allow_network: true }, setup },
        async (invoke) => {
          await invoke('run_command', { argv: ['node', 'net.js'] });
        },
      );
      expect(content(open.calls[0]!)).toMatch(/network: host\nstdout: 8 bytes:\nreached/);
      expect(open.toolCalls.map((e) => e.needs)).toEqual([['subprocess', 'network']]);
    } finally {
      server.close();
    }
  });
});
