/**
 * Labelled examples for sequence classification: parsing JSONL, the label set, and a fixed,
 * seeded, stratified held-out split. Runs in browsers and Node (folders: labeled-node.ts).
 */
import { WgptError } from '../errors.ts';
import { Rng } from './rng.ts';

export interface LabeledExample {
  text: string;
  label: string;
  /** Where it came from ("data/spam/0001.txt", "train.jsonl:17"), for error messages. */
  source?: string;
}

/** A labelled data set cannot be used; `path` (and `line` for JSONL) say where the problem is. */
export class LabeledDataError extends WgptError {
  readonly path: string;
  readonly line?: number;
  constructor(path: string, message: string, line?: number) {
    super('LABELED_DATA', `${path}${line !== undefined ? `:${line}` : ''}: ${message}`);
    this.path = path;
    this.line = line;
  }
}

/**
 * Parse JSON Lines: one {"text": string, "label": string | number} object per non-blank line.
 * Throws LabeledDataError with the path and line number for invalid JSON, a missing or non-string
 * text, an empty text or a missing label, and for a file with no examples.
 */
export function parseJsonl(content: string, path: string): LabeledExample[] {
  const out: LabeledExample[] = [];
  const lines = content.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (raw === '') continue;
    let o: unknown;
    try {
      o = JSON.parse(raw);
    } catch (e) {
      throw new LabeledDataError(path, `not valid JSON (${(e as Error).message})`, i + 1);
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new LabeledDataError(path, 'expected an object {"text": ..., "label": ...}', i + 1);
    const { text, label } = o as Record<string, unknown>;
    if (typeof text !== 'string') throw new LabeledDataError(path, `"text" must be a string, got ${JSON.stringify(text) ?? 'nothing'}`, i + 1);
    if (text.length === 0) throw new LabeledDataError(path, '"text" is empty', i + 1);
    if (typeof label !== 'string' && typeof label !== 'number') throw new LabeledDataError(path, `"label" must be a string or a number, got ${JSON.stringify(label) ?? 'nothing'}`, i + 1);
    if (String(label).length === 0) throw new LabeledDataError(path, '"label" is empty', i + 1);
    out.push({ text, label: String(label), source: `${path}:${i + 1}` });
  }
  if (out.length === 0) throw new LabeledDataError(path, 'no examples (the file has no non-blank lines)');
  return out;
}

/** The distinct labels of `examples`, sorted (so class indices do not depend on file order). */
export function labelsOf(examples: readonly LabeledExample[]): string[] {
  return [...new Set(examples.map((e) => e.label))].sort();
}

/**
 * A fixed, seeded, stratified split: within each label, the examples are shuffled with Rng(seed)
 * and round(n * valFraction) of them (at least 1 when the label has 2 or more) are held out.
 * The same examples, seed and fraction always give the same split.
 */
export function splitExamples(examples: readonly LabeledExample[], valFraction: number, seed: number): { train: LabeledExample[]; val: LabeledExample[] } {
  if (!(valFraction > 0 && valFraction < 1)) throw new RangeError(`valFraction must be in (0, 1), got ${valFraction}`);
  const rng = new Rng(seed);
  const train: LabeledExample[] = [];
  const val: LabeledExample[] = [];
  for (const label of labelsOf(examples)) {
    const group = examples.filter((e) => e.label === label);
    for (let i = group.length - 1; i > 0; i--) {
      const j = rng.nextInt(i + 1);
      [group[i], group[j]] = [group[j], group[i]];
    }
    const nVal = group.length < 2 ? 0 : Math.max(1, Math.round(group.length * valFraction));
    val.push(...group.slice(0, nVal));
    train.push(...group.slice(nVal));
  }
  return { train, val };
}
