/**
 * Each job handler end to end: `execplane enqueue` + `execplane work --once --home H
 * --workspace W` in a real workspace, then the ledger's result, the evidence files (hashes as
 * recorded), and `execplane audit --evidence`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { CompleteEvent } from '../src/schema/types.generated.js';
import { cli } from './helpers/procs.js';
import {
  docSpec,
  evidenceJson,
  expectEvidenceMatches,
  freshPlane,
  indexSpec,
  runJobViaCli,
  type JobRun,
  type Plane,
} from './helpers/sandbox.js';
import { agentSpec } from './helpers/specs.js';
import { useTmpDirs } from './helpers/tmp.js';

const tmp = useTmpDirs('execplane-handlers-');

function write(root: string, files: Record<string, string | Buffer>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
}

/** A small repository: sources, docs, a dot-dir, a big file, and a symlink that leads outside. */
function repoPlane(): Plane {
  const p = freshPlane(tmp());
  write(p.root, { 'outside.ts': 'const lease = "outside the workspace";\n' });
  write(p.workspace, {
    'a.ts': 'export const lease = 1;\n// no keyword here\n',
    'src/b.ts': 'function renew() {}\n// Lease renewal\n',
    'src/skip-me.ts': 'const lease = 0;\n',
    'docs/c.md': '# Fencing\nThe lease is fenced.\n',
    '.hidden/d.ts': 'const lease = 2;\n',
    'big.ts': `${'x'.repeat(5000)}\nconst lease = "past the cap";\n`,
    'bin.ts': Buffer.from([0x6c, 0x65, 0x61, 0x73, 0x65, 0x00, 0x01]),
  });
  symlinkSync(join(p.root, 'outside.ts'), join(p.workspace, 'escape.ts'));
  return p;
}

const SPEC = indexSpec({
  include_globs: ['**/*.ts', 'docs/**'],
  exclude_globs: ['**/skip-*.ts'],
  max_file_bytes: 1024,
  keywords: ['lease', 'fenced'],
});

interface IndexLine {
  kind: 'file' | 'hit' | 'rejected';
  path: string;
  line?: number;
  keyword?: string;
  code?: string;
}

