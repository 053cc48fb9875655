/**
 * The physical limit of replay and audit (a child process, like the CLI it is compared with):
 * read the ledger in 1 MiB chunks, split lines, JSON.parse and SHA-256 each line — nothing else.
 * Usage: node limit-scan.js FILE → prints the number of lines.
 */
import { hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';

const fd = openSync(process.argv[2]!, 'r');
const buf = Buffer.allocUnsafe(1 << 20);
let carry = Buffer.alloc(0);
let lines = 0;
let sink = 0;
for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) {
  const chunk = carry.length ? Buffer.concat([carry, buf.subarray(0, n)]) : buf.subarray(0, n);
  let start = 0;
  for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
    const text = chunk.toString('utf8', start, nl);
    sink += (JSON.parse(text) as { seq: number }).seq & 1;
    sink += hash('sha256', text, 'hex').length;
    lines += 1;
    start = nl + 1;
  }
  carry = Buffer.from(chunk.subarray(start));
}
closeSync(fd);
process.stdout.write(`${lines} ${sink > 0 ? 'ok' : ''}\n`);
