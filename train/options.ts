/**
 * Training options, declared once: each entry gives the library name (the key), the CLI flag,
 * HF Trainer aliases, type, default, bounds and help. `polyglot train` builds its yargs options
 * from this table and `runTraining` takes its defaults and checks from it, so a library user
 * and a CLI user get the same run from the same values.
 *
 * HF names are aliases where users expect them (TrainingArguments: learning_rate,
 * per_device_train_batch_size, gradient_accumulation_steps, lr_scheduler_type, save_steps,
 * save_total_limit, eval_steps, label_smoothing_factor, max_grad_norm, num_train_epochs).
 */
import { PolyglotError } from '../core/errors.js';
import { SCHEDULE_NAMES } from './schedules.js';

interface Spec {
  flag: string;
  aliases?: readonly string[];
  type: 'number' | 'string' | 'boolean' | 'strings';
  choices?: readonly string[];
  default?: number | string | boolean;
  /** Numbers: integer >= min, or (real) in [min, below). */
  integer?: boolean;
  min?: number;
  below?: number;
  positive?: boolean;
  describe: string;
}

export const TRAINING_OPTIONS = {
  task: { flag: 'task', type: 'string', choices: ['causal-lm', 'translation'], describe: 'default: causal-lm for xglm, translation for nllb-moe' },
  evalData: { flag: 'eval-data', type: 'strings', describe: 'held-out file(s) (default: 2% of --data)' },
  maxSteps: { flag: 'max-steps', type: 'number', integer: true, min: 1, describe: 'optimizer steps (or --epochs)' },
  epochs: { flag: 'epochs', aliases: ['num-train-epochs'], type: 'number', positive: true, describe: 'passes over --data (when --max-steps is not given)' },
  lr: { flag: 'lr', aliases: ['learning-rate'], type: 'number', default: 5e-4, positive: true, describe: 'peak learning rate (AdamW)' },
  batchSize: { flag: 'batch-size', aliases: ['per-device-train-batch-size'], type: 'number', default: 8, integer: true, min: 1, describe: 'examples per micro-batch' },
  gradAccum: { flag: 'grad-accum', aliases: ['gradient-accumulation-steps'], type: 'number', default: 1, integer: true, min: 1, describe: 'micro-batches per optimizer step' },
  warmupSteps: { flag: 'warmup-steps', type: 'number', default: 0, integer: true, min: 0, describe: 'linear warmup steps' },
  schedule: { flag: 'schedule', aliases: ['lr-scheduler-type'], type: 'string', choices: SCHEDULE_NAMES, default: 'linear', describe: 'learning-rate schedule (HF formulas)' },
  weightDecay: { flag: 'weight-decay', type: 'number', default: 0, min: 0, describe: 'AdamW decoupled weight decay (not on biases / LayerNorm, as HF Trainer)' },
  decayBiasAndNorm: { flag: 'decay-bias-norm', type: 'boolean', default: false, describe: 'also decay biases and LayerNorm weights (torch AdamW over all parameters)' },
  maxGradNorm: { flag: 'max-grad-norm', type: 'number', default: 1, min: 0, describe: 'global gradient-norm clipping (0: off)' },
  labelSmoothing: { flag: 'label-smoothing', aliases: ['label-smoothing-factor'], type: 'number', default: 0, min: 0, below: 1, describe: 'CrossEntropyLoss label_smoothing' },
  evalEvery: { flag: 'eval-every', aliases: ['eval-steps'], type: 'number', default: 100, integer: true, min: 0, describe: 'evaluate every N steps (0: never)' },
  // HF TrainingArguments.save_steps defaults to 500: a crash or a kill loses at most that much.
  saveEvery: { flag: 'save-every', aliases: ['save-steps'], type: 'number', default: 500, integer: true, min: 0, describe: 'checkpoint every N steps (0: only at the end, on a signal or an error)' },
  keep: { flag: 'keep', aliases: ['save-total-limit'], type: 'number', default: 2, integer: true, min: 1, describe: 'checkpoints kept' },
  resume: { flag: 'resume', type: 'string', describe: 'continue from a checkpoint (or an --out folder: its newest checkpoint)' },
  seed: { flag: 'seed', type: 'number', default: 42, integer: true, min: 0, describe: 'seed of shuffling, dropout and routing noise' },
  freeze: { flag: 'freeze', type: 'strings', describe: 'HF parameter-name globs not to train (* within a dotted segment, ** across)' },
  trainOnly: { flag: 'train-only', type: 'strings', describe: 'train only parameters matching these globs, e.g. "**.experts.**" "**.router.**"' },
  moeLoss: { flag: 'moe-loss', type: 'string', choices: ['standard', 'hf'], describe: 'NLLB-MoE: standard (Switch aux + z-loss, default) or hf (HF formula, quirks included)' },
  maxLength: { flag: 'max-length', type: 'number', default: 128, integer: true, min: 2, describe: 'causal-lm: tokens per example (block size with --pack)' },
  pack: { flag: 'pack', type: 'boolean', default: false, describe: 'causal-lm: pack documents into fixed blocks' },
  maxSourceLength: { flag: 'max-source-length', type: 'number', integer: true, min: 3, describe: 'translation: source ids per example (truncate)' },
  maxTargetLength: { flag: 'max-target-length', type: 'number', integer: true, min: 3, describe: 'translation: target ids per example (truncate)' },
  srcLang: { flag: 'src-lang', type: 'string', describe: 'translation: source language for lines without src_lang (default: the tokenizer\'s)' },
  tgtLang: { flag: 'tgt-lang', type: 'string', describe: 'translation: target language for lines without tgt_lang (default: the tokenizer\'s)' },
  devTranslations: { flag: 'dev-translations', type: 'number', default: 32, integer: true, min: 0, describe: 'translation: held-out sentences decoded for chrF/BLEU at each evaluation' },
  force: { flag: 'force', type: 'boolean', default: false, describe: 'start over in a non-empty --out (its checkpoints, metrics and model are deleted) and replace an existing --export-dir' },
} as const satisfies Record<string, Spec>;

