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
// All three kernels run one invocation per output element, 256 per workgroup, folded into (x, y)
// past 65535 workgroups (wg_linear).

override B: u32;
override T: u32;
override C: u32;
override V: u32;

const WG: u32 = 256u;

// embedding_forward
@group(0) @binding(0) var<storage, read_write> out: array<f32>;   // (B,T,C)
@group(0) @binding(1) var<storage, read> ids: array<i32>;         // (B,T)
@group(0) @binding(2) var<storage, read> wte: array<f32>;         // (V,C)
@group(0) @binding(3) var<storage, read> wpe: array<f32>;         // (maxT,C)

// embedding_backward_wte (slot 0) and embedding_backward_wpe (slot 0); dout shared
@group(0) @binding(0) var<storage, read_write> dwte: array<f32>;          // (V,C)
@group(0) @binding(0) var<storage, read_write> dwpe: array<f32>;          // (maxT,C)
@group(0) @binding(1) var<storage, read> dout: array<f32>;                // (B,T,C)
@group(0) @binding(2) var<storage, read> bucket_token: array<u32>;        // (B*T)
@group(0) @binding(3) var<storage, read> bucket_start: array<u32>;        // (B*T+1)
@group(0) @binding(4) var<storage, read> bucket_pos: array<u32>;          // (B*T)

@compute @workgroup_size(256)
fn embedding_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let i = wg_linear(wid, nwg) * WG + lid;  // flat (b,t,c)
  if (i >= B * T * C) { return; }
  let bt = i / C;
  let c = i % C;
  let t = bt % T;
  // Ids are validated on the host; clamping only keeps a bad id from reading out of bounds.
  let token = u32(clamp(ids[bt], 0, i32(V) - 1));
  out[i] = wte[token * C + c] + wpe[t * C + c];
}

@compute @workgroup_size(256)
fn embedding_backward_wte(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
  let i = wg_linear(wid, nwg) * WG + lid;  // flat (bucket, c)
  let u = i / C;
  let c = i % C;
  if (u >= B * T) { return; }
  let token = bucket_token[u];
  if (token >= V) { return; }  // past the last bucket
  var sum = 0.0;
  for (var k = bucket_start[u]; k < bucket_start[u + 1u]; k++) {
    sum += dout[bucket_pos[k] * C + c];
  }
  dwte[token * C + c] += sum;
}

@compute @workgroup_size(256)
fn embedding_backward_wpe(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
  let i = wg_linear(wid, nwg) * WG + lid;  // flat (t,c)
  if (i >= T * C) { return; }
  var sum = 0.0;
  for (var b = 0u; b < B; b++) {
    sum += dout[b * T * C + i];
  }
  dwpe[i] += sum;
}
