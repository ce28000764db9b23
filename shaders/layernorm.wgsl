// layernorm.wgsl: GPT-2's layer normalisation over the last dim (llm.c's layernorm_forward/backward).
//
//   N rows (B*T), C channels. eps = 1e-5, biased variance (divide by C), as in PyTorch.
//
//   forward   mean[n] = sum_c x[n,c] / C
//             rstd[n] = 1 / sqrt(sum_c (x[n,c] - mean[n])^2 / C + eps)
//             out[n,c] = (x[n,c] - mean[n]) * rstd[n] * weight[c] + bias[c]          (=)
//   backward  norm = (x - mean) * rstd,  dnorm = dout * weight
//             dinp[n,c]  += (dnorm - mean_c(dnorm) - norm * mean_c(dnorm * norm)) * rstd  (+=)
//             dweight[c] += sum_n dout[n,c] * norm[n,c]                                 (+=)
//             dbias[c]   += sum_n dout[n,c]                                             (+=)
//
// Entry points and bindings (binding order = the wrapper's argument order):
//   layernorm_forward          0 out (N,C) rw   1 mean (N) rw   2 rstd (N) rw
//                              3 inp (N,C)      4 weight (C)    5 bias (C)
//   layernorm_backward         0 dinp (N,C) rw  1 dout (N,C)    2 inp (N,C)
//                              3 weight (C)     4 mean (N)      5 rstd (N)
//   layernorm_params_partial   0 partial (2,R,C) rw  1 dout (N,C)  2 inp (N,C)  3 mean (N)  4 rstd (N)
//   layernorm_params_reduce    0 dweight (C) rw      1 dbias (C) rw  2 partial (2,R,C)
//
// Design.
//   Row kernels (forward, dinp): one workgroup of WG = 64 invocations per row, strided over C
//   (coalesced loads), sums in fp32. A workgroup reduction costs ONE barrier: every invocation
//   writes its partial, then every invocation adds up all WG partials in the same order (so they
//   all hold the identical, deterministic total). That is 64 broadcast reads of workgroup memory
//   instead of log2(64) = 6 barriers of a tree; software adapters (lavapipe, SwiftShader) pay a
//   lot per barrier. Consecutive reductions alternate between two halves of the scratch array,
//   so no second barrier is needed before the next write. The variance is two-pass (the row is
//   read again after the mean), which stays accurate for rows with a large offset.
//   dweight/dbias are column sums over N rows, done deterministically in two barrier-free passes:
//   `partial` sums chunks of ROWS_PER_CHUNK = 32 rows per column into a scratch (2, R, C),
//   R = ceil(N / 32); `reduce` adds the R chunk sums of each column in order and += them into
//   dweight/dbias. One invocation per column alone would leave most of a GPU idle (C = 768
//   threads walking 4096 rows each); this way pass 1 has C * R invocations.
//   Dispatches of N workgroups are folded with wg_linear (N may exceed 65535).

override N: u32;   // rows
override C: u32;   // channels
override R: u32 = 1u;   // row chunks of the parameter-gradient pass (ceil(N / ROWS_PER_CHUNK))

const WG: u32 = 64u;
const ROWS_PER_CHUNK: u32 = 32u;
const EPS: f32 = 1e-5;

// Two halves of WG partials each; reduction k uses half (k % 2).
var<workgroup> red: array<vec2<f32>, 128>;

// Sum of `x` over the workgroup, identical in every invocation. Call in uniform control flow.
fn wg_sum(x: vec2<f32>, lid: u32, slot: u32) -> vec2<f32> {
  let base = slot * WG;
  red[base + lid] = x;
  workgroupBarrier();
  var s = vec2<f32>(0.0);
  for (var i = 0u; i < WG; i++) { s += red[base + i]; }
  return s;
}

// ---------------------------------------------------------------- forward

@group(0) @binding(0) var<storage, read_write> ln_out: array<f32>;   // (N,C)
@group(0) @binding(1) var<storage, read_write> ln_mean: array<f32>;  // (N)
@group(0) @binding(2) var<storage, read_write> ln_rstd: array<f32>;  // (N)
@group(0) @binding(3) var<storage, read> ln_inp: array<f32>;         // (N,C)
@group(0) @binding(4) var<storage, read> ln_weight: array<f32>;      // (C)
@group(0) @binding(5) var<storage, read> ln_bias: array<f32>;        // (C)

