/**
 * The latest checkpoint, kept in IndexedDB so a reload of the page restores the model.
 * Used from the worker (IndexedDB exists in workers); one record under a fixed key.
 */

const DB = 'wgpt-demo';
const STORE = 'checkpoints';
const KEY = 'latest';

export interface StoredCheckpoint {
  /** safetensors bytes, as from TrainingRun.checkpoint() or LanguageModel.toCheckpoint(). */
  bytes: Uint8Array;
  /** Corpus or file name it came from. */
  name: string;
  savedAt: number;
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB open failed'));
    req.onblocked = () => reject(new Error('IndexedDB is blocked by another tab of this page'));
  });
}

async function withStore<T>(mode: IDBTransactionMode, body: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = body(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted (storage full?)'));
    });
  } finally {
    db.close();
  }
}

export function saveLatest(c: StoredCheckpoint): Promise<IDBValidKey> {
  return withStore('readwrite', (s) => s.put(c, KEY));
}

export async function loadLatest(): Promise<StoredCheckpoint | null> {
  const v = await withStore<StoredCheckpoint | undefined>('readonly', (s) => s.get(KEY));
  return v && v.bytes instanceof Uint8Array ? v : null;
}

export function forgetLatest(): Promise<undefined> {
  return withStore('readwrite', (s) => s.delete(KEY));
}
