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
// Keys s > t contribute exactly nothing (they are selected out, never added as a masked -inf; see
// the design notes below).
//
// backward (dqkv +=), recomputing P from the saved lse instead of storing the (T, T) matrix:
//   P_ts  = exp(scale * q_t . k_s - lse_t)
//   D_t   = dout_t . out_t
//   dS_ts = P_ts * (dout_t . v_s - D_t)
//   dq_t += scale * sum_{s<=t} dS_ts k_s        attention_backward_dq:  per query row; also stores D_t
//   dk_s += scale * sum_{t>=s} dS_ts q_t        attention_backward_dkv: per key row, reads D_t
//   dv_s += sum_{t>=s} P_ts dout_t
// Each output row is written by one invocation, so the sums run in a fixed order: deterministic,
// no atomics. Memory is O(B*T*C) plus D (B, NH, T): nothing of size T*T is ever stored.
//
// Design (barrier-free; software adapters such as lavapipe and SwiftShader are very slow with
// workgroupBarrier), shaped by what costs on lavapipe: every memory access inside a loop (a
// storage load, or a private array indexed by a loop variable) is paid per SIMD lane with a few
// instructions per element, while arithmetic on registers is cheap. So:
//   - One invocation owns a group of QR = 4 rows on CPU adapters (query rows in the forward and dq passes, key
//     rows in the dkv pass) of one (b, h) and walks the other side (keys, or queries) KB = 4 at a
//     time: the QR x 4 tile of scores (and P, dS) is held in registers, and each loaded key /
//     value (query / dout) vec4 serves all QR rows. The rows' own vectors (q, the output
//     accumulator, ...) live in private arrays indexed [row * HS4 + i].
//   - A head's channels are handled 4 at a time as vec4: HS4 = ceil(HS / 4) vec4s per head
//     vector (template define; a private array's length must be a const-expression). When
//     HS % 4 == 0 (template define VEC4) q, k, v, out and dout are bound as arrays of vec4;
//     otherwise (odd head sizes) read element by element into zero-padded vec4s.
//   - QR is a template define too: 1 on GPUs, where B*NH*T invocations are needed to fill the
//     chip (and smaller private arrays spill less); fewer than 4 for large heads anywhere (the dkv
//     pass keeps 4 * QR head vectors in private memory, which WGSL caps at 8 KiB).
//   - Causality inside a 4 x 4 tile: past the group's last row, indices are clamped to it (the
//     future is never read); a key after a row is selected out of that row's max, weight and sums
//     (`select`, never a multiply, so a NaN there cannot leak in).
//   - Sizes (B, T, NH, scale) come from a uniform buffer: one pipeline per head size serves every
//     B and T.
//   - Where the device has subgroups of at least 8 lanes and is a CPU adapter (lavapipe), the
//     row-per-lane kernels at the end of this file (`*_sg`, module define SUBGROUPS) replace
//     these three for heads up to 128: no private array indexed by a loop variable at all; there the forward runs
//     1.2-1.5x and the backward 2-5x faster, and they compile 2-3x faster (bench/README.md;
//     src/kernels/attention.ts picks).
//
// Arrays declared inside a loop are initialised explicitly (`= array<...>()`): on Dawn + lavapipe a
// `var a: array<...>;` in a loop body kept its values from the previous iteration (WGSL says it
// is zeroed at each declaration).
//
// Rows are numbered row = (b * NH + h) * T + t, the layout of lse; dispatches of more than 65535
// workgroups are folded with gpu.grid() and recovered with wg_linear().

const HS: u32 = ${HS}u;       // head size (template define)
const HS4: u32 = ${HS4}u;     // ceil(HS / 4): vec4s per head vector (template define)
const QR: u32 = ${QR}u;       // rows per invocation: 4 on CPU adapters, 1 on GPUs, fewer for large heads (template define)
const WG: u32 = 64u;
const KB: u32 = 4u;           // keys (or queries) per block of the inner loops
const LOWEST: f32 = -3.402823466e38;

// acc + w.x * x0 + w.y * x1 + w.z * x2 + w.w * x3, fused, in that order: one row of a 4 x 4 tile
// (4 weights of a row times the 4 loaded vectors of a block) added to that row's accumulator.
fn fma4(w: vec4<f32>, x0: vec4<f32>, x1: vec4<f32>, x2: vec4<f32>, x3: vec4<f32>, acc: vec4<f32>) -> vec4<f32> {
  var a = fma(vec4<f32>(w.x), x0, acc);
  a = fma(vec4<f32>(w.y), x1, a);
  a = fma(vec4<f32>(w.z), x2, a);
  return fma(vec4<f32>(w.w), x3, a);
}

// HS4 as a value the compiler cannot constant-fold (num_workgroups is never 0 in a dispatch that
// runs), so the channel loops are not unrolled: with constant trip counts, LLVM-based software
// adapters unroll them and then take seconds to minutes per pipeline (lavapipe: 100 s for the
// backward at HS = 64).
fn runtime_hs4(nwg: vec3<u32>) -> u32 {
  return select(HS4, 0u, nwg.z == 0u);
}

struct Dims {
  b: u32,
  t: u32,
  nh: u32,
  scale: f32,  // 1 / sqrt(HS)
}

