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
// Entry points and bindings (binding order = the wrapper's argument order, sizes last):
//   layernorm_forward          0 out (N,C) rw   1 mean (N) rw   2 rstd (N) rw
//                              3 inp (N,C)      4 weight (C)    5 bias (C)      6 dims
//   layernorm_backward         0 dinp (N,C) rw  1 dout (N,C)    2 inp (N,C)
//                              3 weight (C)     4 mean (N)      5 rstd (N)      6 dims
//   layernorm_params_partial   0 partial (2,R,C) rw  1 dout (N,C)  2 inp (N,C)  3 mean (N)  4 rstd (N)  5 dims
//   layernorm_params_reduce    0 dweight (C) rw      1 dbias (C) rw  2 partial (2,R,C)  3 dims
//   dims: (N, C, R) in a uniform buffer, so one pipeline serves every shape.
//
// Design (barrier-free, deterministic).
//   Row kernels (forward, dinp): one invocation per row walks its C channels 4 at a time. On CPU
//   adapters (lavapipe, SwiftShader) this beats a workgroup per row: a workgroup reduction costs a
//   barrier plus reads of every partial by every invocation, and each storage load is paid per
//   SIMD lane, so vec4 loads (4 channels per load) matter more than coalescing. On a GPU a row
//   per invocation is uncoalesced, but layernorm is a small part of a step there.
//   Channels are read as vec4 when C % 4 == 0 (template define VEC4, which every entry point of
//   this module needs); otherwise element by element into vec4s padded with zeros. Sums keep 4
//   lanes and add them at the end, in a fixed order. The variance is two-pass (the row is read
//   again after the mean), which stays accurate for rows with a large offset.
//   dweight/dbias are column sums over N rows, in two passes through a scratch: `partial` sums
//   chunks of ROWS_PER_CHUNK = 32 rows for 4 columns per invocation into (2, R, C),
//   R = ceil(N / 32); `reduce` adds the R chunk sums of each column in order and += them into
//   dweight/dbias. Row dispatches of more than 65535 workgroups are folded with wg_linear.

struct Dims {
  n: u32,  // rows
  c: u32,  // channels
  r: u32,  // row chunks of the parameter-gradient pass (ceil(N / ROWS_PER_CHUNK))
}

const WG: u32 = 64u;
const ROWS_PER_CHUNK: u32 = 32u;
const EPS: f32 = 1e-5;

// 1.0 for the lanes of channels c..c+3 that exist (c < C), 0.0 for the padding past the row's end
fn lanes(c: u32, C: u32) -> vec4<f32> {
  return select(vec4<f32>(0.0), vec4<f32>(1.0), vec4<u32>(c, c + 1u, c + 2u, c + 3u) < vec4<u32>(C));
}

fn hsum(v: vec4<f32>) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
}

// ---------------------------------------------------------------- forward

@group(0) @binding(1) var<storage, read_write> ln_mean: array<f32>;  // (N)
@group(0) @binding(2) var<storage, read_write> ln_rstd: array<f32>;  // (N)
@group(0) @binding(6) var<uniform> ln_dims: Dims;
#if ${VEC4}
@group(0) @binding(0) var<storage, read_write> ln_out: array<vec4<f32>>;  // (N,C)
@group(0) @binding(3) var<storage, read> ln_inp: array<vec4<f32>>;        // (N,C)
@group(0) @binding(4) var<storage, read> ln_weight: array<vec4<f32>>;     // (C)
@group(0) @binding(5) var<storage, read> ln_bias: array<vec4<f32>>;       // (C)
// element i.. i+3 of a row starting at `row` (all multiples of 4); C is a multiple of 4
fn ln_inp4(row: u32, c: u32, C: u32) -> vec4<f32> { return ln_inp[(row + c) >> 2u]; }
fn ln_weight4(c: u32, C: u32) -> vec4<f32> { return ln_weight[c >> 2u]; }
fn ln_bias4(c: u32, C: u32) -> vec4<f32> { return ln_bias[c >> 2u]; }
fn ln_out_store(row: u32, c: u32, C: u32, v: vec4<f32>) { ln_out[(row + c) >> 2u] = v; }
#else
@group(0) @binding(0) var<storage, read_write> ln_out: array<f32>;  // (N,C)
@group(0) @binding(3) var<storage, read> ln_inp: array<f32>;        // (N,C)
@group(0) @binding(4) var<storage, read> ln_weight: array<f32>;     // (C)
@group(0) @binding(5) var<storage, read> ln_bias: array<f32>;       // (C)
// channels c..c+3 of the row starting at `row`, zero past C
fn ln_inp4(row: u32, c: u32, C: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var q = 0u; q < 4u; q++) { if (c + q < C) { v[q] = ln_inp[row + c + q]; } }
  return v;
}
fn ln_weight4(c: u32, C: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var q = 0u; q < 4u; q++) { if (c + q < C) { v[q] = ln_weight[c + q]; } }
  return v;
}
fn ln_bias4(c: u32, C: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var q = 0u; q < 4u; q++) { if (c + q < C) { v[q] = ln_bias[c + q]; } }
  return v;
}
fn ln_out_store(row: u32, c: u32, C: u32, v: vec4<f32>) {
  for (var q = 0u; q < 4u; q++) { if (c + q < C) { ln_out[row + c + q] = v[q]; } }
}
#endif

