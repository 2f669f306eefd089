/**
 * LoRA adapters in Hugging Face peft's on-disk format (docs/LORA.md):
 *   adapter_config.json        LoraConfig.to_dict(), keys sorted, indent 2, inference_mode true (as save_pretrained writes it)
 *   adapter_model.safetensors  get_peft_model_state_dict(): `base_model.model.<module>.lora_A.weight` [r, in] and
 *                              `.lora_B.weight` [out, r] (the adapter name removed), plus modules_to_save parameters
 *                              as `base_model.model.<parameter name>`; metadata {"format": "pt"}.
 * Reading accepts what peft writes for plain LoRA on Linear layers; anything else (DoRA, per-layer rank
 * patterns, trained biases, embeddings, other peft types) is refused with a one-line error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../../core/tf.js';
import { PolyglotError } from '../../core/errors.js';
import { writeAll, writeFileAtomic } from '../../convert/atomic.js';
import { writeSafetensors } from '../../convert/safetensors-writer.js';
import { SafetensorsFile } from '../../convert/safetensors.js';
import { LoraModel, type HfNaming, type LoraSettings } from './lora-model.js';
import type { PeftTargetModules } from './targets.js';
import type { NamedParameter, TrainableModel } from '../../core/trainable.js';
import type { PipelineTask } from '../../models/registry.js';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
/** PeftModel prefixes every key of the wrapped model with this. */
const PREFIX = 'base_model.model.';

export type PeftTaskType = 'CAUSAL_LM' | 'SEQ_2_SEQ_LM';

/** The task type peft uses for a model of this pipeline task (AutoModelForCausalLM / AutoModelForSeq2SeqLM). */
export function peftTaskType(task: PipelineTask): PeftTaskType {
  return task === 'text-generation' ? 'CAUSAL_LM' : 'SEQ_2_SEQ_LM';
}

export interface PeftAdapterConfig extends LoraSettings {
  baseModelNameOrPath: string | null;
  taskType: PeftTaskType | null;
  modulesToSave: string[] | null;
}

/** adapter_config.json as peft's LoraConfig writes it (the fields of plain LoRA; defaults as in peft). */
export function peftConfigJson(c: PeftAdapterConfig): Record<string, unknown> {
  const json: Record<string, unknown> = {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: c.baseModelNameOrPath,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: c.alpha,
    lora_dropout: c.dropout,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: c.modulesToSave,
    peft_type: 'LORA',
    r: c.r,
    rank_pattern: {},
    revision: null,
    target_modules: c.targetModules,
    task_type: c.taskType,
    use_dora: false,
    use_rslora: c.useRslora ?? false,
  };
  return Object.fromEntries(Object.keys(json).sort().map((k) => [k, json[k]]));
}

/** Host copy of a parameter in HF layout ([out, in] for transposed Linear-style weights). */
function hfLayout(p: NamedParameter): { shape: number[]; data: Float32Array } {
  return tf.tidy(() => {
    const t = p.transposed ? tf.transpose(p.variable.read()) : p.variable.read();
    return { shape: t.shape.slice(), data: t.dataSync().slice() as Float32Array };
  });
}

export interface WriteAdapterOptions {
  baseModelNameOrPath: string | null;
  taskType: PeftTaskType;
  /** Base-model parameters trained beside the adapters (--train-only), saved as peft modules_to_save. */
  extraParameters?: NamedParameter[];
  overwrite?: boolean;
}