// ---------------------------------------------------------------- forward
// 0 out (B,T,C) rw   1 lse (B,NH,T) rw   2 qkv (B,T,3C)   3 dims
@group(0) @binding(1) var<storage, read_write> lse_out: array<f32>;  // (B, NH, T)
@group(0) @binding(3) var<uniform> fw: Dims;
#if ${VEC4}
@group(0) @binding(0) var<storage, read_write> att_out: array<vec4<f32>>;  // (B, T, C)
@group(0) @binding(2) var<storage, read> qkv: array<vec4<f32>>;            // (B, T, 3C)
// vec4 i of the head vector starting at element `base` (a multiple of 4)
fn qkv4(base: u32, i: u32) -> vec4<f32> { return qkv[(base >> 2u) + i]; }
fn out_store(base: u32, i: u32, v: vec4<f32>) { att_out[(base >> 2u) + i] = v; }
#else
@group(0) @binding(0) var<storage, read_write> att_out: array<f32>;  // (B, T, C)
@group(0) @binding(2) var<storage, read> qkv: array<f32>;            // (B, T, 3C)
fn qkv4(base: u32, i: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var q = 0u; q < 4u; q++) { if (4u * i + q < HS) { v[q] = qkv[base + 4u * i + q]; } }
  return v;
}
fn out_store(base: u32, i: u32, v: vec4<f32>) {
  for (var q = 0u; q < 4u; q++) { if (4u * i + q < HS) { att_out[base + 4u * i + q] = v[q]; } }
}
#endif

// One invocation per group of QR query rows t0 .. t0 + QR - 1 of one (b, h): online softmax over
// keys 0 .. t, KB = 4 keys at a time; the QR x 4 scores of a block live in registers, and each
// loaded key / value vec4 serves all QR rows.
@compute @workgroup_size(64)
fn attention_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let T = fw.t;
  let NH = fw.nh;
  let TG = (T + QR - 1u) / QR;   // row groups per (b, h)
  let inv = wg_linear(wid, nwg) * WG + lid;
  if (inv >= fw.b * NH * TG) { return; }
  let t0 = (inv % TG) * QR;
  let bh = inv / TG;
  let h = bh % NH;
  let b = bh / NH;
  let C = NH * HS;
  let C3 = 3u * C;
  let hs4 = runtime_hs4(nwg);         // == HS4
  let tlast = min(t0 + QR - 1u, T - 1u);  // the group's last row that exists
  let k0 = b * T * C3 + C + h * HS;   // head h's key at position 0; its value follows at +C

  var q: array<vec4<f32>, QR * HS4>;    // q[r * HS4 + i]: vec4 i of row t0 + r, times scale
  var acc: array<vec4<f32>, QR * HS4>;  // sum_s exp(s_ts - m) v_s per row
  for (var r = 0u; r < QR; r++) {
    let qb = (b * T + min(t0 + r, tlast)) * C3 + h * HS;
    for (var i = 0u; i < hs4; i++) { q[r * HS4 + i] = qkv4(qb, i) * fw.scale; }
  }

  // keys past the group's last row are clamped to it (never reading the future); per row, keys
  // after the row are selected out (their weight is exactly 0 and they never touch the sums)
  var m = vec4<f32>(LOWEST);  // running max of the scores, per row
  var l = vec4<f32>(0.0);     // running sum of exp(score - m), per row
  for (var s0 = 0u; s0 <= tlast; s0 += KB) {
    let kb = k0 + vec4<u32>(min(s0, tlast), min(s0 + 1u, tlast), min(s0 + 2u, tlast), min(s0 + 3u, tlast)) * C3;
    var sc = array<vec4<f32>, QR>();  // sc[r][j] = q_(t0+r) . k_(s0+j)
    for (var i = 0u; i < hs4; i++) {
      let k_0 = qkv4(kb.x, i);
      let k_1 = qkv4(kb.y, i);
      let k_2 = qkv4(kb.z, i);
      let k_3 = qkv4(kb.w, i);
      for (var r = 0u; r < QR; r++) {
        let qi = q[r * HS4 + i];
        sc[r] += vec4<f32>(dot(qi, k_0), dot(qi, k_1), dot(qi, k_2), dot(qi, k_3));
      }
    }
    var p = array<vec4<f32>, QR>();
    var valid: array<vec4<bool>, QR>;
    var corr = vec4<f32>(1.0);
    for (var r = 0u; r < QR; r++) {
      valid[r] = vec4<u32>(s0, s0 + 1u, s0 + 2u, s0 + 3u) <= vec4<u32>(t0 + r);
      let x = select(vec4<f32>(LOWEST), sc[r], valid[r]);
      let m_new = max(m[r], max(max(x.x, x.y), max(x.z, x.w)));
      corr[r] = exp(m[r] - m_new);
      p[r] = select(vec4<f32>(0.0), exp(x - m_new), valid[r]);
      l[r] = l[r] * corr[r] + (p[r].x + p[r].y) + (p[r].z + p[r].w);
      m[r] = m_new;
    }
    for (var i = 0u; i < hs4; i++) {
      let v_0 = qkv4(kb.x + C, i);
      let v_1 = qkv4(kb.y + C, i);
      let v_2 = qkv4(kb.z + C, i);
      let v_3 = qkv4(kb.w + C, i);
      for (var r = 0u; r < QR; r++) {
        var a = acc[r * HS4 + i] * corr[r];
        a = select(a, fma(vec4<f32>(p[r].x), v_0, a), valid[r].x);
        a = select(a, fma(vec4<f32>(p[r].y), v_1, a), valid[r].y);
        a = select(a, fma(vec4<f32>(p[r].z), v_2, a), valid[r].z);
        a = select(a, fma(vec4<f32>(p[r].w), v_3, a), valid[r].w);
        acc[r * HS4 + i] = a;
      }
    }
  }

  for (var r = 0u; r < QR; r++) {
    let t = t0 + r;
    if (t < T) {
      let ob = (b * T + t) * C + h * HS;
      let inv_l = 1.0 / l[r];
      for (var i = 0u; i < hs4; i++) { out_store(ob, i, acc[r * HS4 + i] * inv_l); }
      lse_out[bh * T + t] = m[r] + log(l[r]);
    }
  }
}

