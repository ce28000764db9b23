// crossentropy.wgsl: fused softmax + cross-entropy forward and backward (llm.c's fused classifier).
//
//   N rows (B*T positions), V vocabulary. Per row n with target t = targets[n]:
//     counted row (0 <= t < V):
//       losses[n]    = logsumexp(logits[n,:]) - logits[n,t]          = -log softmax(logits[n])[t]   (=)
//       dlogits[n,i] = (softmax(logits[n])[i] - (i == t)) * scale[0]                                 (=)
//     row without loss (t < 0, the ignore index -1 or any negative; ALSO t >= V, see below):
//       losses[n] = 0, dlogits[n,:] = 0                                                              (=)
//   Probabilities are never stored. `scale` is read on the GPU (e.g. 1 / number of counted
//   positions, written each step without recompiling). The trainer starts backward here, so both
//   outputs are overwritten, not accumulated.
//
//   A target t >= V is out of range; the shader never reads logits[n,t] for it and treats the row
//   like an ignored one (loss 0, zero gradient). Targets live on the GPU, so the wrapper cannot see
//   them: the code that uploads them (the data loader / GPT.forward) must reject them on the host.
//
// Entry points crossentropy and crossentropy_rows; bindings (binding order = the wrapper's argument order):
//   separate        0 losses (N) rw  1 dlogits (N,V) rw  2 logits (N,V)  3 targets (N) i32  4 scale (1)  5 dims
//   IN_PLACE        0 losses (N) rw  1 dlogits (N,V) rw, holding the logits on entry
//                   2 targets (N) i32  3 scale (1)  4 dims
//   dims: (N, V) in a uniform buffer, so one pipeline serves every shape.
//   WebGPU forbids binding one buffer range both read_write and read-only in one dispatch, so the
//   in-place form (dlogits overwrites logits to save N*V floats) binds one buffer for both. The
//   template define IN_PLACE picks the bindings and where logit_at() reads; the code is shared.
//
// Design: one workgroup of WG = 64 invocations per row, strided over V. For GPT-2, V = 50257 and N
// is a few thousand: one invocation per row would run only N threads (a fraction of a large GPU),
// each walking a 200 KB row on its own with uncoalesced loads; a workgroup per row gives N*64
// invocations with coalesced loads, ~785 elements each, so the one barrier per row is noise.
// Pass 1: each invocation keeps an online (max, sum of exp(x - max)) over its elements; the pairs
// are merged across the workgroup with ONE barrier (every invocation merges all 64 pairs in the same
// order: deterministic, identical everywhere). Pass 2 re-reads the logits and writes dlogits. Each
// invocation reads and writes only its own elements (i = lid, lid + 64, ...), and the invocation
// that owns column t reads logits[n,t] and writes the loss in program order before it overwrites
// that element, so the in-place form needs no further synchronisation. Rows are folded with
// wg_linear, so N may exceed 65535.
//
// Small vocabularies (V <= ROWS_MAX_V, the wrapper's choice): crossentropy_rows runs one
// INVOCATION per row instead (same bindings, same math, the
// row's elements in order). With V = 99, a workgroup per row keeps 62 of 64 invocations busy
// merging the 64 partial pairs (64 x 64 reads of workgroup memory per row), which on CPU adapters
// costs more than the row itself.

struct Dims {
  n: u32,   // rows
  v: u32,   // vocabulary
}

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

// The target column of a row, or V when the row carries no loss (negative or out of range).
fn target_col(t: i32, V: u32) -> u32 {
  if (t < 0 || u32(t) >= V) { return V; }
  return u32(t);
}

@group(0) @binding(0) var<storage, read_write> ce_losses: array<f32>;   // (N)
@group(0) @binding(1) var<storage, read_write> ce_dlogits: array<f32>;  // (N,V); in place: logits on entry

#if ${IN_PLACE}
// in place: dlogits overwrites the logits it holds on entry
@group(0) @binding(2) var<storage, read> ce_targets: array<i32>;  // (N)
@group(0) @binding(3) var<storage, read> ce_scale: array<f32>;    // (1)
@group(0) @binding(4) var<uniform> ce_dims: Dims;
// (each element is read by the invocation that later overwrites it, before it does)
fn logit_at(i: u32) -> f32 { return ce_dlogits[i]; }
#else
@group(0) @binding(2) var<storage, read> ce_logits: array<f32>;   // (N,V)
@group(0) @binding(3) var<storage, read> ce_targets: array<i32>;  // (N)
@group(0) @binding(4) var<storage, read> ce_scale: array<f32>;    // (1)
@group(0) @binding(5) var<uniform> ce_dims: Dims;
fn logit_at(i: u32) -> f32 { return ce_logits[i]; }
#endif

// ---------------------------------------------------------------- a workgroup per row

@compute @workgroup_size(64)
fn crossentropy(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let N = ce_dims.n;
  let V = ce_dims.v;
  let row = wg_linear(wid, nwg);
  if (row >= N) { return; }  // uniform: the same for the whole workgroup
  let x = row * V;
  let t = target_col(ce_targets[row], V);

  var st = vec2<f32>(LOWEST, 0.0);
  if (t < V) {
    for (var i = lid; i < V; i += WG) { st = online_add(st, logit_at(x + i)); }
  }
  let ms = wg_max_sum(st, lid);  // (max, sum of exp(logit - max)) of the row

  if (t >= V) {  // no loss: zero loss and gradient
    if (lid == 0u) { ce_losses[row] = 0.0; }
    for (var i = lid; i < V; i += WG) { ce_dlogits[x + i] = 0.0; }
    return;
  }
  let scale = ce_scale[0];
  let inv = 1.0 / ms.y;
  for (var i = lid; i < V; i += WG) {
    let logit = logit_at(x + i);
    let p = exp(logit - ms.x) * inv;
    if (i == t) {
      ce_losses[row] = log(ms.y) + ms.x - logit;
      ce_dlogits[x + i] = (p - 1.0) * scale;
    } else {
      ce_dlogits[x + i] = p * scale;
    }
  }
}

// ---------------------------------------------------------------- one invocation per row (small V)

@compute @workgroup_size(64)
fn crossentropy_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let N = ce_dims.n;
  let V = ce_dims.v;
  let row = wg_linear(wid, nwg) * WG + lid;
  if (row >= N) { return; }
  let x = row * V;
  let t = target_col(ce_targets[row], V);
  if (t >= V) {
    ce_losses[row] = 0.0;
    for (var i = 0u; i < V; i++) { ce_dlogits[x + i] = 0.0; }
    return;
  }
  var st = vec2<f32>(LOWEST, 0.0);
  for (var i = 0u; i < V; i++) { st = online_add(st, logit_at(x + i)); }
  let scale = ce_scale[0];
  let inv = 1.0 / st.y;
  for (var i = 0u; i < V; i++) {
    let logit = logit_at(x + i);
    let p = exp(logit - st.x) * inv;
    if (i == t) {
      ce_losses[row] = log(st.y) + st.x - logit;
      ce_dlogits[x + i] = (p - 1.0) * scale;
    } else {
      ce_dlogits[x + i] = p * scale;
    }
  }
}
