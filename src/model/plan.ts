/**
 * Memory plan: will a GPT train on this device at batch B and context T, and if not, what to change.
 *
 * Counts what GPT + Optimizer allocate (all fp32): the flat parameter, gradient and AdamW m and v
 * buffers (one buffer each: each must fit maxBufferSize), the activations of one (B, T) step
 * (what activationBytes in gpt.ts counts, logits (B,T,V) included) and the scratch the model adds
 * when it splits tensors. WebGPU binds a buffer range to a kernel only up to
 * maxStorageBufferBindingSize, so every tensor a kernel sees must fit that, except the two the
 * model splits itself:
 *   - the token embedding wte (V,C) and its gradient: cut into vocabulary chunks of Vc rows
 *     (a multiple of 64, so each chunk starts 256-byte aligned); the LM head, its backward and the
 *     embedding run chunk by chunk (vocabSplit);
 *   - the logits (B*T,V): kept as row chunks of R rows (a multiple of 64) in separate buffers; the
 *     cross-entropy runs per chunk (rowSplit).
 * Everything else (e.g. the MLP activations (B,T,4C)) must fit one binding: the plan says which
 * tensor exceeds which limit and the largest B or T that fits.
 *
 * Not counted: the matmul kernel's scratch on CPU adapters (packed operands, at most a few hundred
 * MB, reused), bind groups and pipelines, and the host-side copies of the parameters.
 */
import type { GPTConfig } from './config.ts';
import { paramLayout } from './params.ts';

/** The device limits the plan checks (a Gpu's `limits` has them). */
export interface PlanLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  /** Memory the allocations may use, when known (WebGPU does not say; for a CPU adapter: system RAM). */
  memoryBytes?: number;
}

/** A tensor cut into `count` chunks of `rows` rows (the last may be shorter); count 1 = not split. */
export interface Split {
  count: number;
  rows: number;
}

/** Rows per chunk are a multiple of this, so every chunk of a tensor starts 256-byte aligned. */
export const SPLIT_ROWS = 64;

/**
 * Cut `total` rows of `rowBytes` bytes into the fewest chunks of at most `maxBytes` each, rows per
 * chunk a multiple of 64 and balanced; null when even 64 rows do not fit.
 */
export function splitRows(total: number, rowBytes: number, maxBytes: number): Split | null {
  if (total * rowBytes <= maxBytes) return { count: 1, rows: total };
  const maxRows = Math.floor(maxBytes / rowBytes / SPLIT_ROWS) * SPLIT_ROWS;
  if (maxRows < SPLIT_ROWS) return null;
  const count = Math.ceil(total / maxRows);
  const rows = Math.ceil(Math.ceil(total / count) / SPLIT_ROWS) * SPLIT_ROWS;
  return { count: Math.ceil(total / rows), rows };
}

/** How wte (V,C) is cut into vocabulary chunks for a binding limit of maxBind bytes. */
export function vocabSplit(V: number, C: number, maxBind: number): Split | null {
  return splitRows(V, C * 4, maxBind);
}

/** How logits (N,V) are cut into row chunks for a binding limit of maxBind bytes. */
export function rowSplit(N: number, V: number, maxBind: number): Split | null {
  return splitRows(N, V * 4, maxBind);
}

export interface PlanItem {
  name: string;
  shape: number[];
  bytes: number;
}

export interface PlanProblem {
  limit: 'maxBufferSize' | 'maxStorageBufferBindingSize' | 'memory' | 'context';
  what: string;
  needed: number;
  available: number;
}

export interface MemoryPlan {
  config: GPTConfig;
  B: number;
  T: number;
  limits: PlanLimits;
  paramCount: number;
  bytes: {
    /** Each of params, grads, AdamW m, AdamW v (one flat buffer each, with alignment padding). */
    params: number;
    grads: number;
    adam: number;
    /** One step's activations and backward scratch (activationBytes), logits included. */
    activations: number;
    /** Of which the logits (B,T,V). */
    logits: number;
    /** Extra buffers for split tensors (the LM head's chunk scratch, per-chunk embedding buckets). */
    splitScratch: number;
    total: number;
  };
  /** How wte and the logits are split (count 1: they fit one binding). */
  splits: { wte: Split | null; logits: Split | null };
  /** The largest allocation (one GPUBuffer). */
  largestBuffer: PlanItem;
  /** The largest range bound to one kernel, after splitting. */
  largestBinding: PlanItem;
  problems: PlanProblem[];
  /** What to change, one line each; empty when it fits. */
  advice: string[];
  /** Informational lines (splits that happen, what is not counted). */
  notes: string[];
  fits: boolean;
}