// ---------------------------------------------------------------- backward
//   attention_backward_dq    0 dqkv (B,T,3C) rw  1 dout (B,T,C)  2 qkv (B,T,3C)  3 out (B,T,C)
//                            4 lse (B,NH,T)      5 D (B,NH,T) rw  6 dims
//   attention_backward_dkv   0 dqkv (B,T,3C) rw  1 dout (B,T,C)  2 qkv (B,T,3C)
//                            3 lse (B,NH,T)      4 D (B,NH,T)     5 dims
// The dq pass writes channels [0, C) of each dqkv row and D, the dkv pass channels [C, 3C) and
// reads D, so the two dispatches never touch the same dqkv element.
#if ${VEC4}
@group(0) @binding(0) var<storage, read_write> dqkv: array<vec4<f32>>;  // (B, T, 3C)
@group(0) @binding(1) var<storage, read> dout: array<vec4<f32>>;        // (B, T, C)
@group(0) @binding(2) var<storage, read> qkv_in: array<vec4<f32>>;      // (B, T, 3C)
@group(0) @binding(3) var<storage, read> out_in: array<vec4<f32>>;      // (B, T, C)
fn qkv_in4(base: u32, i: u32) -> vec4<f32> { return qkv_in[(base >> 2u) + i]; }
fn dout4(base: u32, i: u32) -> vec4<f32> { return dout[(base >> 2u) + i]; }
fn out_in4(base: u32, i: u32) -> vec4<f32> { return out_in[(base >> 2u) + i]; }
fn dqkv_add(base: u32, i: u32, v: vec4<f32>) { dqkv[(base >> 2u) + i] += v; }
#else
@group(0) @binding(0) var<storage, read_write> dqkv: array<f32>;  // (B, T, 3C)
@group(0) @binding(1) var<storage, read> dout: array<f32>;        // (B, T, C)
@group(0) @binding(2) var<storage, read> qkv_in: array<f32>;      // (B, T, 3C)
@group(0) @binding(3) var<storage, read> out_in: array<f32>;      // (B, T, C)
fn qkv_in4(base: u32, i: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var q = 0u; q < 4u; q++) { if (4u * i + q < HS) { v[q] = qkv_in[base + 4u * i + q]; } }
  return v;
}
fn dout4(base: u32, i: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var q = 0u; q < 4u; q++) { if (4u * i + q < HS) { v[q] = dout[base + 4u * i + q]; } }
  return v;
}
fn out_in4(base: u32, i: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var q = 0u; q < 4u; q++) { if (4u * i + q < HS) { v[q] = out_in[base + 4u * i + q]; } }
  return v;
}
fn dqkv_add(base: u32, i: u32, v: vec4<f32>) {
  for (var q = 0u; q < 4u; q++) { if (4u * i + q < HS) { dqkv[base + 4u * i + q] += v[q]; } }
}
#endif

// attention_backward_dq only
@group(0) @binding(4) var<storage, read> lse_in: array<f32>;       // (B, NH, T)
@group(0) @binding(5) var<storage, read_write> d_out: array<f32>;  // (B, NH, T)
@group(0) @binding(6) var<uniform> bw: Dims;
// attention_backward_dkv only
@group(0) @binding(3) var<storage, read> kv_lse: array<f32>;       // (B, NH, T)
@group(0) @binding(4) var<storage, read> kv_d: array<f32>;         // (B, NH, T)
@group(0) @binding(5) var<uniform> kv: Dims;

