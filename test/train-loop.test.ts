import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../core/tf.js';
import { useBackend } from './helpers.js';
import { Trainer, type TrainerConfig } from '../train/trainer.js';
import { listCheckpoints } from '../checkpoints/training-checkpoint.js';
import { ToyLM, ToySource, toyEvalBatches } from './train-toy.js';
import type { BatchSource, HostBatch } from '../train/batch.js';
import type { LossOutput } from '../core/trainable.js';
import { decodePng } from '../train/png.js';
import { PolyglotError } from '../core/errors.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'train-'));

function config(outDir: string, over: Partial<TrainerConfig> = {}): TrainerConfig {
  return { maxSteps: 40, lr: 0.05, weightDecay: 0.01, schedule: 'linear', warmupSteps: 4, gradAccum: 1, maxGradNorm: 1, seed: 7, evalEvery: 20, saveEvery: 0, keep: 2, outDir, plot: false, ...over };
}

async function run(over: Partial<TrainerConfig>, out = tmp()) {
  const model = new ToyLM();
  const tr = new Trainer(model, new ToySource(3), config(out, over), { evalBatches: toyEvalBatches });
  const losses: number[] = [];
  const tensors: number[] = [];
  (tr.hooks as { onRecord?: (r: Record<string, unknown>) => void }).onRecord = (r) => {
    if (r.type === 'train') {
      losses.push(r.loss as number);
      tensors.push(r.num_tensors as number);
    }
  };
  const summary = await tr.run();
  const weights = model.namedParameters().map((p) => Array.from(p.variable.read().dataSync()));
  tr.dispose();
  model.dispose();
  return { summary, losses, tensors, weights, out };
}

