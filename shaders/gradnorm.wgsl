// gradnorm.wgsl: the squared global gradient norm, for gradient clipping, without readback.
//
//   gradnorm_partials   partials (P)  = (or +=) per-slice sums of grad^2 over one tensor (n)
//   gradnorm_sum        out (1)       = sum of partials (P), in a fixed order
//
// Two stages, deterministic: stage 1 runs exactly P invocations; invocation i sums g^2 over the
// strided slice i, i+P, i+2P, ... of one gradient tensor (neighbouring invocations read
// neighbouring elements). Several tensors accumulate into the same partials (ACCUMULATE for every
// tensor after the first). Stage 2 is one workgroup summing the P partials in a fixed order.
//
// The tensor length n is arrayLength(&grads) (the wrapper binds exactly the tensor's elements), so
// one pipeline serves tensors of every size; when it is a multiple of 4 (template define VEC4) the
// tensor is read as vec4s (strided slices of vec4s; on CPU adapters a vec4 load costs about one
// scalar load). P and whether to accumulate come from a uniform buffer.

struct Dims {
  p: u32,            // number of partials = stage-1 invocations (multiple of 256)
  accumulate: u32,   // 1: partials += instead of =
}

#if ${VEC4}
alias F = vec4<f32>;
fn sq(g: F) -> f32 { return dot(g, g); }
#else
alias F = f32;
fn sq(g: F) -> f32 { return g * g; }
#endif

// gradnorm_partials
@group(0) @binding(0) var<storage, read_write> partials: array<f32>;  // (P)
@group(0) @binding(1) var<storage, read> grads: array<F>;             // (n) any shape, flat
@group(0) @binding(2) var<uniform> sizes: Dims;

// gradnorm_sum (reuses slots 0..2)
@group(0) @binding(0) var<storage, read_write> out: array<f32>;       // (1)
@group(0) @binding(1) var<storage, read> partials_in: array<f32>;     // (P)

@compute @workgroup_size(256)
fn gradnorm_partials(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let P = sizes.p;
  if (i >= P) { return; }
  let n = arrayLength(&grads);
  var sum = 0.0;
  for (var k = i; k < n; k += P) { sum += sq(grads[k]); }
  if (sizes.accumulate != 0u) { sum = partials[i] + sum; }
  partials[i] = sum;
}

// Stage 2: one workgroup. Invocation i sums partials i, i + 256, ... in order, then invocation 0
// adds the 256 sums in order (deterministic). One invocation summing all P partials serially
// took about 1 ms on an H100 (P dependent loads).
var<workgroup> gn_part: array<f32, 256>;

@compute @workgroup_size(256)
fn gradnorm_sum(@builtin(local_invocation_id) lid: vec3<u32>) {
  let P = sizes.p;
  var sum = 0.0;
  for (var i = lid.x; i < P; i += 256u) { sum += partials_in[i]; }
  gn_part[lid.x] = sum;
  workgroupBarrier();
  if (lid.x != 0u) { return; }
  var total = 0.0;
  for (var i = 0u; i < 256u; i++) { total += gn_part[i]; }
  out[0] = total;
}