type Specs = typeof TRAINING_OPTIONS;
type ValueOf<S> = S extends { choices: readonly (infer C)[] }
  ? C
  : S extends { type: 'number' }
    ? number
    : S extends { type: 'boolean' }
      ? boolean
      : S extends { type: 'strings' }
        ? string[]
        : string;

/** The training options' values, by library name. */
export type TrainingOptionValues = { [K in keyof Specs]: ValueOf<Specs[K]> };
type KeysWithDefault = { [K in keyof Specs]: Specs[K] extends { default: unknown } ? K : never }[keyof Specs];
/** Options after defaults: those with a default are always set. */
export type ResolvedTrainingOptions = Pick<TrainingOptionValues, KeysWithDefault> & Partial<Omit<TrainingOptionValues, KeysWithDefault>>;

export const TRAINING_OPTION_KEYS = Object.keys(TRAINING_OPTIONS) as (keyof Specs)[];

function specOf(key: keyof Specs): Spec {
  return TRAINING_OPTIONS[key] as Spec;
}

/** The table's defaults under `given`, checked against the table's bounds; errors name the CLI flag. */
export function resolveTrainingOptions(given: Partial<TrainingOptionValues>): ResolvedTrainingOptions {
  const out: Record<string, unknown> = {};
  for (const key of TRAINING_OPTION_KEYS) {
    const s = specOf(key);
    const v = given[key] ?? s.default;
    if (v === undefined) continue;
    checkValue(s, v);
    out[key] = v;
  }
  return out as ResolvedTrainingOptions;
}

function checkValue(s: Spec, v: unknown): void {
  const flag = `--${s.flag}`;
  if (s.choices && !s.choices.includes(v as string)) throw new PolyglotError(`${flag}: expected one of ${s.choices.join(', ')}, found ${JSON.stringify(v)}`);
  if (s.type === 'number') {
    const n = v as number;
    if (typeof n !== 'number' || Number.isNaN(n)) throw new PolyglotError(`${flag}: expected a number, found ${JSON.stringify(v)}`);
    if (s.integer && !(Number.isInteger(n) && n >= (s.min ?? -Infinity))) throw new PolyglotError(`${flag}: expected an integer >= ${s.min}, found ${n}`);
    if (s.positive && !(n > 0)) throw new PolyglotError(`${flag}: expected a positive number, found ${n}`);
    if (!s.integer && s.min !== undefined && !(n >= s.min && (s.below === undefined || n < s.below))) {
      throw new PolyglotError(`${flag}: expected a value in [${s.min}, ${s.below ?? 'inf'}), found ${n}`);
    }
  }
}

/** The yargs definition of one option (for the CLI, which owns yargs). */
export interface CliOptionDefinition {
  key: keyof Specs;
  flag: string;
  options: { type: 'number' | 'string' | 'boolean'; array?: boolean; alias?: string[]; choices?: string[]; default?: unknown; describe: string };
}

export function trainingCliOptions(): CliOptionDefinition[] {
  return TRAINING_OPTION_KEYS.map((key) => {
    const s = specOf(key);
    const hf = s.aliases?.length ? ` (alias ${s.aliases.map((a) => `--${a}`).join(', ')})` : '';
    return {
      key,
      flag: s.flag,
      options: {
        type: s.type === 'strings' ? 'string' : s.type,
        ...(s.type === 'strings' ? { array: true } : {}),
        ...(s.aliases ? { alias: [...s.aliases] } : {}),
        ...(s.choices ? { choices: [...s.choices] } : {}),
        ...(s.default !== undefined ? { default: s.default } : {}),
        describe: `${s.describe}${hf}`,
      },
    };
  });
}

/** Library values from parsed CLI arguments (keyed by flag). */
export function trainingOptionsFromArgs(args: Record<string, unknown>): Partial<TrainingOptionValues> {
  const out: Record<string, unknown> = {};
  for (const key of TRAINING_OPTION_KEYS) {
    const v = args[specOf(key).flag];
    if (v !== undefined) out[key] = v;
  }
  return out as Partial<TrainingOptionValues>;
}
