// adamw.wgsl: one AdamW step (decoupled weight decay, as torch.optim.AdamW), one elementwise pass.
//
//   g    = grad * grad_scale * clip
//   m    = beta1 m + (1 - beta1) g
//   v    = beta2 v + (1 - beta2) g^2
//   mhat = m / (1 - beta1^step),   vhat = v / (1 - beta2^step)
//   p   -= lr * (mhat / (sqrt(vhat) + eps) + WEIGHT_DECAY * p)
//
//   clip = min(1, max_grad_norm / (sqrt(norm_sq) * grad_scale + 1e-6))  when max_grad_norm > 0, else 1
//
// norm_sq is the sum of squares of all raw (unscaled) gradients, computed on the GPU
// (gradnorm.wgsl), so clipping needs no readback. Hyperparameters that change every step live in
// `hp`, written by the host (which also computes the bias corrections); the weight decay of a
// parameter group lives in a small uniform buffer of its own (written once per value), so both
// groups (decay / no decay) are updated in one submit by one pipeline.
//
// params, grads, m, v: (n), n = arrayLength(&params) (the wrapper binds exactly the tensor's
// elements, so one pipeline serves every parameter group size). When the group's size is a
// multiple of 4 (template define VEC4) they are bound as arrays of vec4, one invocation per 4
// elements (a vec4 storage load costs about one scalar load on CPU adapters); otherwise one per
// element. 256 invocations per workgroup, folded into (x, y) past 65535 workgroups (wg_linear).

struct Hyperparams {
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  one_minus_beta1: f32,   // computed in float64 on the host: 1 - f32(0.999) is off by 1e-5
  one_minus_beta2: f32,
  bias_correction1: f32,  // 1 - beta1^step
  bias_correction2: f32,  // 1 - beta2^step
  grad_scale: f32,        // e.g. 1 / gradient accumulation steps
  max_grad_norm: f32,     // 0: no clipping
}

struct Group {
  weight_decay: f32,
}

const WG: u32 = 256u;

#if ${VEC4}
alias F = vec4<f32>;
#else
alias F = f32;
#endif

@group(0) @binding(0) var<storage, read_write> params: array<F>;  // (n)
@group(0) @binding(1) var<storage, read> grads: array<F>;         // (n)
@group(0) @binding(2) var<storage, read_write> m: array<F>;       // (n) first moment
@group(0) @binding(3) var<storage, read_write> v: array<F>;       // (n) second moment
@group(0) @binding(4) var<uniform> hp: Hyperparams;
@group(0) @binding(5) var<storage, read> norm_sq: array<f32>;     // (1): clipping, and the non-finite skip
@group(0) @binding(6) var<uniform> group: Group;

@compute @workgroup_size(256)
fn adamw(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
  let i = wg_linear(wid, nwg) * WG + lid;
  if (i >= arrayLength(&params)) { return; }

  // A NaN or Inf anywhere in the gradients makes their sum of squares non-finite: then skip the
  // whole update (params, m and v untouched) so one bad batch cannot poison the optimizer state.
  // Tested on the bits: WGSL lets compilers assume floats are finite, so `x != x` may fold away.
  // (Without a norm tensor the wrapper binds a zero, which passes.)
  if ((bitcast<u32>(norm_sq[0]) & 0x7f800000u) == 0x7f800000u) { return; }

  var scale = hp.grad_scale;
  if (hp.max_grad_norm > 0.0) {
    let norm = sqrt(norm_sq[0]) * hp.grad_scale;
    scale *= min(1.0, hp.max_grad_norm / (norm + 1e-6));
  }
  let g = grads[i] * scale;

  let mi = hp.beta1 * m[i] + hp.one_minus_beta1 * g;
  let vi = hp.beta2 * v[i] + hp.one_minus_beta2 * g * g;
  m[i] = mi;
  v[i] = vi;
  let mhat = mi / hp.bias_correction1;
  let vhat = vi / hp.bias_correction2;
  let p = params[i];
  params[i] = p - hp.lr * (mhat / (sqrt(vhat) + hp.eps) + group.weight_decay * p);
}
