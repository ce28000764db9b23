/**
 * Checkpoint files in Node. Writes are atomic: the bytes go to a temporary file in the same
 * folder, are flushed to disk, and only then renamed over the target, so a crash at any moment
 * leaves either the old file or the new one, never a half-written one.
 */
import { openSync, writeSync, fsyncSync, closeSync, renameSync, readFileSync, unlinkSync, statSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { CheckpointError } from './safetensors.ts';

export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Date.now()}`);
  const fd = openSync(tmp, 'w');
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  try {
    const dfd = openSync(dirname(path), 'r');
    fsyncSync(dfd);
    closeSync(dfd);
  } catch {
    /* directories cannot be fsynced on every platform */
  }
}

/** Read a checkpoint file's bytes, with a clear error for a missing or unreadable file. */
export function readCheckpointFile(path: string): Uint8Array {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new CheckpointError(`checkpoint file ${path} does not exist`);
  }
  if (size === 0) throw new CheckpointError(`checkpoint file ${path} is empty`);
  const b = readFileSync(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
