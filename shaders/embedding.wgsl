// embedding.wgsl: token + position embedding, forward and backward.
//
//   embedding_forward        out  (B,T,C)      = wte[ids[b,t]] + wpe[t]
//   embedding_backward_wte   dwte (V,C)       += sum of dout rows at the positions holding each token
//   embedding_backward_wpe   dwpe (maxT,C)    += sum over b of dout[b,t]   (rows t < T)
//
// Shapes: ids (B,T) i32, wte (V,C), wpe (maxT,C) with T <= maxT, out/dout (B,T,C).
//
// Backward to wte without float atomics (llm.c's way): the token ids are known on the host, so the
// host groups the B*T positions by token id into buckets (EmbeddingBackwardPlan in
// src/kernels/embedding.ts) and uploads them:
//   bucket_token (B*T)    token id of bucket u, for u < U (number of distinct tokens); V beyond
//   bucket_start (B*T+1)  bucket u's positions are bucket_pos[bucket_start[u] .. bucket_start[u+1])
//   bucket_pos   (B*T)    flat positions b*T+t, grouped by bucket, ascending within a bucket
// One invocation per (bucket, channel) sums its bucket's dout rows in position order and adds the
// sum to dwte: each dwte element is written by at most one invocation, and the order of the sum is
// fixed, so the result is deterministic.
//
// All three kernels run one invocation per output unit: 4 channels (a vec4) when C % 4 == 0
// (template define VEC4: on CPU adapters a vec4 storage load costs about one scalar load),
// otherwise one channel; 256 per workgroup, folded into (x, y) past 65535 workgroups (wg_linear).
// Sizes come from a uniform buffer (c4 = channels per row in units), so one pipeline serves every
// shape.

struct Dims {
  b: u32,
  t: u32,
  c4: u32,  // units per row: C / 4 when VEC4, else C
  v: u32,
}

const WG: u32 = 256u;

#if ${VEC4}
alias F = vec4<f32>;
#else
alias F = f32;
#endif

// embedding_forward
@group(0) @binding(0) var<storage, read_write> out: array<F>;   // (B,T,C)
@group(0) @binding(1) var<storage, read> ids: array<i32>;       // (B,T)
@group(0) @binding(2) var<storage, read> wte: array<F>;         // (V,C)
@group(0) @binding(3) var<storage, read> wpe: array<F>;         // (maxT,C)
@group(0) @binding(4) var<uniform> fw: Dims;

// embedding_backward_wte (slot 0) and embedding_backward_wpe (slot 0); dout shared
@group(0) @binding(0) var<storage, read_write> dwte: array<F>;            // (V,C)
@group(0) @binding(0) var<storage, read_write> dwpe: array<F>;            // (maxT,C)
@group(0) @binding(1) var<storage, read> dout: array<F>;                  // (B,T,C)
@group(0) @binding(2) var<storage, read> bucket_token: array<u32>;        // (B*T)
@group(0) @binding(3) var<storage, read> bucket_start: array<u32>;        // (B*T+1)
@group(0) @binding(4) var<storage, read> bucket_pos: array<u32>;          // (B*T)
@group(0) @binding(5) var<uniform> bw: Dims;                              // embedding_backward_wte
@group(0) @binding(2) var<uniform> bp: Dims;                              // embedding_backward_wpe

@compute @workgroup_size(256)
fn embedding_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let C4 = fw.c4;
  let i = wg_linear(wid, nwg) * WG + lid;  // flat (b,t,c4)
  if (i >= fw.b * fw.t * C4) { return; }
  let bt = i / C4;
  let c = i % C4;
  let t = bt % fw.t;
  // Ids are validated on the host; clamping only keeps a bad id from reading out of bounds.
  let token = u32(clamp(ids[bt], 0, i32(fw.v) - 1));
  out[i] = wte[token * C4 + c] + wpe[t * C4 + c];
}

@compute @workgroup_size(256)
fn embedding_backward_wte(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
  let C4 = bw.c4;
  let i = wg_linear(wid, nwg) * WG + lid;  // flat (bucket, c4)
  let u = i / C4;
  let c = i % C4;
  if (u >= bw.b * bw.t) { return; }
  let token = bucket_token[u];
  if (token >= bw.v) { return; }  // past the last bucket
  var sum = F(0.0);
  for (var k = bucket_start[u]; k < bucket_start[u + 1u]; k++) {
    sum += dout[bucket_pos[k] * C4 + c];
  }
  dwte[token * C4 + c] += sum;
}

@compute @workgroup_size(256)
fn embedding_backward_wpe(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
  let i = wg_linear(wid, nwg) * WG + lid;  // flat (t,c4)
  let TC = bp.t * bp.c4;
  if (i >= TC) { return; }
  var sum = F(0.0);
  for (var b = 0u; b < bp.b; b++) {
    sum += dout[b * TC + i];
  }
  dwpe[i] += sum;
}
