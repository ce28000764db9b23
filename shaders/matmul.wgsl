// matmul.wgsl: batched matrix product with transposes as options, the workhorse of the model.
//
//   C[b] (M, N) = alpha * op(A[b]) (M, K) . op(B[b]) (K, N)  [+ bias (N)]  [+ C[b] if ACCUMULATE]
//
//   op(A) = A stored (M, K), or A stored (K, M) when TRANS_A
//   op(B) = B stored (K, N), or B stored (N, K) when TRANS_B
//
// A linear layer (llm.c's matmul) is three products:
//   forward  out (N, OC)  = inp (N, C) . W^T      TRANS_B, bias
//   dinp     (N, C)      += dout (N, OC) . W     (W stored (OC, C))
//   dW       (OC, C)     += dout^T . inp         TRANS_A
// Attention-style batched products use the batch strides (in elements).
//
// Two ways to compute it, picked by src/kernels/matmul.ts:
//
// 1. `matmul`: any shape, any batch, any adapter. Barrier-free register tiling: each invocation
//    computes a TM x TN = 4 x 4 block of C, an 8 x 8 workgroup covers 32 x 32. Where an operand's
//    contiguous dimension is a multiple of 4 (template defines A_VEC4 / B_VEC4, which every entry
//    point of this module needs; pack and bias_backward reuse a_in) it is bound as array<vec4<f32>>
//    and read with one vec4 load per 4 elements; otherwise element by element. When an operand is
//    read as vec4 along k, K is walked 4 at a time: a[i] = A(row i, k..k+3), b[j] = B(k..k+3,
//    column j), acc[i][j] += dot(a[i], b[j]); otherwise one k at a time (vec4s along m or n give a
//    column of A / a row of B) with an outer product. Edges: load indices are clamped (every load
//    is in bounds; rows/columns past the end are computed but never stored), so any M, N, K works.
//
// 2. `matmul_pack` + `matmul_windows`: a fast path for CPU adapters (lavapipe). There, a storage
//    buffer load inside a loop costs one branchy scalar load per SIMD lane, while a uniform buffer
//    load is a branch-free gather, about 3x cheaper. Uniform bindings hold at most 64 KiB, so:
//      - `matmul_pack` copies op(A) and op(B)^T into scratch buffers as blocks of RP = 128 rows x
//        KC k-values (KC <= 128, a multiple of 4), k contiguous, zero-padded: block (p, q) holds
//        rows p*RP.. and k q*KC.. and fits one 64 KiB window.
//      - each `matmul_windows` dispatch computes one RP x RP region of C from W (1..WIN_MAX)
//        k-blocks of A and of B bound as uniform windows wa0, wa1, wb0, wb1; regions with more
//        k-blocks take several dispatches that accumulate. Each invocation computes 8 x 8 outputs.
//        The region's origin and sizes, W, alpha, and whether to add the bias and accumulate come
//        from a small uniform `win` (one 256-byte slot per dispatch), so ONE pipeline serves every
//        product (a pipeline costs seconds of LLVM compile on lavapipe).
//
// Sizes and options of the general kernel and of the packing pass also come from uniform buffers
// (`mm`, `pk`, `bb`); only the transposes of the general kernel (which pick its loop structure)
// are override constants, and the vec4 binding types are template defines.
//
// Accumulation is always fp32, in a fixed order (deterministic).

// ------------------------------------------------------------------------------------------------
// 1. general kernel

override TRANS_A: bool = false;
override TRANS_B: bool = false;

struct Mm {
  m: u32,
  n: u32,
  k: u32,
  stride_a: u32,   // elements between batches of A (0: shared across the batch)
  stride_b: u32,
  stride_c: u32,
  flags: u32,      // bit 0: add bias, bit 1: accumulate into C
  alpha: f32,
}
@group(0) @binding(4) var<uniform> mm: Mm;

const TM: u32 = 4u;
const TN: u32 = 4u;

@group(0) @binding(0) var<storage, read_write> c_out: array<f32>;  // (batch, M, N)
#if ${A_VEC4}
@group(0) @binding(1) var<storage, read> a_in: array<vec4<f32>>;   // (batch, M, K) or (batch, K, M)
fn a_at(i: u32) -> f32 { return a_in[i >> 2u][i & 3u]; }
fn a_vec(i: u32) -> vec4<f32> { return a_in[i >> 2u]; }  // i: a multiple of 4
#else
@group(0) @binding(1) var<storage, read> a_in: array<f32>;         // (batch, M, K) or (batch, K, M)
fn a_at(i: u32) -> f32 { return a_in[i]; }
fn a_vec(i: u32) -> vec4<f32> { return vec4<f32>(a_in[i], a_in[i + 1u], a_in[i + 2u], a_in[i + 3u]); }
#endif
#if ${B_VEC4}
@group(0) @binding(2) var<storage, read> b_in: array<vec4<f32>>;   // (batch, K, N) or (batch, N, K)
fn b_at(i: u32) -> f32 { return b_in[i >> 2u][i & 3u]; }
fn b_vec(i: u32) -> vec4<f32> { return b_in[i >> 2u]; }
#else
@group(0) @binding(2) var<storage, read> b_in: array<f32>;         // (batch, K, N) or (batch, N, K)
fn b_at(i: u32) -> f32 { return b_in[i]; }
fn b_vec(i: u32) -> vec4<f32> { return vec4<f32>(b_in[i], b_in[i + 1u], b_in[i + 2u], b_in[i + 3u]); }
#endif
@group(0) @binding(3) var<storage, read> bias: array<f32>;         // (N), unused unless flags bit 0

