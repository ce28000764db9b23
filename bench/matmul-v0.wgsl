// bench/matmul-v0.wgsl: the seed version of shaders/matmul.wgsl (commit c9b7e06), kept as the
// "before" of the benchmark (npm run bench -- --baseline). Not used by the library.
//
//   C[b] (M, N) = alpha * op(A[b]) (M, K) . op(B[b]) (K, N)  [+ bias (N)]  [+ C[b] if ACCUMULATE]
//
//   op(A) = A stored (M, K), or A stored (K, M) when TRANS_A
//   op(B) = B stored (K, N), or B stored (N, K) when TRANS_B
//
// A linear layer (llm.c's matmul) is three calls of this one kernel:
//   forward  out (N, OC)  = inp (N, C) . W^T      TRANS_B, bias
//   dinp     (N, C)      += dout (N, OC) . W     (W stored (OC, C))
//   dW       (OC, C)     += dout^T . inp         TRANS_A
// Attention-style batched products use the batch strides (in elements).
//
// Design (barrier-free register tiling; software adapters hate workgroup barriers):
// each invocation computes a TM x TN = 4 x 4 block of C in registers, a workgroup of 8 x 8
// invocations covers a 32 x 32 tile. K is walked 4 at a time. Edges are handled by clamping the
// load indices (every load is in bounds; results of out-of-range rows/columns are not stored),
// so any M, N, K works. Accumulation is always fp32.

override M: u32;
override N: u32;
override K: u32;
override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override ACCUMULATE: bool = false;
override ALPHA: f32 = 1.0;
override STRIDE_A: u32 = 0;   // elements between batches of A (0: shared across the batch)
override STRIDE_B: u32 = 0;
override STRIDE_C: u32 = 0;

@group(0) @binding(0) var<storage, read_write> c_out: array<f32>;  // (batch, M, N)
@group(0) @binding(1) var<storage, read> a_in: array<f32>;         // (batch, M, K) or (batch, K, M)
@group(0) @binding(2) var<storage, read> b_in: array<f32>;         // (batch, K, N) or (batch, N, K)
@group(0) @binding(3) var<storage, read> bias: array<f32>;         // (N), unused unless HAS_BIAS

const TM: u32 = 4u;
const TN: u32 = 4u;

fn load_a(base: u32, m: u32, k: u32) -> f32 {
  if (TRANS_A) { return a_in[base + k * M + m]; }
  return a_in[base + m * K + k];
}

fn load_b(base: u32, k: u32, n: u32) -> f32 {
  if (TRANS_B) { return b_in[base + n * K + k]; }
  return b_in[base + k * N + n];
}

@compute @workgroup_size(8, 8, 1)
fn matmul(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row0 = gid.y * TM;
  let col0 = gid.x * TN;
  if (row0 >= M || col0 >= N) { return; }
  let batch = gid.z;
  let a_base = batch * STRIDE_A;
  let b_base = batch * STRIDE_B;
  let c_base = batch * STRIDE_C;

  // clamped row/column indices: always in bounds, duplicates are computed but never stored
  var rows: array<u32, 4>;
  var cols: array<u32, 4>;
  for (var i = 0u; i < TM; i++) { rows[i] = min(row0 + i, M - 1u); }
  for (var j = 0u; j < TN; j++) { cols[j] = min(col0 + j, N - 1u); }

  var acc: array<array<f32, 4>, 4>;
  var a: array<f32, 4>;
  var b: array<f32, 4>;
  for (var k = 0u; k < K; k++) {
    for (var i = 0u; i < TM; i++) { a[i] = load_a(a_base, rows[i], k); }
    for (var j = 0u; j < TN; j++) { b[j] = load_b(b_base, k, cols[j]); }
    for (var i = 0u; i < TM; i++) {
      for (var j = 0u; j < TN; j++) {
        acc[i][j] = fma(a[i], b[j], acc[i][j]);
      }
    }
  }

  for (var i = 0u; i < TM; i++) {
    let r = row0 + i;
    if (r >= M) { break; }
    for (var j = 0u; j < TN; j++) {
      let cc = col0 + j;
      if (cc >= N) { break; }
      var v = ALPHA * acc[i][j];
      if (HAS_BIAS) { v += bias[cc]; }
      let idx = c_base + r * N + cc;
      if (ACCUMULATE) { v += c_out[idx]; }
      c_out[idx] = v;
    }
  }
}

// ---------------------------------------------------------------- bias backward
// dbias (COLS) += sum over ROWS of dout (ROWS, COLS). One invocation per column walks the rows in
// order, so the sum is deterministic. Bindings reuse slots 0 and 1.
override ROWS: u32;
override COLS: u32;
@group(0) @binding(0) var<storage, read_write> dbias_out: array<f32>;  // (COLS)
@group(0) @binding(1) var<storage, read> dout_in: array<f32>;          // (ROWS, COLS)

@compute @workgroup_size(64)
fn bias_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= COLS) { return; }
  var s = 0.0;
  for (var r = 0u; r < ROWS; r++) { s += dout_in[r * COLS + c]; }
  dbias_out[c] += s;
}