// One invocation per group of QR query rows of one (b, h): dq_t += scale * sum_{s<=t} dS_ts k_s,
// and D_t = dout_t . out_t stored for the key pass. Keys KB = 4 at a time, as in the forward.
@compute @workgroup_size(64)
fn attention_backward_dq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                         @builtin(local_invocation_index) lid: u32) {
  let T = bw.t;
  let NH = bw.nh;
  let scale = bw.scale;
  let TG = (T + QR - 1u) / QR;
  let inv = wg_linear(wid, nwg) * WG + lid;
  if (inv >= bw.b * NH * TG) { return; }
  let t0 = (inv % TG) * QR;
  let bh = inv / TG;
  let h = bh % NH;
  let b = bh / NH;
  let C = NH * HS;
  let C3 = 3u * C;
  let hs4 = runtime_hs4(nwg);   // == HS4
  let tlast = min(t0 + QR - 1u, T - 1u);
  let k0 = b * T * C3 + C + h * HS;

  var q: array<vec4<f32>, QR * HS4>;   // rows t0 + r, times scale
  var dO: array<vec4<f32>, QR * HS4>;
  var dq: array<vec4<f32>, QR * HS4>;
  var D = vec4<f32>(0.0);   // dout_t . out_t per row
  var L = vec4<f32>(0.0);   // lse per row
  for (var r = 0u; r < QR; r++) {
    let t = min(t0 + r, tlast);
    let qb = (b * T + t) * C3 + h * HS;
    let ob = (b * T + t) * C + h * HS;
    var dd = vec4<f32>(0.0);
    for (var i = 0u; i < hs4; i++) {
      q[r * HS4 + i] = qkv_in4(qb, i) * scale;
      let d = dout4(ob, i);
      dO[r * HS4 + i] = d;
      dd = fma(d, out_in4(ob, i), dd);
    }
    D[r] = (dd.x + dd.y) + (dd.z + dd.w);
    L[r] = lse_in[bh * T + t];
    if (t0 + r < T) { d_out[bh * T + t0 + r] = D[r]; }
  }

  for (var s0 = 0u; s0 <= tlast; s0 += KB) {
    let kb = k0 + vec4<u32>(min(s0, tlast), min(s0 + 1u, tlast), min(s0 + 2u, tlast), min(s0 + 3u, tlast)) * C3;
    var sc = array<vec4<f32>, QR>();
    var dp = array<vec4<f32>, QR>();  // dp[r][j] = dout_(t0+r) . v_(s0+j)
    for (var i = 0u; i < hs4; i++) {
      let k_0 = qkv_in4(kb.x, i);
      let k_1 = qkv_in4(kb.y, i);
      let k_2 = qkv_in4(kb.z, i);
      let k_3 = qkv_in4(kb.w, i);
      let v_0 = qkv_in4(kb.x + C, i);
      let v_1 = qkv_in4(kb.y + C, i);
      let v_2 = qkv_in4(kb.z + C, i);
      let v_3 = qkv_in4(kb.w + C, i);
      for (var r = 0u; r < QR; r++) {
        let qi = q[r * HS4 + i];
        let di = dO[r * HS4 + i];
        sc[r] += vec4<f32>(dot(qi, k_0), dot(qi, k_1), dot(qi, k_2), dot(qi, k_3));
        dp[r] += vec4<f32>(dot(di, v_0), dot(di, v_1), dot(di, v_2), dot(di, v_3));
      }
    }
    var ds = array<vec4<f32>, QR>();
    for (var r = 0u; r < QR; r++) {
      let valid = vec4<u32>(s0, s0 + 1u, s0 + 2u, s0 + 3u) <= vec4<u32>(t0 + r);
      ds[r] = select(vec4<f32>(0.0), exp(sc[r] - L[r]) * (dp[r] - D[r]), valid);
    }
    for (var i = 0u; i < hs4; i++) {
      let k_0 = qkv_in4(kb.x, i);
      let k_1 = qkv_in4(kb.y, i);
      let k_2 = qkv_in4(kb.z, i);
      let k_3 = qkv_in4(kb.w, i);
      for (var r = 0u; r < QR; r++) {
        dq[r * HS4 + i] = fma4(ds[r], k_0, k_1, k_2, k_3, dq[r * HS4 + i]);
      }
    }
  }

  for (var r = 0u; r < QR; r++) {
    if (t0 + r < T) {
      let qb = (b * T + t0 + r) * C3 + h * HS;
      for (var i = 0u; i < hs4; i++) { dqkv_add(qb, i, scale * dq[r * HS4 + i]); }
    }
  }
}

