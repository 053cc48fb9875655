/**
 * Ledger text shown to a human, made inert. A cancel reason, a job's error message, a kill-switch
 * reason or a finding may hold any character the schema lets through, and a terminal acts on some
 * of them: ESC starts a control sequence (clear the screen, set the window title, move the
 * cursor), BEL rings, CR and BS overwrite what was printed, C1 controls (U+0080–U+009F, e.g.
 * U+009B, a one-character CSI) act as ESC sequences on some terminals, and bidi controls (U+202E,
 * "Trojan Source") reorder the rest of a line so that it reads as something else.
 *
 * Every human-readable line the CLI prints goes through `escapeControls` (output.ts: printLines,
 * warn, reportError), on a terminal or not: a log or a file viewed later with `cat` or `less -R`
 * is a terminal too, and a script that needs the exact bytes reads `--json`. JSON output is left
 * byte for byte as it is (`replay --json` prints the canonical text `state_digest` hashes):
 * JSON.stringify already writes C0 controls as \u00XX, so only DEL, C1 and the format characters
 * below can appear raw there, and what reads JSON decodes it first.
 *
 * Each such character becomes a visible escape: `\xHH` below U+0100, `\uHHHH` above. Tab is kept
 * (harmless, and the separator of several outputs); everything else prints as it is, other
 * languages and emoji included. A backslash is not doubled, so `\x1b` in the output may also be
 * those four characters in the data: the exact text is in `--json`.
 */

/**
 * C0 controls but tab, DEL, C1 controls, the bidi controls (ALM, LRM, RLM, LRE…RLO, LRI…PDI), the
 * line and paragraph separators, and lone surrogates (which JSON text can carry as \uD8XX).
 */
const UNSAFE =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]|\p{Cs}/gu;

function escapeOne(ch: string): string {
  const code = ch.charCodeAt(0);
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` with every control and bidi character written as a visible escape (see above). */
export function escapeControls(text: string): string {
  UNSAFE.lastIndex = 0;
  return UNSAFE.test(text) ? text.replace(UNSAFE, escapeOne) : text;
}

/** Each line of `text` escaped on its own: the line breaks the message itself has are kept. */
export function escapeLines(text: string): string {
  return text.split('\n').map(escapeControls).join('\n');
}