@compute @workgroup_size(64)
fn layernorm_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let n = wg_linear(wid, nwg) * WG + lid;
  let N = ln_dims.n;
  let C = ln_dims.c;
  if (n >= N) { return; }
  let x = n * C;  // start of the row in (N,C)

  var s = vec4<f32>(0.0);
  for (var c = 0u; c < C; c += 4u) { s += ln_inp4(x, c, C); }
  let m = hsum(s) / f32(C);

  var v = vec4<f32>(0.0);
  for (var c = 0u; c < C; c += 4u) {
    let d = (ln_inp4(x, c, C) - m) * lanes(c, C);
    v = fma(d, d, v);
  }
  let r = 1.0 / sqrt(hsum(v) / f32(C) + EPS);

  for (var c = 0u; c < C; c += 4u) {
    ln_out_store(x, c, C, (ln_inp4(x, c, C) - m) * r * ln_weight4(c, C) + ln_bias4(c, C));
  }
  ln_mean[n] = m;
  ln_rstd[n] = r;
}

// ---------------------------------------------------------------- backward: dinp

@group(0) @binding(4) var<storage, read> bw_mean: array<f32>;  // (N)
@group(0) @binding(5) var<storage, read> bw_rstd: array<f32>;  // (N)
@group(0) @binding(6) var<uniform> bw_dims: Dims;
#if ${VEC4}
@group(0) @binding(0) var<storage, read_write> bw_dinp: array<vec4<f32>>;  // (N,C)
@group(0) @binding(1) var<storage, read> bw_dout: array<vec4<f32>>;        // (N,C)
@group(0) @binding(2) var<storage, read> bw_inp: array<vec4<f32>>;         // (N,C)
@group(0) @binding(3) var<storage, read> bw_weight: array<vec4<f32>>;      // (C)
fn bw_dout4(row: u32, c: u32, C: u32) -> vec4<f32> { return bw_dout[(row + c) >> 2u]; }
fn bw_inp4(row: u32, c: u32, C: u32) -> vec4<f32> { return bw_inp[(row + c) >> 2u]; }
fn bw_weight4(c: u32, C: u32) -> vec4<f32> { return bw_weight[c >> 2u]; }
fn bw_dinp_add(row: u32, c: u32, C: u32, v: vec4<f32>) { bw_dinp[(row + c) >> 2u] += v; }
#else
@group(0) @binding(0) var<storage, read_write> bw_dinp: array<f32>;  // (N,C)
@group(0) @binding(1) var<storage, read> bw_dout: array<f32>;        // (N,C)
@group(0) @binding(2) var<storage, read> bw_inp: array<f32>;         // (N,C)
@group(0) @binding(3) var<storage, read> bw_weight: array<f32>;      // (C)
fn bw_dout4(row: u32, c: u32, C: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var q = 0u; q < 4u; q++) { if (c + q < C) { v[q] = bw_dout[row + c + q]; } }
  return v;
}
fn bw_inp4(row: u32, c: u32, C: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var q = 0u; q < 4u; q++) { if (c + q < C) { v[q] = bw_inp[row + c + q]; } }
  return v;
}
fn bw_weight4(c: u32, C: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var q = 0u; q < 4u; q++) { if (c + q < C) { v[q] = bw_weight[c + q]; } }
  return v;
}
fn bw_dinp_add(row: u32, c: u32, C: u32, v: vec4<f32>) {
  for (var q = 0u; q < 4u; q++) { if (c + q < C) { bw_dinp[row + c + q] += v[q]; } }
}
#endif

@compute @workgroup_size(64)
fn layernorm_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
  let n = wg_linear(wid, nwg) * WG + lid;
  let N = bw_dims.n;
  let C = bw_dims.c;
  if (n >= N) { return; }
  let x = n * C;
  let m = bw_mean[n];
  let r = bw_rstd[n];

  // sums of dnorm and dnorm * norm over the row (padding lanes: dout = weight = 0, so dnorm = 0)
  var s1 = vec4<f32>(0.0);
  var s2 = vec4<f32>(0.0);
  for (var c = 0u; c < C; c += 4u) {
    let norm = (bw_inp4(x, c, C) - m) * r;
    let dnorm = bw_dout4(x, c, C) * bw_weight4(c, C);
    s1 += dnorm;
    s2 = fma(dnorm, norm, s2);
  }
  let mean1 = hsum(s1) / f32(C);
  let mean2 = hsum(s2) / f32(C);

  for (var c = 0u; c < C; c += 4u) {
    let norm = (bw_inp4(x, c, C) - m) * r;
    let dnorm = bw_dout4(x, c, C) * bw_weight4(c, C);
    bw_dinp_add(x, c, C, (dnorm - mean1 - norm * mean2) * r);
  }
}

// ---------------------------------------------------------------- backward: dweight, dbias