// One invocation per group of QR key rows s0 .. s0 + QR - 1 of one (b, h):
// dk_s += scale * sum_{t>=s} dS_ts q_t, dv_s += sum_{t>=s} P_ts dout_t. Queries KB = 4 at a time
// (indices past T - 1 clamped, their weights selected to 0); the QR x 4 tile of P and dS lives in
// registers, and each loaded query / dout vec4 serves all QR keys.
@compute @workgroup_size(64)
fn attention_backward_dkv(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
  let T = kv.t;
  let NH = kv.nh;
  let scale = kv.scale;
  let TG = (T + QR - 1u) / QR;
  let inv = wg_linear(wid, nwg) * WG + lid;
  if (inv >= kv.b * NH * TG) { return; }
  let s0 = (inv % TG) * QR;
  let bh = inv / TG;
  let h = bh % NH;
  let b = bh / NH;
  let C = NH * HS;
  let C3 = 3u * C;
  let hs4 = runtime_hs4(nwg);   // == HS4
  let slast = min(s0 + QR - 1u, T - 1u);
  let q0 = b * T * C3 + h * HS;   // head h's query at position 0
  let o0 = b * T * C + h * HS;    // and its dout

  var k: array<vec4<f32>, QR * HS4>;   // keys s0 + j, times scale
  var v: array<vec4<f32>, QR * HS4>;
  var dk: array<vec4<f32>, QR * HS4>;
  var dv: array<vec4<f32>, QR * HS4>;
  for (var j = 0u; j < QR; j++) {
    let kb = (b * T + min(s0 + j, slast)) * C3 + C + h * HS;
    for (var i = 0u; i < hs4; i++) {
      k[j * HS4 + i] = qkv_in4(kb, i) * scale;
      v[j * HS4 + i] = qkv_in4(kb + C, i);
    }
  }

  let last = T - 1u;
  for (var t0 = s0; t0 < T; t0 += KB) {
    let tq = vec4<u32>(min(t0, last), min(t0 + 1u, last), min(t0 + 2u, last), min(t0 + 3u, last));
    let qb = q0 + tq * C3;
    let ob = o0 + tq * C;
    var sc = array<vec4<f32>, QR>();  // sc[j][x] = q_(t0+x) . k_(s0+j)
    var dp = array<vec4<f32>, QR>();  // dp[j][x] = dout_(t0+x) . v_(s0+j)
    for (var i = 0u; i < hs4; i++) {
      let q_0 = qkv_in4(qb.x, i);
      let q_1 = qkv_in4(qb.y, i);
      let q_2 = qkv_in4(qb.z, i);
      let q_3 = qkv_in4(qb.w, i);
      let o_0 = dout4(ob.x, i);
      let o_1 = dout4(ob.y, i);
      let o_2 = dout4(ob.z, i);
      let o_3 = dout4(ob.w, i);
      for (var j = 0u; j < QR; j++) {
        let ki = k[j * HS4 + i];
        let vi = v[j * HS4 + i];
        sc[j] += vec4<f32>(dot(q_0, ki), dot(q_1, ki), dot(q_2, ki), dot(q_3, ki));
        dp[j] += vec4<f32>(dot(o_0, vi), dot(o_1, vi), dot(o_2, vi), dot(o_3, vi));
      }
    }
    let rows = bh * T + tq;
    let L = vec4<f32>(kv_lse[rows.x], kv_lse[rows.y], kv_lse[rows.z], kv_lse[rows.w]);
    let D = vec4<f32>(kv_d[rows.x], kv_d[rows.y], kv_d[rows.z], kv_d[rows.w]);
    let t = vec4<u32>(t0, t0 + 1u, t0 + 2u, t0 + 3u);
    var p = array<vec4<f32>, QR>();
    var ds = array<vec4<f32>, QR>();
    for (var j = 0u; j < QR; j++) {
      let valid = (t <= vec4<u32>(last)) & (t >= vec4<u32>(s0 + j));
      p[j] = select(vec4<f32>(0.0), exp(sc[j] - L), valid);
      ds[j] = select(vec4<f32>(0.0), p[j] * (dp[j] - D), valid);
    }
    for (var i = 0u; i < hs4; i++) {
      let q_0 = qkv_in4(qb.x, i);
      let q_1 = qkv_in4(qb.y, i);
      let q_2 = qkv_in4(qb.z, i);
      let q_3 = qkv_in4(qb.w, i);
      let o_0 = dout4(ob.x, i);
      let o_1 = dout4(ob.y, i);
      let o_2 = dout4(ob.z, i);
      let o_3 = dout4(ob.w, i);
      for (var j = 0u; j < QR; j++) {
        dk[j * HS4 + i] = fma4(ds[j], q_0, q_1, q_2, q_3, dk[j * HS4 + i]);
        dv[j * HS4 + i] = fma4(p[j], o_0, o_1, o_2, o_3, dv[j * HS4 + i]);
      }
    }
  }

  for (var j = 0u; j < QR; j++) {
    if (s0 + j < T) {
      let kb = (b * T + s0 + j) * C3 + C + h * HS;
      for (var i = 0u; i < hs4; i++) {
        dqkv_add(kb, i, scale * dk[j * HS4 + i]);
        dqkv_add(kb + C, i, dv[j * HS4 + i]);
      }
    }
  }
}

// ---------------------------------------------------------------- decode (generation, B = 1)
// One new query at position pos (read from decode_pos) against a KV cache (T_max, 3C) laid out
// like the training qkv activation (q | k | v per row). The caller writes the new token's qkv row
// into the cache at `pos` first. One invocation per head: online softmax over keys 0..pos; the
// future (rows > pos, stale or unwritten) is never read. Element by element (one row per token).
// 0 out (C) rw   1 cache (T_max, 3C)   2 pos (1) u32   3 dims (B = 1, T = T_max, NH, scale)
@group(0) @binding(0) var<storage, read_write> dec_out: array<f32>;  // (C)
@group(0) @binding(1) var<storage, read> kv_cache: array<f32>;       // (T_max, 3C)
@group(0) @binding(2) var<storage, read> decode_pos: array<u32>;     // (1)
@group(0) @binding(3) var<uniform> dec: Dims;

