/** Damage done to a ledger's bytes: a changed byte, a deleted, duplicated or swapped line, a truncation. */
import fc from 'fast-check';

export const mutationArb = fc.oneof(
  fc.record({
    kind: fc.constant('byte' as const),
    at: fc.nat(),
    value: fc.oneof(
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 32, max: 126 }),
      fc.constantFrom(10, 34, 44, 48, 49, 58, 125),
    ),
  }),
  fc.record({ kind: fc.constant('delete' as const), line: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), line: fc.nat(), to: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);
export type Mutation = ReturnType<typeof mutationArb.generate>['value'];

export const linesOf = (bytes: Buffer): Buffer[] => {
  const out: Buffer[] = [];
  for (let start = 0, nl = bytes.indexOf(10); nl !== -1; start = nl + 1, nl = bytes.indexOf(10, start))
    out.push(bytes.subarray(start, nl + 1));
  return out;
};

export function mutate(bytes: Buffer, m: Mutation): Buffer {
  const lines = linesOf(bytes);
  const n = lines.length;
  switch (m.kind) {
    case 'byte': {
      const copy = Buffer.from(bytes);
      copy[m.at % bytes.length] = m.value;
      return copy;
    }
    case 'delete':
      return Buffer.concat(lines.filter((_, i) => i !== m.line % n));
    case 'duplicate': {
      const copy = [...lines];
      copy.splice(m.to % (n + 1), 0, lines[m.line % n]!);
      return Buffer.concat(copy);
    }
    case 'swap': {
      const copy = [...lines];
      const [a, b] = [m.a % n, m.b % n];
      [copy[a], copy[b]] = [copy[b]!, copy[a]!];
      return Buffer.concat(copy);
    }
    case 'truncate':
      return bytes.subarray(0, m.at % bytes.length);
  }
}
