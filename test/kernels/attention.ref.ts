/**
 * CPU references (float64) for shaders/attention.wgsl, written the naive way (full score matrix,
 * causal softmax, weighted sum) so they share nothing with the kernel's online softmax.
 *
 * Layouts: qkv (B, T, 3C) = [q | k | v] per row, head h in channels h*HS .. (h+1)*HS of each;
 * out (B, T, C); lse (B, NH, T).
 */

export interface AttentionDims { B: number; T: number; C: number; NH: number }

const qIdx = (d: AttentionDims, b: number, t: number, h: number) => (b * d.T + t) * 3 * d.C + h * (d.C / d.NH);

/** Causal softmax probabilities P (B, NH, T, T) (zero above the diagonal), plus out and lse. */
export function attentionForwardRef(qkv: ArrayLike<number>, d: AttentionDims) {
  const { B, T, C, NH } = d;
  const HS = C / NH;
  const scale = 1 / Math.sqrt(HS);
  const out = new Float64Array(B * T * C);
  const lse = new Float64Array(B * NH * T);
  const P = new Float64Array(B * NH * T * T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      for (let t = 0; t < T; t++) {
        const row = ((b * NH + h) * T + t) * T; // start of P[b, h, t, :]
        const qb = qIdx(d, b, t, h);
        // scores for s <= t and their max
        let max = -Infinity;
        for (let s = 0; s <= t; s++) {
          const kb = qIdx(d, b, s, h) + C;
          let dotqk = 0;
          for (let i = 0; i < HS; i++) dotqk += qkv[qb + i] * qkv[kb + i];
          P[row + s] = scale * dotqk;
          max = Math.max(max, P[row + s]);
        }
        let sum = 0;
        for (let s = 0; s <= t; s++) sum += Math.exp(P[row + s] - max);
        for (let s = 0; s <= t; s++) P[row + s] = Math.exp(P[row + s] - max) / sum;
        lse[(b * NH + h) * T + t] = max + Math.log(sum);
        const ob = (b * T + t) * C + h * HS;
        for (let s = 0; s <= t; s++) {
          const vb = qIdx(d, b, s, h) + 2 * C;
          for (let i = 0; i < HS; i++) out[ob + i] += P[row + s] * qkv[vb + i];
        }
      }
    }
  }
  return { out, lse, P };
}

/** Gradient dqkv (B, T, 3C) of attentionForwardRef's out given dout (B, T, C) (plain chain rule through P). */
export function attentionBackwardRef(dout: ArrayLike<number>, qkv: ArrayLike<number>, d: AttentionDims): Float64Array {
  const { B, T, C, NH } = d;
  const HS = C / NH;
  const scale = 1 / Math.sqrt(HS);
  const { P } = attentionForwardRef(qkv, d);
  const dqkv = new Float64Array(B * T * 3 * C);
  const dP = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      for (let t = 0; t < T; t++) {
        const row = ((b * NH + h) * T + t) * T;
        const ob = (b * T + t) * C + h * HS;
        const qb = qIdx(d, b, t, h);
        // out_t = sum_s P_ts v_s: dv_s += P_ts dout_t, dP_ts = dout_t . v_s
        for (let s = 0; s <= t; s++) {
          const vb = qIdx(d, b, s, h) + 2 * C;
          let acc = 0;
          for (let i = 0; i < HS; i++) {
            dqkv[vb + i] += P[row + s] * dout[ob + i];
            acc += dout[ob + i] * qkv[vb + i];
          }
          dP[s] = acc;
        }
        // softmax backward: dscore_ts = P_ts (dP_ts - sum_r P_tr dP_tr)
        let pdp = 0;
        for (let s = 0; s <= t; s++) pdp += P[row + s] * dP[s];
        for (let s = 0; s <= t; s++) {
          const ds = P[row + s] * (dP[s] - pdp) * scale;
          const kb = qIdx(d, b, s, h) + C;
          for (let i = 0; i < HS; i++) {
            dqkv[qb + i] += ds * qkv[kb + i];
            dqkv[kb + i] += ds * qkv[qb + i];
          }
        }
      }
    }
  }
  return dqkv;
}
