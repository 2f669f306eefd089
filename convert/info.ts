/**
 * `polyglot info` logic: what a checkpoint is (architecture, config summary), how many
 * parameters it holds (tied aliases counted once), in which dtypes, and its size on disk.
 * Reads headers / pickles only, never tensor data.
 */
import { checkConfigBounds } from './config-bounds.js';
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

/** Summary rows of a config no registered model_type describes: the common HF field names. */
export function genericSummary(config: Record<string, unknown>): Record<string, string | number | boolean> {
  const rows: Record<string, string | number | boolean> = {};
  for (const k of ['num_hidden_layers', 'num_layers', 'hidden_size', 'd_model', 'num_attention_heads', 'intermediate_size', 'vocab_size']) {
    const v = config[k];
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') rows[k] = v;
  }
  return rows;
}

/**
 * `summarize` gives the model-specific config rows (models/registry.ts `describeModel` passes the
 * model_type's own); torch_dtype is added to them.
 */
export function describeCheckpoint(ck: HfCheckpoint, summarize: (config: Record<string, unknown>) => Record<string, string | number | boolean> = genericSummary): CheckpointDescription {
  const config = ck.config;
  checkConfigBounds(config, `${ck.dir}/config.json`);
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
    summary: withTorchDtype(summarize(config), config),
    tensorCount: names.length,
    aliases,
    parameterCount,
    expertParameterCount,
    dtypes,
    files,
    sizeOnDisk: files.reduce((a, f) => a + f.bytes, 0),
  };
}

function withTorchDtype(rows: Record<string, string | number | boolean>, config: Record<string, unknown>): Record<string, string | number | boolean> {
  const v = config.torch_dtype;
  return typeof v === 'string' ? { ...rows, torch_dtype: v } : rows;
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
