// residual.wgsl: the residual connection, forward and backward.
//
//   residual_forward    out (N)  = a + b
//   residual_backward   da  (N) += dout,   db (N) += dout
//
// N is the element count of any shape ((B,T,C) in the model). One invocation per element,
// 256 per workgroup, folded into (x, y) past 65535 workgroups (wg_linear).

override N: u32;

const WG: u32 = 256u;

// residual_forward
@group(0) @binding(0) var<storage, read_write> out: array<f32>;  // (N)
@group(0) @binding(1) var<storage, read> a: array<f32>;          // (N)
@group(0) @binding(2) var<storage, read> b: array<f32>;          // (N)

// residual_backward (reuses slots 0..2)
@group(0) @binding(0) var<storage, read_write> da: array<f32>;   // (N)
@group(0) @binding(1) var<storage, read_write> db: array<f32>;   // (N)
@group(0) @binding(2) var<storage, read> dout: array<f32>;       // (N)

@compute @workgroup_size(256)
fn residual_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let i = wg_linear(wid, nwg) * WG + lid;
  if (i >= N) { return; }
  out[i] = a[i] + b[i];
}

@compute @workgroup_size(256)
fn residual_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let i = wg_linear(wid, nwg) * WG + lid;
  if (i >= N) { return; }
  let d = dout[i];
  da[i] += d;
  db[i] += d;
}