const A_VEC4: bool = ${A_VEC4};
const B_VEC4: bool = ${B_VEC4};

@compute @workgroup_size(8, 8, 1)
fn matmul(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = mm.m;
  let N = mm.n;
  let K = mm.k;
  let row0 = gid.y * TM;
  let col0 = gid.x * TN;
  if (row0 >= M || col0 >= N) { return; }
  let a_base = gid.z * mm.stride_a;
  let b_base = gid.z * mm.stride_b;
  let c_base = gid.z * mm.stride_c;

  // clamped row/column indices: always in bounds, duplicates are computed but never stored
  var rows: array<u32, TM>;
  var cols: array<u32, TN>;
  for (var i = 0u; i < TM; i++) { rows[i] = min(row0 + i, M - 1u); }
  for (var j = 0u; j < TN; j++) { cols[j] = min(col0 + j, N - 1u); }

  var acc: array<array<f32, TN>, TM>;
  if ((!TRANS_A && A_VEC4) || (TRANS_B && B_VEC4)) {
    // an operand is read as vec4 along k (so K % 4 == 0): walk K 4 at a time, acc += dot(a, b)
    for (var k = 0u; k < K; k += 4u) {
      var a: array<vec4<f32>, TM>;  // a[i][q] = A(row i, k + q)
      var b: array<vec4<f32>, TN>;  // b[j][q] = B(k + q, column j)
      if (!TRANS_A) {
        for (var i = 0u; i < TM; i++) { a[i] = a_vec(a_base + rows[i] * K + k); }
      } else {
        for (var q = 0u; q < 4u; q++) { a_col(&a, q, a_base + (k + q) * M, row0, &rows); }
      }
      if (TRANS_B) {
        for (var j = 0u; j < TN; j++) { b[j] = b_vec(b_base + cols[j] * K + k); }
      } else {
        for (var q = 0u; q < 4u; q++) { b_row(&b, q, b_base + (k + q) * N, col0, &cols); }
      }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) { acc[i][j] += dot(a[i], b[j]); }
      }
    }
  } else {
    // otherwise one k at a time (any K), acc += outer product of a column of A and a row of B
    for (var k = 0u; k < K; k++) {
      var a: array<vec4<f32>, TM>;  // a[i][0] = A(row i, k)
      var b: array<vec4<f32>, TN>;  // b[j][0] = B(k, column j)
      if (TRANS_A) { a_col(&a, 0u, a_base + k * M, row0, &rows); } else {
        for (var i = 0u; i < TM; i++) { a[i][0] = a_at(a_base + rows[i] * K + k); }
      }
      if (TRANS_B) {
        for (var j = 0u; j < TN; j++) { b[j][0] = b_at(b_base + cols[j] * K + k); }
      } else { b_row(&b, 0u, b_base + k * N, col0, &cols); }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) { acc[i][j] = fma(a[i][0], b[j][0], acc[i][j]); }
      }
    }
  }

  let has_bias = (mm.flags & 1u) != 0u;
  let accumulate = (mm.flags & 2u) != 0u;
  for (var i = 0u; i < TM; i++) {
    let r = row0 + i;
    if (r >= M) { break; }
    for (var j = 0u; j < TN; j++) {
      let cc = col0 + j;
      if (cc >= N) { break; }
      var v = mm.alpha * acc[i][j];
      if (has_bias) { v += bias[cc]; }
      let idx = c_base + r * N + cc;
      if (accumulate) { v += c_out[idx]; }
      c_out[idx] = v;
    }
  }
}

// a[i][q] = A(row i, k) for the TM rows, from the row `base` = k * M of A stored (K, M): one vec4
// when A_VEC4 (rows row0..row0+3, all < M as M % 4 == 0), else clamped scalars.
fn a_col(a: ptr<function, array<vec4<f32>, TM>>, q: u32, base: u32, row0: u32, rows: ptr<function, array<u32, TM>>) {
  if (A_VEC4) {
    let v = a_vec(base + row0);
    (*a)[0][q] = v.x; (*a)[1][q] = v.y; (*a)[2][q] = v.z; (*a)[3][q] = v.w;
  } else {
    for (var i = 0u; i < TM; i++) { (*a)[i][q] = a_at(base + (*rows)[i]); }
  }
}

