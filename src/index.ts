/**
 * wgpt: pre-train and fine-tune GPT models on your own GPU with hand-written WebGPU kernels.
 * This module only re-exports; it runs unchanged in browsers and in Node (Node-only helpers such
 * as file access live in 'wgpt/node').
 */
// runtime
export { Gpu } from './gpu/context.ts';
export { registerKernel, kernelNames } from './gpu/shaders.ts';
export type { MemoryStats, Binding, DispatchOptions } from './gpu/context.ts';
export { acquireDevice, describeAdapter } from './gpu/device.ts';
export type { AdapterReport, AcquireOptions } from './gpu/device.ts';
export type { Tensor, DType } from './gpu/tensor.ts';
export * from './errors.ts';

// model
export { GPT, activationBytes, checkFits, initParams } from './model/gpt.ts';
export { PRESETS, presetConfig, validateConfig, countParams, ConfigError } from './model/config.ts';
export type { GPTConfig, Preset } from './model/config.ts';
export { paramLayout } from './model/params.ts';
export type { ParamSpec, ParamLayout } from './model/params.ts';
export { LanguageModel } from './model/language-model.ts';
export { Generator, sample, sampleLogits, GenerationError } from './model/sample.ts';
export type { SampleOptions } from './model/sample.ts';

// training
export { Optimizer, DEFAULT_OPTIMIZER } from './optim/optimizer.ts';
export type { OptimizerConfig } from './optim/optimizer.ts';
export { lrAt } from './optim/schedule.ts';
export type { Schedule } from './optim/schedule.ts';
export { Trainer, NonFiniteError } from './train/trainer.ts';
export type { TrainOptions, TrainEvent, TrainState, BatchSource } from './train/trainer.ts';
export { pretrain, DatasetSource } from './train/pretrain.ts';
export type { PretrainOptions, TrainingRun } from './train/pretrain.ts';
export { trainWithRecovery } from './train/recovery.ts';
export type { RecoveryOptions, RecoveryEvent } from './train/recovery.ts';

// fine-tuning
export { finetune, FinetuneError, FINETUNE_DEFAULTS } from './train/finetune.ts';
export type { FinetuneOptions, FinetuneRun, FinetuneEvent, Origin } from './train/finetune.ts';
export { finetuneClassifier, predict, evaluateClassifier, classificationReport, formatReport } from './train/classify.ts';
export type { ClassifyOptions, ClassifierRun, ClassificationReport, ClassifyEvent } from './train/classify.ts';
export { SequenceClassifier, ClassifierError, LabelMismatchError } from './model/classifier.ts';
export type { Pooling } from './model/classifier.ts';
export { parseJsonl, splitExamples, labelsOf, LabeledDataError } from './data/labeled.ts';
export type { LabeledExample } from './data/labeled.ts';

// text and data
export * from './tokenizer/index.ts';
export { TokenDataset, Rng, RngStateError, CorpusError } from './data/dataset.ts';
export type { Batch } from './data/dataset.ts';

// checkpoints
export { encodeCheckpoint, decodeCheckpoint, FORMAT as CHECKPOINT_FORMAT } from './checkpoint/checkpoint.ts';
export type { Checkpoint } from './checkpoint/checkpoint.ts';
export { readSafetensors, writeSafetensors, CheckpointError } from './checkpoint/safetensors.ts';

// memory planning and Hugging Face GPT-2 interop
export { planMemory, formatPlan } from './model/plan.ts';
export type { MemoryPlan, PlanLimits } from './model/plan.ts';
export { importWeights, exportWeights, importHFDirectory, exportHFDirectory, configFromHF, configToHF, tokenizerFromFiles, HfFormatError } from './interop/hf.ts';
export type { HfDirectory, HfImport } from './interop/hf.ts';
export { Gpt2Tokenizer, gpt2Reference } from './interop/gpt2-tokenizer.ts';

// kernels, for building other models
export * as kernels from './kernels/index.ts';
