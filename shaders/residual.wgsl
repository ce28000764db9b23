// residual.wgsl: the residual connection, forward and backward.
//
//   residual_forward    out (N)  = a + b
//   residual_backward   da  (N) += dout,   db (N) += dout
//
// N is the element count of any shape ((B,T,C) in the model). When N % 4 == 0 (template define
// VEC4) the tensors are bound as arrays of vec4, one invocation per 4 elements; otherwise one per
// element. n (the number of units) comes from a uniform buffer: one pipeline serves every size.
// 256 invocations per workgroup, folded into (x, y) past 65535 workgroups (wg_linear).

const WG: u32 = 256u;

#if ${VEC4}
alias F = vec4<f32>;
#else
alias F = f32;
#endif

struct Dims {
  n: u32,   // number of F units
}

// residual_forward
@group(0) @binding(0) var<storage, read_write> out: array<F>;  // (N)
@group(0) @binding(1) var<storage, read> a: array<F>;          // (N)
@group(0) @binding(2) var<storage, read> b: array<F>;          // (N)
@group(0) @binding(3) var<uniform> sizes: Dims;

// residual_backward (reuses slots 0..3)
@group(0) @binding(0) var<storage, read_write> da: array<F>;   // (N)
@group(0) @binding(1) var<storage, read_write> db: array<F>;   // (N)
@group(0) @binding(2) var<storage, read> dout: array<F>;       // (N)

@compute @workgroup_size(256)
fn residual_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let i = wg_linear(wid, nwg) * WG + lid;
  if (i >= sizes.n) { return; }
  out[i] = a[i] + b[i];
}

@compute @workgroup_size(256)
fn residual_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let i = wg_linear(wid, nwg) * WG + lid;
  if (i >= sizes.n) { return; }
  let d = dout[i];
  da[i] += d;
  db[i] += d;
}
