// attention.wgsl: causal multi-head self-attention (GPT-2 / llm.c layouts), forward and backward.
//
// Dimensions: B batch, T time, C channels, NH heads, HS = C / NH head size.
//
//   qkv  (B, T, 3C)  per row: q = channels [0, C), k = [C, 2C), v = [2C, 3C);
//                    head h uses channels h*HS .. (h+1)*HS of each of q, k, v
//   out  (B, T, C)   head h's result in channels h*HS .. (h+1)*HS
//   lse  (B, NH, T)  log-sum-exp of the scaled scores of each query row (saved for backward)
//
// forward, for each (b, h, t), with scale = 1/sqrt(HS):
//   s_ts   = scale * q_t . k_s                 for s <= t only (causal)
//   lse_t  = log(sum_{s<=t} exp(s_ts))
//   out_t  = sum_{s<=t} exp(s_ts - lse_t) v_s
// Keys s > t are never visited, so the future contributes exactly zero (not a masked -inf).
//
// backward (dqkv +=), recomputing P from the saved lse instead of storing the (T, T) matrix:
//   P_ts  = exp(scale * q_t . k_s - lse_t)
//   D_t   = dout_t . out_t
//   dS_ts = P_ts * (dout_t . v_s - D_t)
//   dq_t += scale * sum_{s<=t} dS_ts k_s        attention_backward_dq:  one invocation per query row
//   dk_s += scale * sum_{t>=s} dS_ts q_t        attention_backward_dkv: one invocation per key row
//   dv_s += sum_{t>=s} P_ts dout_t
// Each invocation owns the output row it writes, so the sums run in a fixed order: deterministic,
// no atomics, no scratch buffer (the key-row pass recomputes D_t inline for every query it visits).
//
// Design (barrier-free; software adapters such as lavapipe and SwiftShader are very slow with
// workgroupBarrier): one invocation per (b, h, row) walks the keys (or queries) of its row with an
// online softmax, keeping its HS-long vectors in private arrays. Memory is O(B*T*C): nothing of
// size T*T is ever stored. A private array's length must be a const-expression (an `override`
// cannot size it), so HS is a template define substituted by src/gpu/shaders.ts: one pipeline per
// head size, and any head size works (up to WGSL's 8 KiB limit on a function's private variables;
// the wrapper checks HS <= 256).
//
// The loops over a head's channels run to `hs`, which equals HS but is computed at run time (see
// runtime_hs) so the compiler cannot see a constant trip count. With constant bounds, LLVM-based
// software adapters unroll every channel loop and then take seconds to a minute per pipeline
// (lavapipe, measured: backward compile 3 s at HS = 12, 50 s at HS = 32; with `hs`, 0.2-0.5 s).
// The price on hardware: dynamically indexed private arrays live in (cached) local memory rather
// than registers; a kernel tuned for hardware would tile keys through workgroup memory instead.
//
// Rows are numbered row = (b * NH + h) * T + t, the layout of lse; dispatches of more than 65535
// workgroups are folded with gpu.grid() and recovered with wg_linear().

const HS: u32 = ${HS}u;       // head size (template define)

override B: u32;
override T: u32;
override NH: u32;
override SCALE: f32;          // 1 / sqrt(HS)

const WG: u32 = 64u;

// HS, as a value the compiler cannot constant-fold (num_workgroups is never 0 in a dispatch that
// runs), so channel loops are not unrolled; see the header.
fn runtime_hs(nwg: vec3<u32>) -> u32 {
  return select(HS, 0u, nwg.z == 0u);
}

// ---------------------------------------------------------------- forward
@group(0) @binding(0) var<storage, read_write> att_out: array<f32>;  // (B, T, C)
@group(0) @binding(1) var<storage, read_write> lse_out: array<f32>;  // (B, NH, T)
@group(0) @binding(2) var<storage, read> qkv: array<f32>;            // (B, T, 3C)

// Index of channel 0 of head h's slice of q at (b, t); k and v follow at +C and +2C.
fn qkv_base(b: u32, t: u32, h: u32) -> u32 {
  return (b * T + t) * 3u * NH * HS + h * HS;
}

