/** The Redis a peers figure talks to (EXECPLANE_BENCH_REDIS_URL; only ever 127.0.0.1 in CI). */
import type { ConnectionOptions } from 'bullmq';
import type { RedisOptions } from 'ioredis';

export const REDIS_URL = process.env.EXECPLANE_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** ioredis options for `url`, as BullMQ's workers need them (no per-request retry limit). */
export function redisOptions(url: string): RedisOptions {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    maxRetriesPerRequest: null,
  };
}

/** The same, typed as BullMQ's connection option (its own RedisOptions, with the same fields). */
export const redisConnection = (url: string): ConnectionOptions => redisOptions(url) as ConnectionOptions;
