/** Embedding a library Worker in tests: handlers controlled by the test, logs kept. */
import { openPlane, type Plane } from '../../src/plane.js';
import type { LedgerEvent } from '../../src/schema/types.generated.js';
import type { HandlerRegistry, JobHandler } from '../../src/worker/types.js';
import { Worker, type WorkerOptions } from '../../src/worker/worker.js';
import { ledgerEvents } from './ledger.js';

export function startWorker<P>(home: string, handler: JobHandler<P>, over: Partial<WorkerOptions> = {}) {
  const logs: string[] = [];
  const handlers: HandlerRegistry = { agent_task: handler as unknown as JobHandler };
  const worker = new Worker({
    home,
    slots: 1,
    leaseSec: 2,
    pollMs: 200,
    retry: { backoffBaseSec: 0.05, backoffMaxSec: 0.2 },
    handlers,
    log: (m) => logs.push(m),
    ...over,
  });
  const exit = worker.run();
  return { worker, exit, logs };
}

/** Resolves once `predicate` holds of the ledger's events (polls the file; no timing asserted). */
export async function waitForLedger(
  ledgerPath: string,
  predicate: (events: LedgerEvent[]) => boolean,
  timeoutMs = 20_000,
): Promise<LedgerEvent[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let events: LedgerEvent[] = [];
    try {
      events = ledgerEvents(ledgerPath);
    } catch {
      // not there yet
    }
    if (predicate(events)) return events;
    if (Date.now() > deadline) throw new Error(`timed out waiting for the ledger (${events.length} events)`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function enqueueAll(home: string, specs: unknown[]): Promise<Plane> {
  const plane = openPlane(home);
  return plane.submit(specs.map((spec) => ({ type: 'enqueue' as const, spec }))).then(() => plane);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
