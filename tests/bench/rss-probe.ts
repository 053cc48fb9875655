/**
 * Preloaded into a measured child (`node --import rss-probe.js …`): on exit it writes the
 * process's peak resident set size to $BENCH_RSS_OUT, so the CLI itself is measured unchanged.
 */
import { writeFileSync } from 'node:fs';

const out = process.env.BENCH_RSS_OUT;
if (out) {
  process.on('exit', () => {
    writeFileSync(out, JSON.stringify({ max_rss_kb: process.resourceUsage().maxRSS }));
  });
}
