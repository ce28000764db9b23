/** CPU reference (float64) for shaders/gradnorm.wgsl. */

/** Sum of squares of every element of every array. */
export function gradNormSquaredRef(...grads: ArrayLike<number>[]): number {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return s;
}
