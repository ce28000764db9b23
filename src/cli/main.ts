/**
 * `wgpt` command line: info, pretrain, sample, eval, finetune, classify.
 * Errors are one line on stderr and a non-zero exit (set WGPT_DEBUG=1 for the stack).
 */
import { Gpu } from '../gpu/context.ts';
import { describeAdapter, wantsCompileHelper } from '../gpu/device.ts';
import { pollStats } from '../gpu/node-poll.ts';
import { WgptError } from '../errors.ts';
import { pretrain } from '../train/pretrain.ts';
import { trainWithRecovery } from '../train/recovery.ts';
import { LanguageModel } from '../model/language-model.ts';
import { decodeCheckpoint } from '../checkpoint/checkpoint.ts';
import { readCheckpointFile, writeFileAtomic } from '../checkpoint/node.ts';
import { loadSotuCorpus, readTextFile } from '../data/corpus-node.ts';
import { PRESETS } from '../model/config.ts';
import type { TrainEvent } from '../train/trainer.ts';
import { UsageError, num, parse, progressPrinter } from './args.ts';
import { FINETUNE_COMMANDS, FINETUNE_HELP } from './finetune.ts';
import { INTEROP_COMMANDS, INTEROP_HELP, cmdPlan } from '../interop/cli.ts';
import { loadAnyModel } from '../interop/hf-node.ts';

const HELP = `wgpt: pre-train and fine-tune GPT models with WebGPU

usage:
  wgpt info [--json]                      adapter, limits and features
  wgpt pretrain [options]                 pre-train on a corpus, save a checkpoint
      --corpus FILE      UTF-8 text (default: the bundled State of the Union addresses)
      --preset NAME      ${Object.keys(PRESETS).join(' | ')} (default small)
      --tokenizer T      char | bpe (default char)   --vocab N   BPE vocabulary size (default 512)
      --steps N (1000)   --batch B (preset's)   --lr X (1e-3)   --seed S (1337)
      --eval-every N (100)   --out FILE (wgpt-<preset>.safetensors)   --resume FILE
      --save-every N     also save every N steps (default: at the end and on Ctrl-C)
      --json             one JSON object per line instead of a progress line
  wgpt sample --from CKPT [--prompt TEXT] [--tokens N] [--temperature X] [--top-k K] [--top-p P] [--seed S]
  wgpt eval --from CKPT (--text FILE | --ids 5,17,3,...) [--json]
${FINETUNE_HELP}${INTEROP_HELP}`;

async function cmdInfo(args: string[]): Promise<void> {
  if (args.some((a) => a === '--plan' || a.startsWith('--plan='))) return cmdPlan(args);
  const { v } = parse(args, { json: { type: 'boolean' } });
  const gpu = await Gpu.create({ compileHelper: false }); // info compiles nothing
  try {
    const r = gpu.report;
    // what a training run on this adapter gets (Gpu.create's defaults; src/gpu/node-poll.ts)
    const compileHelper = await wantsCompileHelper(r, {});
    const pollThrottle = pollStats() !== null;
    if (v.json) {
      console.log(JSON.stringify({ ...r, compileHelper, pollThrottle }));
    } else {
      console.log(`adapter: ${describeAdapter(r)}`);
      console.log(`compile helper (a second device compiling first-step pipelines): ${compileHelper ? 'on' : 'off'}`);
      console.log(`Dawn for Node's polling while waiting: ${pollThrottle ? 'spaced out (CPU adapter)' : "Dawn's own"}`);
      console.log(`features: ${r.features.join(', ')}`);
      if (r.subgroupMinSize) console.log(`subgroup sizes: ${r.subgroupMinSize}..${r.subgroupMaxSize}`);
      for (const [k, val] of Object.entries(r.limits)) console.log(`  ${k.padEnd(36)} ${val}`);
    }
  } finally {
    gpu.destroy();
  }
}