const MiB = 1024 * 1024;
/** Human-readable bytes: 154.4 MB (147.2 MiB). */
export function fmtBytes(n: number): string {
  if (n < 1e6) return `${(n / 1024).toFixed(1)} KiB`;
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : `${(n / 1e6).toFixed(1)} MB (${(n / MiB).toFixed(1)} MiB)`;
}

/** The activation tensors of one (B,T) step, as gpt.ts's Activations allocates them. */
function activationItems(c: GPTConfig, B: number, T: number): PlanItem[] {
  const { nEmbd: C, nHead: NH, nLayer: L, vocabSize: V } = c;
  const N = B * T;
  const it = (name: string, shape: number[]): PlanItem => ({ name, shape, bytes: 4 * shape.reduce((a, b) => a * b, 1) });
  const items: PlanItem[] = [it('inputs', [B, T]), it('targets', [B, T]), it('encoded', [B, T, C])];
  for (let l = 0; l < L; l++) {
    const p = `h.${l}.`;
    items.push(
      it(p + 'ln1', [B, T, C]), it(p + 'ln1_mean', [B, T]), it(p + 'ln1_rstd', [B, T]), it(p + 'qkv', [B, T, 3 * C]),
      it(p + 'atty', [B, T, C]), it(p + 'att_lse', [B, NH, T]), it(p + 'attproj', [B, T, C]), it(p + 'residual2', [B, T, C]),
      it(p + 'ln2', [B, T, C]), it(p + 'ln2_mean', [B, T]), it(p + 'ln2_rstd', [B, T]), it(p + 'fch', [B, T, 4 * C]),
      it(p + 'fch_gelu', [B, T, 4 * C]), it(p + 'fcproj', [B, T, C]), it(p + 'residual3', [B, T, C]),
    );
  }
  items.push(
    it('lnf', [B, T, C]), it('lnf_mean', [B, T]), it('lnf_rstd', [B, T]), it('logits', [B, T, V]), it('losses', [B, T]), it('loss_scale', [1]),
    it('dresidual', [B, T, C]), it('dln', [B, T, C]), it('dlnf', [B, T, C]), it('datty', [B, T, C]), it('dqkv', [B, T, 3 * C]),
    it('dfch', [B, T, 4 * C]), it('dfch_gelu', [B, T, 4 * C]),
    it('embedding.buckets', [4 * N]), // token / start (N+1) / positions, plus padding: activationBytes counts 4N
  );
  void N;
  return items;
}

/** Bytes of the activations planMemory counts (equals activationBytes in gpt.ts). */
export function planActivationBytes(c: GPTConfig, B: number, T: number): number {
  return activationItems(c, B, T).reduce((s, x) => s + x.bytes, 0);
}

/** The extra buffers the model allocates for split tensors at (B, T). */
export function splitScratchBytes(c: GPTConfig, B: number, T: number, maxBind: number): number {
  const wte = vocabSplit(c.vocabSize, c.nEmbd, maxBind);
  const rows = rowSplit(B * T, c.vocabSize, maxBind);
  if (!wte || !rows || wte.count === 1) return 0;
  // the LM head's (rows, Vc) scratch, and token buckets (3 x N u32) per vocabulary chunk
  return 4 * Math.min(rows.rows, B * T) * wte.rows + wte.count * 3 * 4 * (B * T + 1);
}

/**
 * Plan training memory for `config` at batch B and context T on a device with `limits`: totals,
 * how wte and the logits get split, the largest buffer and binding, and (when it does not fit)
 * which tensor exceeds which limit and the largest B or T that would fit.
 */
