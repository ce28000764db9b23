// gradnorm.wgsl: the squared global gradient norm, for gradient clipping, without readback.
//
//   gradnorm_partials   partials (P)  = (or +=) per-slice sums of grad^2 over one tensor (n)
//   gradnorm_sum        out (1)       = sum of partials (P), in index order
//
// Two stages, deterministic: stage 1 runs exactly P invocations; invocation i sums g^2 over the
// strided slice i, i+P, i+2P, ... of one gradient tensor (neighbouring invocations read
// neighbouring elements). Several tensors accumulate into the same partials (ACCUMULATE for every
// tensor after the first). Stage 2 is one invocation summing the P partials in order.
//
// The tensor length n is arrayLength(&grads) (the wrapper binds exactly the tensor's elements), so
// one pipeline serves tensors of every size.

override P: u32;                        // number of partials = stage-1 invocations (multiple of 256)
override ACCUMULATE: bool = false;      // partials += instead of =

// gradnorm_partials
@group(0) @binding(0) var<storage, read_write> partials: array<f32>;  // (P)
@group(0) @binding(1) var<storage, read> grads: array<f32>;           // (n) any shape, flat

// gradnorm_sum (reuses slots 0 and 1)
@group(0) @binding(0) var<storage, read_write> out: array<f32>;       // (1)
@group(0) @binding(1) var<storage, read> partials_in: array<f32>;     // (P)

@compute @workgroup_size(256)
fn gradnorm_partials(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= P) { return; }
  let n = arrayLength(&grads);
  var sum = 0.0;
  for (var k = i; k < n; k += P) {
    let g = grads[k];
    sum = fma(g, g, sum);
  }
  if (ACCUMULATE) { sum = partials[i] + sum; }
  partials[i] = sum;
}

@compute @workgroup_size(1)
fn gradnorm_sum() {
  var sum = 0.0;
  for (var i = 0u; i < P; i++) {
    sum += partials_in[i];
  }
  out[0] = sum;
}