async function cmdPretrain(args: string[]): Promise<void> {
  const { v } = parse(args, {
    corpus: { type: 'string' }, preset: { type: 'string' }, tokenizer: { type: 'string' }, vocab: { type: 'string' },
    steps: { type: 'string' }, batch: { type: 'string' }, lr: { type: 'string' }, seed: { type: 'string' },
    out: { type: 'string' }, resume: { type: 'string' }, json: { type: 'boolean' }, 'eval-every': { type: 'string' },
    'save-every': { type: 'string' },
  });
  const preset = (v.preset as string) ?? 'small';
  if (!PRESETS[preset]) throw new UsageError(`unknown preset '${preset}' (have: ${Object.keys(PRESETS).join(', ')})`);
  const tok = (v.tokenizer as string) ?? 'char';
  if (tok !== 'char' && tok !== 'bpe') throw new UsageError(`--tokenizer must be char or bpe, got '${tok}'`);
  const steps = num(v, 'steps', 1000, { int: true, min: 1 });
  const out = (v.out as string) ?? `wgpt-${preset}.safetensors`;
  const saveEvery = num(v, 'save-every', 0, { int: true, min: 0 });
  const json = !!v.json;
  const text = v.corpus ? await readTextFile(v.corpus as string) : await loadSotuCorpus();
  const resume = v.resume ? decodeCheckpoint(readCheckpointFile(v.resume as string)) : undefined;
  if (resume && !resume.train) throw new UsageError(`${v.resume} has no training state to resume from (it was saved without optimizer state)`);
  const gpu = await Gpu.create();
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  let run: Awaited<ReturnType<typeof pretrain>> | undefined;
  const save = async () => {
    if (!run) return;
    writeFileAtomic(out, await run.checkpoint({ options: { preset, tokenizer: tok, corpus: v.corpus ?? 'sotu' } }));
  };
  const print = progressPrinter(json, steps);
  const onEvent = async (e: TrainEvent | { event: 'tokenized'; [k: string]: unknown }) => {
    print(e);
    if (e.event === 'step' && saveEvery > 0 && e.step % saveEvery === 0) await save();
  };
  let device = gpu;
  try {
    const recovered = await trainWithRecovery(gpu, async (g, snapshot) => {
      device = g;
      run = await pretrain(g, {
        text, preset, tokenizer: tok, bpeVocabSize: num(v, 'vocab', 512, { int: true, min: 257 }), steps,
        batchSize: v.batch ? num(v, 'batch', 1, { int: true, min: 1 }) : undefined,
        lr: num(v, 'lr', 1e-3), seed: num(v, 'seed', 1337, { int: true }), evalEvery: num(v, 'eval-every', 100, { int: true, min: 0 }),
        resume: snapshot ?? resume, onEvent, signal: abort.signal,
      });
      if (!json && !snapshot) console.error(`model: ${preset} ${JSON.stringify(run.model.config)}, ${run.model.gpt.numParams} parameters, on ${describeAdapter(g.report)}`);
      return run;
    }, {
      // an in-memory snapshot to come back to if the GPU device is lost
      checkpointEvery: saveEvery > 0 ? saveEvery : 100,
      onEvent: (e) => {
        if (json) console.log(JSON.stringify(e));
        else console.error(e.event === 'device_lost'
          ? `\nGPU device lost at step ${e.step} (${e.reason}: ${e.message}); acquiring a new one`
          : `recovered on a new device from the step-${e.step} snapshot (${e.lost_steps} steps to redo)`);
      },
    });
    run = recovered.run;
    device = recovered.gpu;
    await save();
    if (json) console.log(JSON.stringify({ event: 'saved', path: out, step: run.trainer.step }));
    else console.error(`saved ${out} at step ${run.trainer.step}`);
  } finally {
    // after a device loss these may already be gone
    try { run?.destroy(); } catch { /* destroyed with its device */ }
    try { device.destroy(); } catch { /* already destroyed */ }
  }
}