@compute @workgroup_size(64)
fn attention_decode(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let h = gid.x;
  let NH = dec.nh;
  if (h >= NH) { return; }
  // HS as a value the compiler cannot fold, so the channel loops stay loops (fast compile)
  let hs = select(HS, 0u, nwg.z == 0u);
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
    let score = dot * dec.scale;
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

// ---------------------------------------------------------------- a row per lane (subgroups)
#if ${SUBGROUPS}
enable subgroups;

// The three training passes again, for adapters with subgroups of at least 8 lanes (lavapipe;
// module define SUBGROUPS). In the kernels above the inner loops walk a head vector vec4 by vec4
// and index the rows' private arrays with that loop's counter; on lavapipe each such access is
// emitted lane by lane, like a storage load, and those accesses were most of their run time.
// Here a workgroup is one subgroup of 8 lanes and each lane owns one row of an 8-row group of one
// (b, h): query rows in the forward and dq passes, key rows in the dkv pass. The other side is
// walked one vector at a time: lane l loads only vec4s l, l + 8, ... of it (CPL of them) and
// subgroupBroadcast from the 8 (constant) lanes hands every lane the whole vector, a register
// move instead of a load. The loops over a whole head vector (HV = 8 * CPL vec4s, zeros past
// HS4) have constant bounds, so every private array is indexed by constants and stays in
// registers; each lane then does exactly what one row of the kernels above does (its own row's
// softmax, no sums across lanes), with the same masking and clamping. The row loops that load a
// lane's own vectors and store its results run over r < 8 from a value the compiler cannot fold
// (as runtime_hs4), so they stay loops: unrolled, their loads and stores made lavapipe's LLVM
// compile of the forward 2.5x slower at HS = 64 (1.1 s against 0.42).
const LANES: u32 = 8u;    // lanes per subgroup used (the subgroup must have at least these)
const CPL: u32 = ${CPL}u; // vec4s of a head vector loaded per lane: ceil(HS4 / 8) (template define)
const HV: u32 = 8u * CPL; // vec4s of a head vector held whole in a lane

// vec4 j * 8 + l of a head vector (clamped: loads stay inside the head), and whether it exists
// (past HS4 it reads as zeros and is never stored)
fn lr_vec(l: u32, j: u32) -> u32 { return min(j * LANES + l, HS4 - 1u); }
fn lr_owns(l: u32, j: u32) -> bool { return j * LANES + l < HS4; }

// 8, as a value the compiler cannot fold (num_workgroups is never 0 in a dispatch that runs)
fn lr_rows(nwg: vec3<u32>) -> u32 { return select(LANES, 0u, nwg.z == 0u); }

// The rows a subgroup owns: rows r0 .. r0 + 7 (query rows, or key rows) of (b, h), rlast the last
// of them that exists; C and C3 = 3C, the row lengths of out and qkv. One per g < lr_groups(d).
struct LrGroup { r0: u32, rlast: u32, bh: u32, b: u32, h: u32, C: u32, C3: u32 }
fn lr_groups(d: Dims) -> u32 { return d.b * d.nh * ((d.t + LANES - 1u) / LANES); }
fn lr_group(d: Dims, g: u32) -> LrGroup {
  let TG = (d.t + LANES - 1u) / LANES;  // row groups per (b, h)
  let r0 = (g % TG) * LANES;
  let bh = g / TG;
  return LrGroup(r0, min(r0 + LANES - 1u, d.t - 1u), bh, bh / d.nh, bh % d.nh, d.nh * HS, 3u * d.nh * HS);
}

// lane l's vec4s of the head vector at `base`, one function per binding
fn lr_part_qkv(base: u32, l: u32, p: ptr<function, array<vec4<f32>, CPL>>) {
  for (var j = 0u; j < CPL; j++) { (*p)[j] = select(vec4<f32>(0.0), qkv4(base, lr_vec(l, j)), lr_owns(l, j)); }
}
fn lr_part_in(base: u32, l: u32, p: ptr<function, array<vec4<f32>, CPL>>) {
  for (var j = 0u; j < CPL; j++) { (*p)[j] = select(vec4<f32>(0.0), qkv_in4(base, lr_vec(l, j)), lr_owns(l, j)); }
}
fn lr_part_dout(base: u32, l: u32, p: ptr<function, array<vec4<f32>, CPL>>) {
  for (var j = 0u; j < CPL; j++) { (*p)[j] = select(vec4<f32>(0.0), dout4(base, lr_vec(l, j)), lr_owns(l, j)); }
}
fn lr_part_out(base: u32, l: u32, p: ptr<function, array<vec4<f32>, CPL>>) {
  for (var j = 0u; j < CPL; j++) { (*p)[j] = select(vec4<f32>(0.0), out_in4(base, lr_vec(l, j)), lr_owns(l, j)); }
}

// x = the whole head vector, from the lanes' parts p (lane c's p[j] is vec4 j * 8 + c)
fn lr_gather(p: ptr<function, array<vec4<f32>, CPL>>, x: ptr<function, array<vec4<f32>, HV>>) {
  for (var j = 0u; j < CPL; j++) {
    let v = (*p)[j];
    (*x)[8u * j] = subgroupBroadcast(v, 0u);
    (*x)[8u * j + 1u] = subgroupBroadcast(v, 1u);
    (*x)[8u * j + 2u] = subgroupBroadcast(v, 2u);
    (*x)[8u * j + 3u] = subgroupBroadcast(v, 3u);
    (*x)[8u * j + 4u] = subgroupBroadcast(v, 4u);
    (*x)[8u * j + 5u] = subgroupBroadcast(v, 5u);
    (*x)[8u * j + 6u] = subgroupBroadcast(v, 6u);
    (*x)[8u * j + 7u] = subgroupBroadcast(v, 7u);
  }
}

// x = lane r's whole vector a (the row-r result every lane then stores its part of)
fn lr_from(a: ptr<function, array<vec4<f32>, HV>>, r: u32, x: ptr<function, array<vec4<f32>, HV>>) {
  for (var i = 0u; i < HV; i++) { (*x)[i] = subgroupShuffle((*a)[i], r); }
}

// vec4 j * 8 + l of a whole vector x, for lane l (a select per lane: l is not a constant)
fn lr_pick(x: ptr<function, array<vec4<f32>, HV>>, j: u32, l: u32) -> vec4<f32> {
  var v = (*x)[8u * j];
  for (var c = 1u; c < LANES; c++) { v = select(v, (*x)[8u * j + c], l == c); }
  return v;
}

// dst = x where keep (the lane whose row x is)
fn lr_keep(dst: ptr<function, array<vec4<f32>, HV>>, x: ptr<function, array<vec4<f32>, HV>>, keep: bool) {
  for (var i = 0u; i < HV; i++) { (*dst)[i] = select((*dst)[i], (*x)[i], keep); }
}

// a . x, whole vectors
fn lr_dot(a: ptr<function, array<vec4<f32>, HV>>, x: ptr<function, array<vec4<f32>, HV>>) -> f32 {
  var d = vec4<f32>(0.0);
  for (var i = 0u; i < HV; i++) { d = fma((*a)[i], (*x)[i], d); }
  return (d.x + d.y) + (d.z + d.w);
}

// acc += w * x, whole vectors
fn lr_axpy(acc: ptr<function, array<vec4<f32>, HV>>, w: f32, x: ptr<function, array<vec4<f32>, HV>>) {
  for (var i = 0u; i < HV; i++) { (*acc)[i] = fma(vec4<f32>(w), (*x)[i], (*acc)[i]); }
}

@compute @workgroup_size(8)
fn attention_forward_sg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                        @builtin(subgroup_invocation_id) l: u32) {
  let g = wg_linear(wid, nwg);   // this subgroup's row group (the same in every lane)
  if (g >= lr_groups(fw)) { return; }
  let G = lr_group(fw, g);
  let T = fw.t;
  let k0 = G.b * T * G.C3 + G.C + G.h * HS;   // head h's key at position 0; its value follows at +C

  var p: array<vec4<f32>, CPL>;       // this lane's part of a vector
  var x: array<vec4<f32>, HV>;        // a whole vector
  var q: array<vec4<f32>, HV>;        // the lane's query (row G.r0 + l, clamped to G.rlast), times scale
  for (var r = 0u; r < lr_rows(nwg); r++) {
    lr_part_qkv((G.b * T + min(G.r0 + r, G.rlast)) * G.C3 + G.h * HS, l, &p);
    lr_gather(&p, &x);
    lr_keep(&q, &x, l == r);
  }
  for (var i = 0u; i < HV; i++) { q[i] *= fw.scale; }

  var acc: array<vec4<f32>, HV>;      // sum_s exp(s_ts - m) v_s
  var m = LOWEST;                     // running max of the scores
  var lsum = 0.0;                     // running sum of exp(score - m)
  // keys up to the group's last row (never past it); in each lane, keys after its row are
  // selected out (weight exactly 0, never touching the sums)
  for (var s = 0u; s <= G.rlast; s++) {
    let kb = k0 + s * G.C3;
    lr_part_qkv(kb, l, &p);
    lr_gather(&p, &x);
    let valid = s <= G.r0 + l;
    let sc = select(LOWEST, lr_dot(&q, &x), valid);
    let m_new = max(m, sc);
    let corr = exp(m - m_new);
    let w = select(0.0, exp(sc - m_new), valid);
    lsum = lsum * corr + w;
    m = m_new;
    lr_part_qkv(kb + G.C, l, &p);
    lr_gather(&p, &x);
    for (var i = 0u; i < HV; i++) { acc[i] = select(acc[i] * corr, fma(vec4<f32>(w), x[i], acc[i] * corr), valid); }
  }

  let inv_l = 1.0 / lsum;
  for (var i = 0u; i < HV; i++) { acc[i] *= inv_l; }
  for (var r = 0u; r < lr_rows(nwg); r++) {
    // every lane stores its part of row G.r0 + r's output (lane r's)
    lr_from(&acc, r, &x);
    if (G.r0 + r < T) {
      let ob = (G.b * T + G.r0 + r) * G.C + G.h * HS;
      for (var j = 0u; j < CPL; j++) {
        if (lr_owns(l, j)) { out_store(ob, lr_vec(l, j), lr_pick(&x, j, l)); }
      }
    }
  }
  if (G.r0 + l < T) { lse_out[G.bh * T + G.r0 + l] = m + log(lsum); }
}

