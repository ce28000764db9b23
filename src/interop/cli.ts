/**
 * `wgpt import`, `wgpt export` and `wgpt info --plan` (wired into src/cli/main.ts).
 * Same conventions as the other commands: errors are typed and printed as one line by main();
 * --json prints one JSON object on stdout.
 */
import { totalmem } from 'node:os';
import { existsSync } from 'node:fs';
import { Gpu } from '../gpu/context.ts';
import { describeAdapter } from '../gpu/device.ts';
import { encodeCheckpoint } from '../checkpoint/checkpoint.ts';
import { writeFileAtomic } from '../checkpoint/node.ts';
import { PRESETS, presetConfig, type GPTConfig } from '../model/config.ts';
import { formatPlan, planMemory } from '../model/plan.ts';
import { exportHF, importHF, loadAnyCheckpoint } from './hf-node.ts';
import { UsageError, parse, type Values } from '../cli/args.ts';

export const INTEROP_HELP = `  wgpt import PATH --out CKPT [--config FILE] [--n-head N]
                                          a Hugging Face GPT-2 directory (config.json, model.safetensors,
                                          vocab.json + merges.txt) or .safetensors file -> wgpt checkpoint
  wgpt export CKPT --out DIR              a wgpt checkpoint -> Hugging Face GPT-2 directory
  wgpt info --plan PRESET|MODEL [--batch B] [--seq T] [--vocab V] [--json]
                                          will training fit this adapter's limits? (memory plan)
  --from of sample/eval also takes a Hugging Face directory or .safetensors file.
`;

function int(v: Values, key: string, def: number | undefined, min = 1): number | undefined {
  const raw = v[key];
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${key} expects an integer >= ${min}, got '${raw}'`);
  return n;
}

async function cmdImport(args: string[]): Promise<void> {
  const { v, pos } = parse(args, { out: { type: 'string' }, config: { type: 'string' }, 'n-head': { type: 'string' }, json: { type: 'boolean' } }, 1);
  const path = pos[0];
  if (!path) throw new UsageError('give the Hugging Face model directory or .safetensors file: wgpt import PATH --out CKPT');
  if (!v.out) throw new UsageError('--out CKPT is required');
  const r = await importHF(path, { config: v.config as string | undefined, nHead: int(v, 'n-head', undefined) });
  writeFileAtomic(v.out as string, encodeCheckpoint(r.checkpoint));
  const c = r.checkpoint.config;
  if (v.json) {
    console.log(JSON.stringify({ event: 'imported', path: v.out, config: c, tokenizer: r.tokenizer.type, notes: r.notes }));
  } else {
    for (const n of r.notes) console.error(`note: ${n}`);
    console.error(`imported ${path}: L=${c.nLayer} C=${c.nEmbd} NH=${c.nHead} V=${c.vocabSize} T=${c.blockSize}, ${r.tokenizer.type} tokenizer -> ${v.out}`);
  }
}

async function cmdExport(args: string[]): Promise<void> {
  const { v, pos } = parse(args, { out: { type: 'string' }, json: { type: 'boolean' } }, 1);
  const ckpt = pos[0];
  if (!ckpt) throw new UsageError('give the checkpoint to export: wgpt export CKPT --out DIR');
  if (!v.out) throw new UsageError('--out DIR is required');
  const { checkpoint, source } = await loadAnyCheckpoint(ckpt);
  if (source !== 'wgpt') throw new UsageError(`${ckpt} is already a Hugging Face model`);
  const r = exportHF(checkpoint, v.out as string);
  if (v.json) {
    console.log(JSON.stringify({ event: 'exported', dir: v.out, files: r.written, notes: r.notes }));
  } else {
    for (const n of r.notes) console.error(`note: ${n}`);
    console.error(`exported ${ckpt} -> ${v.out}: ${r.written.map((p) => p.slice(String(v.out).length + 1)).join(', ')}`);
  }
}

/** `wgpt info --plan PRESET|MODEL`: the memory plan against this adapter's limits. */
export async function cmdPlan(args: string[]): Promise<void> {
  const { v } = parse(args, { plan: { type: 'string' }, batch: { type: 'string' }, seq: { type: 'string' }, vocab: { type: 'string' }, json: { type: 'boolean' } });
  const what = v.plan as string;
  let config: GPTConfig;
  let batch: number;
  if (PRESETS[what]) {
    config = presetConfig(what, int(v, 'vocab', 256)!);
    batch = PRESETS[what].batchSize;
  } else if (existsSync(what)) {
    config = (await loadAnyCheckpoint(what)).checkpoint.config;
    batch = 1;
  } else {
    throw new UsageError(`--plan expects a preset (${Object.keys(PRESETS).join(', ')}) or a model path, got '${what}'`);
  }
  const B = int(v, 'batch', batch)!;
  const T = int(v, 'seq', config.blockSize)!;
  const gpu = await Gpu.create({ compileHelper: false }); // a plan compiles nothing
  try {
    const l = gpu.limits;
    // a software adapter allocates in system memory; a GPU's memory size is not exposed by WebGPU
    const limits = { maxStorageBufferBindingSize: l.maxStorageBufferBindingSize, maxBufferSize: l.maxBufferSize, memoryBytes: gpu.report.isSoftware ? totalmem() : undefined };
    const plan = planMemory(config, B, T, limits);
    if (v.json) console.log(JSON.stringify({ adapter: describeAdapter(gpu.report), ...plan }));
    else console.log(`adapter: ${describeAdapter(gpu.report)}\n${formatPlan(plan)}`);
  } finally {
    gpu.destroy();
  }
}

export const INTEROP_COMMANDS: Record<string, (args: string[]) => Promise<void>> = { import: cmdImport, export: cmdExport };
