/**
 * `polyglot export DIR --out OUT --format graph`: a checkpoint -> a folder of TensorFlow.js
 * graph models that run with stock @tensorflow/tfjs, plus the tokenizer files, config.json,
 * generation_config.json and a README. The output folder appears atomically (complete or not
 * at all); an existing one is refused unless `force`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copyModelFile, isCopyableModelFile } from '../convert/model-file.js';
import { PolyglotError } from '../core/errors.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import { writeDirAtomically } from './atomic-dir.js';
import type { GraphSignature, SignatureEntry } from '../ops/graph.js';
import { writeGraphModel, writeWeightGroup, type WrittenWeightGroup } from './graph-model-writer.js';
import type { ConstValue } from '../ops/graph.js';
import { architectureOf, loadModelFromCheckpoint, type LoadedModel } from '../models/registry.js';
import type { QuantizeMode } from './quantize.js';
import type { WeightsChoice } from '../layers/weight-precision.js';
import { exportReadme, type GraphSummary } from './readme.js';

export const EXPORT_FORMATS = ['graph'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  out: string;
  format?: ExportFormat;
  quantize?: QuantizeMode;
  /**
   * Precision of the linear weights (default: as stored). int8: each linear weight is written
   * as one exact byte per value (uint8, min -128, scale 1, decoded by the stock loader) plus
   * float32 scales, and the graph computes (x · q) * scale (docs/QUANTIZATION.md "Export").
   */
  weights?: WeightsChoice;
  force?: boolean;
  /** Progress lines (e.g. to stderr). */
  log?: (line: string) => void;
}

export interface ExportResult {
  out: string;
  /** config.json model_type of the exported model. */
  modelType: string;
  graphs: GraphSummary[];
  copied: string[];
  totalBytes: number;
}

/** Files copied beside the graphs when the checkpoint has them. */
export const COPIED_FILES = [
  'config.json',
  'generation_config.json',
  'sentencepiece.bpe.model',
  'vocab.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'tokenizer.json',
  'added_tokens.json',
];

/** The graphs of a model: its architecture's signatures (models/<name>/graphs.ts). */
function plan(m: LoadedModel): GraphSignature[] {
  const { graphExport } = architectureOf(m);
  return (graphExport as { signatures(model: LoadedModel['model']): GraphSignature[] }).signatures(m.model);
}

/** Human names of dynamic dimensions, for the README tables. */
function dimNamesFor(folder: string): (e: SignatureEntry) => string[] {
  return (e) => {
    const n = e.name;
    if (folder === 'encoder_model') return ['B', 'S'];
    if (n === 'encoder_hidden_states' || n === 'encoder_attention_mask') return ['B', 'S'];
    if (/\.encoder\.(key|value)$/.test(n)) return ['B', '', 'S'];
    if (n.startsWith('past_key_values.')) return ['B', '', 'P'];
    const withPast = folder === 'decoder_with_past_model';
    if (n.startsWith('present.')) return ['B', '', withPast ? 'P + T' : 'T'];
    if (n === 'attention_mask' || n === 'decoder_attention_mask') return ['B', withPast ? 'P + T' : 'T'];
    return ['B', 'T'];
  };
}

function notes(m: LoadedModel): string[] {
  const c = m.model.config;
  const { graphExport } = architectureOf(m);
  return [
    ...(graphExport as { notes(model: LoadedModel['model']): string[] }).notes(m.model),
    `Sinusoidal positions are computed inside the graph from the position ids (HF's float32 formula), so sequences may run past max_position_embeddings = ${c.maxPositionEmbeddings} as in Hugging Face, where the table grows.`,
    'Outputs at padding positions are meaningless (as in Hugging Face); compare / sample only real positions.',
  ];
}

