// gelu.wgsl: GELU activation, GPT-2's tanh approximation, forward and backward.
//
//   gelu(x) = 0.5 x (1 + tanh(u)),   u = s (x + 0.044715 x^3),   s = sqrt(2/pi)
//   gelu'(x) = 0.5 (1 + tanh(u)) + 0.5 x sech(u)^2 s (1 + 3 * 0.044715 x^2)
//
//   gelu_forward    out  (N)  = gelu(inp)
//   gelu_backward   dinp (N) += gelu'(inp) * dout
//
// N is the element count of a tensor of any shape ((B,T,4C) in the MLP). When N % 4 == 0 (template
// define VEC4) the tensors are bound as arrays of vec4 and each invocation handles 4 elements (on
// CPU adapters every storage load is paid per SIMD lane, so a vec4 load costs about one scalar
// load); otherwise one element. n, the number of such units, comes from a uniform buffer, so one
// pipeline serves every size. 256 invocations per workgroup; more than 65535 workgroups are folded
// into (x, y) (wg_linear).
//
// tanh: WGSL lets an implementation compute tanh(u) as (e^2u - 1) / (e^2u + 1), which is inf/inf
// = NaN once e^2u overflows (|u| > ~44). tanh(10) = 1 - 4e-9 already rounds to 1 in fp32, so the
// argument is clamped to [-10, 10]: exact in fp32 and NaN-free. Where the clamp is active the
// derivative's tanh' term (< 2e-7) is taken as 0, which also keeps x^2 from overflowing into
// 0 * inf for huge |x|. The backward computes tanh and tanh' from one exp(2u) instead of tanh
// and cosh: 1.9-2.0 -> 1.5 ms per (768, 512) call on lavapipe.

const WG: u32 = 256u;
const GELU_SCALE: f32 = 0.7978845608028654;  // sqrt(2/pi)
const GELU_CUBIC: f32 = 0.044715;
const TANH_CLAMP: f32 = 10.0;

#if ${VEC4}
alias F = vec4<f32>;   // 4 elements per invocation
#else
alias F = f32;
#endif

struct Dims {
  n: u32,   // number of F units: N / 4 when VEC4, else N
}

@group(0) @binding(0) var<storage, read_write> out: array<F>;   // (N)  gelu_forward
@group(0) @binding(0) var<storage, read_write> dinp: array<F>;  // (N)  gelu_backward
@group(0) @binding(1) var<storage, read> inp: array<F>;         // (N)
@group(0) @binding(2) var<uniform> fw: Dims;                    //      gelu_forward
@group(0) @binding(2) var<storage, read> dout: array<F>;        // (N)  gelu_backward
@group(0) @binding(3) var<uniform> bw: Dims;                    //      gelu_backward

// u = sqrt(2/pi) (x + 0.044715 x^3), clamped to [-TANH_CLAMP, TANH_CLAMP]
fn gelu_arg(x: F) -> F {
  return clamp(GELU_SCALE * (x + GELU_CUBIC * x * x * x), F(-TANH_CLAMP), F(TANH_CLAMP));
}

@compute @workgroup_size(256)
fn gelu_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let i = wg_linear(wid, nwg) * WG + lid;
  if (i >= fw.n) { return; }
  let x = inp[i];
  out[i] = 0.5 * x * (1.0 + tanh(gelu_arg(x)));
}

@compute @workgroup_size(256)
fn gelu_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let i = wg_linear(wid, nwg) * WG + lid;
  if (i >= bw.n) { return; }
  let x = inp[i];
  let u = gelu_arg(x);
  // tanh and tanh' = sech^2 from one exponential, e = e^2u (|u| <= 10 keeps (e + 1)^2 < 3e17):
  // tanh(u) = 1 - 2 / (e + 1), sech^2(u) = 4 e / (e + 1)^2, which does not cancel where
  // 1 - tanh^2 would (|u| > 2)
  let e = exp(2.0 * u);
  let inv = 1.0 / (e + 1.0);
  let th = 1.0 - 2.0 * inv;
  let sech2 = 4.0 * e * inv * inv;
  let through_tanh = 0.5 * x * sech2 * GELU_SCALE * (1.0 + 3.0 * GELU_CUBIC * x * x);
  let local_grad = 0.5 * (1.0 + th) + select(through_tanh, F(0.0), abs(u) >= F(TANH_CLAMP));
  dinp[i] += local_grad * dout[i];
}