@group(0) @binding(3) var<storage, read> pp_mean: array<f32>;  // (N)
@group(0) @binding(4) var<storage, read> pp_rstd: array<f32>;  // (N)
@group(0) @binding(5) var<uniform> pp_dims: Dims;
#if ${VEC4}
@group(0) @binding(0) var<storage, read_write> pp_partial: array<vec4<f32>>;  // (2,R,C): dweight sums, then dbias sums
@group(0) @binding(1) var<storage, read> pp_dout: array<vec4<f32>>;           // (N,C)
@group(0) @binding(2) var<storage, read> pp_inp: array<vec4<f32>>;            // (N,C)
fn pp_dout4(row: u32, c: u32, C: u32) -> vec4<f32> { return pp_dout[(row + c) >> 2u]; }
fn pp_inp4(row: u32, c: u32, C: u32) -> vec4<f32> { return pp_inp[(row + c) >> 2u]; }
fn pp_store(row: u32, c: u32, C: u32, v: vec4<f32>) { pp_partial[(row + c) >> 2u] = v; }
#else
@group(0) @binding(0) var<storage, read_write> pp_partial: array<f32>;  // (2,R,C)
@group(0) @binding(1) var<storage, read> pp_dout: array<f32>;           // (N,C)
@group(0) @binding(2) var<storage, read> pp_inp: array<f32>;            // (N,C)
fn pp_dout4(row: u32, c: u32, C: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var q = 0u; q < 4u; q++) { if (c + q < C) { v[q] = pp_dout[row + c + q]; } }
  return v;
}
fn pp_inp4(row: u32, c: u32, C: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var q = 0u; q < 4u; q++) { if (c + q < C) { v[q] = pp_inp[row + c + q]; } }
  return v;
}
fn pp_store(row: u32, c: u32, C: u32, v: vec4<f32>) {
  for (var q = 0u; q < 4u; q++) { if (c + q < C) { pp_partial[row + c + q] = v[q]; } }
}
#endif

// One invocation per (4 columns c = 4 gid.x, chunk k = gid.y): sums rows [32k, 32k + 32) in order.
@compute @workgroup_size(64)
fn layernorm_params_partial(@builtin(global_invocation_id) gid: vec3<u32>) {
  let N = pp_dims.n;
  let C = pp_dims.c;
  let R = pp_dims.r;
  let c = gid.x * 4u;
  let k = gid.y;
  if (c >= C || k >= R) { return; }
  let n_end = min(N, (k + 1u) * ROWS_PER_CHUNK);
  var dw = vec4<f32>(0.0);
  var db = vec4<f32>(0.0);
  for (var n = k * ROWS_PER_CHUNK; n < n_end; n++) {
    let d = pp_dout4(n * C, c, C);
    dw = fma(d, (pp_inp4(n * C, c, C) - pp_mean[n]) * pp_rstd[n], dw);
    db += d;
  }
  pp_store(k * C, c, C, dw);
  pp_store((R + k) * C, c, C, db);
}

@group(0) @binding(3) var<uniform> pr_dims: Dims;
#if ${VEC4}
@group(0) @binding(0) var<storage, read_write> pr_dweight: array<vec4<f32>>;  // (C)
@group(0) @binding(1) var<storage, read_write> pr_dbias: array<vec4<f32>>;    // (C)
@group(0) @binding(2) var<storage, read> pr_partial: array<vec4<f32>>;        // (2,R,C)
fn pr_partial4(row: u32, c: u32, C: u32) -> vec4<f32> { return pr_partial[(row + c) >> 2u]; }
fn pr_add(c: u32, C: u32, dw: vec4<f32>, db: vec4<f32>) {
  pr_dweight[c >> 2u] += dw;
  pr_dbias[c >> 2u] += db;
}
#else
@group(0) @binding(0) var<storage, read_write> pr_dweight: array<f32>;  // (C)
@group(0) @binding(1) var<storage, read_write> pr_dbias: array<f32>;    // (C)
@group(0) @binding(2) var<storage, read> pr_partial: array<f32>;        // (2,R,C)
fn pr_partial4(row: u32, c: u32, C: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var q = 0u; q < 4u; q++) { if (c + q < C) { v[q] = pr_partial[row + c + q]; } }
  return v;
}
fn pr_add(c: u32, C: u32, dw: vec4<f32>, db: vec4<f32>) {
  for (var q = 0u; q < 4u; q++) {
    if (c + q < C) {
      pr_dweight[c + q] += dw[q];
      pr_dbias[c + q] += db[q];
    }
  }
}
#endif

// One invocation per 4 columns: adds the R chunk sums in order (deterministic), += into the grads.
@compute @workgroup_size(64)
fn layernorm_params_reduce(@builtin(global_invocation_id) gid: vec3<u32>) {
  let C = pr_dims.c;
  let R = pr_dims.r;
  let c = gid.x * 4u;
  if (c >= C) { return; }
  var dw = vec4<f32>(0.0);
  var db = vec4<f32>(0.0);
  for (var k = 0u; k < R; k++) {
    dw += pr_partial4(k * C, c, C);
    db += pr_partial4((R + k) * C, c, C);
  }
  pr_add(c, C, dw, db);
}