export async function exportGraphModels(dirOrModelId: string, opts: ExportOptions): Promise<ExportResult> {
  const format = opts.format ?? 'graph';
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new PolyglotError(`--format: expected one of ${EXPORT_FORMATS.join(', ')}, found ${JSON.stringify(format)}`);
  }
  const quantize = opts.quantize ?? 'none';
  const log = opts.log ?? (() => undefined);
  // Refuse before the (possibly long) model load.
  if (fs.existsSync(opts.out) && !opts.force) throw new PolyglotError(`${opts.out}: output folder already exists (use --force to replace it)`);
  const ck = openCheckpoint(dirOrModelId);
  const m = loadModelFromCheckpoint(ck, { weights: opts.weights }, ' to export as a graph model');
  try {
    // Record every graph first (node lists only: weights are read from the model when written).
    const graphs = plan(m).map((p) => {
      log(`recording ${p.folder}`);
      try {
        return { ...p, graph: p.record() };
      } catch (e) {
        if (e instanceof PolyglotError) throw e;
        throw new PolyglotError(`${ck.dir}: cannot export ${p.folder} as a graph model: ${(e as Error).message}`);
      }
    });
    return await writeDirAtomically(opts.out, opts.force ?? false, (tmp) => {
      const summaries: GraphSummary[] = [];
      // Model tensors used by several graphs are written once, in OUT/weights/, one group per set
      // of graphs using them (each graph loads only groups it needs).
      const users = new Map<string, { c: ConstValue; folders: string[] }>();
      for (const g of graphs) {
        for (const c of g.graph.consts) {
          if (!c.fromWeight) continue;
          const u = users.get(c.name) ?? { c, folders: [] };
          u.folders.push(g.folder);
          users.set(c.name, u);
        }
      }
      const groups = new Map<string, ConstValue[]>();
      for (const { c, folders } of users.values()) {
        if (folders.length < 2) continue;
        const key = folders.join('+');
        groups.set(key, [...(groups.get(key) ?? []), c]);
      }
      const shared: { folders: string[]; group: WrittenWeightGroup }[] = [];
      let sharedBytes = 0;
      let k = 0;
      for (const [key, consts] of groups) {
        const g = writeWeightGroup(path.join(tmp, 'weights'), `shared${++k}`, consts, { quantize });
        log(`wrote weights/shared${k}: ${consts.length} tensors used by ${key.replace(/\+/g, ', ')}, ${(g.bytes / 1e6).toFixed(2)} MB`);
        shared.push({ folders: key.split('+'), group: { ...g, paths: g.paths.map((p) => `../weights/${p}`) } });
        sharedBytes += g.bytes;
      }
      let totalBytes = sharedBytes;
      for (const g of graphs) {
        const sharedGroups = shared.filter((s) => s.folders.includes(g.folder)).map((s) => s.group);
        const { bytes } = writeGraphModel(path.join(tmp, g.folder), g.graph, { quantize, sharedGroups, metadata: { polyglot: { model_type: m.format.modelType, graph: g.folder, quantize } } });
        const sharedHere = sharedGroups.reduce((a, grp) => a + grp.bytes, 0);
        log(`wrote ${g.folder}: ${g.graph.nodes.length} nodes, ${(bytes / 1e6).toFixed(2)} MB of its own${sharedHere ? ` + ${(sharedHere / 1e6).toFixed(2)} MB shared` : ''}`);
        // Reported size: what loading this graph reads (its own files + the shared shards it uses).
        summaries.push({ folder: g.folder, purpose: g.purpose, inputs: g.graph.inputs, outputs: g.graph.outputs, bytes: bytes + sharedHere });
        totalBytes += bytes;
      }
      const copied: string[] = [];
      for (const f of COPIED_FILES) {
        if (isCopyableModelFile(ck.dir, f)) {
          copyModelFile(path.join(ck.dir, f), path.join(tmp, f));
          copied.push(f);
        }
      }
      if (!copied.includes('sentencepiece.bpe.model')) log(`note: ${ck.dir} has no sentencepiece.bpe.model; copy the tokenizer beside the export yourself`);
      const readme = exportReadme({ title: m.format.label, source: readmeSource(dirOrModelId), quantize, graphs: summaries, dimNames: dimNamesFor, notes: notes(m) });
      fs.writeFileSync(path.join(tmp, 'README.md'), readme);
      return { out: opts.out, modelType: m.format.modelType, graphs: summaries, copied, totalBytes };
    });
  } finally {
    m.model.dispose();
  }
}

/** The source as the export's README names it: a hub id, or the model folder's name (never a local absolute path). */
function readmeSource(dirOrModelId: string): string {
  return fs.existsSync(dirOrModelId) ? path.basename(path.resolve(dirOrModelId)) : dirOrModelId;
}
