/** The worker's defaults, in a module of their own so the CLI can show them without loading the runtime. */
export const DEFAULT_LEASE_SEC = 60;
export const DEFAULT_GRACE_SEC = 10;
export const DEFAULT_POLL_MS = 2_000;
