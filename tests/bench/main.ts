/**
 * `npm run bench`: execplane's figures, each beside its physical limit measured in the same run on
 * the same data (docs/benchmarks.md). Never part of `npm test`: timings belong here only.
 *
 *   npm run bench                       the full table (1M-event ledger; several minutes)
 *   npm run bench -- --quick            a smaller run, under a minute
 *   npm run bench -- --json             one JSON object on stdout (progress goes to stderr)
 *   npm run bench -- --only drain,latency
 *   npm run bench -- --only reads        show, status and filtered replay on the big plane
 *   npm run bench -- --only ui           the web view's pages on the big plane
 *   npm run bench -- --only scale        drains with 1/2/4/8 workers and on 10k/100k/1M-event planes
 *   npm run bench -- --peers             the table, and the peers beside it: BullMQ (the Redis at
 *                                       EXECPLANE_BENCH_REDIS_URL, default 127.0.0.1:6379),
 *                                       graphile-worker and pg-boss (the PostgreSQL at
 *                                       EXECPLANE_BENCH_PG_URL, default 127.0.0.1:5432/test)
 *   npm run bench -- --only drain-4x8,latency,peers   ours and the peers', side by side
 *   npm run bench -- --save bench.json  the table, and the JSON object in a file
 * (`npm run -s bench -- --json` keeps npm's own "> execplane@… bench" banner off stdout.)
 */
import { fileCachesState } from './file-caches.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { benchContext, type BenchContext } from './context.js';
import { groupCommitFigure, singleAppendFigure } from './figures/append.js';
import { drain1x1Figure, drain4x8Figure } from './figures/drain.js';
import { auditFigure, replayFigure } from './figures/fold.js';
import { latencyFigure } from './figures/latency.js';
import { modelLoopFigure } from './figures/model-loop.js';
import { readsFigure } from './figures/reads.js';
import { uiFigure } from './figures/ui.js';
import { sandboxFigure } from './figures/sandbox.js';
import { scaleFigure } from './figures/scale.js';
import { peerRatios, peersFigure } from './figures/peers.js';
import { pgPeersFigure } from './figures/peers-pg.js';
import { warmStartFigure } from './figures/warm-start.js';
import type { Entry } from './stats.js';

/**
 * In run order: group commit before drain, whose implied event rate it is compared with; the
 * peers after the figures of ours they stand beside. `optIn` figures run only when named
 * (`--peers`, `--only peers`).
 */
const FIGURES: readonly { name: string; run: (ctx: BenchContext) => Promise<Entry[]>; optIn?: boolean }[] = [
  { name: 'replay', run: replayFigure },
  { name: 'audit', run: auditFigure },
  { name: 'warm-start', run: warmStartFigure },
  { name: 'reads', run: readsFigure },
  { name: 'ui', run: uiFigure },
  { name: 'single-append', run: singleAppendFigure },
  { name: 'group-commit', run: groupCommitFigure },
  { name: 'drain-1x1', run: drain1x1Figure },
  { name: 'drain-4x8', run: drain4x8Figure },
  { name: 'latency', run: latencyFigure },
  { name: 'scale', run: scaleFigure },
  { name: 'peers', run: peersFigure, optIn: true },
  { name: 'peers-pg', run: pgPeersFigure, optIn: true },
  { name: 'sandbox', run: sandboxFigure },
  { name: 'model-loop', run: modelLoopFigure },
];

interface Options {
  quick?: boolean;
  json?: boolean;
  save?: string;
  only?: string[];
  keep?: boolean;
  peers?: boolean;
}

