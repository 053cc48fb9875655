import { UsageError } from '../errors.js';

/** The worker's defaults and its id's rule, in a module of their own so the CLI can use them without loading the runtime. */
export const DEFAULT_LEASE_SEC = 60;
export const DEFAULT_GRACE_SEC = 10;
/** The slow poll behind fs.watch, shared with Plane.waitFor. */
export { DEFAULT_POLL_MS } from '../ledger/watch.js';

/** A worker id as the event schema has it (schemas/event.schema.json, WorkerId). */
const WORKER_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/** Refuses (E_USAGE, exit 2) an id the event schema would refuse at the first claim. */
export function assertWorkerId(id: string): void {
  if (!WORKER_ID.test(id))
    throw new UsageError(
      'E_USAGE',
      `--worker-id ${JSON.stringify(id)} is not a worker id: 1 to 128 of A-Z a-z 0-9 . _ : @ -`,
    );
}
