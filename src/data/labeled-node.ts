/**
 * Node-only loading of labelled examples for classification:
 *   - a folder with one subfolder per label, each file in it one example (UTF-8 text), or
 *   - a JSON Lines file, one {"text": ..., "label": ...} per line.
 * Hidden files and folders (starting with '.') are skipped. Errors are LabeledDataError with the
 * path (a label folder with no files, a folder with no label folders, fewer than 2 labels) or
 * CorpusError naming the file (empty, binary or not UTF-8).
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readTextFile } from './corpus-node.ts';
import { labelsOf, LabeledDataError, parseJsonl, type LabeledExample } from './labeled.ts';

/** Load labelled examples from a folder of label folders or a JSONL file (see the module comment). */
export async function loadLabeledData(path: string): Promise<LabeledExample[]> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (e) {
    throw new LabeledDataError(path, `cannot read (${(e as { code?: string }).code ?? (e as Error).message})`);
  }
  const examples = isDir ? await loadFolder(path) : parseJsonl(await readTextFile(path), path);
  const labels = labelsOf(examples);
  if (labels.length < 2) throw new LabeledDataError(path, `a classifier needs at least 2 labels, found ${labels.length} (${labels.map((l) => JSON.stringify(l)).join(', ')})`);
  return examples;
}

async function loadFolder(dir: string): Promise<LabeledExample[]> {
  const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
  const labelDirs = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  if (labelDirs.length === 0) throw new LabeledDataError(dir, 'the dataset is empty: expected one subfolder per label (e.g. spam/, ham/), each holding one file per example');
  const out: LabeledExample[] = [];
  for (const label of labelDirs) {
    const sub = join(dir, label);
    const files = (await readdir(sub, { withFileTypes: true })).filter((e) => e.isFile() && !e.name.startsWith('.')).map((e) => e.name).sort();
    if (files.length === 0) throw new LabeledDataError(sub, `the label folder '${label}' has no files (each file is one example)`);
    for (const f of files) {
      const file = join(sub, f);
      out.push({ text: await readTextFile(file), label, source: file });
    }
  }
  return out;
}
