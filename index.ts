/** tfjs-polyglot library API. The `polyglot` CLI is a thin shell over these exports. */
export { PolyglotError } from './core/errors.js';
export { tf } from './core/tf.js';
export { selectBackend, type BackendName } from './backend/select.js';
export { measureMatmulGflops, type MatmulRate, type MatmulRateOptions } from './backend/matmul-rate.js';
export { nativeStatus, type NativeStatus } from './backend/native.js';
export { wasmThreadsInUse, requestedWasmThreads } from './backend/wasm-threads.js';
export { applyWeightPrecision, releaseTiedTables, precisionReportOf, WEIGHT_PRECISIONS, WEIGHTS_CHOICES, type WeightPrecision, type WeightsChoice, type PrecisionReport } from './layers/weight-precision.js';
export { ExpertStore, formatExpertCacheStats, type ExpertCacheStats, type ExpertLayerStats } from './layers/moe/expert-store.js';
export { quantizeInt8, dequantizeInt8, type Int8Quantized } from './backend/int8-weights.js';
export type { Ops, Dim, DType } from './ops/ops.js';
export { eagerOps } from './ops/eager.js';
export { SafetensorsFile, type HostTensor } from './convert/safetensors.js';
export { openSafetensorsDir, type HfCheckpoint, type TensorSource } from './convert/checkpoint.js';
export { type TensorMeta } from './convert/checkpoint.js';
export { writeSafetensors, type TensorToWrite } from './convert/safetensors-writer.js';
export { floatToHalfBits, floatToBf16Bits, halfToFloat, type SafetensorsDType, type TorchFloatName } from './convert/dtypes.js';
export { TorchBinFile, TorchBinSource } from './convert/torch-bin.js';
export { openCheckpoint, openPretrained, resolvePretrained, hubCacheDir, resolveHubSnapshot, resolveModelDir, type HubOptions } from './convert/open-checkpoint.js';
export { resolveModel, type ResolveModelOptions } from './hub/resolve-model.js';
export { hubSettings, type HubSettings, type HubOverrides } from './hub/settings.js';
export { HubError, type HubErrorKind } from './hub/hub-error.js';
export { stderrProgress } from './hub/progress-bar.js';
export type { DownloadProgress, ProgressCallback } from './hub/download-blob.js';
export { writeHfModelDir, type HfModelToWrite, type HfTensorToWrite, type HfWriteOptions, type HfWriteResult, type HfExtraFile } from './convert/hf-writer.js';
export { describeCheckpoint, genericSummary, formatCheckpointDescription, formatBytes, formatCount, type CheckpointDescription } from './convert/info.js';
export { convertCheckpoint, parseByteSize, type ConvertOptions, type ConvertResult } from './convert/convert.js';
export { quantizeCheckpoint, QUANTIZE_DTYPES, INT8_QUANTIZATION_CONFIG, type QuantizeDType, type QuantizeOptions, type QuantizeResult } from './models/quantize-checkpoint.js';
export { verifyFixture, formatResultsTable } from './verify/verify.js';
export type { CaseResult } from './verify/types.js';
export { loadTokenizer, tokenizerFromModel, isTranslationTokenizer, checkTokenizerFitsModel, type Tokenizer, type TranslationTokenizer, type LoadTokenizerOptions } from './tokenizers/load.js';
export { XGLMTokenizer } from './tokenizers/xglm.js';
export { NllbTokenizer } from './tokenizers/nllb.js';
export { M2M100Tokenizer } from './tokenizers/m2m100.js';
export { M2M100_LANGUAGE_CODES } from './tokenizers/m2m100-languages.js';
export { NLLB_LANGUAGE_CODES } from './tokenizers/nllb-languages.js';
export { FairseqSpmTokenizer, checkTextLength, MAX_TEXT_CHARS, type EncodeOptions, type DecodeOptions, type BatchEncodeOptions, type BatchEncoding } from './tokenizers/tokenizer.js';
export { exportGraphModels, EXPORT_FORMATS, COPIED_FILES, type ExportFormat, type ExportOptions, type ExportResult } from './export/export-model.js';
export { GraphOps, type GraphNode, type RecordedGraph } from './ops/graph.js';
export { writeGraphModel, writeWeightGroup, graphModelJson, type GraphModelJson, type WeightGroup } from './export/graph-model-writer.js';
export { QUANTIZE_MODES, parseQuantizeMode, type QuantizeMode } from './export/quantize.js';
export type { DecoderSession } from './core/decoder-session.js';
export { generate, type GenerateInputs, type GenerateResult } from './generation/generate.js';
export type { GenerateOptions, TokenEvent } from './generation/options.js';
export { generateText, trimGenerated, type GenerateTextOptions, type GeneratedText } from './generation/generate-text.js';
export { TextStreamer } from './generation/text-streamer.js';
export { loadTextGenerator, loadTranslator, type TextGenerator, type Translator } from './generation/load.js';
export { translate, type TranslateOptions, type Translation } from './generation/translate.js';
export { readGenerationConfig, parseGenerationConfig, withDefaults, type GenerationDefaults } from './generation/generation-config.js';
export { causalLmData, type CausalLmDataOptions } from './train/data/causal-lm.js';
export { translationData, encodeTranslation, readTranslationPairs, type TranslationDataOptions } from './train/data/translation.js';
export type { TrainingData, CommonDataOptions } from './train/data/training-data.js';
export { ChunkedBatchSource, type DataPosition } from './train/data/sampler.js';
export { heldOutSplit } from './train/data/split.js';
export { shiftTokensRight } from './train/data/shift.js';
export { collateCausal, collateSeq2Seq, collateBlocks, packDocuments, IGNORE_INDEX } from './train/data/collate.js';
export { corpusChrf, sentenceChrf, type ChrfOptions, type ChrfResult } from './train/metrics/chrf.js';
export { corpusBleu, sentenceBleu, type BleuOptions, type BleuResult } from './train/metrics/bleu.js';
export { AdamW, hfNoDecay, type AdamWOptions, type AdamWState } from './train/adamw.js';
export { lrMultiplier, parseScheduleName, SCHEDULE_NAMES, type ScheduleName, type ScheduleOptions } from './train/schedules.js';
export { clipGradNorm, globalNorm } from './train/clip.js';
export { trainablePredicate, globToRegExp } from './train/freeze.js';
export { GradAccumulator } from './train/accumulate.js';
export { distinctParameters, type TrainableModel, type NamedParameter, type TrainParam, type LossOutput } from './core/trainable.js';
export { batchTensors, type BatchSource, type HostBatch, type HostArray } from './train/batch.js';
export { evaluateLoss } from './train/evaluate.js';
export { Trainer, selectTrainable, type TrainerConfig, type TrainerHooks, type TrainSummary, type EvalResult, type StepReport, type CheckpointReason } from './train/trainer.js';
export { runTraining, type TrainRunOptions, type TrainRunResult, type TrainRunHooks, type RunStartReport, type Task } from './train/run-training.js';
export { TRAINING_OPTIONS, resolveTrainingOptions, trainingCliOptions, trainingOptionsFromArgs, type TrainingOptionValues } from './train/options.js';
export { loadModel, archOf, type LoadModelOptions } from './train/load-model.js';
export { exportHfModel, hfStateDict, generationConfigFrom } from './train/export-hf.js';
export { initModelDir, type InitModelOptions } from './train/init-model.js';
export { makeFolder } from './train/run-folder.js';
export { initHfTensors, hfParameterSpecs, defaultHfConfig, type Arch } from './train/hf-init.js';
export { greedyTranslate, scoreTranslations, type DevPair } from './train/translate-eval.js';
export { renderPlot, renderPlotSvg, plotLayout, linearTicks, logTicks, svgPathFor, writeLossPlot, type Tick, type PlotLayout } from './train/plot.js';
export { encodePng, decodePng } from './train/png.js';
export { syntheticPairs, syntheticSplit, englishNumber, frenchNumber, type Pair } from './train/demo/synthetic-task.js';
export { saveCheckpoint, loadCheckpoint, listCheckpoints, resolveCheckpoint, checkpointsRoot } from './checkpoints/training-checkpoint.js';
export { parseNllbMoeConfig, isSparseLayer, type NllbMoeConfig } from './models/nllb-moe/config.js';
export { lmCrossEntropy, nllbMoeLoss, type NllbMoeLossInput } from './models/nllb-moe/loss.js';
export { NllbMoeModel, NllbMoeForConditionalGeneration, type NllbMoeForwardInput, type NllbMoeForwardOutput, type NllbMoeRunOptions, type LossOptions as NllbMoeLossOptions } from './models/nllb-moe/model.js';
export { loadNllbMoeWeights, nllbMoeWeights } from './models/nllb-moe/weights.js';
export { NllbMoeSession, type NllbMoeSessionOptions } from './models/nllb-moe/session.js';
export type { MoeLayerMetrics } from './models/nllb-moe/metrics.js';
export { Top2Router, type RouterConfig, type RouterOutput } from './layers/moe/router.js';
export { planRouting, type RoutingPlan, type RoutingStats, type PlanOptions } from './layers/moe/routing-plan.js';
export { SparseMLP, type SparseMLPConfig } from './layers/moe/sparse-mlp.js';
export { maskExpertOutput, type ExpertOutputMaskingMode } from './layers/moe/expert-output-masking.js';
export { moeLoss, hfLoadBalancingLoss, standardRouterLosses, type MoeLossMode } from './losses/moe-losses.js';
export { parseXGLMConfig, withConfigOverrides as withXGLMConfigOverrides, toHfJson as xglmConfigToHfJson, XGLM_DEFAULTS, type XGLMConfig } from './models/xglm/config.js';
export { XGLMForCausalLM, XGLMModel, type XGLMForwardInput, type XGLMForwardOutput, type XGLMRunInput } from './models/xglm/model.js';
export { loadXGLMWeights, xglmWeights } from './models/xglm/weights.js';
export { initXGLMWeights } from './models/xglm/init.js';
export { XGLMDecoderSession } from './models/xglm/session.js';
export { crossEntropy, IGNORE_INDEX as CROSS_ENTROPY_IGNORE_INDEX } from './losses/cross-entropy.js';
export { PolyglotLayer, type HfParameter, type RunOptions } from './layers/base.js';
export { Linear } from './layers/linear.js';
export { LayerNorm } from './layers/layer-norm.js';
export { ScaledEmbedding } from './layers/scaled-embedding.js';
export { SinusoidalPositions, sinusoidalTable, defaultPositionIds, positionIdsFromInputIds } from './layers/sinusoidal-positions.js';
export { Attention, type KeyValue } from './layers/attention.js';
export { causalAttentionMask, paddingAttentionMask } from './layers/attention-mask.js';
export { FeedForward } from './layers/feed-forward.js';
export { XGLMDecoderBlock } from './models/xglm/decoder-block.js';
export { applyActivation, ACTIVATION_NAMES, type ActivationName } from './layers/activations.js';
export { exportCheckpoint } from './train/export-checkpoint.js';
export {
  ARCHITECTURES,
  MODEL_ENTRIES,
  MODEL_TYPES,
  findModelEntry,
  modelEntryFor,
  loadModelFromCheckpoint,
  loadModelForTask,
  loadPretrainedModel,
  loadPretrainedTokenizer,
  describeModel,
  type Architecture,
  type LoadedModel,
  type ModelEntry,
  type RegisteredArchitecture,
  type PipelineTask,
} from './models/registry.js';
export { formatFor, type CheckpointFormat, type WeightNaming, type TokenizerKind } from './models/checkpoint-format.js';
export { modelFromCheckpoint, modelFromPretrained, loadWeightsInto, type PretrainedOptions, type PretrainedModel, type PretrainedClass, type GenerationConfigFile } from './models/pretrained.js';
export { xglmFormat } from './models/xglm/format.js';
export { nllbMoeFormat } from './models/nllb-moe/format.js';
export { m2m100Format } from './models/nllb-moe/m2m100-format.js';
export { pipeline, type TextGenerationPipeline, type TranslationPipeline, type TranslationPipelineOptions, type TextGenerationPipelineOptions, type GeneratedTextOutput, type TranslationOutput } from './generation/pipeline.js';
export { modelGenerationDefaults } from './generation/generation-config.js';
// LoRA adapters (peft format), docs/LORA.md
export { LoraAdapter } from './layers/lora.js';
export { LoraModel, linearModules, type LoraSettings } from './train/lora/lora-model.js';
export { DEFAULT_LORA_TARGETS, peftTargetModules, type PeftTargetModules } from './train/lora/targets.js';
export { startLoraRun, type LoraTrainOptions, type LoraRun } from './train/lora/lora-run.js';
export { loadPeftAdapter, writePeftAdapter, readPeftConfig, peftConfigJson, peftTaskType, ADAPTER_CONFIG, ADAPTER_WEIGHTS, type PeftAdapterConfig } from './train/lora/peft-adapter.js';
export { mergeAdapterToDir, withMergedModelDir } from './train/lora/merge.js';
// M2M-100 / dense NLLB-200 (the all-dense NLLB-MoE, format m2m_100) and sparse upcycling
export { parseM2M100Config, M2M100_CONFIG_KEYS } from './models/nllb-moe/m2m100-config.js';
export { m2m100ToNllbMoeName, nllbMoeToM2m100Name, isIgnoredM2m100Key } from './models/nllb-moe/m2m100-names.js';
export { upcycleCheckpoint, denseSourceOf } from './models/nllb-moe/upcycle-source.js';
export { upcycleToNllbMoe, upcycleSteps, type UpcycleOptions, type UpcycleResult, type DenseSource } from './models/nllb-moe/upcycle.js';
