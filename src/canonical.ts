import { createHash } from 'node:crypto';
import stringify from 'fast-json-stable-stringify';

/** The canonical JSON of a value: keys sorted, no insignificant whitespace (ledger format v1). */
export function canonicalJson(value: unknown): string {
  return stringify(value);
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export const ZERO_HASH = '0'.repeat(64);