/** Writes `lora`'s adapters (and extra trained parameters) as a peft adapter directory. */
export function writePeftAdapter(dir: string, lora: LoraModel, o: WriteAdapterOptions): void {
  const cfgPath = path.join(dir, ADAPTER_CONFIG);
  if (!o.overwrite && fs.existsSync(cfgPath)) throw new PolyglotError(`${dir}: already holds an adapter (use --force to replace it)`);
  fs.mkdirSync(dir, { recursive: true });
  const extra = o.extraParameters ?? [];
  // adapter parameters are named after HF's modules already; --train-only ones are base parameters
  const named = [...lora.adapterParameters(), ...extra.map((p) => ({ ...p, name: lora.hfName(p.name) }))];
  const tensors = named
    .map((p) => ({ name: `${PREFIX}${p.name}`, dtype: 'F32' as const, ...hfLayout(p) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  writeSafetensors(path.join(dir, ADAPTER_WEIGHTS), tensors, { format: 'pt' });
  const modulesToSave = extra.length ? [...new Set(extra.map((p) => lora.hfName(p.name).replace(/\.[^.]+$/, '')))].sort() : null;
  const json = peftConfigJson({ ...lora.settings, baseModelNameOrPath: o.baseModelNameOrPath, taskType: o.taskType, modulesToSave });
  writeFileAtomic(cfgPath, (fd) => writeAll(fd, Buffer.from(`${JSON.stringify(json, null, 2)}\n`, 'utf8')));
}

function field(where: string, ok: boolean, name: string, expected: string, found: unknown): asserts ok {
  if (!ok) throw new PolyglotError(`${where}: field "${name}": expected ${expected}, found ${JSON.stringify(found)}`);
}

/** Parses and checks adapter_config.json. */
export function readPeftConfig(dir: string): PeftAdapterConfig {
  const where = path.join(dir, ADAPTER_CONFIG);
  if (!fs.existsSync(where)) throw new PolyglotError(`${dir}: not a peft adapter (no ${ADAPTER_CONFIG})`);
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(fs.readFileSync(where, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new PolyglotError(`${where}: cannot parse JSON (${(e as Error).message})`);
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new PolyglotError(`${where}: expected a JSON object`);
  field(where, j.peft_type === 'LORA', 'peft_type', '"LORA"', j.peft_type);
  field(where, Number.isInteger(j.r) && (j.r as number) >= 1, 'r', 'an integer >= 1', j.r);
  const alpha = j.lora_alpha ?? 8;
  field(where, typeof alpha === 'number' && Number.isFinite(alpha), 'lora_alpha', 'a number', alpha);
  const dropout = j.lora_dropout ?? 0;
  field(where, typeof dropout === 'number' && dropout >= 0 && dropout < 1, 'lora_dropout', 'a probability in [0, 1)', dropout);
  const tm = j.target_modules;
  field(where, typeof tm === 'string' || (Array.isArray(tm) && tm.length > 0 && tm.every((t) => typeof t === 'string')), 'target_modules', 'a list of module names or a regular expression', tm);
  field(where, (j.bias ?? 'none') === 'none', 'bias', '"none" (trained biases are not supported)', j.bias);
  field(where, !j.fan_in_fan_out, 'fan_in_fan_out', 'false (Conv1D-style weights are not in these models)', j.fan_in_fan_out);
  field(where, !j.use_dora, 'use_dora', 'false (DoRA is not supported)', j.use_dora);
  for (const k of ['rank_pattern', 'alpha_pattern'] as const) {
    const v = j[k];
    field(where, v === undefined || v === null || (typeof v === 'object' && Object.keys(v).length === 0), k, 'empty (per-module ranks are not supported)', v);
  }
  field(where, j.layers_to_transform === undefined || j.layers_to_transform === null, 'layers_to_transform', 'null', j.layers_to_transform);
  const mts = j.modules_to_save ?? null;
  field(where, mts === null || (Array.isArray(mts) && mts.every((t) => typeof t === 'string')), 'modules_to_save', 'null or a list of module names', mts);
  return {
    r: j.r as number,
    alpha,
    dropout,
    targetModules: tm as PeftTargetModules,
    useRslora: j.use_rslora === true,
    baseModelNameOrPath: typeof j.base_model_name_or_path === 'string' ? j.base_model_name_or_path : null,
    taskType: j.task_type === 'CAUSAL_LM' || j.task_type === 'SEQ_2_SEQ_LM' ? j.task_type : null,
    modulesToSave: mts as string[] | null,
  };
}

/**
 * Attaches the peft adapter in `dir` to `model` (its forward changes until detach / merge).
 * Every tensor of the file must land: lora_A / lora_B of a targeted module with the model's shapes, or a
 * modules_to_save parameter of the base model.
 */
export function loadPeftAdapter<M extends TrainableModel>(model: M, dir: string, o: { hfName?: HfNaming } = {}): LoraModel<M> {
  const cfg = readPeftConfig(dir);
  const file = path.join(dir, ADAPTER_WEIGHTS);
  if (!fs.existsSync(file)) throw new PolyglotError(`${dir}: no ${ADAPTER_WEIGHTS} (adapter_model.bin is not read: convert it with peft's save_pretrained(safe_serialization=True))`);
  const st = SafetensorsFile.open(file);
  const lora = new LoraModel(model, cfg, 0, { where: path.join(dir, ADAPTER_CONFIG), hfName: o.hfName });
  try {
    const own = new Map(lora.adapterParameters().map((p) => [p.name, p]));
    const base = new Map(model.namedParameters().map((p) => [lora.hfName(p.name), p]));
    const seen = new Set<string>();
    for (const key of st.names()) {
      const where = `${file}: tensor "${key}"`;
      if (!key.startsWith(PREFIX)) throw new PolyglotError(`${where}: expected a name starting with "${PREFIX}"`);
      const name = key.slice(PREFIX.length);
      const isLora = /\.lora_[AB]\.weight$/.test(name);
      const p = isLora ? own.get(name) : base.get(name);
      if (!p) {
        throw new PolyglotError(isLora ? `${where}: module ${name.replace(/\.lora_[AB]\.weight$/, '')} is not a target of this adapter in this model` : `${where}: not a LoRA weight nor a parameter of the base model`);
      }
      if (!isLora && !(cfg.modulesToSave ?? []).some((m) => name === m || name.startsWith(`${m}.`) || name.includes(`.${m}.`))) {
        throw new PolyglotError(`${where}: a base-model parameter, but its module is not in modules_to_save`);
      }
      const t = st.read(key);
      const want = p.transposed ? [...p.variable.shape].reverse() : p.variable.shape;
      if (t.shape.join() !== want.join()) throw new PolyglotError(`${where}: expected shape [${want.join(', ')}] (from the base model and r = ${cfg.r}), found [${t.shape.join(', ')}]`);
      if (!(t.data instanceof Float32Array)) throw new PolyglotError(`${where}: expected a floating-point tensor, found ${t.dtype}`);
      tf.tidy(() => {
        const v = tf.tensor(t.data as Float32Array, t.shape, 'float32');
        p.variable.write(p.transposed ? tf.transpose(v) : v);
      });
      seen.add(name);
    }
    const missing = [...own.keys()].find((n) => !seen.has(n));
    if (missing) throw new PolyglotError(`${file}: tensor "${PREFIX}${missing}": missing (target_modules selects its module)`);
    return lora;
  } catch (e) {
    lora.detach();
    throw e;
  }
}
