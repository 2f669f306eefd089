/** The LoRA options of `polyglot train` and the `--adapter` option of the commands that run a model. */
import type { Argv } from 'yargs';
import { PolyglotError, type LoraTrainOptions } from '../index.js';

export interface LoraArgs {
  lora: boolean;
  'lora-r': number;
  'lora-alpha': number;
  'lora-dropout': number;
  'lora-targets'?: string[];
  'lora-rslora': boolean;
  'gradient-checkpointing': boolean;
  'memory-check': boolean;
}

export function loraOptions<T>(y: Argv<T>): Argv<T & LoraArgs> {
  return y
    .option('lora', { type: 'boolean', default: false, describe: 'train LoRA adapters on a frozen base (peft format, written to <out>/adapter)' })
    .option('lora-r', { type: 'number', default: 8, describe: 'LoRA rank' })
    .option('lora-alpha', { type: 'number', default: 16, describe: 'LoRA alpha (scaling alpha / r)' })
    .option('lora-dropout', { type: 'number', default: 0.05, describe: 'dropout on the adapters\' input' })
    .option('lora-targets', { type: 'string', array: true, describe: 'Linear modules to adapt: names (peft suffix rule, default q_proj v_proj) or globs, e.g. "*.ffn.experts.**"' })
    .option('lora-rslora', { type: 'boolean', default: false, describe: 'rank-stabilised scaling alpha / sqrt(r) (peft use_rslora)' })
    .option('gradient-checkpointing', { type: 'boolean', default: false, describe: 'recompute each dense block in backward instead of keeping its activations' })
    .option('memory-check', { type: 'boolean', default: true, describe: 'on wasm, refuse a run whose estimated step does not fit the 4 GiB heap (--no-memory-check: try anyway)' }) as unknown as Argv<T & LoraArgs>;
}

export function loraFromArgs(a: LoraArgs): LoraTrainOptions | undefined {
  if (!a.lora) {
    const given = (['lora-targets'] as const).filter((k) => a[k] !== undefined);
    if (given.length) throw new PolyglotError(`--${given[0]}: needs --lora`);
    return undefined;
  }
  if (!(Number.isInteger(a['lora-r']) && a['lora-r'] >= 1)) throw new PolyglotError(`--lora-r: expected an integer >= 1, found ${a['lora-r']}`);
  if (!Number.isFinite(a['lora-alpha'])) throw new PolyglotError(`--lora-alpha: expected a number, found ${a['lora-alpha']}`);
  if (!(a['lora-dropout'] >= 0 && a['lora-dropout'] < 1)) throw new PolyglotError(`--lora-dropout: expected a probability in [0, 1), found ${a['lora-dropout']}`);
  return { r: a['lora-r'], alpha: a['lora-alpha'], dropout: a['lora-dropout'], targets: a['lora-targets'], useRslora: a['lora-rslora'] };
}

export interface AdapterArgs {
  adapter?: string;
}

export function adapterOption<T>(y: Argv<T>): Argv<T & AdapterArgs> {
  return y.option('adapter', { type: 'string', describe: 'a LoRA adapter directory (peft format: adapter_config.json, adapter_model.safetensors) applied to the model' }) as unknown as Argv<T & AdapterArgs>;
}
