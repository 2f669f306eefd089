/**
 * `polyglot info` logic: what a checkpoint is (architecture, config summary), how many
 * parameters it holds (tied aliases counted once), in which dtypes, and its size on disk.
 * Reads headers / pickles only, never tensor data.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HfCheckpoint } from './checkpoint.js';
import { formatBytes } from '../core/format-bytes.js';

export interface CheckpointDescription {
  dir: string;
  modelType?: string;
  architectures: string[];
  /** Human summary of the config (label -> value, in display order), model-type specific. */
  summary: Record<string, string | number | boolean>;
  tensorCount: number;
  /** Tensors that alias an earlier one (same storage, tied weights): not counted twice. */
  aliases: { name: string; of: string }[];
  parameterCount: number;
  /** Of which in MoE experts (nllb-moe). */
  expertParameterCount: number;
  /** dtype -> { tensors, parameters } over unique tensors. */
  dtypes: Record<string, { tensors: number; parameters: number }>;
  files: { file: string; bytes: number }[];
  sizeOnDisk: number;
}

function num(config: Record<string, unknown>, key: string): number | undefined {
  const v = config[key];
  return typeof v === 'number' ? v : undefined;
}

/** HF NllbMoe{Encoder,Decoder}: layer i is sparse when (i + 1) % sparse_step == 0 (sparse_step > 0). */
export function sparseLayers(layers: number, sparseStep: number): number[] {
  const out: number[] = [];
  if (sparseStep > 0) for (let i = 0; i < layers; i++) if ((i + 1) % sparseStep === 0) out.push(i);
  return out;
}

function summarize(config: Record<string, unknown>): Record<string, string | number | boolean> {
  const rows: Record<string, string | number | boolean> = {};
  const add = (label: string, key: string): void => {
    const v = config[key];
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') rows[label] = v;
  };
  const type = config.model_type;
  if (type === 'xglm') {
    add('layers', 'num_layers');
    add('d_model', 'd_model');
    add('attention heads', 'attention_heads');
    add('ffn dim', 'ffn_dim');
    add('vocab size', 'vocab_size');
    add('max positions', 'max_position_embeddings');
    add('activation', 'activation_function');
  } else if (type === 'nllb-moe') {
    add('encoder layers', 'encoder_layers');
    add('decoder layers', 'decoder_layers');
    add('d_model', 'd_model');
    add('encoder heads', 'encoder_attention_heads');
    add('decoder heads', 'decoder_attention_heads');
    add('encoder ffn dim', 'encoder_ffn_dim');
    add('decoder ffn dim', 'decoder_ffn_dim');
    add('vocab size', 'vocab_size');
    add('experts', 'num_experts');
    add('expert capacity', 'expert_capacity');
    add('encoder sparse step', 'encoder_sparse_step');
    add('decoder sparse step', 'decoder_sparse_step');
    const enc = sparseLayers(num(config, 'encoder_layers') ?? 0, num(config, 'encoder_sparse_step') ?? 0);
    const dec = sparseLayers(num(config, 'decoder_layers') ?? 0, num(config, 'decoder_sparse_step') ?? 0);
    rows['sparse encoder layers'] = enc.length ? enc.join(', ') : 'none';
    rows['sparse decoder layers'] = dec.length ? dec.join(', ') : 'none';
    add('second expert policy', 'second_expert_policy');
  } else {
    for (const k of ['num_hidden_layers', 'num_layers', 'hidden_size', 'd_model', 'num_attention_heads', 'intermediate_size', 'vocab_size']) add(k, k);
  }
  add('torch_dtype', 'torch_dtype');
  return rows;
}

export function describeCheckpoint(ck: HfCheckpoint): CheckpointDescription {
  const config = ck.config;
  const names = ck.tensors.names();
  const aliases: { name: string; of: string }[] = [];
  const dtypes: CheckpointDescription['dtypes'] = {};
  let parameterCount = 0;
  let expertParameterCount = 0;
  for (const name of names) {
    const of = ck.tensors.aliasOf?.(name);
    if (of !== undefined) {
      aliases.push({ name, of });
      continue;
    }
    const m = ck.tensors.meta(name);
    const n = m.shape.reduce((a, d) => a * d, 1);
    parameterCount += n;
    if (/\.experts\./.test(name)) expertParameterCount += n;
    const d = (dtypes[m.dtype] ??= { tensors: 0, parameters: 0 });
    d.tensors++;
    d.parameters += n;
  }
  const files = [...ck.files].sort().map((f) => ({ file: f, bytes: fs.statSync(f).size }));
  const archs = Array.isArray(config.architectures) ? config.architectures.filter((a): a is string => typeof a === 'string') : [];
  return {
    dir: ck.dir,
    modelType: typeof config.model_type === 'string' ? config.model_type : undefined,
    architectures: archs,
    summary: summarize(config),
    tensorCount: names.length,
    aliases,
    parameterCount,
    expertParameterCount,
    dtypes,
    files,
    sizeOnDisk: files.reduce((a, f) => a + f.bytes, 0),
  };
}

/** 1234567 -> "1.23M" (parameters). */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

export { formatBytes };

export function formatCheckpointDescription(d: CheckpointDescription): string {
  const lines: string[] = [];
  const row = (k: string, v: string): void => {
    lines.push(`${(k + ':').padEnd(25)}${v}`);
  };
  row('directory', d.dir);
  row('model type', d.modelType ?? '(none in config.json)');
  row('architectures', d.architectures.length ? d.architectures.join(', ') : '(none)');
  for (const [k, v] of Object.entries(d.summary)) row(`  ${k}`, String(v));
  row('parameters', `${d.parameterCount} (${formatCount(d.parameterCount)})` + (d.expertParameterCount ? `, of which experts ${d.expertParameterCount} (${formatCount(d.expertParameterCount)})` : ''));
  row('tensors', `${d.tensorCount}` + (d.aliases.length ? ` (${d.aliases.length} tied: ${d.aliases.map((a) => `${a.name} = ${a.of}`).join(', ')})` : ''));
  row(
    'dtypes',
    Object.entries(d.dtypes)
      .map(([k, v]) => `${k} ${v.tensors} tensors / ${v.parameters} parameters`)
      .join('; ') || '(no tensors)',
  );
  for (const f of d.files) row('file', `${path.basename(f.file)} (${formatBytes(f.bytes)})`);
  row('size on disk', `${d.sizeOnDisk} bytes (${formatBytes(d.sizeOnDisk)})`);
  return lines.join('\n');
}