@compute @workgroup_size(64)
fn attention_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let row = wg_linear(wid, nwg) * WG + lid;
  if (row >= B * NH * T) { return; }
  let t = row % T;
  let bh = row / T;
  let h = bh % NH;
  let b = bh / NH;
  let C = NH * HS;
  let hs = runtime_hs(nwg);   // == HS

  var q: array<f32, HS>;
  var acc: array<f32, HS>;   // sum_s exp(s_ts - m) v_s, rescaled whenever the running max m grows
  let qb = qkv_base(b, t, h);
  for (var i = 0u; i < hs; i++) { q[i] = qkv[qb + i]; }

  // online softmax over keys s = 0 .. t; key 0 always exists, so start from it (no -inf needed)
  var m = 0.0;   // running max of the scores
  var l = 0.0;   // running sum of exp(score - m)
  for (var s = 0u; s <= t; s++) {
    let kb = qkv_base(b, s, h) + C;
    var score = 0.0;
    for (var i = 0u; i < hs; i++) { score = fma(q[i], qkv[kb + i], score); }
    score *= SCALE;
    if (s == 0u) {
      m = score;
    } else if (score > m) {
      let corr = exp(m - score);
      l *= corr;
      for (var i = 0u; i < hs; i++) { acc[i] *= corr; }
      m = score;
    }
    let p = exp(score - m);
    l += p;
    let vb = kb + C;
    for (var i = 0u; i < hs; i++) { acc[i] = fma(p, qkv[vb + i], acc[i]); }
  }

  let ob = (b * T + t) * C + h * HS;
  let inv = 1.0 / l;
  for (var i = 0u; i < hs; i++) { att_out[ob + i] = acc[i] * inv; }
  lse_out[row] = m + log(l);
}

// ---------------------------------------------------------------- backward
// Both backward entry points use these bindings; the dq pass writes channels [0, C) of each dqkv
// row, the dkv pass channels [C, 3C), so the two dispatches never touch the same element.
@group(0) @binding(0) var<storage, read_write> dqkv: array<f32>;  // (B, T, 3C)
@group(0) @binding(1) var<storage, read> dout: array<f32>;        // (B, T, C)
@group(0) @binding(2) var<storage, read> qkv_in: array<f32>;      // (B, T, 3C)
@group(0) @binding(3) var<storage, read> out_in: array<f32>;      // (B, T, C)
@group(0) @binding(4) var<storage, read> lse_in: array<f32>;      // (B, NH, T)

// One invocation per query row (b, h, t): dq_t += scale * sum_{s<=t} dS_ts k_s.
@compute @workgroup_size(64)
fn attention_backward_dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                         @builtin(local_invocation_index) lid: u32) {
  let row = wg_linear(wid, nwg) * WG + lid;
  if (row >= B * NH * T) { return; }
  let t = row % T;
  let bh = row / T;
  let h = bh % NH;
  let b = bh / NH;
  let C = NH * HS;
  let hs = runtime_hs(nwg);   // == HS

  var q: array<f32, HS>;
  var dO: array<f32, HS>;
  var dq: array<f32, HS>;
  let qb = qkv_base(b, t, h);
  let ob = (b * T + t) * C + h * HS;
  var D = 0.0;   // dout_t . out_t
  for (var i = 0u; i < hs; i++) {
    q[i] = qkv_in[qb + i];
    dO[i] = dout[ob + i];
    D = fma(dO[i], out_in[ob + i], D);
  }
  let L = lse_in[row];

  for (var s = 0u; s <= t; s++) {
    let kb = qkv_base(b, s, h) + C;
    let vb = kb + C;
    var score = 0.0;
    var dp = 0.0;   // dout_t . v_s
    for (var i = 0u; i < hs; i++) {
      score = fma(q[i], qkv_in[kb + i], score);
      dp = fma(dO[i], qkv_in[vb + i], dp);
    }
    let p = exp(SCALE * score - L);
    let ds = p * (dp - D);
    for (var i = 0u; i < hs; i++) { dq[i] = fma(ds, qkv_in[kb + i], dq[i]); }
  }

  for (var i = 0u; i < hs; i++) { dqkv[qb + i] += SCALE * dq[i]; }
}

