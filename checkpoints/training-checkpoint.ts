/**
 * Training checkpoints: `<out>/checkpoints/checkpoint-<step>/` holding
 *   weights.safetensors    every parameter (HF names, tfjs layout: [in, out] Linear weights)
 *   optimizer.safetensors  AdamW moments `m/<name>`, `v/<name>`
 *   trainer_state.json     step, RNG states, data position, schedule, history (written last)
 * A checkpoint is built in a temporary sibling directory and renamed into place, with
 * every file and both directories fsync'ed, so a crash never leaves a half checkpoint
 * under a real name. Only the newest `keep` checkpoints are kept. A temporary left by a
 * killed writer (`.checkpoint-N.tmp-PID`, PID no longer running) is removed when a run
 * starts and after a failed write, so kills and full disks do not accumulate them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';
import { SafetensorsFile } from '../convert/safetensors.js';
import { fsyncDir, writeAll, writeFileAtomic } from '../convert/atomic.js';
import { writeSafetensors } from '../convert/safetensors-writer.js';
import { isProcessAlive } from './process-alive.js';

/** AdamW's resumable state as a checkpoint stores it (train/adamw.ts produces and restores it). */
export interface AdamWState {
  step: number;
  /** Per parameter name: first and second moments (flat float32, tfjs layout) and its own step count. */
  moments: Record<string, { m: Float32Array; v: Float32Array; shape: number[]; step?: number }>;
}

export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

const f32 = (ts: NamedArray[]) => ts.map((t) => ({ ...t, dtype: 'F32' as const }));

export const CHECKPOINT_FORMAT = 'polyglot-train-checkpoint';

export interface TrainerStateJson {
  format: typeof CHECKPOINT_FORMAT;
  version: 1;
  /** Optimizer steps completed. */
  step: number;
  /** Anything JSON the trainer needs to continue exactly (RNG states, data position, history, options). */
  state: Record<string, unknown>;
}

export interface CheckpointContents {
  step: number;
  weights: NamedArray[];
  optimizer: AdamWState;
  state: Record<string, unknown>;
}

const DIR_RE = /^checkpoint-(\d+)$/;

/** Steps past this are not a real training run (a year at 30 steps/s is 1e9). */
const MAX_STEP = 1e9;

export function checkpointsRoot(outDir: string): string {
  return path.join(outDir, 'checkpoints');
}

/** Complete checkpoints under `root`, oldest first. */
export function listCheckpoints(root: string): { step: number; dir: string }[] {
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .map((n) => ({ m: DIR_RE.exec(n), n }))
    .filter((x) => x.m && fs.existsSync(path.join(root, x.n, 'trainer_state.json')))
    .map((x) => ({ step: Number(x.m![1]), dir: path.join(root, x.n) }))
    .sort((a, b) => a.step - b.step);
}

const TMP_RE = /^\.checkpoint-\d+\.tmp-(\d+)$/;

/**
 * Removes checkpoint temporaries whose writer is gone (its PID is not running), and this
 * process's own when `ownToo` (after a failed write). Returns the removed paths.
 */
export function cleanStaleTemporaries(root: string, ownToo = false): string[] {
  if (!fs.existsSync(root)) return [];
  const removed: string[] = [];
  for (const n of fs.readdirSync(root)) {
    const m = TMP_RE.exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid ? !ownToo : isProcessAlive(pid)) continue;
    const p = path.join(root, n);
    fs.rmSync(p, { recursive: true, force: true });
    removed.push(p);
  }
  return removed;
}

/** Saves a checkpoint atomically and prunes old ones; returns its directory. */
export function saveCheckpoint(root: string, c: CheckpointContents, keep: number): string {
  fs.mkdirSync(root, { recursive: true });
  const name = `checkpoint-${String(c.step).padStart(7, '0')}`;
  try {
    return writeCheckpoint(root, name, c, keep);
  } catch (e) {
    cleanStaleTemporaries(root, true);
    if (e instanceof PolyglotError) throw e;
    throw new PolyglotError(`${path.join(root, name)}: cannot write the checkpoint (${(e as Error).message}); the earlier checkpoints are intact`);
  }
}

