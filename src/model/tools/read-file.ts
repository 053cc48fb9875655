/**
 * `read_file`: a byte range of one file of the workspace, as text.
 *
 * The file is opened through the path sandbox (P1–P4: confined, no symlink out, a regular
 * file) before the call is announced, so a rejection is a refusal; the bytes are read after.
 * Only the range is read, at most READ_FILE_MAX_BYTES, and returned as far as the result fits
 * the loop's cap (RESULT_MAX_BYTES): the range then ends earlier, and the next offset says
 * where. A range that would end inside a UTF-8 character ends before it (the next offset starts
 * on it); other invalid UTF-8 becomes U+FFFD, and the result says so.
 */
import { openInWorkspace, readRange, type OpenedFile } from '../../sandbox/paths.js';
import type { ModelTool } from '../types.js';
import { intArg, pathParameter, pathRefusal, refuse, RESULT_MAX_BYTES, stringArg } from './shared.js';

export const READ_FILE_MAX_BYTES = 65_536;
const DEFAULT_BYTES = 16_384;

export function readFileTool(): ModelTool {
  return {
    name: 'read_file',
    description:
      'Read a file of the workspace as text: up to `max_bytes` bytes from byte `offset` (and no more ' +
      `than fit in one result, about ${Math.floor(RESULT_MAX_BYTES / 1024)} KiB). The first ` +
      'line gives the file size, the byte range returned and, when more follows, the offset to ' +
      'continue from; the text follows after a line "---". Invalid UTF-8 is replaced with U+FFFD ' +
      '(the first line says so).',
    parameters: {
      type: 'object',
      properties: {
        path: pathParameter('File path relative to the workspace root, e.g. "src/index.ts".'),
        offset: {
          type: 'integer',
          minimum: 0,
          description: 'Byte offset to start at; default 0.',
        },
        max_bytes: {
          type: 'integer',
          minimum: 1,
          maximum: READ_FILE_MAX_BYTES,
          description: `At most this many bytes are returned; default ${DEFAULT_BYTES}.`,
        },
      },
      required: ['path'],
      additionalProperties: false,
    },
    needs: [],
    async run(args, scope) {
      const { ctx } = scope;
      const offset = intArg(args, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
      const max = intArg(args, 'max_bytes', DEFAULT_BYTES, 1, READ_FILE_MAX_BYTES);
      let file: OpenedFile;
      try {
        file = await openInWorkspace(ctx.workspace, stringArg(args, 'path', ''));
      } catch (err) {
        return pathRefusal(err);
      }
      try {
        const size = file.stats.size;
        if (offset > size) {
          return refuse(
            'E_OFFSET_PAST_END',
            `offset ${offset} is past the end of ${file.relPath} (${size} bytes); read from an offset below ${size}`,
          );
        }
        await scope.announce();
        const raw = await readRange(file, offset, max);
        const render = (n: number): string => {
          const more = offset + n < size;
          const bytes = raw.subarray(0, more ? completeUtf8Length(raw.subarray(0, n)) : n);
          const { text, replaced } = decodeUtf8(bytes);
          const end = offset + bytes.length;
          const facts = [
            `path: ${file.relPath}`,
            `size: ${size}`,
            `bytes: ${offset}-${end}`,
            more ? `more: true (next offset ${end})` : 'more: false',
            ...(replaced ? ['note: invalid UTF-8 replaced with U+FFFD'] : []),
            ...(bytes.includes(0) ? ['note: contains NUL bytes (binary?)'] : []),
          ];
          return `${facts.join('; ')}\n---\n${text}`;
        };
        const fits = (n: number) => Buffer.byteLength(render(n)) <= RESULT_MAX_BYTES;
        // T3: the longest range whose result the loop passes whole, so the next offset is exact.
        let n = raw.length;
        if (!fits(n)) {
          let lo = 0;
          let hi = n - 1;
          while (lo < hi) {
            const mid = Math.ceil((lo + hi) / 2);
            if (fits(mid)) lo = mid;
            else hi = mid - 1;
          }
          n = lo;
        }
        return { ok: true, content: render(n) };
      } finally {
        await file.handle.close();
      }
    },
  };
}

/** How much of `buf` ends on a character boundary (a trailing incomplete UTF-8 sequence is dropped). */
export function completeUtf8Length(buf: Buffer): number {
  let lead = buf.length - 1;
  while (lead >= 0 && buf.length - lead <= 4 && (buf[lead]! & 0xc0) === 0x80) lead--;
  if (lead < 0 || buf.length - lead > 4) return buf.length;
  const b = buf[lead]!;
  const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
  const cut = buf.length - lead < need ? lead : buf.length;
  // Never return nothing for a range that holds bytes: a lone broken sequence is shown replaced.
  return cut === 0 ? buf.length : cut;
}

// ignoreBOM: a byte-order mark is part of the file's text, as Buffer#toString keeps it.
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function decodeUtf8(bytes: Buffer): { text: string; replaced: boolean } {
  try {
    return { text: strict.decode(bytes), replaced: false };
  } catch {
    return { text: bytes.toString('utf8'), replaced: true };
  }
}
