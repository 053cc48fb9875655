/**
 * HTML as text, escaped by construction: the web view's pages are built with the `html` tag, and
 * every value interpolated into it is escaped unless it is itself `Html` (made by this tag, or by
 * `raw` for markup we wrote). Specs, errors, tool output and job ids are user data (docs/ui.md,
 * "Safety"): a payload holding `<script>` renders as the text `<script>`.
 *
 * H1. `escapeHtml` escapes the five characters that can change how HTML or an attribute value
 *     (single- or double-quoted) is parsed: & < > " '.
 * H2. An interpolated array is its items, each escaped or Html, joined with nothing; null,
 *     undefined and false render as nothing (so `${cond && html`…`}` works).
 * H3. No other escape hatch: `raw` is for constant markup and assets of this package, never for
 *     a value read from the plane.
 */

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Markup that is already safe (H3). */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[];

/** H1. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** The tag: literal parts as written, every interpolation escaped (H1, H2). */
export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i += 1) out += render(values[i]) + strings[i + 1]!;
  return new Html(out);
}

/** Constant markup of ours (H3). */
export function raw(text: string): Html {
  return new Html(text);
}
