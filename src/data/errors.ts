/** Typed errors of the data layer. */
import { WgptError } from '../errors.ts';

/**
 * A corpus cannot be used: empty, binary, not UTF-8, or too short for the requested window.
 * `file` and `offset` (a byte offset) are set when the problem is at a place in a file.
 */
export class CorpusError extends WgptError {
  readonly file?: string;
  readonly offset?: number;
  constructor(message: string, where: { file?: string; offset?: number } = {}) {
    super('CORPUS', message);
    this.file = where.file;
    this.offset = where.offset;
  }
}
