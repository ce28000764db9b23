/**
 * Byte-pair merging shared by both BPE tokenizers (ours and GPT-2's): a min-heap of plain numbers
 * (rank * n + position) over a linked list of symbols.
 */

/** Push onto a min-heap of plain numbers kept in an array. */
function heapPush(h: number[], v: number): void {
  h.push(v);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p] <= v) break;
    h[i] = h[p];
    i = p;
  }
  h[i] = v;
}

/** Remove and return the smallest number of a non-empty heap. */
function heapPop(h: number[]): number {
  const top = h[0];
  const last = h.pop()!;
  const n = h.length;
  if (n > 0) {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const m = l + 1 < n && h[l + 1] < h[l] ? l + 1 : l;
      if (h[m] >= last) break;
      h[i] = h[m];
      i = m;
    }
    h[i] = last;
  }
  return top;
}

/**
 * Merge the symbols `sym` (changed in place; its first n entries are the input) lowest rank first,
 * leftmost on ties, until no adjacent pair has a rank: `rank(a, b)` is the pair's merge rank or
 * -1, `merged(r)` the symbol that merge r makes. O(n log n): a heap of (rank, position) entries,
 * each checked against the current pair when popped (stale entries are skipped).
 */
export function mergeRanked(sym: Int32Array, rank: (a: number, b: number) => number, merged: (r: number) => number): Int32Array {
  const n = sym.length;
  if (n < 2) return sym;
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  const dead = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  const rankAt = (p: number): number => (next[p] < 0 ? -1 : rank(sym[p], sym[next[p]]));
  const heap: number[] = [];
  for (let i = 0; i + 1 < n; i++) {
    const r = rankAt(i);
    if (r >= 0) heapPush(heap, r * n + i);
  }
  while (heap.length > 0) {
    const e = heapPop(heap);
    const r = Math.floor(e / n);
    const p = e - r * n;
    if (dead[p] || rankAt(p) !== r) continue; // stale entry
    const q = next[p];
    sym[p] = merged(r);
    dead[q] = 1;
    next[p] = next[q];
    if (next[q] >= 0) prev[next[q]] = p;
    if (prev[p] >= 0) {
      const rp = rankAt(prev[p]);
      if (rp >= 0) heapPush(heap, rp * n + prev[p]);
    }
    const rn = rankAt(p);
    if (rn >= 0) heapPush(heap, rn * n + p);
  }
  const out: number[] = [];
  for (let p = 0; p >= 0; p = next[p]) out.push(sym[p]);
  return Int32Array.from(out);
}
