// softmax.wgsl: numerically stable softmax over the last dim, row by row.
//
//   N rows, V entries per row (the vocabulary, or T keys for attention scores).
//
//   forward   out[n,i]  = exp(inp[n,i] - max_n) / sum_j exp(inp[n,j] - max_n)            (=)
//   backward  dinp[n,i] += out[n,i] * (dout[n,i] - sum_j dout[n,j] * out[n,j])            (+=)
//
// Entry points and bindings (binding order = the wrapper's argument order):
//   softmax_forward    0 out (N,V) rw    1 inp (N,V)
//   softmax_backward   0 dinp (N,V) rw   1 dout (N,V)   2 out (N,V)
//
// Design: one workgroup of WG = 64 invocations per row, strided over V (coalesced loads), fp32.
// The forward reads the row twice, not three times: each invocation keeps an online (max, sum)
// pair over its strided elements (the sum is rescaled when the max grows, llm.c's online softmax),
// then the pairs are merged across the workgroup: max M = max_i m_i, sum S = sum_i s_i exp(m_i - M).
// A workgroup merge costs ONE barrier: every invocation writes its pair and then every invocation
// merges all WG pairs in the same order, so all hold the same deterministic result. That trades
// 6 tree-reduction barriers for 64 broadcast reads of workgroup memory (software adapters pay a lot
// per barrier). Rows are folded with wg_linear, so N may exceed 65535.

override N: u32;   // rows
override V: u32;   // entries per row

const WG: u32 = 64u;
const LOWEST: f32 = -3.402823466e38;  // most negative f32: the max of an empty set

var<workgroup> red: array<vec2<f32>, 64>;

// Online update of a running (max, sum of exp(x - max)) with one more element x.
fn online_add(st: vec2<f32>, x: f32) -> vec2<f32> {
  if (x > st.x) { return vec2<f32>(x, st.y * exp(st.x - x) + 1.0); }
  return vec2<f32>(st.x, st.y + exp(x - st.x));
}

// Merge the (max, sum) pairs of the workgroup; every invocation gets the same (M, S).
// Call in uniform control flow.
fn wg_max_sum(st: vec2<f32>, lid: u32) -> vec2<f32> {
  red[lid] = st;
  workgroupBarrier();
  var m = LOWEST;
  for (var i = 0u; i < WG; i++) { m = max(m, red[i].x); }
  var s = 0.0;
  for (var i = 0u; i < WG; i++) {
    let p = red[i];
    if (p.y > 0.0) { s += p.y * exp(p.x - m); }  // skip empty pairs (no exp of -huge)
  }
  return vec2<f32>(m, s);
}

// Sum of x over the workgroup, the same in every invocation. Call in uniform control flow.
fn wg_sum(x: f32, lid: u32) -> f32 {
  red[lid] = vec2<f32>(x, 0.0);
  workgroupBarrier();
  var s = 0.0;
  for (var i = 0u; i < WG; i++) { s += red[i].x; }
  return s;
}

// ---------------------------------------------------------------- forward

@group(0) @binding(0) var<storage, read_write> sm_out: array<f32>;  // (N,V)
@group(0) @binding(1) var<storage, read> sm_inp: array<f32>;        // (N,V)

@compute @workgroup_size(64)
fn softmax_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
  let row = wg_linear(wid, nwg);
  if (row >= N) { return; }  // uniform: the same for the whole workgroup
  let x = row * V;

  var st = vec2<f32>(LOWEST, 0.0);
  for (var i = lid; i < V; i += WG) { st = online_add(st, sm_inp[x + i]); }
  let ms = wg_max_sum(st, lid);
  let inv = 1.0 / ms.y;
  for (var i = lid; i < V; i += WG) { sm_out[x + i] = exp(sm_inp[x + i] - ms.x) * inv; }
}

// ---------------------------------------------------------------- backward

@group(0) @binding(0) var<storage, read_write> sb_dinp: array<f32>;  // (N,V)
@group(0) @binding(1) var<storage, read> sb_dout: array<f32>;        // (N,V)
@group(0) @binding(2) var<storage, read> sb_out: array<f32>;         // (N,V)

@compute @workgroup_size(64)
fn softmax_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let row = wg_linear(wid, nwg);
  if (row >= N) { return; }
  let x = row * V;

  var d = 0.0;
  for (var i = lid; i < V; i += WG) { d += sb_dout[x + i] * sb_out[x + i]; }
  let s = wg_sum(d, lid);
  for (var i = lid; i < V; i += WG) { sb_dinp[x + i] += sb_out[x + i] * (sb_dout[x + i] - s); }
}
