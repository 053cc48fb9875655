import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';

/** Reads and parses a JSON file (or stdin for `-`); malformed JSON is a usage error (exit 2). */
export function readJsonInput(file: string): unknown {
  let text: string;
  try {
    text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new UsageError(
      'E_INPUT',
      `cannot read ${file === '-' ? 'standard input' : file} (${code}); check the path`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    const where = (err as Error).message.replace(
      /^.*?(at position \d+|Unexpected end of JSON input).*$/s,
      '$1',
    );
    throw new UsageError(
      'E_JSON',
      `${file === '-' ? 'standard input' : file} is not valid JSON (${where}); fix the syntax and retry`,
    );
  }
}