@compute @workgroup_size(8)
fn attention_backward_dq_sg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                            @builtin(subgroup_invocation_id) l: u32) {
  let g = wg_linear(wid, nwg);   // this subgroup's row group (the same in every lane)
  if (g >= lr_groups(bw)) { return; }
  let G = lr_group(bw, g);
  let T = bw.t;
  let scale = bw.scale;
  let k0 = G.b * T * G.C3 + G.C + G.h * HS;

  var p: array<vec4<f32>, CPL>;
  var x: array<vec4<f32>, HV>;
  var y: array<vec4<f32>, HV>;
  var q: array<vec4<f32>, HV>;    // the lane's query row, times scale
  var dO: array<vec4<f32>, HV>;   // and its dout
  var D = 0.0;                    // dout_t . out_t
  for (var r = 0u; r < lr_rows(nwg); r++) {
    let rt = min(G.r0 + r, G.rlast);
    lr_part_in((G.b * T + rt) * G.C3 + G.h * HS, l, &p);
    lr_gather(&p, &x);
    lr_keep(&q, &x, l == r);
    lr_part_dout((G.b * T + rt) * G.C + G.h * HS, l, &p);
    lr_gather(&p, &x);
    lr_keep(&dO, &x, l == r);
    lr_part_out((G.b * T + rt) * G.C + G.h * HS, l, &p);
    lr_gather(&p, &y);
    D = select(D, lr_dot(&x, &y), l == r);
  }
  for (var i = 0u; i < HV; i++) { q[i] *= scale; }
  let row = G.bh * T + min(G.r0 + l, G.rlast);
  let L = lse_in[row];
  if (G.r0 + l < T) { d_out[row] = D; }

  var dq: array<vec4<f32>, HV>;
  for (var s = 0u; s <= G.rlast; s++) {
    let kb = k0 + s * G.C3;
    lr_part_in(kb, l, &p);
    lr_gather(&p, &x);        // k_s
    lr_part_in(kb + G.C, l, &p);
    lr_gather(&p, &y);        // v_s
    let valid = s <= G.r0 + l;
    let ds = select(0.0, exp(lr_dot(&q, &x) - L) * (lr_dot(&dO, &y) - D), valid);
    lr_axpy(&dq, ds, &x);
  }

  for (var i = 0u; i < HV; i++) { dq[i] *= scale; }
  for (var r = 0u; r < lr_rows(nwg); r++) {
    lr_from(&dq, r, &x);
    if (G.r0 + r < T) {
      let qb = (G.b * T + G.r0 + r) * G.C3 + G.h * HS;
      for (var j = 0u; j < CPL; j++) {
        if (lr_owns(l, j)) { dqkv_add(qb, lr_vec(l, j), lr_pick(&x, j, l)); }
      }
    }
  }
}

