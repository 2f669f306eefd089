/** tfjs-polyglot library API. The `polyglot` CLI is a thin shell over these exports. */
export { PolyglotError } from './core/errors.js';
export { tf } from './core/tf.js';
export { selectBackend, type BackendName } from './backend/select.js';
export type { Ops, Dim, DType } from './ops/ops.js';
export { eagerOps } from './ops/eager.js';
export { SafetensorsFile, type HostTensor } from './convert/safetensors.js';
export { openSafetensorsDir, type HfCheckpoint, type TensorSource } from './convert/checkpoint.js';
export { verifyFixture, formatResultsTable } from './verify/verify.js';
export type { CaseResult } from './verify/types.js';
export { loadTokenizer, tokenizerFromModel, type Tokenizer, type LoadTokenizerOptions } from './tokenizers/load.js';
export { XGLMTokenizer } from './tokenizers/xglm.js';
export { NllbTokenizer } from './tokenizers/nllb.js';
export { NLLB_LANGUAGE_CODES } from './tokenizers/nllb-languages.js';
export { FairseqSpmTokenizer, type EncodeOptions, type DecodeOptions, type BatchEncodeOptions, type BatchEncoding } from './tokenizers/tokenizer.js';
export { exportGraphModels, EXPORT_FORMATS, COPIED_FILES, type ExportFormat, type ExportOptions, type ExportResult } from './export/export-model.js';
export { GraphOps, type GraphNode, type RecordedGraph } from './export/graph-ops.js';
export { serializeGraphModel, writeGraphModelFiles, type GraphModelArtifacts } from './export/graph-model-writer.js';
export { QUANTIZE_MODES, parseQuantizeMode, type QuantizeMode } from './export/quantize.js';