// b[j][q] = B(k, column j) for the TN columns, from the row `base` = k * N of B stored (K, N).
fn b_row(b: ptr<function, array<vec4<f32>, TN>>, q: u32, base: u32, col0: u32, cols: ptr<function, array<u32, TN>>) {
  if (B_VEC4) {
    let v = b_vec(base + col0);
    (*b)[0][q] = v.x; (*b)[1][q] = v.y; (*b)[2][q] = v.z; (*b)[3][q] = v.w;
  } else {
    for (var j = 0u; j < TN; j++) { (*b)[j][q] = b_at(base + (*cols)[j]); }
  }
}

// ------------------------------------------------------------------------------------------------
// 2. fast path for CPU adapters: pack into 64 KiB blocks, multiply from uniform windows

const RP: u32 = 128u;  // rows per block (and the side of a region of C)

// matmul_pack: packed (P, Q, RP, KC) = op(X)(p*RP + r, q*KC + kk), zero outside (R, K).
// X is A (R = M, trans = TRANS_A: stored (K, M)) or B (R = N, trans = !TRANS_B: stored (K, N));
// it is bound where the general kernel binds A (a_in, as vec4 when A_VEC4: the contiguous
// dimension, R if trans else K, is a multiple of 4). One invocation per 4 x 4 group: packed rows
// r..r+3 x k-values kk..kk+3, written as 4 vec4s (a transpose in registers when trans).
struct Pack {
  r: u32,      // rows of op(X): M for A, N for B
  k: u32,      // K
  kc: u32,     // k-values per block, a multiple of 4
  q: u32,      // blocks along k: ceil(K / KC)
  trans: u32,  // 1: X stored (K, R) instead of (R, K)
  four: u32,   // 4: the loops below run to it, a value the compiler cannot fold, so they stay loops
               // with one load each instead of being unrolled into 4 or 16 (compile time on lavapipe)
}
@group(0) @binding(0) var<storage, read_write> packed: array<vec4<f32>>;  // (P, Q, RP, KC / 4)
@group(0) @binding(2) var<uniform> pk: Pack;

@compute @workgroup_size(64)
fn matmul_pack(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let PACK_R = pk.r;
  let PACK_K = pk.k;
  let PACK_KC = pk.kc;
  let PACK_Q = pk.q;
  let g = wg_linear(wid, nwg) * 64u + lid;
  let kc4 = PACK_KC / 4u;
  let per_block = (RP / 4u) * kc4;  // 4 x 4 groups per block
  let P = (PACK_R + RP - 1u) / RP;
  if (g >= P * PACK_Q * per_block) { return; }
  let pq = g / per_block;
  let rr = (g % per_block) / kc4 * 4u;  // row within the block
  let k4 = (g % per_block) % kc4;       // vec4 column within the block
  let row = (pq / PACK_Q) * RP + rr;
  let k = (pq % PACK_Q) * PACK_KC + k4 * 4u;
  let four = pk.four;
  var v: array<vec4<f32>, 4>;  // v[i][q] = X(row + i, k + q)
  if (pk.trans != 0u) {
    for (var q = 0u; q < four; q++) {
      let kq = k + q;
      if (A_VEC4) {
        if (row < PACK_R && kq < PACK_K) {
          let x = a_vec(kq * PACK_R + row);
          v[0][q] = x.x; v[1][q] = x.y; v[2][q] = x.z; v[3][q] = x.w;
        }
      } else {
        for (var i = 0u; i < four; i++) {
          if (row + i < PACK_R && kq < PACK_K) { v[i][q] = a_at(kq * PACK_R + row + i); }
        }
      }
    }
  } else {
    for (var i = 0u; i < four; i++) {
      let ri = row + i;
      if (A_VEC4) {
        if (ri < PACK_R && k < PACK_K) { v[i] = a_vec(ri * PACK_K + k); }
      } else {
        for (var q = 0u; q < four; q++) {
          if (ri < PACK_R && k + q < PACK_K) { v[i][q] = a_at(ri * PACK_K + k + q); }
        }
      }
    }
  }
  for (var i = 0u; i < four; i++) { packed[(pq * RP + rr + i) * kc4 + k4] = v[i]; }
}

