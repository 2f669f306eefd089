import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveCheckpoint, loadCheckpoint, listCheckpoints, resolveCheckpoint, checkpointsRoot } from '../checkpoints/training-checkpoint.js';

function contents(step: number) {
  return {
    step,
    weights: [
      { name: 'model.shared.weight', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, step]) },
      { name: 'model.encoder.layer_norm.bias', shape: [3], data: Float32Array.from([0.5, -0.25, 1e-8]) },
    ],
    optimizer: { step, moments: { 'model.shared.weight': { m: new Float32Array(6).fill(0.1), v: new Float32Array(6).fill(0.2), shape: [2, 3], step: step - 1 } } },
    state: { rng: [1, 2, 3, 4], data: { epoch: 1, cursor: step } },
  };
}

test('checkpoints round-trip exactly, keep the newest K, ignore half-written ones', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ck-'));
  const root = checkpointsRoot(out);
  for (const s of [3, 6, 9]) saveCheckpoint(root, contents(s), 2);
  assert.equal(listCheckpoints(root).map((c) => c.step), [6, 9]);
  // a crash mid-save leaves only a hidden temp folder, which is never taken for a checkpoint
  fs.mkdirSync(path.join(root, '.checkpoint-0000012.tmp-999'));
  fs.mkdirSync(path.join(root, 'checkpoint-0000015')); // no trainer_state.json: incomplete
  assert.equal(listCheckpoints(root).map((c) => c.step), [6, 9]);
  const dir = resolveCheckpoint(out);
  assert.is(path.basename(dir), 'checkpoint-0000009');
  assert.is(resolveCheckpoint(root), dir);
  assert.is(resolveCheckpoint(dir), dir);
  const c = loadCheckpoint(dir);
  assert.is(c.step, 9);
  assert.equal(c.weights.map((w) => w.name).sort(), ['model.encoder.layer_norm.bias', 'model.shared.weight']);
  assert.equal(Array.from(c.weights.find((w) => w.name === 'model.encoder.layer_norm.bias')!.data), Array.from(Float32Array.from([0.5, -0.25, 1e-8])));
  assert.equal(c.optimizer.moments['model.shared.weight'].step, 8);
  assert.equal(Array.from(c.optimizer.moments['model.shared.weight'].v), Array.from(new Float32Array(6).fill(0.2)));
  assert.equal(c.state, { rng: [1, 2, 3, 4], data: { epoch: 1, cursor: 9 } });
  assert.throws(() => resolveCheckpoint(path.join(out, 'nothing')), /no training checkpoint found/);
});

test.run();
