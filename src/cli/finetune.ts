/**
 * `wgpt finetune` (language model or classifier) and `wgpt classify`.
 * Same conventions as the other commands (main.ts): --json prints one JSON event per line on
 * stdout, otherwise progress goes to stderr; errors are one line with a non-zero exit.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Gpu } from '../gpu/context.ts';
import { describeAdapter } from '../gpu/device.ts';
import { readCheckpointFile, writeFileAtomic } from '../checkpoint/node.ts';
import { loadAnyCheckpoint } from '../interop/hf-node.ts';
import { readTextFile } from '../data/corpus-node.ts';
import { loadLabeledData } from '../data/labeled-node.ts';
import { finetune, FINETUNE_DEFAULTS } from '../train/finetune.ts';
import { finetuneClassifier, formatReport, predict } from '../train/classify.ts';
import { SequenceClassifier } from '../model/classifier.ts';
import { UsageError, num, parse, progressPrinter } from './args.ts';

export const FINETUNE_HELP = `  wgpt finetune --from CKPT --data PATH [options]   fine-tune a pre-trained checkpoint
      --task T           lm | classify (default: classify when PATH is a folder or a .jsonl file, else lm)
                         lm: PATH is a UTF-8 text file; classify: PATH is a folder with one subfolder
                         per label (one file per example) or JSONL lines {"text": ..., "label": ...}
      --steps N (${FINETUNE_DEFAULTS.steps})   --lr X (${FINETUNE_DEFAULTS.lr})   --batch B (${FINETUNE_DEFAULTS.batchSize})   --warmup N (${FINETUNE_DEFAULTS.warmupSteps})   --seed S
      --freeze-embeddings   --freeze-layers K (first K blocks)   --patience N (early stop)
      --pooling P        classify: last-token (default) | mean (mean over the sequence's tokens)
      --eval-every N (${FINETUNE_DEFAULTS.evalEvery})   --val-fraction F (lm 0.1, classify 0.2)
      --out FILE (<CKPT name>-<task>.safetensors)   --json
  wgpt classify --from CKPT (--text TEXT | --file FILE) [--json]   label a text with a fine-tuned classifier
`;

async function cmdFinetune(args: string[]): Promise<void> {
  const { v } = parse(args, {
    from: { type: 'string' }, data: { type: 'string' }, task: { type: 'string' }, steps: { type: 'string' }, lr: { type: 'string' },
    batch: { type: 'string' }, warmup: { type: 'string' }, seed: { type: 'string' }, 'freeze-embeddings': { type: 'boolean' },
    'freeze-layers': { type: 'string' }, patience: { type: 'string' }, 'eval-every': { type: 'string' }, 'val-fraction': { type: 'string' },
    pooling: { type: 'string' },
    out: { type: 'string' }, json: { type: 'boolean' },
  });
  if (!v.from) throw new UsageError('--from CKPT is required (a checkpoint saved by wgpt pretrain)');
  if (!v.data) throw new UsageError('--data PATH is required (a text file, or for --task classify a folder of label folders or a .jsonl file)');
  const data = v.data as string;
  let isDir = false;
  try {
    isDir = (await stat(data)).isDirectory();
  } catch {
    /* reported by the loader with the path */
  }
  const task = (v.task as string | undefined) ?? (isDir || data.endsWith('.jsonl') ? 'classify' : 'lm');
  if (task !== 'lm' && task !== 'classify') throw new UsageError(`--task must be lm or classify, got '${task}'`);
  if (task === 'lm' && isDir) throw new UsageError(`--data ${data} is a folder: language-model fine-tuning takes one text file (use --task classify for a folder of labelled examples)`);
  const steps = num(v, 'steps', FINETUNE_DEFAULTS.steps, { int: true, min: 1 });
  const from = v.from as string;
  const out = (v.out as string) ?? `${basename(from).replace(/\.safetensors$/, '')}-${task}.safetensors`;
  const json = !!v.json;
  const common = {
    parentName: basename(from), steps, lr: num(v, 'lr', FINETUNE_DEFAULTS.lr, { min: 0 }),
    batchSize: num(v, 'batch', FINETUNE_DEFAULTS.batchSize, { int: true, min: 1 }),
    warmupSteps: v.warmup !== undefined ? num(v, 'warmup', 0, { int: true, min: 0 }) : undefined,
    seed: num(v, 'seed', FINETUNE_DEFAULTS.seed, { int: true }),
    freezeEmbeddings: !!v['freeze-embeddings'], freezeLayers: num(v, 'freeze-layers', 0, { int: true, min: 0 }),
    earlyStopPatience: num(v, 'patience', 0, { int: true, min: 0 }), evalEvery: num(v, 'eval-every', FINETUNE_DEFAULTS.evalEvery, { int: true, min: 0 }),
    valFraction: v['val-fraction'] !== undefined ? num(v, 'val-fraction', 0.1, { min: 0.001, max: 0.999 }) : undefined,
  };
  // a wgpt checkpoint (its bytes: the provenance hash is the file's), or a Hugging Face GPT-2
  // directory / .safetensors file, imported on the fly
  const any = await loadAnyCheckpoint(from);
  if (!json) for (const n of any.notes) console.error(`note: ${n}`);
  const parentBytes = any.source === 'wgpt' ? readCheckpointFile(from) : any.checkpoint;
  const gpu = await Gpu.create();
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  const onEvent = progressPrinter(json, steps);
  try {
    if (task === 'lm') {
      const text = await readTextFile(data);
      const run = await finetune(gpu, { ...common, from: parentBytes, text, valFraction: common.valFraction ?? 0.1, onEvent, signal: abort.signal });
      try {
        if (!json) console.error(`fine-tuning ${from} (${run.model.gpt.numParams} parameters) on ${data} on ${describeAdapter(gpu.report)}`);
        await run.run();
        writeFileAtomic(out, await run.checkpoint());
        if (json) console.log(JSON.stringify({ event: 'saved', path: out, step: run.trainer.step }));
        else console.error(`saved ${out} at step ${run.trainer.step}`);
      } finally {
        run.destroy();
      }
    } else {
      const examples = await loadLabeledData(data);
      const pooling = (v.pooling as string | undefined) ?? 'last-token';
      if (pooling !== 'last-token' && pooling !== 'mean') throw new UsageError(`--pooling must be last-token or mean, got '${pooling}'`);
      const run = await finetuneClassifier(gpu, { ...common, from: parentBytes, examples, pooling, valFraction: common.valFraction ?? 0.2, onEvent, signal: abort.signal });
      try {
        if (!json) console.error(`fine-tuning ${from} as a classifier of [${run.labels.join(', ')}] on ${run.train.length} examples (${run.val.length} held out) on ${describeAdapter(gpu.report)}`);
        await run.run();
        const report = await run.evaluate();
        if (json) console.log(JSON.stringify({ event: 'report', ...report }));
        else console.log(formatReport(report));
        writeFileAtomic(out, await run.checkpoint());
        if (json) console.log(JSON.stringify({ event: 'saved', path: out, step: run.step }));
        else console.error(`saved ${out} at step ${run.step}`);
      } finally {
        run.destroy();
      }
    }
  } finally {
    gpu.destroy();
  }
}