async function loadModel(path: string | undefined, gpu: Gpu): Promise<LanguageModel> {
  if (!path) throw new UsageError('--from CKPT is required');
  // a wgpt checkpoint, a Hugging Face GPT-2 directory or .safetensors file
  const { model, notes } = await loadAnyModel(gpu, path);
  for (const n of notes) console.error(`note: ${n}`);
  return model;
}

async function cmdSample(args: string[]): Promise<void> {
  const { v } = parse(args, {
    from: { type: 'string' }, prompt: { type: 'string' }, tokens: { type: 'string' }, temperature: { type: 'string' },
    'top-k': { type: 'string' }, 'top-p': { type: 'string' }, seed: { type: 'string' },
  });
  const gpu = await Gpu.create();
  try {
    const model = await loadModel(v.from as string, gpu);
    const prompt = (v.prompt as string) ?? '\n';
    process.stdout.write(prompt);
    for await (const piece of model.generate(prompt, {
      maxTokens: num(v, 'tokens', 200, { int: true, min: 0 }), temperature: num(v, 'temperature', 0.8, { min: 0 }),
      topK: num(v, 'top-k', 0, { int: true, min: 0 }), topP: num(v, 'top-p', 1, { min: 0 }), seed: num(v, 'seed', 1, { int: true }),
    })) process.stdout.write(piece);
    process.stdout.write('\n');
  } finally {
    gpu.destroy();
  }
}

async function cmdEval(args: string[]): Promise<void> {
  const { v } = parse(args, { from: { type: 'string' }, text: { type: 'string' }, ids: { type: 'string' }, json: { type: 'boolean' } });
  if (!v.text === !v.ids) throw new UsageError('give exactly one of --text FILE or --ids 5,17,3,...');
  const gpu = await Gpu.create();
  try {
    const model = await loadModel(v.from as string, gpu);
    let ids: Int32Array;
    if (v.ids) {
      const parts = (v.ids as string).split(',').map((s) => s.trim());
      const bad = parts.find((s) => !/^\d+$/.test(s) || Number(s) >= model.config.vocabSize);
      if (bad !== undefined) throw new UsageError(`--ids: '${bad}' is not a token id in [0, ${model.config.vocabSize})`);
      if (parts.length > model.config.blockSize) throw new UsageError(`--ids: ${parts.length} ids, more than one context (${model.config.blockSize})`);
      ids = Int32Array.from(parts.map(Number));
    } else {
      ids = model.tokenizer.encode(await readTextFile(v.text as string));
    }
    const r = await model.evaluate(ids);
    const outObj: Record<string, unknown> = { loss: r.loss, tokens: r.tokens };
    if (v.ids && r.logitsLast) outObj.logits_last = Array.from(r.logitsLast);
    if (v.json) console.log(JSON.stringify(outObj));
    else console.log(`loss ${r.loss.toFixed(4)} over ${r.tokens} tokens (perplexity ${Math.exp(r.loss).toFixed(2)})`);
  } finally {
    gpu.destroy();
  }
}

const COMMANDS: Record<string, (args: string[]) => Promise<void>> = { info: cmdInfo, pretrain: cmdPretrain, sample: cmdSample, eval: cmdEval, ...FINETUNE_COMMANDS, ...INTEROP_COMMANDS };

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(HELP);
    return cmd ? 0 : 1;
  }
  const f = COMMANDS[cmd];
  try {
    if (!f) throw new UsageError(`unknown command '${cmd}' (commands: ${Object.keys(COMMANDS).join(', ')})`);
    await f(rest);
    return 0;
  } catch (e) {
    if (process.env.WGPT_DEBUG) console.error(e);
    const err = e as Error;
    const name = err instanceof WgptError ? err.name : err?.name ?? 'Error';
    console.error(`wgpt ${cmd}: ${name}: ${String(err?.message ?? e).split('\n').join(' | ')}`);
    return 2;
  }
}

if ((globalThis as any).__WGPT_CLI__) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