export function planMemory(config: GPTConfig, B: number, T: number, limits: PlanLimits): MemoryPlan {
  const { vocabSize: V, nEmbd: C, blockSize: Tm } = config;
  const maxBind = limits.maxStorageBufferBindingSize;
  const maxBuf = limits.maxBufferSize;
  const layout = paramLayout(config);
  const flat = layout.total * 4;
  const acts = activationItems(config, B, T);
  const actBytes = acts.reduce((s, x) => s + x.bytes, 0);
  const N = B * T;
  const wteSplit = vocabSplit(V, C, maxBind);
  const logitSplit = rowSplit(N, V, maxBind);
  const scratch = splitScratchBytes(config, B, T, maxBind);
  const total = 4 * flat + actBytes + scratch;
  const problems: PlanProblem[] = [];
  const advice: string[] = [];
  const notes: string[] = [];

  if (T > Tm) problems.push({ limit: 'context', what: `sequence length T=${T} (the model has position embeddings for ${Tm})`, needed: T, available: Tm });
  // buffers: the four flat ones, the largest activation buffer, each logits chunk
  const logitsRowsPerBuffer = logitSplit ? logitSplit.rows : N;
  const buffers: PlanItem[] = [
    { name: 'params (flat; grads, adam_m, adam_v alike)', shape: [layout.total], bytes: flat },
    ...acts.filter((a) => a.name !== 'logits'),
    { name: logitSplit && logitSplit.count > 1 ? `logits chunk (${logitsRowsPerBuffer} of ${N} rows)` : 'logits', shape: [logitsRowsPerBuffer, V], bytes: 4 * logitsRowsPerBuffer * V },
  ];
  const largestBuffer = buffers.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  if (flat > maxBuf) {
    problems.push({ limit: 'maxBufferSize', what: `the flat parameter buffer (${layout.count} parameters; grads and AdamW m, v are the same size)`, needed: flat, available: maxBuf });
    advice.push(`the parameters alone need one ${fmtBytes(flat)} buffer, over this adapter's maxBufferSize (${fmtBytes(maxBuf)}): wgpt keeps them in one buffer, so use a smaller model (fewer layers or channels) or an adapter with a larger maxBufferSize`);
  }
  // bindings: every parameter but wte, every activation but the logits, and the split pieces
  const bindings: PlanItem[] = [];
  for (const s of layout.specs) if (s.name !== 'transformer.wte.weight') bindings.push({ name: s.name, shape: s.shape, bytes: s.size * 4 });
  for (const a of acts) if (a.name !== 'logits') bindings.push(a);
  if (wteSplit) bindings.push({ name: wteSplit.count > 1 ? `transformer.wte.weight chunk (${wteSplit.rows} of ${V} rows)` : 'transformer.wte.weight', shape: [Math.min(wteSplit.rows, V), C], bytes: 4 * Math.min(wteSplit.rows, V) * C });
  if (logitSplit) bindings.push({ name: logitSplit.count > 1 ? `logits chunk (${logitSplit.rows} of ${N} rows)` : 'logits', shape: [Math.min(logitSplit.rows, N), V], bytes: 4 * Math.min(logitSplit.rows, N) * V });
  const largestBinding = bindings.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  if (!wteSplit) problems.push({ limit: 'maxStorageBufferBindingSize', what: `transformer.wte.weight: even ${SPLIT_ROWS} rows of ${C} channels`, needed: SPLIT_ROWS * C * 4, available: maxBind });
  if (!logitSplit) problems.push({ limit: 'maxStorageBufferBindingSize', what: `logits: even ${SPLIT_ROWS} rows of the vocabulary (${V})`, needed: SPLIT_ROWS * V * 4, available: maxBind });
  const over = bindings.filter((b) => b.bytes > maxBind);
  for (const b of over) problems.push({ limit: 'maxStorageBufferBindingSize', what: `${b.name} (${b.shape.join('x')})`, needed: b.bytes, available: maxBind });
  const overActs = over.filter((b) => acts.includes(b));
  if (overActs.length) {
    const worst = overActs.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    const perRow = worst.bytes / N; // every per-position activation scales with B*T
    const maxN = Math.floor(maxBind / perRow);
    const b2 = Math.floor(maxN / T), t2 = Math.min(Tm, Math.floor(maxN / B));
    advice.push(`${worst.name} (B,T,${worst.shape.slice(2).join(',') || '1'}) needs ${fmtBytes(worst.bytes)} in one binding, over maxStorageBufferBindingSize (${fmtBytes(maxBind)}): ` +
      [b2 >= 1 ? `use B <= ${b2} at T=${T}` : '', t2 >= 1 ? `or T <= ${t2} at B=${B}` : ''].filter(Boolean).join(' ') + ` (B*T <= ${maxN})`);
  }
  const overParams = over.filter((b) => !acts.includes(b) && b.name.startsWith('transformer.'));
  if (overParams.length) advice.push(`parameter ${overParams[0].name} does not fit one binding and is not split: use a smaller n_embd`);
  if (limits.memoryBytes !== undefined && total > limits.memoryBytes) {
    problems.push({ limit: 'memory', what: 'all buffers together', needed: total, available: limits.memoryBytes });
    // activations and split scratch grow linearly with the positions B*T
    const perPosition = planActivationBytes(config, 2, 1) - planActivationBytes(config, 1, 1) + splitScratchBytes(config, 2, 1, maxBind) - splitScratchBytes(config, 1, 1, maxBind);
    const nFit = Math.floor((limits.memoryBytes - 4 * flat) / perPosition);
    if (4 * flat >= limits.memoryBytes) advice.push(`parameters, gradients and AdamW moments alone need ${fmtBytes(4 * flat)}, more than the ${fmtBytes(limits.memoryBytes)} available: use a smaller model`);
    else advice.push(`all buffers need ${fmtBytes(total)}, more than the ${fmtBytes(limits.memoryBytes)} available: keep B*T <= ${nFit}` + (Math.floor(nFit / T) >= 1 ? ` (B <= ${Math.floor(nFit / T)} at T=${T})` : ` (T <= ${Math.min(Tm, Math.floor(nFit / B))} at B=${B})`));
  }
  if (T > Tm) advice.push(`use T <= ${Tm} (the model's context)`);
  if (wteSplit && wteSplit.count > 1) {
    notes.push(`wte (${V}x${C}, ${fmtBytes(V * C * 4)}) is over one binding: the embedding, the LM head and their backward run in ${wteSplit.count} vocabulary chunks of ${wteSplit.rows} rows`);
  }
  if (logitSplit && logitSplit.count > 1) {
    notes.push(`logits (B*T=${N} x V=${V}, ${fmtBytes(N * V * 4)}) are over one binding: kept as ${logitSplit.count} buffers of ${logitSplit.rows} rows, cross-entropy per chunk`);
  }
  notes.push('not counted: the matmul kernel\'s packing scratch on CPU adapters, pipelines and bind groups, host copies of the weights');
  return {
    config, B, T, limits, paramCount: layout.count,
    bytes: { params: flat, grads: flat, adam: 2 * flat, activations: actBytes, logits: 4 * N * V, splitScratch: scratch, total },
    splits: { wte: wteSplit, logits: logitSplit },
    largestBuffer, largestBinding, problems, advice, notes,
    fits: problems.length === 0,
  };
}

