import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../core/tf.js';
import { fixturePath, useBackend } from './helpers.js';
import { SafetensorsFile, type HostTensor } from '../convert/safetensors.js';
import { openSafetensorsDir } from '../convert/checkpoint.js';
import { AdamW, hfNoDecay } from '../train/adamw.js';
import { runAdamwStep, hostToTensor } from '../verify/train-cases.js';
import { compareOutput } from '../verify/compare.js';
import type { CaseContext, CaseSpec } from '../verify/types.js';
import type { TrainParam } from '../core/trainable.js';

function context(fixture: string, caseName: string): CaseContext {
  const dir = fixturePath(fixture);
  const spec = (JSON.parse(fs.readFileSync(path.join(dir, 'reference', 'cases.json'), 'utf8')).cases as CaseSpec[]).find((c) => c.name === caseName)!;
  const refs = SafetensorsFile.open(path.join(dir, 'reference', 'tensors.safetensors'));
  return {
    fixtureDir: dir,
    spec,
    reference: (n) => refs.read(n),
    input: (k) => refs.read(spec.inputs[k] as string),
    literal: <V>(k: string) => (spec.inputs[k] ?? spec.params?.[k]) as V | undefined,
  };
}

/** Parameters straight from the checkpoint, in the tfjs layout (2-D Linear weights transposed, as the models store them). */
function checkpointParams(fixture: string, names: string[]): TrainParam[] {
  const ck = openSafetensorsDir(fixturePath(fixture))!;
  return names.map((name) => {
    const h: HostTensor = ck.tensors.read(name);
    const transposed = h.shape.length === 2 && !/embed_tokens|shared/.test(name);
    const t = tf.tidy(() => (transposed ? tf.transpose(hostToTensor(h)) : hostToTensor(h)));
    const v = tf.variable(t, true, `p_${name}`);
    t.dispose();
    return { name, variable: v, transposed };
  });
}

for (const backend of ['cpu', 'wasm'] as const) {
  for (const fixture of ['xglm-tiny', 'nllb-moe-tiny']) {
    test(`${backend}: adamw_step of ${fixture} matches torch.optim.AdamW`, async () => {
      await useBackend(backend);
      const ctx = context(fixture, 'adamw_step');
      const names = Object.keys(ctx.spec.inputs).filter((k) => k.startsWith('grad/')).map((k) => k.slice(5));
      const params = checkpointParams(fixture, names);
      const before = tf.memory().numTensors;
      const out = runAdamwStep(ctx, params);
      assert.is(tf.memory().numTensors, before, 'no tensor leaked');
      const keys = Object.keys(ctx.spec.expect);
      assert.ok(keys.length >= 4);
      for (const k of keys) {
        const r = compareOutput(k, out[k], ctx.reference(ctx.spec.expect[k] as string), ctx.spec.rtol, ctx.spec.atol);
        assert.ok(r.ok, `${k}: ${r.message} max abs ${r.maxAbsError}`);
      }
      params.forEach((p) => p.variable.dispose());
    });
  }
}

test('two AdamW steps follow the torch recurrences (hand-computed)', async () => {
  await useBackend('cpu');
  const v = tf.variable(tf.tensor1d([1, -2]), true, 'adamw_hand');
  const opt = new AdamW([{ name: 'w', variable: v, transposed: false }], { lr: 0.1, betas: [0.9, 0.99], eps: 1e-8, weightDecay: 0.1 });
  const gs = [[0.5, -1], [0.25, 2]];
  // reference in float64 with torch's formulas
  let p = [1, -2];
  let m = [0, 0];
  let s = [0, 0];
  gs.forEach((g, i) => {
    const t = i + 1;
    p = p.map((x) => x * (1 - 0.1 * 0.1));
    m = m.map((x, j) => x + (g[j] - x) * 0.1);
    s = s.map((x, j) => x * 0.99 + 0.01 * g[j] * g[j]);
    p = p.map((x, j) => x - (0.1 / (1 - 0.9 ** t)) * m[j] / (Math.sqrt(s[j]) / Math.sqrt(1 - 0.99 ** t) + 1e-8));
    const gt = tf.tensor1d(g);
    opt.step({ w: gt });
    gt.dispose();
  });
  const got = v.dataSync();
  assert.ok(Math.abs(got[0] - p[0]) < 1e-6 && Math.abs(got[1] - p[1]) < 1e-6, `${got} vs ${p}`);
  // after two steps: p0 = 0.7822... (non-trivial: decay + moments)
  assert.ok(Math.abs(p[0] - 1) > 0.1);
  const st = await opt.state();
  assert.is(st.step, 2);
  assert.ok(Math.abs(st.moments.w.m[0] - (0.05 * 0.9 + 0.025)) < 1e-7);
  opt.dispose();
  v.dispose();
});

test('per-parameter step counts: a parameter first updated at step 2 gets step-1 bias correction (torch)', async () => {
  await useBackend('cpu');
  const a = tf.variable(tf.tensor1d([1, 1]), true, 'adamw_a');
  const b = tf.variable(tf.tensor1d([2, -3]), true, 'adamw_b');
  const opt = new AdamW([{ name: 'a', variable: a, transposed: false }, { name: 'b', variable: b, transposed: false }], { lr: 0.1, weightDecay: 0.5 });
  const g1 = tf.tensor1d([1, -1]);
  opt.step({ a: g1 }); // b has no gradient (an expert without tokens): untouched, no decay
  assert.equal(Array.from(b.dataSync()), [2, -3]);
  const g2 = tf.tensor1d([0.5, 0.25]);
  opt.step({ a: g1, b: g2 });
  // b's first update: p*(1 - lr*wd) - lr * g / (|g| + eps)
  const want = [2 * 0.95 - 0.1 * (0.5 / (0.5 + 1e-8)), -3 * 0.95 - 0.1 * (0.25 / (0.25 + 1e-8))];
  const got = b.dataSync();
  assert.ok(Math.abs(got[0] - want[0]) < 1e-6 && Math.abs(got[1] - want[1]) < 1e-6, `${got} vs ${want}`);
  const st = await opt.state();
  assert.is(st.moments.a.step, 2);
  assert.is(st.moments.b.step, 1);
  tf.dispose([g1, g2, a, b]);
  opt.dispose();
});

test('HF Trainer no-decay rule by parameter name', () => {
  assert.ok(hfNoDecay('model.layers.0.self_attn.q_proj.bias'));
  assert.ok(hfNoDecay('model.layers.0.final_layer_norm.weight'));
  assert.ok(hfNoDecay('model.decoder.layers.0.cross_attention_layer_norm.weight'));
  assert.ok(hfNoDecay('model.layer_norm.weight'));
  assert.not.ok(hfNoDecay('model.layers.0.self_attn.q_proj.weight'));
  assert.not.ok(hfNoDecay('model.shared.weight'));
  assert.not.ok(hfNoDecay('model.encoder.layers.1.ffn.router.classifier.weight'));
});

test.run();