@compute @workgroup_size(64)
fn layernorm_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let row = wg_linear(wid, nwg);
  if (row >= N) { return; }  // uniform: the same for the whole workgroup
  let x = row * C;           // start of the row in (N,C)

  var s = 0.0;
  for (var c = lid; c < C; c += WG) { s += ln_inp[x + c]; }
  let m = wg_sum(vec2<f32>(s, 0.0), lid, 0u).x / f32(C);

  var v = 0.0;
  for (var c = lid; c < C; c += WG) {
    let d = ln_inp[x + c] - m;
    v += d * d;
  }
  let r = 1.0 / sqrt(wg_sum(vec2<f32>(v, 0.0), lid, 1u).x / f32(C) + EPS);

  for (var c = lid; c < C; c += WG) {
    ln_out[x + c] = (ln_inp[x + c] - m) * r * ln_weight[c] + ln_bias[c];
  }
  if (lid == 0u) {
    ln_mean[row] = m;
    ln_rstd[row] = r;
  }
}

// ---------------------------------------------------------------- backward: dinp

@group(0) @binding(0) var<storage, read_write> bw_dinp: array<f32>;  // (N,C)
@group(0) @binding(1) var<storage, read> bw_dout: array<f32>;        // (N,C)
@group(0) @binding(2) var<storage, read> bw_inp: array<f32>;         // (N,C)
@group(0) @binding(3) var<storage, read> bw_weight: array<f32>;      // (C)
@group(0) @binding(4) var<storage, read> bw_mean: array<f32>;        // (N)
@group(0) @binding(5) var<storage, read> bw_rstd: array<f32>;        // (N)

@compute @workgroup_size(64)
fn layernorm_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
  let row = wg_linear(wid, nwg);
  if (row >= N) { return; }
  let x = row * C;
  let m = bw_mean[row];
  let r = bw_rstd[row];

  // (sum dnorm, sum dnorm * norm) over the row, in one reduction
  var acc = vec2<f32>(0.0);
  for (var c = lid; c < C; c += WG) {
    let norm = (bw_inp[x + c] - m) * r;
    let dnorm = bw_dout[x + c] * bw_weight[c];
    acc += vec2<f32>(dnorm, dnorm * norm);
  }
  let means = wg_sum(acc, lid, 0u) / f32(C);

  for (var c = lid; c < C; c += WG) {
    let norm = (bw_inp[x + c] - m) * r;
    let dnorm = bw_dout[x + c] * bw_weight[c];
    bw_dinp[x + c] += (dnorm - means.x - norm * means.y) * r;
  }
}

// ---------------------------------------------------------------- backward: dweight, dbias

@group(0) @binding(0) var<storage, read_write> pp_partial: array<f32>;  // (2,R,C): dweight sums, then dbias sums
@group(0) @binding(1) var<storage, read> pp_dout: array<f32>;           // (N,C)
@group(0) @binding(2) var<storage, read> pp_inp: array<f32>;            // (N,C)
@group(0) @binding(3) var<storage, read> pp_mean: array<f32>;           // (N)
@group(0) @binding(4) var<storage, read> pp_rstd: array<f32>;           // (N)

// One invocation per (column c = gid.x, chunk k = gid.y): sums rows [32k, 32k + 32) in order.
@compute @workgroup_size(64)
fn layernorm_params_partial(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let k = gid.y;
  if (c >= C || k >= R) { return; }
  let n_end = min(N, (k + 1u) * ROWS_PER_CHUNK);
  var dw = 0.0;
  var db = 0.0;
  for (var n = k * ROWS_PER_CHUNK; n < n_end; n++) {
    let d = pp_dout[n * C + c];
    dw += d * (pp_inp[n * C + c] - pp_mean[n]) * pp_rstd[n];
    db += d;
  }
  pp_partial[k * C + c] = dw;
  pp_partial[(R + k) * C + c] = db;
}

@group(0) @binding(0) var<storage, read_write> pr_dweight: array<f32>;  // (C)
@group(0) @binding(1) var<storage, read_write> pr_dbias: array<f32>;    // (C)
@group(0) @binding(2) var<storage, read> pr_partial: array<f32>;        // (2,R,C)

// One invocation per column: adds the R chunk sums in order (deterministic), += into the grads.
@compute @workgroup_size(64)
fn layernorm_params_reduce(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= C) { return; }
  var dw = 0.0;
  var db = 0.0;
  for (var k = 0u; k < R; k++) {
    dw += pr_partial[k * C + c];
    db += pr_partial[(R + k) * C + c];
  }
  pr_dweight[c] += dw;
  pr_dbias[c] += db;
}