async function cmdClassify(args: string[]): Promise<void> {
  const { v } = parse(args, { from: { type: 'string' }, text: { type: 'string' }, file: { type: 'string' }, json: { type: 'boolean' } });
  if (!v.from) throw new UsageError('--from CKPT is required (a checkpoint saved by wgpt finetune --task classify)');
  if ((v.text === undefined) === (v.file === undefined)) throw new UsageError('give exactly one of --text TEXT or --file FILE');
  const text = v.file !== undefined ? await readTextFile(v.file as string) : (v.text as string);
  const bytes = readCheckpointFile(v.from as string);
  const gpu = await Gpu.create();
  let classifier: SequenceClassifier | null = null;
  try {
    classifier = SequenceClassifier.fromCheckpoint(gpu, bytes).classifier;
    const { predictions: [p], unknown } = await predict(classifier, [text]);
    const probs = Object.fromEntries(classifier.labels.map((l, k) => [l, p.probs[k]]));
    if (v.json) {
      console.log(JSON.stringify({ label: p.label, probs, ...(unknown ? { unknown_characters: unknown } : {}) }));
    } else {
      if (unknown) console.error(`note: ${unknown.count} character(s) unknown to the tokenizer were read as <unk>: ${unknown.characters.join(' ')}`);
      console.log(`${p.label}  (p=${p.probs[p.index].toFixed(3)})`);
      for (const [l, x] of Object.entries(probs)) console.log(`  ${l.padEnd(12)} ${x.toFixed(4)}`);
    }
  } finally {
    classifier?.destroy();
    gpu.destroy();
  }
}

/** The commands this module adds to `wgpt` (registered in main.ts). */
export const FINETUNE_COMMANDS: Record<string, (args: string[]) => Promise<void>> = { finetune: cmdFinetune, classify: cmdClassify };