// matmul_windows: C[row0.., col0..] (rows x cols, at most RP x RP) (+)= alpha * A_region . B_region^T
// over W k-blocks. Bindings: C, then the windows, then bias and the dispatch's parameters.
struct Window {
  row0: u32,   // region origin in C
  col0: u32,
  rows: u32,   // region size (<= RP)
  cols: u32,
  kc4: u32,    // KC / 4: vec4s per packed row
  ldc: u32,    // row stride of C (N)
  w: u32,      // k-blocks in this dispatch (1..WIN_MAX)
  flags: u32,  // bit 0: add the bias, bit 1: accumulate into C
  alpha: f32,
}
const WIN_MAX: u32 = 2u;  // uniform windows per operand (src/kernels/matmul.ts: WIN_MAX)
const WTM: u32 = 8u;
const WTN: u32 = 8u;

@group(0) @binding(0) var<storage, read_write> win_c: array<f32>;  // (M, N)
@group(0) @binding(1) var<uniform> wa0: array<vec4<f32>, 4096>;   // (RP, KC) block of op(A)
@group(0) @binding(2) var<uniform> wa1: array<vec4<f32>, 4096>;
@group(0) @binding(3) var<uniform> wb0: array<vec4<f32>, 4096>;   // (RP, KC) block of op(B)^T
@group(0) @binding(4) var<uniform> wb1: array<vec4<f32>, 4096>;
@group(0) @binding(5) var<storage, read> win_bias: array<f32>;     // (N), unused unless flags bit 0
@group(0) @binding(6) var<uniform> win: Window;

// w is a constant at every call site, so the switch folds away after inlining
fn win_a(w: u32, i: u32) -> vec4<f32> {
  switch (w) {
    case 1u: { return wa1[i]; }
    default: { return wa0[i]; }
  }
}

fn win_b(w: u32, i: u32) -> vec4<f32> {
  switch (w) {
    case 1u: { return wb1[i]; }
    default: { return wb0[i]; }
  }
}

// acc[i][j] += sum over the block's k of A(r0 + i, k) * B(k, c0 + j); r0, c0 relative to the region
fn win_block(w: u32, r0: u32, c0: u32, acc: ptr<function, array<array<f32, WTN>, WTM>>) {
  let kc4 = win.kc4;
  for (var k4 = 0u; k4 < kc4; k4++) {
    var a: array<vec4<f32>, WTM>;
    var b: array<vec4<f32>, WTN>;
    for (var i = 0u; i < WTM; i++) { a[i] = win_a(w, (r0 + i) * kc4 + k4); }
    for (var j = 0u; j < WTN; j++) { b[j] = win_b(w, (c0 + j) * kc4 + k4); }
    for (var i = 0u; i < WTM; i++) {
      for (var j = 0u; j < WTN; j++) { (*acc)[i][j] += dot(a[i], b[j]); }
    }
  }
}

@compute @workgroup_size(8, 1, 1)
fn matmul_windows(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r0 = gid.y * WTM;
  let c0 = gid.x * WTN;
  var acc: array<array<f32, WTN>, WTM>;
  win_block(0u, r0, c0, &acc);
  if (win.w > 1u) { win_block(1u, r0, c0, &acc); }
  let has_bias = (win.flags & 1u) != 0u;
  let accumulate = (win.flags & 2u) != 0u;
  for (var i = 0u; i < WTM; i++) {
    for (var j = 0u; j < WTN; j++) {
      if (r0 + i < win.rows && c0 + j < win.cols) {
        let col = win.col0 + c0 + j;
        var v = win.alpha * acc[i][j];
        if (has_bias) { v += win_bias[col]; }
        let idx = (win.row0 + r0 + i) * win.ldc + col;
        if (accumulate) { v += win_c[idx]; }
        win_c[idx] = v;
      }
    }
  }
}

// ------------------------------------------------------------------------------------------------
// bias backward
// dbias (COLS) += sum over ROWS of dout (ROWS, COLS). One invocation per 4 columns walks the rows in
// order (vec4 loads when COLS % 4 == 0), so the sum is deterministic. dout is bound where the
// general kernel binds A (a_in, vec4 when A_VEC4) and dbias where it binds C (c_out).
struct BiasDims {
  rows: u32,
  cols: u32,
}
@group(0) @binding(2) var<uniform> bb: BiasDims;

@compute @workgroup_size(16)
fn bias_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
  let ROWS = bb.rows;
  let COLS = bb.cols;
  let c = gid.x * 4u;
  if (c >= COLS) { return; }
  var s = vec4<f32>();
  if (A_VEC4) {
    for (var r = 0u; r < ROWS; r++) { s += a_vec(r * COLS + c); }
  } else {
    let last = COLS - 1u;  // clamped columns; only the real ones are stored
    for (var r = 0u; r < ROWS; r++) {
      let row = r * COLS;
      s += vec4<f32>(a_at(row + c), a_at(row + min(c + 1u, last)), a_at(row + min(c + 2u, last)), a_at(row + min(c + 3u, last)));
    }
  }
  for (var q = 0u; q < 4u; q++) {
    if (c + q < COLS) { c_out[c + q] += s[q]; }
  }
}
