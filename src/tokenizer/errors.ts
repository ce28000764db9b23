/**
 * Typed errors of the tokenizer layer. Each carries a stable `code` (see WgptError) and the
 * actual values in its message: the unknown characters with their code points, the bad token id
 * and its position, the JSON path of a malformed field.
 */
import { WgptError } from '../errors.ts';

/** Format a code point as `'x' U+0078` (control characters and lone surrogates shown escaped). */
export function describeCodePoint(cp: number): string {
  const hex = 'U+' + cp.toString(16).toUpperCase().padStart(4, '0');
  const printable = cp > 0x20 && cp !== 0x7f && !(cp >= 0x80 && cp < 0xa0) && !(cp >= 0xd800 && cp <= 0xdfff);
  return printable ? `'${String.fromCodePoint(cp)}' ${hex}` : hex;
}

/** A short, safe rendering of an arbitrary (JSON) value for error messages. */
export function short(v: unknown): string {
  let s: string;
  try {
    s = v === undefined ? 'undefined' : (JSON.stringify(v) ?? String(v));
  } catch {
    s = String(v);
  }
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/** Misuse of a tokenizer: empty training text, a vocabulary size out of range, a bad option. */
export class TokenizerError extends WgptError {
  constructor(message: string) { super('TOKENIZER', message); }
}

/**
 * `encode` met characters that are not in the vocabulary. `codePoints` lists the distinct unknown
 * code points (all of them), `count` how many characters of the input were unknown.
 */
export class UnknownCharacterError extends WgptError {
  readonly codePoints: number[];
  readonly count: number;
  constructor(codePoints: number[], count: number, firstIndex: number, hint = '') {
    const shown = codePoints.slice(0, 10).map(describeCodePoint).join(', ');
    const more = codePoints.length > 10 ? ` and ${codePoints.length - 10} more` : '';
    super(
      'UNKNOWN_CHARACTER',
      `${count} character(s) not in the vocabulary (first at UTF-16 index ${firstIndex}), ` +
        `${codePoints.length} distinct: ${shown}${more}${hint ? `. ${hint}` : ''}`,
    );
    this.codePoints = codePoints;
    this.count = count;
  }
}

/** `decode` got an id outside [0, vocabSize) or not an integer. */
export class TokenIdError extends WgptError {
  readonly id: number;
  readonly position: number;
  constructor(id: number, position: number, vocabSize: number) {
    super('TOKEN_ID', `token id ${id} at position ${position} is outside the vocabulary [0, ${vocabSize})`);
    this.id = id;
    this.position = position;
  }
}

/** A serialized tokenizer (JSON) is malformed; `path` names the offending field. */
export class TokenizerFormatError extends WgptError {
  readonly path: string;
  constructor(path: string, message: string) {
    super('TOKENIZER_FORMAT', `invalid tokenizer JSON at ${path}: ${message}`);
    this.path = path;
  }
}