function writeCheckpoint(root: string, name: string, c: CheckpointContents, keep: number): string {
  const final = path.join(root, name);
  const tmp = path.join(root, `.${name}.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  writeSafetensors(path.join(tmp, 'weights.safetensors'), f32(c.weights), { format: 'tfjs-layout' });
  const moments: NamedArray[] = [];
  for (const [n, mo] of Object.entries(c.optimizer.moments)) {
    moments.push({ name: `m/${n}`, shape: mo.shape, data: mo.m }, { name: `v/${n}`, shape: mo.shape, data: mo.v });
  }
  // per-parameter AdamW step counts (torch state['step']) as metadata
  const steps = Object.fromEntries(Object.entries(c.optimizer.moments).map(([n, mo]) => [n, mo.step ?? c.optimizer.step]));
  writeSafetensors(path.join(tmp, 'optimizer.safetensors'), f32(moments), { step: String(c.optimizer.step), param_steps: JSON.stringify(steps) });
  const st: TrainerStateJson = { format: CHECKPOINT_FORMAT, version: 1, step: c.step, state: c.state };
  writeFileAtomic(path.join(tmp, 'trainer_state.json'), (fd) => writeAll(fd, Buffer.from(JSON.stringify(st, null, 1), 'utf8')));
  fsyncDir(tmp);
  if (fs.existsSync(final)) fs.rmSync(final, { recursive: true, force: true });
  fs.renameSync(tmp, final);
  fsyncDir(root);
  const all = listCheckpoints(root);
  for (const old of all.slice(0, Math.max(0, all.length - Math.max(1, keep)))) fs.rmSync(old.dir, { recursive: true, force: true });
  return final;
}

/**
 * Resolves `--resume DIR`: DIR may be a checkpoint itself, a `checkpoints/` folder or a
 * training output folder (the newest complete checkpoint is taken).
 */
export function resolveCheckpoint(dir: string): string {
  const abs = path.resolve(dir);
  if (fs.existsSync(path.join(abs, 'trainer_state.json'))) return abs;
  for (const root of [abs, checkpointsRoot(abs)]) {
    const list = listCheckpoints(root);
    if (list.length) return list[list.length - 1].dir;
  }
  throw new PolyglotError(`--resume ${dir}: no training checkpoint found (expected trainer_state.json in it, or checkpoint-<step>/ folders in it or in its checkpoints/)`);
}

export function loadCheckpoint(dir: string): CheckpointContents {
  const stPath = path.join(dir, 'trainer_state.json');
  let st: TrainerStateJson;
  try {
    st = JSON.parse(fs.readFileSync(stPath, 'utf8')) as TrainerStateJson;
  } catch (e) {
    throw new PolyglotError(`${stPath}: cannot read the trainer state (${(e as Error).message})`);
  }
  if (typeof st !== 'object' || st === null || Array.isArray(st)) throw new PolyglotError(`${stPath}: expected a JSON object`);
  if (st.format !== CHECKPOINT_FORMAT) throw new PolyglotError(`${stPath}: format: expected "${CHECKPOINT_FORMAT}", found ${JSON.stringify(st.format)}`);
  // A step or RNG state the trainer never writes is a damaged checkpoint: say so instead of resuming from it.
  if (!Number.isSafeInteger(st.step) || st.step < 0 || st.step > MAX_STEP) throw new PolyglotError(`${stPath}: step: expected an integer from 0 to ${MAX_STEP}, found ${JSON.stringify(st.step)}`);
  if (typeof st.state !== 'object' || st.state === null || Array.isArray(st.state)) throw new PolyglotError(`${stPath}: state: expected an object, found ${JSON.stringify(st.state)?.slice(0, 60)}`);
  const rng = st.state.rng;
  if (!Array.isArray(rng) || rng.length !== 4 || !rng.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff)) {
    throw new PolyglotError(`${stPath}: state.rng: expected 4 unsigned 32-bit integers, found ${JSON.stringify(rng)?.slice(0, 60)}`);
  }
  const w = SafetensorsFile.open(path.join(dir, 'weights.safetensors'));
  const weights: NamedArray[] = w.names().map((n) => {
    const t = w.read(n);
    return { name: n, shape: t.shape, data: t.data as Float32Array };
  });
  const o = SafetensorsFile.open(path.join(dir, 'optimizer.safetensors'));
  const moments: AdamWState['moments'] = {};
  let paramSteps: Record<string, number> = {};
  try {
    paramSteps = o.metadata.param_steps ? (JSON.parse(o.metadata.param_steps) as Record<string, number>) : {};
  } catch (e) {
    throw new PolyglotError(`${o.path}: __metadata__.param_steps: not valid JSON (${(e as Error).message})`);
  }
  if (typeof paramSteps !== 'object' || paramSteps === null || Array.isArray(paramSteps) || !Object.values(paramSteps).every((x) => Number.isSafeInteger(x) && x >= 0 && x <= MAX_STEP)) {
    throw new PolyglotError(`${o.path}: __metadata__.param_steps: expected an object of parameter name -> step`);
  }
  const optimizerStep = Number(o.metadata.step ?? st.step);
  if (!Number.isSafeInteger(optimizerStep) || optimizerStep < 0 || optimizerStep > MAX_STEP) throw new PolyglotError(`${o.path}: __metadata__.step: expected an integer from 0 to ${MAX_STEP}, found ${JSON.stringify(o.metadata.step)}`);
  for (const n of o.names()) {
    if (!n.startsWith('m/')) continue;
    const p = n.slice(2);
    const m = o.read(n);
    const v = o.read(`v/${p}`);
    moments[p] = { m: m.data as Float32Array, v: v.data as Float32Array, shape: m.shape, step: paramSteps[p] };
  }
  return { step: st.step, weights, optimizer: { step: optimizerStep, moments }, state: st.state };
}
