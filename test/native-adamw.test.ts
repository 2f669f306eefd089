/**
 * The fused native AdamW step (backend/native-adamw.ts, native/src/adamw.cc) against the tfjs
 * ops path of train/adamw.ts: the same bits for parameters and both moments, over sizes that
 * straddle the kernel's 65536-element chunks, with and without decay and gradient scaling,
 * across several steps (bias corrections change), and no tensor left behind.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { useBackend } from './helpers.js';
import { nativeAddon } from '../backend/native.js';
import { setNativeAdamWEnabled } from '../backend/native-adamw.js';
import { AdamW } from '../train/adamw.js';

await useBackend('wasm');

function randn(rng: Rng, n: number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
}

/** Runs `steps` AdamW steps on fresh copies of `init` with the native path on or off; returns p, m, v bits. */
async function run(native: boolean, init: Float32Array[], grads: Float32Array[][], opts: { weightDecay: number; gradScale: number }): Promise<Float32Array[]> {
  setNativeAdamWEnabled(native);
  try {
    const vars = init.map((x, i) => {
      const t = tf.tensor1d(x);
      const v = tf.variable(t, true, `p${i}_${native}`);
      t.dispose(); // the variable shares its data
      return v;
    });
    const names = vars.map((_, i) => (i === 1 ? `layer.${i}.bias` : `layer.${i}.weight`));
    const opt = new AdamW(vars.map((variable, i) => ({ name: names[i], variable, transposed: false })), { lr: 3e-3, betas: [0.9, 0.98], eps: 1e-6, weightDecay: opts.weightDecay, noDecay: (n) => n.endsWith('.bias') });
    for (const step of grads) {
      const g = new Map(step.map((x, i) => [names[i], tf.tensor1d(x)] as const));
      opt.step(g, 3e-3 * (1 - 0.1 * opt.stepCount), opts.gradScale);
      tf.dispose([...g.values()]);
    }
    const state = await opt.state();
    const out = [...vars.map((v) => v.dataSync() as Float32Array), ...names.flatMap((n) => [state.moments[n].m, state.moments[n].v])];
    opt.dispose();
    tf.dispose(vars);
    return out;
  } finally {
    setNativeAdamWEnabled(true);
  }
}

test('native AdamW step: the same bits as the tfjs ops (odd sizes, chunk boundaries, decay on/off, grad scale, 4 steps)', async () => {
  if (nativeAddon() === undefined) {
    // CI requires the addon (POLYGLOT_REQUIRE_NATIVE=1); elsewhere the tfjs path is the only one.
    assert.ok(process.env.POLYGLOT_REQUIRE_NATIVE !== '1', 'native addon required but not loaded');
    return;
  }
  const rng = new Rng(7);
  const sizes = [1, 17, 65536 * 2 + 3];
  const init = sizes.map((n) => randn(rng, n, 0.05));
  const grads = [0, 1, 2, 3].map((s) => sizes.map((n) => randn(rng, n, s === 2 ? 1e-4 : 0.3)));
  for (const opts of [{ weightDecay: 0.01, gradScale: 1 }, { weightDecay: 0, gradScale: 0.37 }]) {
    const before = tf.memory().numTensors;
    const a = await run(true, init, grads, opts);
    const afterNative = tf.memory().numTensors;
    const b = await run(false, init, grads, opts);
    assert.is(afterNative, before, 'native path leaves no tensor');
    assert.is(a.length, b.length);
    for (let i = 0; i < a.length; i++) {
      const ua = new Uint32Array(a[i].buffer, a[i].byteOffset, a[i].length);
      const ub = new Uint32Array(b[i].buffer, b[i].byteOffset, b[i].length);
      let diff = -1;
      for (let j = 0; j < ua.length && diff < 0; j++) if (ua[j] !== ub[j]) diff = j;
      assert.is(diff, -1, `tensor ${i} (${JSON.stringify(opts)}): first differing element ${diff}: ${a[i][diff]} vs ${b[i][diff]}`);
    }
    // The step moved the parameters (a test of a no-op would pass too).
    assert.ok(Math.abs(a[2][5] - init[2][5]) > 1e-5);
  }
});

test('native AdamW step: a variable sharing its data with another tensor is not updated in place', async () => {
  if (nativeAddon() === undefined) return;
  const t = tf.tensor1d([0.5, -1, 2]);
  const v = tf.variable(t, true, 'shared_p'); // t and v share one buffer (refCount 2)
  const opt = new AdamW([{ name: 'w', variable: v, transposed: false }], { lr: 0.1, weightDecay: 0 });
  const g = tf.tensor1d([1, 1, -1]);
  opt.step(new Map([['w', g]]));
  // First step: m = 0.1 g, v = 0.001 g^2, so p' = p - 0.1 * sign(g) (up to eps).
  assert.equal(Array.from(t.dataSync()), [0.5, -1, 2], 'the other tensor keeps its values');
  const after = Array.from(v.dataSync());
  [0.4, -1.1, 2.1].forEach((x, i) => assert.ok(Math.abs(after[i] - x) < 1e-5, `p'[${i}] = ${after[i]}`));
  opt.dispose();
  tf.dispose([t, v, g]);
});

test.run();
