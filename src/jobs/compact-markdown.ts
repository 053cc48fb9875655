/**
 * The doc compactor's algorithm: pure, deterministic, line by line.
 *
 * For each document, under a `## <path>` heading:
 *   - headings are kept, two levels deeper (capped at ######);
 *   - list items are kept (the first line of each — its continuation lines are dropped —
 *     nesting kept up to three levels);
 *   - of every paragraph (and block quote) only its first sentence is kept;
 *   - fenced code, tables and HTML comments are dropped.
 * Every kept line is cut to MAX_LINE_CHARS characters. The summary grows whole lines at a time
 * and stops before the first line that would pass `maxBytes` (UTF-8 bytes), marking truncation.
 */

export interface SourceDoc {
  readonly path: string;
  readonly text: string;
}

export interface CompactResult {
  readonly markdown: string;
  readonly bytes: number;
  readonly truncated: boolean;
}

export const MAX_LINE_CHARS = 240;

const clip = (s: string) => (s.length > MAX_LINE_CHARS ? `${s.slice(0, MAX_LINE_CHARS - 1)}…` : s);

/** The first sentence of a paragraph: up to the first . ! or ? followed by a space or the end. */
export function firstSentence(paragraph: string): string {
  const text = paragraph.replace(/\s+/g, ' ').trim();
  const m = /^(.*?[.!?])(?=\s|$)/.exec(text);
  return m?.[1] ?? text;
}

/** The compacted lines of one document (without its `##` heading). */
export function compactLines(text: string): string[] {
  const out: string[] = [];
  let paragraph: string[] = [];
  let fence: string | null = null;
  let inComment = false;
  let inItem = false;
  const flush = () => {
    if (paragraph.length) out.push(clip(firstSentence(paragraph.join(' '))));
    paragraph = [];
  };
  for (const raw of text.replace(/\r\n?/g, '\n').split('\n')) {
    const line = raw.trimEnd();
    if (fence !== null) {
      if (line.trimStart().startsWith(fence)) fence = null;
      continue;
    }
    if (inComment) {
      if (line.includes('-->')) inComment = false;
      continue;
    }
    const fenceOpen = /^\s*(`{3,}|~{3,})/.exec(line);
    if (fenceOpen) {
      flush();
      inItem = false;
      fence = fenceOpen[1] as string;
      continue;
    }
    if (/^\s*<!--/.test(line)) {
      flush();
      inComment = !line.includes('-->');
      continue;
    }
    const heading = headingOf(line);
    if (heading) {
      flush();
      inItem = false;
      const level = Math.min(heading.level + 2, 6);
      out.push('', clip(`${'#'.repeat(level)} ${heading.text}`));
      continue;
    }
    const item = /^(\s*)(?:[-*+]|\d{1,9}[.)])\s+(.*)$/.exec(line);
    if (item) {
      flush();
      const depth = Math.min(Math.floor((item[1] as string).replace(/\t/g, '  ').length / 2), 3);
      out.push(clip(`${'  '.repeat(depth)}- ${(item[2] as string).trim()}`));
      inItem = true;
      continue;
    }
    if (line.trim() === '' || /^\s*\|/.test(line) || isThematicBreak(line)) {
      flush();
      inItem = false;
      continue;
    }
    if (inItem) continue; // the rest of a list item's text
    paragraph.push(line.replace(/^\s*>\s?/, '').trim());
  }
  flush();
  return out;
}

/**
 * An ATX heading: 1–6 `#`, whitespace, the text without a closing run of `#` and the whitespace
 * around it. Written out rather than as `/^(#{1,6})\s+(.*?)\s*#*\s*$/`, which gives the same
 * answer but backtracks quadratically on a long run of `#` or spaces (a 10 MiB input is allowed).
 */
export function headingOf(line: string): { level: number; text: string } | undefined {
  let level = 0;
  while (level < line.length && line[level] === '#') level++;
  if (level < 1 || level > 6 || !/\s/.test(line[level] ?? '')) return undefined;
  let start = level;
  while (start < line.length && /\s/.test(line[start]!)) start++;
  let end = line.length;
  while (end > start && /\s/.test(line[end - 1]!)) end--;
  while (end > start && line[end - 1] === '#') end--;
  while (end > start && /\s/.test(line[end - 1]!)) end--;
  return { level, text: line.slice(start, end) };
}

/** Three or more of the same `-`, `*` or `_`, with any whitespace between (a thematic break). */
export function isThematicBreak(line: string): boolean {
  const s = line.replace(/\s+/g, '');
  return s.length >= 3 && /^(?:-+|\*+|_+)$/.test(s);
}

export function compactMarkdown(docs: readonly SourceDoc[], title: string, maxBytes: number): CompactResult {
  const lines = [`# ${clip(title)}`];
  for (const doc of docs) lines.push('', `## ${clip(doc.path)}`, ...compactLines(doc.text));
  let markdown = '';
  let bytes = 0;
  let truncated = false;
  let blank = false;
  for (const line of lines) {
    if (line === '' && (blank || markdown === '')) continue; // no double blank lines
    const n = Buffer.byteLength(line) + 1;
    if (bytes + n > maxBytes) {
      truncated = true;
      break;
    }
    markdown += `${line}\n`;
    bytes += n;
    blank = line === '';
  }
  return { markdown, bytes, truncated };
}