/** The plan as a few lines of text. */
export function formatPlan(p: MemoryPlan): string {
  const c = p.config;
  const b = p.bytes;
  const lines = [
    `model: L=${c.nLayer} C=${c.nEmbd} NH=${c.nHead} V=${c.vocabSize} T_max=${c.blockSize}, ${p.paramCount.toLocaleString('en-US')} parameters; training at B=${p.B}, T=${p.T}`,
    `  parameters        ${fmtBytes(b.params)}`,
    `  gradients         ${fmtBytes(b.grads)}`,
    `  AdamW m + v       ${fmtBytes(b.adam)}`,
    `  activations       ${fmtBytes(b.activations)}  (logits (B,T,V): ${fmtBytes(b.logits)})`,
    ...(b.splitScratch ? [`  split scratch     ${fmtBytes(b.splitScratch)}`] : []),
    `  total             ${fmtBytes(b.total)}${p.limits.memoryBytes !== undefined ? `  (available: ${fmtBytes(p.limits.memoryBytes)})` : ''}`,
    `largest buffer:  ${p.largestBuffer.name} ${fmtBytes(p.largestBuffer.bytes)}  (maxBufferSize ${fmtBytes(p.limits.maxBufferSize)})`,
    `largest binding: ${p.largestBinding.name} ${fmtBytes(p.largestBinding.bytes)}  (maxStorageBufferBindingSize ${fmtBytes(p.limits.maxStorageBufferBindingSize)})`,
    ...p.notes.map((n) => `note: ${n}`),
    p.fits ? 'verdict: fits' : 'verdict: does NOT fit',
    ...p.problems.map((q) => `  problem: ${q.what} needs ${fmtBytes(q.needed)} > ${q.limit} ${q.limit === 'context' ? q.available : fmtBytes(q.available)}`.replace(/needs (\d+(\.\d+)? KiB) > context/, `needs T=${q.needed} > context`)),
    ...p.advice.map((a) => `  change: ${a}`),
  ];
  return lines.join('\n');
}
