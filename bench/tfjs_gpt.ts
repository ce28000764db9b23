/**
 * The same GPT as src/model/gpt.ts (GPT-2 architecture, LM head tied to the token embedding,
 * tanh GELU, eps 1e-5 layernorm, causal attention), written with TensorFlow.js ops for the
 * training benchmark. Gradients by tf.variableGrads, global-norm clipping at 1.0 as ours does,
 * then tf.train.adam (tfjs has Adam, not AdamW: no decoupled weight decay; the decay is a few
 * elementwise ops per parameter, so the comparison is not skewed by it).
 *
 * Legend: B batch, T time, C channels, NH heads, HS = C / NH, V vocabulary, L layers.
 */
import type { Tfjs } from './tfjs.ts';

export interface GptShape {
  L: number;
  C: number;
  NH: number;
  T: number;
  B: number;
  V: number;
}

export class TfjsGpt {
  private readonly tf: any;
  private readonly s: GptShape;
  private readonly vars: Record<string, any> = {};
  private readonly opt: any;
  private readonly mask: any; // (T, T): 0 on and below the diagonal, -1e9 above
  private inputs: any = null; // (B*T) int32
  private targets: any = null; // (B*T, V) one-hot

  constructor(t: Tfjs, s: GptShape, lr = 1e-3) {
    const tf = (this.tf = t.tf);
    this.s = s;
    const { L, C, T, V } = s;
    const normal = (shape: number[], std: number, seed: number) => tf.variable(tf.randomNormal(shape, 0, std, 'float32', seed));
    const ones = (n: number) => tf.variable(tf.ones([n]));
    const zeros = (n: number) => tf.variable(tf.zeros([n]));
    const v = this.vars;
    let seed = 1;
    v.wte = normal([V, C], 0.02, seed++);
    v.wpe = normal([T, C], 0.02, seed++);
    for (let l = 0; l < L; l++) {
      const p = `h${l}.`;
      v[p + 'ln1w'] = ones(C); v[p + 'ln1b'] = zeros(C);
      v[p + 'attnw'] = normal([C, 3 * C], 0.02, seed++); v[p + 'attnb'] = zeros(3 * C); // stored (in, out): x . W
      v[p + 'projw'] = normal([C, C], 0.02 / Math.sqrt(2 * L), seed++); v[p + 'projb'] = zeros(C);
      v[p + 'ln2w'] = ones(C); v[p + 'ln2b'] = zeros(C);
      v[p + 'fcw'] = normal([C, 4 * C], 0.02, seed++); v[p + 'fcb'] = zeros(4 * C);
      v[p + 'fcprojw'] = normal([4 * C, C], 0.02 / Math.sqrt(2 * L), seed++); v[p + 'fcprojb'] = zeros(C);
    }
    v.lnfw = ones(C); v.lnfb = zeros(C);
    const m = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -1e9;
    this.mask = tf.tensor2d(m, [T, T]);
    this.opt = tf.train.adam(lr, 0.9, 0.95, 1e-8);
  }

  /** Upload a batch (ids (B*T) and targets (B*T)) for the following steps. */
  setBatch(inputs: Int32Array, targets: Int32Array): void {
    const tf = this.tf;
    this.inputs?.dispose();
    this.targets?.dispose();
    this.inputs = tf.tensor1d(inputs, 'int32');
    this.targets = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(targets, 'int32'), this.s.V), 'float32'));
  }

  private layernorm(x: any, w: any, b: any): any {
    const tf = this.tf;
    const mean = tf.mean(x, -1, true);
    const xc = tf.sub(x, mean);
    const variance = tf.mean(tf.square(xc), -1, true);
    return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(variance, 1e-5))), w), b);
  }

  private gelu(x: any): any {
    const tf = this.tf;
    const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
  }

  /** Mean cross-entropy of the current batch (a scalar tensor). */
  loss(): any {
    const tf = this.tf;
    const { L, C, NH, T, B } = this.s;
    const HS = C / NH;
    const v = this.vars;
    const N = B * T;
    let x = tf.add(tf.reshape(tf.gather(v.wte, this.inputs), [B, T, C]), v.wpe); // (B,T,C)
    const heads = (y: any) => tf.transpose(tf.reshape(y, [B, T, NH, HS]), [0, 2, 1, 3]); // (B,NH,T,HS)
    for (let l = 0; l < L; l++) {
      const p = `h${l}.`;
      const ln1 = tf.reshape(this.layernorm(x, v[p + 'ln1w'], v[p + 'ln1b']), [N, C]);
      const qkv = tf.add(tf.matMul(ln1, v[p + 'attnw']), v[p + 'attnb']); // (N,3C)
      const [q, k, vv] = tf.split(qkv, 3, 1);
      const att = tf.add(tf.mul(tf.matMul(heads(q), heads(k), false, true), 1 / Math.sqrt(HS)), this.mask); // (B,NH,T,T)
      const y = tf.matMul(tf.softmax(att), heads(vv)); // (B,NH,T,HS)
      const yy = tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [N, C]);
      x = tf.add(x, tf.reshape(tf.add(tf.matMul(yy, v[p + 'projw']), v[p + 'projb']), [B, T, C]));
      const ln2 = tf.reshape(this.layernorm(x, v[p + 'ln2w'], v[p + 'ln2b']), [N, C]);
      const h = this.gelu(tf.add(tf.matMul(ln2, v[p + 'fcw']), v[p + 'fcb']));
      x = tf.add(x, tf.reshape(tf.add(tf.matMul(h, v[p + 'fcprojw']), v[p + 'fcprojb']), [B, T, C]));
    }
    const lnf = tf.reshape(this.layernorm(x, v.lnfw, v.lnfb), [N, C]);
    const logits = tf.matMul(lnf, v.wte, false, true); // (N,V), tied head
    return tf.neg(tf.mean(tf.sum(tf.mul(this.targets, tf.logSoftmax(logits)), -1)));
  }

  /** The current batch's loss, read back (a sanity check that the model trains). */
  async lossValue(): Promise<number> {
    const t = this.tf.tidy(() => this.loss());
    const v = (await t.data())[0];
    t.dispose();
    return v;
  }

  /** One training step: loss, gradients, clip to global norm 1, Adam. Nothing is read back. */
  step(): void {
    const tf = this.tf;
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => this.loss());
      const names = Object.keys(grads);
      const sq = names.map((n) => tf.sum(tf.square(grads[n]))).reduce((a: any, b: any) => tf.add(a, b)); // (tf.addN of ~50 inputs exceeds the storage-buffer limit)
      const scale = tf.minimum(1, tf.div(1, tf.add(tf.sqrt(sq), 1e-6)));
      const clipped: Record<string, any> = {};
      for (const n of names) clipped[n] = tf.mul(grads[n], scale);
      this.opt.applyGradients(clipped);
    });
  }

  dispose(): void {
    for (const v of Object.values(this.vars)) v.dispose();
    this.mask.dispose();
    this.inputs?.dispose();
    this.targets?.dispose();
    this.opt.dispose();
  }
}
