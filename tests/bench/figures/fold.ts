/**
 * replay and audit of the big ledger, each a real `execplane` process, beside the limit: a
 * process that reads the same file, splits lines, JSON.parses and SHA-256s each, nothing else.
 */
import { benchScript, runCli, runNode } from '../child.js';
import type { BenchContext } from '../context.js';
import type { GeneratedLedger } from '../gen-ledger.js';
import { entry, spread, type Entry } from '../stats.js';

const LIMIT_IS = 'read + split + JSON.parse + SHA-256 per line (a node process)';
const limits = new Map<string, number[]>();

/** One limit run (events/s); kept per ledger so replay and audit share the samples. */
async function limitRun(ledger: GeneratedLedger): Promise<number> {
  const r = await runNode([benchScript('limit-scan'), ledger.path]);
  if (r.code !== 0 || Number.parseInt(r.stdout, 10) !== ledger.events) {
    throw new Error(`limit-scan failed: ${r.stderr || r.stdout}`);
  }
  const rate = ledger.events / (r.ms / 1000);
  limits.set(ledger.path, [...(limits.get(ledger.path) ?? []), rate]);
  return rate;
}

function shapeNote(ctx: BenchContext, l: GeneratedLedger): string {
  return (
    `${l.events.toLocaleString('en')} events over ${l.jobs.toLocaleString('en')} jobs` +
    (ctx.quick ? ' (--quick: a tenth of the full ledger)' : '')
  );
}

export async function replayFigure(ctx: BenchContext): Promise<Entry[]> {
  const ledger = ctx.bigLedger();
  const runs = 3;
  const ours: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < runs; i++) {
    await limitRun(ledger);
    const r = await runCli(['replay', '--ledger', ledger.path, '--json'], { rss: true, discardStdout: true });
    ours.push(ledger.events / (r.ms / 1000));
    rss.push(r.maxRssMb ?? Number.NaN);
    ctx.log(
      `replay run ${i + 1}/${runs}: ${(r.ms / 1000).toFixed(2)} s, peak RSS ${r.maxRssMb?.toFixed(0)} MB`,
    );
  }
  const limit = spread(limits.get(ledger.path)!);
  const full = !ctx.quick;
  return [
    entry({
      name: 'replay',
      figure: `replay --json, ${shapeNote(ctx, ledger)}`,
      unit: 'events/s',
      better: 'higher',
      ours: spread(ours),
      limit,
      limitIs: LIMIT_IS,
      target: '≥ 50% of the limit',
      meets: ({ ratio }) => ratio !== null && ratio >= 0.5,
    }),
    entry({
      name: 'replay_peak_rss',
      figure: `replay peak RSS, ${shapeNote(ctx, ledger)}`,
      unit: 'MB',
      better: 'lower',
      ours: spread(rss),
      target: '≤ 300 MB for 1M events',
      meets: ({ ours: mb }) => (full ? mb <= 300 : null),
    }),
  ];
}

export async function auditFigure(ctx: BenchContext): Promise<Entry[]> {
  const ledger = ctx.bigLedger();
  const runs = ctx.quick ? 2 : 3;
  const ours: number[] = [];
  for (let i = 0; i < runs; i++) {
    if ((limits.get(ledger.path)?.length ?? 0) < runs) await limitRun(ledger);
    const r = await runCli(['audit', ledger.path], { discardStdout: true });
    ours.push(ledger.events / (r.ms / 1000));
    ctx.log(`audit run ${i + 1}/${runs}: ${(r.ms / 1000).toFixed(2)} s`);
  }
  const limit = spread(limits.get(ledger.path)!);
  return [
    entry({
      name: 'audit',
      figure: `audit (clean), ${shapeNote(ctx, ledger)}`,
      unit: 'events/s',
      better: 'higher',
      ours: spread(ours),
      limit,
      limitIs: LIMIT_IS,
      target: '≥ 35% of the limit',
      meets: ({ ratio }) => ratio !== null && ratio >= 0.35,
    }),
  ];
}