// One invocation per key row (b, h, s): dk_s += scale * sum_{t>=s} dS_ts q_t, dv_s += sum P_ts dout_t.
@compute @workgroup_size(64)
fn attention_backward_dkv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
  let row = wg_linear(wid, nwg) * WG + lid;
  if (row >= B * NH * T) { return; }
  let s = row % T;
  let bh = row / T;
  let h = bh % NH;
  let b = bh / NH;
  let C = NH * HS;
  let hs = runtime_hs(nwg);   // == HS

  var k: array<f32, HS>;
  var v: array<f32, HS>;
  var dk: array<f32, HS>;
  var dv: array<f32, HS>;
  let kb = qkv_base(b, s, h) + C;
  let vb = kb + C;
  for (var i = 0u; i < hs; i++) {
    k[i] = qkv_in[kb + i];
    v[i] = qkv_in[vb + i];
  }

  for (var t = s; t < T; t++) {
    let qb = qkv_base(b, t, h);
    let ob = (b * T + t) * C + h * HS;
    var score = 0.0;
    var dp = 0.0;   // dout_t . v_s
    var D = 0.0;    // dout_t . out_t, recomputed here instead of kept in a scratch buffer
    for (var i = 0u; i < hs; i++) {
      let d = dout[ob + i];
      score = fma(qkv_in[qb + i], k[i], score);
      dp = fma(d, v[i], dp);
      D = fma(d, out_in[ob + i], D);
    }
    let p = exp(SCALE * score - lse_in[bh * T + t]);
    let ds = p * (dp - D);
    for (var i = 0u; i < hs; i++) {
      dk[i] = fma(ds, qkv_in[qb + i], dk[i]);
      dv[i] = fma(p, dout[ob + i], dv[i]);
    }
  }

  for (var i = 0u; i < hs; i++) {
    dqkv[kb + i] += SCALE * dk[i];
    dqkv[vb + i] += dv[i];
  }
}

// ---------------------------------------------------------------- decode (generation, B = 1)
// One new query at position pos (read from decode_pos) against a KV cache (T_max, 3C) laid out
// like the training qkv activation (q | k | v per row). The caller writes the new token's qkv row
// into the cache at `pos` first. One invocation per head: online softmax over keys 0..pos; the
// future (rows > pos, stale or unwritten) is never read.
@group(0) @binding(0) var<storage, read_write> dec_out: array<f32>;  // (C)
@group(0) @binding(1) var<storage, read> kv_cache: array<f32>;       // (T_max, 3C)
@group(0) @binding(2) var<storage, read> decode_pos: array<u32>;     // (1)

@compute @workgroup_size(64)
fn attention_decode(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let h = gid.x;
  if (h >= NH) { return; }
  let hs = runtime_hs(nwg);
  let C = NH * HS;
  let pos = decode_pos[0];
  let q_off = pos * 3u * C + h * HS;
  var acc: array<f32, HS>;
  var m = -3.4e38;
  var l = 0.0;
  for (var s = 0u; s <= pos; s++) {
    let k_off = s * 3u * C + C + h * HS;
    var dot = 0.0;
    for (var i = 0u; i < hs; i++) { dot += kv_cache[q_off + i] * kv_cache[k_off + i]; }
    let score = dot * SCALE;
    let m_new = max(m, score);
    let corr = exp(m - m_new);
    let p = exp(score - m_new);
    l = l * corr + p;
    let v_off = s * 3u * C + 2u * C + h * HS;
    for (var i = 0u; i < hs; i++) { acc[i] = acc[i] * corr + p * kv_cache[v_off + i]; }
    m = m_new;
  }
  for (var i = 0u; i < hs; i++) { dec_out[h * HS + i] = acc[i] / l; }
}
