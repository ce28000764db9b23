// common.wgsl: prepended to every kernel family's module.
//
// Dimension legend used across the kernels (llm.c's):
//   B batch, T time (sequence position), C channels, NH heads, HS head size (C / NH),
//   V vocabulary, N rows (B*T), OC output channels, L layers.
// Layouts are row-major; (B,T,C) means index b*T*C + t*C + c.
//
// Dispatches larger than 65535 workgroups are folded into (x, y); a kernel recovers the linear
// workgroup index with wg_linear(wid, nwg).

fn wg_linear(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}
