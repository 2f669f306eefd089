import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../core/tf.js';
import { fixturePath, useBackend } from './helpers.js';
import { loadModel } from '../train/load-model.js';
import { exportHfModel } from '../train/export-hf.js';
import { initModelDir } from '../train/init-model.js';
import { AdamW } from '../train/adamw.js';
import { distinctParameters } from '../core/trainable.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import { loadTokenizer } from '../tokenizers/load.js';
import { syntheticPairs } from '../train/demo/synthetic-task.js';
import { Rng } from '../core/random.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'export-'));

/** One AdamW step with random gradients, so the exported weights differ from the source files. */
function perturb(model: Parameters<typeof distinctParameters>[0]): void {
  const params = distinctParameters(model);
  const opt = new AdamW(params, { lr: 0.01, weightDecay: 0.01 });
  const grads = new Map(params.map((p, i) => [p.name, tf.randomNormal(p.variable.shape, 0, 1, 'float32', i + 1)]));
  opt.step(grads);
  tf.dispose([...grads.values()]);
  opt.dispose();
}

function logitsOf(loaded: ReturnType<typeof loadModel>, ids: number[][]): Float32Array {
  const inputIds = tf.tensor2d(ids, undefined, 'int32');
  try {
    if (loaded.arch === 'xglm') {
      const out = loaded.model.forward({ inputIds });
      const d = out.logits.dataSync().slice() as Float32Array;
      tf.dispose([out.logits, out.lastHiddenState, ...out.presentKeyValues.flatMap((kv) => [kv.key, kv.value])]);
      return d;
    }
    return tf.tidy(() => loaded.model.forward({ inputIds, decoderInputIds: inputIds }).logits.dataSync().slice() as Float32Array);
  } finally {
    inputIds.dispose();
  }
}

for (const fixture of ['xglm-tiny', 'nllb-moe-tiny']) {
  test(`${fixture}: trained weights exported as an HF directory reload with identical outputs`, async () => {
    await useBackend('wasm');
    const src = loadModel(fixturePath(fixture));
    perturb(src.model);
    const ids = [[0, 5, 17, 300, 42, 2], [0, 9, 8, 7, 6, 2]];
    const before = logitsOf(src, ids);
    const out = path.join(tmp(), 'model');
    exportHfModel(src.model, out, { sourceDir: src.ck.dir, config: src.ck.config });
    for (const f of ['config.json', 'model.safetensors', 'generation_config.json', 'sentencepiece.bpe.model', 'tokenizer_config.json', 'special_tokens_map.json']) {
      assert.ok(fs.existsSync(path.join(out, f)), `${f} written`);
    }
    const ck = openCheckpoint(out);
    // tied weights stored once under their canonical HF name (save_pretrained with safetensors)
    const names = ck.tensors.names();
    assert.not.ok(names.includes('lm_head.weight'));
    assert.not.ok(names.includes('model.encoder.embed_tokens.weight'));
    assert.equal([...names].sort(), [...openCheckpoint(fixturePath(fixture)).tensors.names()].filter((n) => n !== 'lm_head.weight').sort());
    // HF layout: Linear weights [out, in]
    const fc1 = names.find((n) => n.endsWith('fc1.weight'))!;
    const cfg = src.ck.config as Record<string, number>;
    assert.equal(ck.tensors.meta(fc1).shape, [cfg.ffn_dim ?? cfg.encoder_ffn_dim, cfg.d_model]);
    const re = loadModel(out);
    const after = logitsOf(re, ids);
    assert.is(after.length, before.length);
    let maxDiff = 0;
    for (let i = 0; i < before.length; i++) maxDiff = Math.max(maxDiff, Math.abs(before[i] - after[i]));
    assert.is(maxDiff, 0, `logits differ by ${maxDiff}`);
    // and the export really holds the trained (not the original) weights
    const orig = loadModel(fixturePath(fixture));
    const o = logitsOf(orig, ids);
    assert.ok(Math.abs(o[0] - before[0]) + Math.abs(o[100] - before[100]) > 1e-4);
    [src, re, orig].forEach((m) => m.model.dispose());
  });
}

for (const arch of ['xglm', 'nllb-moe'] as const) {
  test(`init ${arch}: HF initialisation and a tokenizer whose size is the vocab`, async () => {
    await useBackend('wasm');
    const texts = syntheticPairs(500, 2).flatMap((p) => [p.src, p.tgt]);
    const dir = path.join(tmp(), 'm');
    const config = arch === 'xglm' ? { d_model: 64, num_layers: 1, attention_heads: 4, ffn_dim: 128, init_std: 0.05 } : { d_model: 64, encoder_layers: 2, decoder_layers: 2, encoder_attention_heads: 4, decoder_attention_heads: 4, encoder_ffn_dim: 128, decoder_ffn_dim: 128, num_experts: 4, encoder_sparse_step: 2, decoder_sparse_step: 2, init_std: 0.05 };
    const { config: written } = initModelDir(dir, { arch, config, tokenizerTexts: texts, seed: 1 });
    const tok = await loadTokenizer(dir);
    assert.is(tok.length, written.vocab_size);
    assert.equal(tok.decode(tok.encode('she sees ten new chairs'), { skipSpecialTokens: true }), 'she sees ten new chairs');
    const ck = openCheckpoint(dir);
    const emb = ck.tensors.read(arch === 'xglm' ? 'model.embed_tokens.weight' : 'model.shared.weight').data as Float32Array;
    const d = 64;
    assert.ok(emb.subarray(d, 2 * d).every((x) => x === 0), 'padding row (id 1) is zero');
    let s = 0;
    let s2 = 0;
    for (const x of emb) {
      s += x;
      s2 += x * x;
    }
    const std = Math.sqrt(s2 / emb.length - (s / emb.length) ** 2);
    assert.ok(Math.abs(std - 0.05) < 0.003, `embedding std ${std}`);
    const prefix = arch === 'xglm' ? 'model.layers.0' : 'model.encoder.layers.0';
    assert.ok((ck.tensors.read(`${prefix}.self_attn.q_proj.bias`).data as Float32Array).every((x) => x === 0));
    assert.ok((ck.tensors.read(`${prefix}.self_attn_layer_norm.weight`).data as Float32Array).every((x) => x === 1));
    if (arch === 'nllb-moe') {
      assert.equal(ck.tensors.meta('model.encoder.layers.1.ffn.router.classifier.weight').shape, [4, 64]);
      assert.ok(ck.tensors.has('model.decoder.layers.1.ffn.experts.expert_3.fc2.weight'));
      assert.ok(ck.tensors.has('model.decoder.layers.0.ffn.fc1.weight'));
    }
    // it loads and computes a finite loss close to ln(vocab) (uninformed predictions)
    const m = loadModel(dir);
    const ids = tf.tensor2d([tok.encode('I see three cats')], undefined, 'int32');
    const loss = tf.tidy(() => m.model.computeLoss({ input_ids: ids, labels: ids }, { training: false, rng: new Rng(0) }).loss.dataSync()[0]);
    assert.ok(Math.abs(loss - Math.log(written.vocab_size as number)) < 1, `loss ${loss} vs ln V ${Math.log(written.vocab_size as number)}`);
    ids.dispose();
    m.model.dispose();
  });
}

test.run();
