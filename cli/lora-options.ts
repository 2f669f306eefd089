/** The `--adapter` option of the commands that run a model (the LoRA training options live in train/options.ts). */
import type { Argv } from 'yargs';

export interface AdapterArgs {
  adapter?: string;
}

export function adapterOption<T>(y: Argv<T>): Argv<T & AdapterArgs> {
  return y.option('adapter', { type: 'string', describe: 'a LoRA adapter directory (peft format: adapter_config.json, adapter_model.safetensors) applied to the model' }) as unknown as Argv<T & AdapterArgs>;
}