@compute @workgroup_size(8)
fn attention_backward_dkv_sg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                             @builtin(subgroup_invocation_id) l: u32) {
  let g = wg_linear(wid, nwg);   // this subgroup's row group (the same in every lane)
  if (g >= lr_groups(kv)) { return; }
  let G = lr_group(kv, g);
  let T = kv.t;
  let scale = kv.scale;
  let q0 = G.b * T * G.C3 + G.h * HS;   // head h's query at position 0
  let o0 = G.b * T * G.C + G.h * HS;    // and its dout

  var p: array<vec4<f32>, CPL>;
  var x: array<vec4<f32>, HV>;
  var y: array<vec4<f32>, HV>;
  var k: array<vec4<f32>, HV>;    // the lane's key row (G.r0 + l, clamped to G.rlast), times scale
  var v: array<vec4<f32>, HV>;    // and its value
  for (var r = 0u; r < lr_rows(nwg); r++) {
    let kb = (G.b * T + min(G.r0 + r, G.rlast)) * G.C3 + G.C + G.h * HS;
    lr_part_in(kb, l, &p);
    lr_gather(&p, &x);
    lr_keep(&k, &x, l == r);
    lr_part_in(kb + G.C, l, &p);
    lr_gather(&p, &x);
    lr_keep(&v, &x, l == r);
  }
  for (var i = 0u; i < HV; i++) { k[i] *= scale; }

  var dk: array<vec4<f32>, HV>;
  var dv: array<vec4<f32>, HV>;
  // queries from the group's first key on; in each lane, queries before its key are selected out
  for (var t = G.r0; t < T; t++) {
    lr_part_in(q0 + t * G.C3, l, &p);
    lr_gather(&p, &x);        // q_t
    lr_part_dout(o0 + t * G.C, l, &p);
    lr_gather(&p, &y);        // dout_t
    let valid = t >= G.r0 + l;
    let w = select(0.0, exp(lr_dot(&k, &x) - kv_lse[G.bh * T + t]), valid);
    let ds = select(0.0, w * (lr_dot(&v, &y) - kv_d[G.bh * T + t]), valid);
    lr_axpy(&dk, ds, &x);
    lr_axpy(&dv, w, &y);
  }

  for (var i = 0u; i < HV; i++) { dk[i] *= scale; }
  for (var r = 0u; r < lr_rows(nwg); r++) {
    if (G.r0 + r < T) {
      let kb = (G.b * T + G.r0 + r) * G.C3 + G.C + G.h * HS;
      lr_from(&dk, r, &x);
      lr_from(&dv, r, &y);
      for (var j = 0u; j < CPL; j++) {
        if (lr_owns(l, j)) {
          dqkv_add(kb, lr_vec(l, j), lr_pick(&x, j, l));
          dqkv_add(kb + G.C, lr_vec(l, j), lr_pick(&y, j, l));
        }
      }
    }
  }
}
#endif
