/** Issue 10 item 7: a damaged trainer state is one line naming the file and field, never resumed from. */
import { test } from 'uvu';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveCheckpoint, loadCheckpoint, checkpointsRoot, resolveCheckpoint } from '../checkpoints/training-checkpoint.js';
import { throwsExactly } from './helpers.js';

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ck-bad-'));
saveCheckpoint(checkpointsRoot(out), {
  step: 3,
  weights: [{ name: 'w', shape: [2], data: Float32Array.from([1, 2]) }],
  optimizer: { step: 3, moments: { w: { m: new Float32Array(2), v: new Float32Array(2), shape: [2], step: 3 } } },
  state: { rng: [1, 2, 3, 4], data: {} },
}, 2);
const dir = resolveCheckpoint(out);
const stPath = path.join(dir, 'trainer_state.json');
const good = fs.readFileSync(stPath, 'utf8');
const withState = (edit: (j: Record<string, unknown>) => void): void => {
  const j = JSON.parse(good) as Record<string, unknown>;
  edit(j);
  fs.writeFileSync(stPath, JSON.stringify(j));
};

test('rng "x", step 1e12, state not an object: refused with the field named', () => {
  withState((j) => ((j.state as Record<string, unknown>).rng = 'x'));
  throwsExactly(() => loadCheckpoint(dir), `${stPath}: state.rng: expected 4 unsigned 32-bit integers, found "x"`);
  withState((j) => (j.step = 1e12));
  throwsExactly(() => loadCheckpoint(dir), `${stPath}: step: expected an integer from 0 to 1000000000, found 1000000000000`);
  withState((j) => (j.state = null));
  throwsExactly(() => loadCheckpoint(dir), `${stPath}: state: expected an object, found null`);
  fs.writeFileSync(stPath, '[]');
  throwsExactly(() => loadCheckpoint(dir), `${stPath}: expected a JSON object`);
  fs.writeFileSync(stPath, good);
});

test.after(() => fs.rmSync(out, { recursive: true, force: true }));
test.run();
