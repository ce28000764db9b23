/**
 * Bytes -> text for training corpora, strictly: the same checks for a file read in Node
 * (corpus-node.ts) and a File picked in the browser (`decodeCorpusText(new Uint8Array(await
 * file.arrayBuffer()), file.name)`).
 */
import { CorpusError } from './errors.ts';

/** Byte offset of the first invalid UTF-8 sequence in bytes, or -1 if all of it is valid. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b0 = bytes[i];
    if (b0 < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lower = 0x80;
    let upper = 0xbf;
    if (b0 >= 0xc2 && b0 <= 0xdf) need = 1;
    else if (b0 >= 0xe0 && b0 <= 0xef) {
      need = 2;
      if (b0 === 0xe0) lower = 0xa0;
      if (b0 === 0xed) upper = 0x9f; // no surrogates in UTF-8
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      need = 3;
      if (b0 === 0xf0) lower = 0x90;
      if (b0 === 0xf4) upper = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      if (i + k >= n) return i;
      const b = bytes[i + k];
      if (b < lower || b > upper) return i;
      lower = 0x80;
      upper = 0xbf;
    }
    i += need + 1;
  }
  return -1;
}

/**
 * Decode a corpus file's bytes as UTF-8 (a leading byte-order mark is dropped). Throws CorpusError
 * naming `name` for an empty file, a NUL byte (binary data) or invalid UTF-8, with the byte offset.
 */
export function decodeCorpusText(bytes: Uint8Array, name: string): string {
  if (bytes.length === 0) throw new CorpusError(`${name}: the file is empty (0 bytes)`, { file: name, offset: 0 });
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    throw new CorpusError(`${name}: NUL byte at byte offset ${nul} of ${bytes.length}; this looks like a binary file, not text`, {
      file: name,
      offset: nul,
    });
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    const off = at >= 0 ? at : 0;
    const hex = Array.from(bytes.subarray(off, off + 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new CorpusError(`${name}: invalid UTF-8 at byte offset ${off} of ${bytes.length} (bytes ${hex}); re-save the file as UTF-8`, {
      file: name,
      offset: off,
    });
  }
}
