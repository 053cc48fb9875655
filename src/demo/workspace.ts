/**
 * The sample project the demo's jobs work on. The demo writes it into a directory of its own, so
 * the jobs read nothing of the execplane checkout or of an installed package: `npm run demo`
 * behaves the same in a clone and in `node_modules/execplane` (docs/operations.md, "The demo").
 *
 * W1. Every file the sample jobs read (src/demo/specs.ts) is written here, and nothing else.
 * W2. Writing is idempotent: an existing sample project is rewritten file by file, so a second
 *     run sees the same bytes; files the demo did not write are left alone.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Each file of the sample project, by path relative to the workspace. */
export const DEMO_WORKSPACE_FILES: Readonly<Record<string, string>> = {
  'README.md': `# notes-sync

A tiny sample project the execplane demo works on: a note store that syncs through an
append-only log. The demo's jobs index its sources, compact its docs, run its check and let
an (offline) model read it.

## Guarantees

- Every change is a line appended to the log; nothing is rewritten in place.
- A writer holds a lease with a fencing token; a stale writer's append is refused.
- A torn tail (a half-written last line) is cut on open, never read as a change.
`,
  'docs/design.md': `# Design

## The log

Changes are appended to \`notes.log\`, one JSON line each, with a checkpoint every 1000 lines so a
reader need not start from line 1.

## Leases

A writer takes a lease for 30 seconds and renews it with a heartbeat. Its fencing token grows with
every lease, so a writer that lost its lease cannot append after the new holder.

## Recovery

On open, a torn tail is cut back to the last complete line.
`,
  'src/log.ts': `// Appends changes to the log; cuts a torn tail on open.
export interface Change {
  readonly seq: number;
  readonly note: string;
  readonly text: string;
}

export function parseLog(text: string): Change[] {
  const lines = text.split('\\n');
  lines.pop(); // a torn tail (no trailing newline) is never read as a change
  return lines.map((line) => JSON.parse(line) as Change);
}

export function appendLine(log: string, change: Change): string {
  return \`\${log}\${JSON.stringify(change)}\\n\`;
}
`,
  'src/lease.ts': `// A writer's lease: a holder, an expiry and a fencing token.
export interface Lease {
  readonly holder: string;
  readonly expiresAt: number;
  readonly fencingToken: number;
}

export function renew(lease: Lease, now: number, ttlMs = 30_000): Lease {
  return { ...lease, expiresAt: now + ttlMs };
}

export function mayAppend(lease: Lease, token: number, now: number): boolean {
  return token === lease.fencingToken && now < lease.expiresAt;
}
`,
  'check.mjs': `// The project's check: the log parser drops a torn tail and keeps whole lines.
const text = '{"seq":1,"note":"a","text":"x"}\\n{"seq":2,"note":"a","text":"y"}\\n{"seq":3,';
const lines = text.split('\\n');
lines.pop();
const changes = lines.map((line) => JSON.parse(line));
if (changes.length !== 2 || changes[1].seq !== 2) {
  console.error('check failed: expected 2 whole changes, got', changes.length);
  process.exit(1);
}
console.log('check passed: 2 whole changes, the torn tail dropped');
`,
};

/** Writes the sample project into `dir` (created if need be) and returns `dir` (W1, W2). */
export function writeDemoWorkspace(dir: string): string {
  for (const [rel, text] of Object.entries(DEMO_WORKSPACE_FILES)) {
    const path = join(dir, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  return dir;
}
