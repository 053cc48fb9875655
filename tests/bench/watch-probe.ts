/**
 * The latency figure's limit (a child process, like the worker it stands in for): watch a
 * directory with fs.watch and report process.hrtime.bigint() (CLOCK_MONOTONIC, shared by all
 * processes) at every wake-up over IPC. Usage: fork(watch-probe.js, [DIR]).
 */
import { watch } from 'node:fs';

const watcher = watch(process.argv[2]!, () => process.send!(String(process.hrtime.bigint())));
process.on('disconnect', () => watcher.close());
process.send!('ready');
