#!/usr/bin/env node
// One of the processes of tests/multiprocess-append.e2e.spec.ts: opens the plane, says "ready",
// waits for the shared start file, then enqueues COUNT jobs one submit (one append) at a time.
// Usage: node tests/helpers/enqueue-many.mjs HOME TAG COUNT START_FILE
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Plane } from '../../dist/src/plane.js';

const [home, tag, count, startFile] = process.argv.slice(2);
const plane = Plane.open(home);
process.stdout.write('ready\n');
while (!existsSync(startFile)) await sleep(2);
for (let i = 0; i < Number(count); i++) {
  await plane.submit([
    {
      type: 'enqueue',
      spec: {
        job_id: `job-mp${tag}n${String(i).padStart(4, '0')}`,
        job_type: 'agent_task',
        budgets: {
          max_wall_time_sec: 60,
          max_tool_calls: 1,
          max_output_bytes: 2048,
          max_concurrency_slots: 1,
        },
        tool_policy: { allow_network: false, allow_subprocess: false, allowed_tools: [] },
        payload: { prompt: `process ${tag}, job ${i}`, max_turns: 1 },
      },
    },
  ]);
}
plane.close();