test('200 steps: numTensors flat, loss falls, eval recorded, metrics JSONL and PNG written', async () => {
  await useBackend('wasm');
  const before = tf.memory().numTensors;
  const r = await run({ maxSteps: 200, evalEvery: 50, gradAccum: 2, plot: true });
  assert.is(r.tensors.length, 200);
  assert.is(r.tensors[199], r.tensors[1], `tensors: step 2 ${r.tensors[1]} step 200 ${r.tensors[199]}`);
  assert.is(tf.memory().numTensors, before, 'everything released after dispose');
  const first = r.summary.evals[0].metrics.loss;
  const last = r.summary.evals[r.summary.evals.length - 1].metrics.loss;
  assert.is(r.summary.evals.length, 5);
  assert.is(r.summary.evals[0].step, 0);
  assert.ok(last < first - 0.5, `eval loss ${first} -> ${last}`);
  assert.ok(Math.abs(r.summary.evals[4].metrics.perplexity - Math.exp(last)) < 1e-9);
  const lines = fs.readFileSync(r.summary.metricsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.is(lines.filter((l) => l.type === 'train').length, 200);
  assert.is(lines.filter((l) => l.type === 'eval').length, 5);
  const png = decodePng(fs.readFileSync(r.summary.plotFile!));
  assert.equal([png.width, png.height], [640, 400]);
  // the curve is drawn: some non-white, non-grey (blue) pixels
  let blue = 0;
  for (let i = 0; i < png.rgb.length; i += 3) if (png.rgb[i] === 31 && png.rgb[i + 1] === 119 && png.rgb[i + 2] === 180) blue++;
  assert.ok(blue > 100, `blue pixels ${blue}`);
});

test('same seed twice -> identical losses; another seed -> different', async () => {
  await useBackend('cpu');
  const a = await run({ maxSteps: 15 });
  const b = await run({ maxSteps: 15 });
  const c = await run({ maxSteps: 15, seed: 8 });
  assert.equal(a.losses, b.losses);
  assert.not.equal(a.losses, c.losses);
});

test('stop + resume from a checkpoint ends with the same weights as an uninterrupted run', async () => {
  await useBackend('cpu');
  const full = await run({ maxSteps: 30, saveEvery: 10, keep: 2 });
  assert.equal(listCheckpoints(path.join(full.out, 'checkpoints')).map((c) => c.step), [20, 30]);
  // interrupted: stop requested during step 13 -> checkpoint at 13, then resume to 30
  const out = tmp();
  const model = new ToyLM();
  const tr = new Trainer(model, new ToySource(3), config(out, { maxSteps: 30, saveEvery: 10, keep: 2 }), { evalBatches: toyEvalBatches });
  (tr.hooks as { onRecord?: (r: Record<string, unknown>) => void }).onRecord = (r) => {
    if (r.type === 'train' && r.step === 13) tr.requestStop();
  };
  const s1 = await tr.run();
  assert.ok(s1.interrupted);
  assert.is(s1.step, 13);
  tr.dispose();
  model.dispose();
  const resumed = await run({ maxSteps: 30, saveEvery: 10, keep: 2, resume: out }, out);
  assert.is(resumed.losses.length, 17);
  assert.equal(resumed.losses, full.losses.slice(13));
  assert.equal(resumed.weights, full.weights);
});

/** Deterministic (no dropout) toy model, so split and whole batches see the same function. */
class PlainToyLM extends ToyLM {
  override computeLoss(batch: Record<string, tf.Tensor>): LossOutput {
    return super.computeLoss(batch, { training: false });
  }
}

/** Yields the given batches in turn. */
class FixedSource implements BatchSource {
  epoch = 0;
  private i = 0;
  constructor(private readonly batches: HostBatch[]) {}
  next(): HostBatch {
    return this.batches[this.i++ % this.batches.length];
  }
  state(): unknown {
    return { i: this.i };
  }
  restore(s: unknown): void {
    this.i = (s as { i: number }).i;
  }
}

function hostBatch(ids: number[][], labels: number[][]): HostBatch {
  const flat = (m: number[][]) => Int32Array.from(m.flat());
  const shape = [ids.length, ids[0].length];
  const targets = labels.reduce((n, row) => n + row.slice(1).filter((l) => l !== -100).length, 0);
  return { arrays: { input_ids: { data: flat(ids), shape }, labels: { data: flat(labels), shape } }, tokens: ids.length * ids[0].length, targets };
}

test('gradient accumulation equals one step on the concatenated batch (HF >= 4.46 token weighting)', async () => {
  await useBackend('cpu');
  // micro-batch A has 3 targets, B has 10: a plain mean of micro-batch means would weight them equally.
  const aIds = [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]];
  const aLabels = [[1, 2, 3, -100, -100, -100], [7, 8, -100, -100, -100, -100]];
  const bIds = [[3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14]];
  const bLabels = bIds.map((r) => r.slice());
  const step = async (source: BatchSource, gradAccum: number) => {
    const model = new PlainToyLM();
    const tr = new Trainer(model, source, config(tmp(), { maxSteps: 1, gradAccum, evalEvery: 0, warmupSteps: 0, schedule: 'constant', lr: 0.1 }), {});
    let loss = NaN;
    (tr.hooks as { onRecord?: (r: Record<string, unknown>) => void }).onRecord = (r) => {
      if (r.type === 'train') loss = r.loss as number;
    };
    await tr.run();
    const weights = model.namedParameters().map((p) => Array.from(p.variable.read().dataSync()));
    tr.dispose();
    model.dispose();
    return { loss, weights };
  };
  const split = await step(new FixedSource([hostBatch(aIds, aLabels), hostBatch(bIds, bLabels)]), 2);
  const whole = await step(new FixedSource([hostBatch([...aIds, ...bIds], [...aLabels, ...bLabels])]), 1);
  assert.ok(Math.abs(split.loss - whole.loss) < 1e-5, `loss ${split.loss} vs ${whole.loss}`);
  split.weights.forEach((w, i) => w.forEach((v, j) => assert.ok(Math.abs(v - whole.weights[i][j]) < 1e-5, `param ${i}[${j}]: ${v} vs ${whole.weights[i][j]}`)));
});

test('an error after training started saves the last completed step first; resuming from it continues exactly', async () => {
  await useBackend('wasm');
  const out = tmp();
  const model = new ToyLM();
  // the 9th batch is unreadable (gradAccum 2: during step 5, after its first micro-batch)
  class FailingSource extends ToySource {
    calls = 0;
    override next() {
      if (++this.calls === 10) throw new PolyglotError('data.txt:123: expected a JSON object');
      return super.next();
    }
  }
  const tr = new Trainer(model, new FailingSource(3), config(out, { maxSteps: 20, gradAccum: 2, saveEvery: 0 }));
  const saved: [number, string][] = [];
  (tr.hooks as { onCheckpoint?: (s: number, d: string, r: string) => void }).onCheckpoint = (s, _d, reason) => saved.push([s, reason]);
  let error = '';
  await tr.run().catch((e: Error) => (error = e.message));
  assert.match(error, /data.txt:123/);
  assert.equal(saved, [[4, 'error']]);
  assert.equal(listCheckpoints(path.join(out, 'checkpoints')).map((c) => c.step), [4]);
  tr.dispose();
  model.dispose();
  const full = await run({ maxSteps: 8, gradAccum: 2 });
  const resumed = await run({ maxSteps: 8, gradAccum: 2, resume: out }, out);
  assert.equal(resumed.losses, full.losses.slice(4), 'the failed step was rolled back: same batches after the resume');
});

test.run();