const program = new Command('bench')
  .description("execplane's benchmarks, each figure beside its physical limit")
  .option('--quick', 'a smaller run (100k-event ledger, fewer jobs), under a minute')
  .option('--json', 'print one JSON object on stdout')
  .option(
    '--only <names>',
    `only these figures (comma-separated): ${FIGURES.map((f) => f.name).join(', ')}`,
    (v: string, prev: string[] = []) => [
      ...prev,
      ...v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ],
  )
  .option('--save <file>', 'also write the JSON object to this file')
  .option(
    '--peers',
    'also run the peers (BullMQ on the local Redis, graphile-worker and pg-boss on the local PostgreSQL) beside our figures',
  )
  .option('--keep', 'keep the temporary directory (ledgers, planes) and print its path')
  .showHelpAfterError();

async function main(): Promise<number> {
  const opts = program.parse(process.argv).opts<Options>();
  const unknown = (opts.only ?? []).filter(
    (n) => !FIGURES.some((f) => f.name === n || f.name.startsWith(`${n}-`)),
  );
  if (unknown.length) {
    process.stderr.write(
      `bench: unknown figure(s) ${unknown.join(', ')}; choose from ${FIGURES.map((f) => f.name).join(', ')}\n`,
    );
    return 2;
  }
  const named = (f: (typeof FIGURES)[number]) =>
    opts.only?.some((n) => f.name === n || f.name.startsWith(`${n}-`)) ?? false;
  const chosen = FIGURES.filter((f) =>
    f.optIn ? named(f) || (opts.peers && (!opts.only || opts.only.length === 0)) : !opts.only || named(f),
  );
  const root = mkdtempSync(join(tmpdir(), 'execplane-bench-'));
  const started = performance.now();
  const log = (m: string) => process.stderr.write(`bench: ${m}\n`);
  const ctx = benchContext(root, opts.quick ?? false, log);
  const entries: Entry[] = [];
  try {
    for (const f of chosen) {
      log(`— ${f.name}`);
      entries.push(...(await f.run(ctx)));
    }
    entries.push(...peerRatios(entries));
  } finally {
    if (opts.keep) log(`kept ${root}`);
    else rmSync(root, { recursive: true, force: true });
  }
  const report = {
    quick: ctx.quick,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    machine: {
      cpus: cpus().length,
      cpu_model: cpus()[0]?.model ?? 'unknown',
      memory_gb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      ...(fileCachesState() ? { file_caches: fileCachesState() } : {}),
    },
    ratio_is:
      'how close ours comes to the limit: ours/limit for rates, limit/ours for durations (1.0 = the limit)',
    entries,
  };
  if (opts.save) writeFileSync(opts.save, `${JSON.stringify(report, null, 2)}\n`);
  if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(table(entries, report.seconds, ctx.quick));
  return 0;
}

function fmt(x: number | null, unit = ''): string {
  if (x === null) return '—';
  const s = x >= 1000 ? Math.round(x).toLocaleString('en') : String(x);
  return unit ? `${s} ${unit}` : s;
}

function table(entries: readonly Entry[], seconds: number, quick: boolean): string {
  const rows = entries.map((e) => [
    e.name,
    `${fmt(e.ours, e.unit)} (${fmt(e.min)}–${fmt(e.max)}, ${e.runs})`,
    e.limit === null ? '—' : `${fmt(e.limit, e.unit)} (${fmt(e.limit_min)}–${fmt(e.limit_max)})`,
    e.ratio === null ? '—' : `${(e.ratio * 100).toFixed(0)}%`,
    e.target ?? '—',
    e.met === null ? '—' : e.met ? 'met' : 'NOT met',
  ]);
  const head = ['figure', 'ours (min–max, runs)', 'limit (min–max)', 'ratio', 'target', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    ...entries.map(
      (e) =>
        `${e.name}: ${e.figure}${e.limit_is ? `; limit: ${e.limit_is}` : ''}${e.note ? ` (${e.note})` : ''}`,
    ),
    '',
    `${quick ? '--quick run' : 'full run'} in ${seconds} s; ratio = ours/limit for rates, limit/ours for durations.`,
    ...(fileCachesState() ? [`the kernel's file caches: ${fileCachesState()}.`] : []),
    '',
  ].join('\n');
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