const indexOf = (run: JobRun) =>
  readFileSync(join(run.evidenceDir, 'attempt-1/index.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as IndexLine);

async function auditEvidenceClean(p: Plane): Promise<void> {
  const r = await cli(['audit', '--home', p.home, '--evidence']);
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
}

describe('repo_index_task', () => {
  test('in a git checkout: tracked files only, globs with ** semantics, capped reads, hits in index.jsonl', async () => {
    const p = repoPlane();
    write(p.workspace, { 'untracked.ts': 'const lease = 3;\n' });
    execFileSync('git', ['init', '-q'], { cwd: p.workspace });
    execFileSync('git', ['add', 'a.ts', 'src', 'docs', '.hidden', 'big.ts', 'bin.ts', 'escape.ts'], {
      cwd: p.workspace,
    });
    const run = await runJobViaCli(p, SPEC);
    expect(run.end.event).toBe('complete');
    const result = (run.end as CompleteEvent).result as Record<string, unknown>;
    // Considered: a.ts big.ts bin.ts docs/c.md escape.ts src/b.ts (not .hidden, skip-me, untracked).
    expect(result).toMatchObject({
      source: 'git',
      files_considered: 6,
      files_indexed: 5,
      files_rejected: 1,
      files_binary: 1,
      truncated: { files: false, file_bytes: 1, index: false },
    });
    const index = indexOf(run);
    expect(index.filter((l) => l.kind === 'file').map((l) => l.path)).toEqual([
      'a.ts',
      'big.ts',
      'bin.ts',
      'docs/c.md',
      'src/b.ts',
    ]);
    expect(index.find((l) => l.kind === 'rejected')).toEqual({
      kind: 'rejected',
      path: 'escape.ts',
      code: 'path_rejected:symlink_escape',
    });
    const hits = index.filter((l) => l.kind === 'hit').map((l) => `${l.path}:${l.line}:${l.keyword}`);
    expect(hits).toEqual(['a.ts:1:lease', 'docs/c.md:2:lease', 'docs/c.md:2:fenced', 'src/b.ts:2:lease']);
    expect(result.hits).toBe(hits.length);
    expectEvidenceMatches(run);
    await auditEvidenceClean(p);
  });

  test('without git: a walk that skips .git; max_files caps what is read', async () => {
    const root = tmp();
    const p: Plane = { root, workspace: join(root, 'ws'), home: join(root, 'home') };
    mkdirSync(p.workspace);
    write(p.workspace, { 'a.ts': 'lease\n', 'b.ts': 'lease\n', 'c.ts': 'lease\n' });
    const run = await runJobViaCli(
      p,
      indexSpec({ include_globs: ['**'], max_files: 2, keywords: ['lease'] }),
    );
    const result = (run.end as CompleteEvent).result as Record<string, unknown>;
    expect(result).toMatchObject({
      source: 'walk',
      files_considered: 3,
      files_indexed: 2,
      truncated: { files: true },
    });
    expect(
      indexOf(run)
        .filter((l) => l.kind === 'file')
        .map((l) => l.path),
    ).toEqual(['a.ts', 'b.ts']);
    expectEvidenceMatches(run);
  });

  test('the index stays within max_output_bytes: whole lines only, marked truncated', async () => {
    const p = freshPlane(tmp());
    write(p.workspace, { 'many.txt': 'lease\n'.repeat(2000) });
    const run = await runJobViaCli(
      p,
      indexSpec(
        { include_globs: ['*.txt'], max_file_bytes: 1_048_576, keywords: ['lease'] },
        { budgets: { max_output_bytes: 1024 } },
      ),
    );
    const end = run.end as CompleteEvent;
    expect(end.result).toMatchObject({ hits: 2000, truncated: { index: true } });
    const bytes = readFileSync(join(run.evidenceDir, 'attempt-1/index.jsonl'));
    expect(bytes.length).toBeLessThanOrEqual(1024);
    expect(bytes.at(-1)).toBe(0x0a);
    expect(end.usage.output_bytes).toBe(bytes.length);
  });
});

describe('doc_compactor_task', () => {
  test('compacts the readable inputs; rejected and missing ones are recorded, not fatal', async () => {
    const p = freshPlane(tmp());
    write(p.root, { 'secret.md': '# Secret\nOutside the workspace.\n' });
    write(p.workspace, {
      'docs/guide.md': '# Guide\n\nFirst sentence here. Second one dropped.\n\n- item one\n- item two\n',
      'notes.txt': Buffer.concat([
        Buffer.from('Notes with bad bytes '),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('. More.\n'),
      ]),
    });
    symlinkSync(join(p.root, 'secret.md'), join(p.workspace, 'link.md'));
    const run = await runJobViaCli(
      p,
      docSpec(['docs/guide.md', '../secret.md', '/etc/passwd', 'missing.md', 'link.md', 'notes.txt']),
    );
    expect(run.end.event).toBe('complete');
    const result = (run.end as CompleteEvent).result as Record<string, unknown>;
    expect(result).toMatchObject({ inputs_read: 2, inputs_rejected_count: 4, summary_truncated: false });
    expect(result.inputs_rejected).toEqual([
      { path: '../secret.md', code: 'path_rejected:outside_workspace' },
      { path: '/etc/passwd', code: 'path_rejected:absolute' },
      { path: 'missing.md', code: 'path_rejected:not_found' },
      { path: 'link.md', code: 'path_rejected:symlink_escape' },
    ]);
    const summary = readFileSync(join(run.evidenceDir, 'attempt-1/summary.md'), 'utf8');
    expect(summary).toBe(
      [
        '# Test summary',
        '',
        '## docs/guide.md',
        '',
        '### Guide',
        'First sentence here.',
        '- item one',
        '- item two',
        '',
        '## notes.txt',
        'Notes with bad bytes \ufffd\ufffd.',
        '',
      ].join('\n'),
    );
    expect(summary).not.toContain('Secret');
    expect(evidenceJson<unknown[]>(run, 'attempt-1/inputs.json')).toHaveLength(6);
    expectEvidenceMatches(run);
    await auditEvidenceClean(p);
  });

  test('max_input_bytes bounds what is read; payload.max_output_bytes bounds the summary', async () => {
    const p = freshPlane(tmp());
    const paragraphs = Array.from({ length: 60 }, (_, i) => `Paragraph ${i} makes a point. It goes on.\n\n`);
    write(p.workspace, { 'a.md': paragraphs.join(''), 'b.md': '# Never read\n' });
    const run = await runJobViaCli(
      p,
      docSpec(['a.md', 'b.md'], { max_input_bytes: 700, max_output_bytes: 200 }),
    );
    const result = (run.end as CompleteEvent).result as Record<string, unknown>;
    expect(result).toMatchObject({
      input_bytes: 700,
      input_truncated: true,
      inputs_skipped: 1,
      summary_truncated: true,
    });
    expect(readFileSync(join(run.evidenceDir, 'attempt-1/summary.md')).length).toBeLessThanOrEqual(200);
  });
});

describe('agent_task (offline stub model)', () => {
  test('one deterministic turn, a transcript in evidence, no tool calls, no network', async () => {
    const answers: string[] = [];
    for (let i = 0; i < 2; i++) {
      const p = freshPlane(tmp());
      const run = await runJobViaCli(p, agentSpec({ prompt: 'Summarise the ledger. Be brief.' }));
      expect(run.end.event).toBe('complete');
      const result = (run.end as CompleteEvent).result as Record<string, unknown>;
      expect(result).toMatchObject({ model_mode: 'stub', turns: 1, tool_calls: 0 });
      expect(result.answer).toContain('Summarise the ledger.');
      answers.push(String(result.answer_sha256));
      const transcript = evidenceJson<{ model: { mode: string }; turns: unknown[] }>(
        run,
        'attempt-1/transcript.json',
      );
      expect(transcript.model.mode).toBe('stub');
      expect(transcript.turns).toHaveLength(1);
      const header = evidenceJson<{ model: { mode: string; endpoint: null } }>(
        run,
        'attempt-1/run-header.json',
      );
      expect(header.model).toMatchObject({ mode: 'stub', endpoint: null });
      expect(run.events.filter((e) => e.event === 'tool_call')).toEqual([]);
      expectEvidenceMatches(run);
    }
    expect(answers[0]).toBe(answers[1]);
  });

  test('with tools allowed the stub lists and reads; each turn in the transcript shows the messages it was sent', async () => {
    const p = freshPlane(tmp());
    writeFileSync(join(p.workspace, 'notes.txt'), 'the lease is fenced\n');
    const spec = agentSpec({ tool_policy: { allowed_tools: ['list_files', 'read_file'] } });
    const run = await runJobViaCli(p, { ...spec, payload: { ...spec.payload, max_turns: 4 } });
    expect(run.end.event, run.workStderr).toBe('complete');
    expect(run.events.filter((e) => e.event === 'tool_call').map((e) => e.tool)).toEqual([
      'list_files',
      'read_file',
    ]);
    const transcript = evidenceJson<{ turns: { request: { messages: { role: string }[] } }[] }>(
      run,
      'attempt-1/transcript.json',
    );
    // user; + assistant call + tool result; + another pair: a copy per turn, not the final list.
    expect(transcript.turns.map((t) => t.request.messages.map((m) => m.role))).toEqual([
      ['user'],
      ['user', 'assistant', 'tool'],
      ['user', 'assistant', 'tool', 'assistant', 'tool'],
    ]);
  });
});
