/**
 * FORMAT.md `incremental` for an encoder-decoder fixture: prompt_length decoder tokens in one call,
 * then one at a time with the self/cross caches. nllb-moe-tiny's eval capacity fraction is 1.0
 * (nothing is dropped), so every step's logits must equal HF's full forward (the `forward` case's
 * reference).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../core/tf.js';
import { verifyFixture } from '../verify/verify.js';
import { fixturePath, useBackend } from './helpers.js';

function fixtureWithIncremental(promptLength: number, overrides?: Record<string, unknown>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seq2seq-incremental-'));
  fs.cpSync(fixturePath('nllb-moe-tiny'), dir, { recursive: true });
  const file = path.join(dir, 'reference', 'cases.json');
  const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as { cases: Record<string, unknown>[] };
  const fwd = doc.cases.find((c) => c.name === 'forward') as { inputs: Record<string, string>; expect: Record<string, string>; rtol: number; atol: number };
  doc.cases = [{
    name: 'incremental',
    kind: 'incremental',
    mode: 'eval',
    inputs: fwd.inputs,
    expect: { logits: fwd.expect.logits },
    params: { prompt_length: promptLength, ...(overrides ? { config_overrides: overrides } : {}) },
    rtol: fwd.rtol,
    atol: fwd.atol,
  }];
  fs.chmodSync(file, 0o644);
  fs.writeFileSync(file, JSON.stringify(doc));
  return dir;
}

for (const backend of ['cpu', 'wasm'] as const) {
  test(`${backend}: cached decoding equals HF's full forward (prompt lengths 1 and 3), no tensors left`, async () => {
    await useBackend(backend);
    const before = tf.memory().numTensors;
    for (const p of [1, 3]) {
      const [r] = await verifyFixture(fixtureWithIncremental(p));
      assert.is(r.status, 'pass', `prompt ${p}: ${r.message}`);
    }
    assert.is(tf.memory().numTensors, before);
  });
}

test.run();
