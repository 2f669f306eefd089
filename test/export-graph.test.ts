/**
 * GraphOps + graph-model writer on small hand-written functions: the exported folder,
 * loaded with stock tf.loadGraphModel, must give the eager result (dynamic batch and
 * length; quantized weights within the expected error).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Ops } from '../ops/ops.js';
import { eagerOps } from '../ops/eager.js';
import { GraphOps, type GraphNode } from '../ops/graph.js';
import { orderGroups, writeGraphModel, writeWeightGroup } from '../export/graph-model-writer.js';
import { writeDirAtomically } from '../export/atomic-dir.js';
import { toFloat16Bits, type QuantizeMode } from '../export/quantize.js';
import { loadStockGraphModel } from './export-stock-loader.js';

const D = 8;
const V = 11;

function seeded(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 0.8;
  }
  return out;
}

const params = {
  emb: tf.tensor2d(seeded(V * D, 1), [V, D]),
  w: tf.tensor2d(seeded(D * D, 2), [D, D]),
  b: tf.tensor1d(seeded(D, 3)),
  gamma: tf.tensor1d(seeded(D, 4).map((v) => 1 + v)),
};

/** A toy decoder layer touching most ops: embedding, masked attention, layer norm, gelu, top-k, one-hot. */
function toy<T>(o: Ops<T>, ids: T, mask: T): Record<string, T> {
  const [B, L] = o.shape(ids);
  const emb = o.weight('emb', params.emb);
  const x0 = o.mul(o.gather(emb, ids), o.scalar(Math.sqrt(D)));
  const pos = o.cast(o.range(0, L), 'float32');
  const x = o.add(x0, o.expandDims(o.expandDims(o.mul(o.sin(pos), o.scalar(0.1)), 0), 2));
  // layer norm
  const mu = o.mean(x, -1, true);
  const xc = o.sub(x, mu);
  const varr = o.mean(o.square(xc), -1, true);
  const ln = o.mul(o.mul(xc, o.rsqrt(o.add(varr, o.scalar(1e-5)))), o.weight('gamma', params.gamma));
  // projection ([B, L, D] x [D, D], folded to 2-D) + bias, gelu (erf form)
  const h = o.add(o.matMul(ln, o.weight('w', params.w)), o.weight('b', params.b));
  const gelu = o.mul(o.mul(h, o.scalar(0.5)), o.add(o.scalar(1), o.erf(o.div(h, o.scalar(Math.SQRT2)))));
  // causal + padding masked self-attention with 2 heads
  const heads = 2;
  const q = o.transpose(o.reshape(gelu, [B, L, heads, D / heads]), [0, 2, 1, 3]);
  const scores = o.mul(o.matMul(q, q, false, true), o.scalar(1 / Math.sqrt(D / heads)));
  const r = o.range(0, L);
  const causal = o.lessEqual(o.expandDims(r, 0), o.expandDims(r, 1));
  const keep = o.logicalAnd(o.expandDims(causal, 0), o.expandDims(o.greater(mask, o.scalar(0, 'int32')), 1));
  const masked = o.where(o.expandDims(keep, 1), scores, o.scalar(-1e9));
  const att = o.matMul(o.softmax(masked), q);
  const merged = o.reshape(o.transpose(att, [0, 2, 1, 3]), [B, L, D]);
  const logits = o.matMul(merged, o.weight('emb', params.emb), false, true); // tied
  // extras: top-2 routing-like ops, cumsum, one-hot, concat/slice/tile
  const probs = o.softmax(logits);
  const top = o.topk(probs, 2);
  const oh = o.oneHot(top.indices, V);
  const counts = o.cumsum(o.sum(oh, 2), 1, false);
  const lastTwo = o.slice(logits, [0, 0, 0], [-1, -1, 2]);
  const cat = o.concat([lastTwo, o.tile(o.slice(logits, [0, 0, V - 1], [-1, -1, 1]), [1, 1, 2])], 2);
  const flat = o.reshape(cat, [o.dimMul(B, L), 4]);
  const am = o.argMax(logits, -1);
  const stats = o.concat([o.reshape(o.max(o.abs(flat), [0, 1]), [1]), o.reshape(o.min(o.neg(flat), [0, 1]), [1])], 0);
  return { logits, counts, flat, argmax: am, lsm: o.logSoftmax(logits), topv: top.values, stats };
}

const OUTS = ['logits', 'counts', 'flat', 'argmax', 'lsm', 'topv', 'stats'];

function recordToy(): GraphOps {
  const g = new GraphOps();
  const ids = g.input('input_ids', 'int32', [null, null]);
  const mask = g.input('attention_mask', 'int32', [null, null]);
  const outs = toy<GraphNode>(g, ids, mask);
  for (const k of OUTS) g.output(k, outs[k]);
  return g;
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'polyglot-export-'));
}

async function exportToy(quantize: QuantizeMode): Promise<{ dir: string; bytes: number }> {
  const dir = path.join(tmpDir(), `toy-${quantize}`);
  const { bytes } = await writeDirAtomically(dir, false, (tmp) => writeGraphModel(tmp, recordToy().finish(), { quantize }));
  return { dir, bytes };
}

function inputsFor(batch: number, len: number): { ids: tf.Tensor2D; mask: tf.Tensor2D } {
  const ids: number[] = [];
  const mask: number[] = [];
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < len; t++) {
      ids.push((b * 7 + t * 3 + 1) % V);
      mask.push(t < len - b ? 1 : 0); // right padding grows with the row
    }
  }
  return { ids: tf.tensor2d(ids, [batch, len], 'int32'), mask: tf.tensor2d(mask, [batch, len], 'int32') };
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  assert.equal(a.shape, b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable('expected a rejection');
}

test.before(async () => {
  await tf.setBackend('cpu');
});

test('records GraphDef nodes the tfjs executor maps, with one Const for the tied embedding', () => {
  const graph = recordToy().finish();
  const ops = new Set(graph.nodes.map((n) => n.op));
  for (const op of ['Placeholder', 'GatherV2', 'MatMul', 'BatchMatMulV2', 'SelectV2', 'TopKV2', 'OneHot', 'Cumsum', 'Shape', 'StridedSlice', 'Pack', 'Range', 'Identity']) {
    assert.ok(ops.has(op), `expected a ${op} node`);
  }
  assert.not.ok(ops.has('BatchMatMulV3'));
  const embConsts = graph.consts.filter((c) => c.name.startsWith('emb'));
  assert.is(embConsts.length, 1, 'tied weight must be one Const');
  assert.equal(embConsts[0].shape, [V, D]);
  // every Const node has a manifest value named after it
  const constNames = graph.nodes.filter((n) => n.op === 'Const').map((n) => n.name).sort();
  assert.equal(graph.consts.map((c) => c.name).sort(), constNames);
});

test('stock tf.loadGraphModel reproduces the eager result for dynamic batch and length', async () => {
  const { dir } = await exportToy('none');
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  assert.is(json.format, 'graph-model');
  assert.equal(json.signature.inputs.input_ids.tensorShape.dim, [{ size: '-1' }, { size: '-1' }]);
  const model = await loadStockGraphModel(dir);
  const before = tf.memory().numTensors;
  for (const [batch, len] of [[1, 1], [1, 5], [3, 4], [2, 9]]) {
    const { ids, mask } = inputsFor(batch, len);
    const eager = tf.tidy(() => toy(eagerOps, ids, mask));
    const got = model.execute({ input_ids: ids, attention_mask: mask }, OUTS) as tf.Tensor[];
    OUTS.forEach((k, i) => {
      assert.equal(got[i].dtype, eager[k].dtype, `${k} dtype`);
      const diff = maxAbsDiff(got[i], eager[k]);
      assert.ok(diff <= 1e-5, `${k} at batch ${batch} length ${len}: max |graph - eager| ${diff}`);
    });
    assert.equal(got[0].shape, [batch, len, V]);
    tf.dispose([ids, mask, ...Object.values(eager), ...got]);
  }
  assert.is(tf.memory().numTensors, before);
  // predict() gives named outputs via structuredOutputKeys
  const { ids, mask } = inputsFor(2, 3);
  const named = model.predict({ input_ids: ids, attention_mask: mask }) as tf.NamedTensorMap;
  assert.equal(Object.keys(named).sort(), [...OUTS].sort());
  tf.dispose([ids, mask, ...Object.values(named)]);
  model.dispose();
});

test('quantized weights: float16 and uint8 shrink the weights and stay within the expected error', async () => {
  const sizes: Record<string, number> = {};
  const errs: Record<string, number> = {};
  const { ids, mask } = inputsFor(3, 6);
  const eager = tf.tidy(() => toy(eagerOps, ids, mask));
  for (const q of ['none', 'float16', 'uint8'] as QuantizeMode[]) {
    const { dir } = await exportToy(q);
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    const emb = json.weightsManifest[0].weights.find((w: { name: string }) => w.name === 'emb');
    if (q === 'none') assert.is(emb.quantization, undefined);
    else assert.is(emb.quantization.dtype, q);
    sizes[q] = fs.statSync(path.join(dir, 'group1-shard1of1.bin')).size;
    const model = await loadStockGraphModel(dir);
    const got = model.execute({ input_ids: ids, attention_mask: mask }, 'lsm') as tf.Tensor;
    errs[q] = maxAbsDiff(got, eager.lsm);
    tf.dispose(got);
    model.dispose();
  }
  // parameters are (V*D + D*D + 2D) floats; literals stay float32 in every mode
  const paramFloats = V * D + D * D + 2 * D;
  assert.is(sizes.none - sizes.float16, paramFloats * 2);
  assert.is(sizes.none - sizes.uint8, paramFloats * 3);
  assert.ok(errs.none <= 1e-5, `none: ${errs.none}`);
  assert.ok(errs.float16 > 0 && errs.float16 < 2e-2, `float16: ${errs.float16}`);
  assert.ok(errs.uint8 > errs.float16 && errs.uint8 < 0.3, `uint8: ${errs.uint8}`);
  tf.dispose([ids, mask, ...Object.values(eager)]);
});

/** Every Ops method once (x, y: [B, 3, 4] float; i: [B, 3] int32), so a graph/eager mismatch in any op shows. */
function everyOp<T>(o: Ops<T>, x: T, y: T, i: T): Record<string, T> {
  const [B] = o.shape(x);
  const pos = o.add(o.abs(y), o.scalar(0.5));
  const flat = o.reshape(x, [B, -1]);
  return {
    add: o.add(x, y), sub: o.sub(x, y), mul: o.mul(x, y), div: o.div(x, pos),
    maximum: o.maximum(x, y), minimum: o.minimum(x, y), pow: o.pow(pos, o.scalar(1.5)),
    neg: o.neg(x), abs: o.abs(x), exp: o.exp(x), log: o.log(pos), sqrt: o.sqrt(pos), rsqrt: o.rsqrt(pos),
    square: o.square(x), tanh: o.tanh(x), erf: o.erf(x), relu: o.relu(x), sigmoid: o.sigmoid(x),
    sin: o.sin(x), cos: o.cos(x), floor: o.floor(o.mul(x, o.scalar(3))), ceil: o.ceil(o.mul(x, o.scalar(3))),
    castInt: o.cast(o.mul(x, o.scalar(10)), 'int32'), castBool: o.cast(o.cast(i, 'bool'), 'float32'),
    equal: o.cast(o.equal(i, o.scalar(2, 'int32')), 'int32'), notEqual: o.cast(o.notEqual(i, o.scalar(2, 'int32')), 'int32'),
    less: o.cast(o.less(x, y), 'int32'), lessEqual: o.cast(o.lessEqual(i, o.scalar(1, 'int32')), 'int32'),
    greater: o.cast(o.greater(x, y), 'int32'), greaterEqual: o.cast(o.greaterEqual(i, o.scalar(3, 'int32')), 'int32'),
    logic: o.cast(o.logicalOr(o.logicalAnd(o.less(x, y), o.greater(x, o.scalar(0))), o.logicalNot(o.less(y, o.scalar(0.1)))), 'int32'),
    where: o.where(o.less(x, y), x, o.scalar(-1)),
    sum: o.sum(x, [1, 2]), mean: o.mean(x, 1, true), max: o.max(x, -1), min: o.min(x, [0, 2], true),
    argMax: o.argMax(x, 2), cumsum: o.cumsum(x, 1), cumsumExcl: o.cumsum(i, 1, true),
    topkV: o.topk(x, 2).values, topkI: o.topk(x, 2).indices,
    matMulT: o.matMul(x, y, true, false), matMulBT: o.matMul(x, o.constant([1, 2, 3, 4, 5, 6, 7, 8], [2, 4]), false, true),
    matMul2d: o.matMul(flat, o.transpose(flat, [1, 0])),
    softmax: o.softmax(x), logSoftmax: o.logSoftmax(x), oneHot: o.oneHot(i, 5),
    transpose: o.transpose(x, [2, 0, 1]), expand: o.expandDims(x, 1), squeeze: o.squeeze(o.expandDims(x, 3), [3]),
    concat: o.concat([x, y], 1), slice: o.slice(x, [0, 1, 1], [-1, 2, 2]), sliceDyn: o.slice(x, [0, o.dimAdd(o.shape(i)[1], -2), 0], [B, -1, 3]),
    gather: o.gather(x, o.constant([2, 0], [2], 'int32'), 1), gatherI: o.gather(o.weight('table', params.w), i),
    tile: o.tile(x, [1, 2, 1]), range: o.range(o.dimAdd(o.shape(i)[1], -1), o.dimMul(o.shape(i)[1], 2)),
    shapeMul: o.reshape(x, [o.dimMul(B, 3), 4]), constant: o.add(x, o.constant([1, 2, 3, 4], [4])),
  };
}

test('every Ops method gives the eager result through the graph', async () => {
  const g = new GraphOps();
  const outs = everyOp(g, g.input('x', 'float32', [null, 3, 4]), g.input('y', 'float32', [null, 3, 4]), g.input('i', 'int32', [null, 3]));
  for (const [k, v] of Object.entries(outs)) g.output(k, v);
  const dir = path.join(tmpDir(), 'every-op');
  writeGraphModel(dir, g.finish());
  const model = await loadStockGraphModel(dir);
  for (const B of [1, 3]) {
    const x = tf.tensor3d(seeded(B * 12, 11 + B), [B, 3, 4]);
    const y = tf.tensor3d(seeded(B * 12, 21 + B), [B, 3, 4]);
    const i = tf.tensor2d(Array.from({ length: B * 3 }, (_, k) => (k * 7) % 5), [B, 3], 'int32');
    const eager = tf.tidy(() => everyOp(eagerOps, x, y, i));
    const names = Object.keys(eager);
    const got = model.execute({ x, y, i }, names) as tf.Tensor[];
    names.forEach((k, n) => {
      assert.equal(got[n].shape, eager[k].shape, `${k} shape`);
      assert.is(got[n].dtype, eager[k].dtype, `${k} dtype`);
      assert.ok(maxAbsDiff(got[n], eager[k]) <= 1e-6, `${k}: max |graph - eager| ${maxAbsDiff(got[n], eager[k])}`);
    });
    tf.dispose([x, y, i, ...got, ...Object.values(eager)]);
  }
  model.dispose();
});

test('float16 conversion rounds to nearest even and keeps specials', () => {
  assert.is(toFloat16Bits(1), 0x3c00);
  assert.is(toFloat16Bits(-2), 0xc000);
  assert.is(toFloat16Bits(65504), 0x7bff);
  assert.is(toFloat16Bits(1e6), 0x7c00);
  assert.is(toFloat16Bits(2 ** -24), 0x0001);
  assert.is(toFloat16Bits(1 + 2 ** -11), 0x3c00); // tie -> even
  assert.is(toFloat16Bits(1 + 3 * 2 ** -11), 0x3c02);
  assert.is(toFloat16Bits(NaN) & 0x7c00, 0x7c00);
});

test('shards are cut at the requested size (weights straddle shards) and still load', async () => {
  const dir = path.join(tmpDir(), 'sharded');
  const { modelJson } = writeGraphModel(dir, recordToy().finish(), { shardBytes: 100 });
  const paths = modelJson.weightsManifest[0].paths;
  assert.ok(paths.length > 3);
  assert.equal(paths[0], `group1-shard1of${paths.length}.bin`);
  const sizes = paths.map((p) => fs.statSync(path.join(dir, p)).size);
  assert.ok(sizes.every((b, i) => b === 100 || (i === sizes.length - 1 && b > 0 && b <= 100)), `shard sizes ${sizes}`);
  assert.not.ok(fs.readdirSync(dir).some((f) => f.endsWith('.tmp')));
  const model = await loadStockGraphModel(dir);
  const { ids, mask } = inputsFor(1, 3);
  const eager = tf.tidy(() => toy(eagerOps, ids, mask));
  const got = model.execute({ input_ids: ids, attention_mask: mask }, 'logits') as tf.Tensor;
  assert.ok(maxAbsDiff(got, eager.logits) <= 1e-5);
  tf.dispose([ids, mask, got, ...Object.values(eager)]);
  model.dispose();
});

test('two graphs can share a weight group written once (../weights paths)', async () => {
  const root = tmpDir();
  const a = recordToy().finish();
  const b = recordToy().finish();
  const sharedConsts = a.consts.filter((c) => c.fromWeight);
  assert.equal(sharedConsts.map((c) => c.name).sort(), ['b', 'emb', 'gamma', 'w']);
  const g = writeWeightGroup(path.join(root, 'weights'), 'shared1', sharedConsts, { quantize: 'float16' });
  const group = { ...g, paths: g.paths.map((p) => `../weights/${p}`) };
  const wa = writeGraphModel(path.join(root, 'a'), a, { sharedGroups: [group], quantize: 'float16' });
  writeGraphModel(path.join(root, 'b'), b, { sharedGroups: [group], quantize: 'float16' });
  // the graph's own shard holds literals only; the bigger shared shard comes first (tfjs shard lookup)
  assert.equal(wa.modelJson.weightsManifest.map((m) => m.paths[0]), ['../weights/shared1-shard1of1.bin', 'group1-shard1of1.bin']);
  assert.not.ok(wa.modelJson.weightsManifest[1].weights.some((w) => w.name === 'emb'));
  const { ids, mask } = inputsFor(2, 4);
  const eager = tf.tidy(() => toy(eagerOps, ids, mask));
  for (const f of ['a', 'b']) {
    const model = await loadStockGraphModel(path.join(root, f));
    const got = model.execute({ input_ids: ids, attention_mask: mask }, 'logits') as tf.Tensor;
    const diff = maxAbsDiff(got, eager.logits);
    assert.ok(diff > 0 && diff < 2e-2, `${f}: float16 shared weights, max diff ${diff}`);
    got.dispose();
    model.dispose();
  }
  tf.dispose([ids, mask, ...Object.values(eager)]);
});

test('weight groups are ordered so tfjs finds every shard (largest first shard first)', () => {
  const order = (groups: number[][]) => orderGroups(groups.map((sizes) => ({ sizes }))).map((g) => g.sizes);
  assert.equal(order([[100], [300]]), [[300], [100]]);
  assert.equal(order([[50], [400, 400, 20], [400, 10]]), [[400, 400, 20], [400, 10], [50]]);
  assert.equal(order([[], [7]]), [[7]]);
});

test('an existing output folder is refused unless force, and replaced atomically with force', async () => {
  const dir = path.join(tmpDir(), 'out');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'keep.txt'), 'old');
  await rejects(writeDirAtomically(dir, false, () => undefined), /output folder already exists \(use --force/);
  // a failing fill leaves the old folder untouched and no temporary behind
  await rejects(writeDirAtomically(dir, true, () => { throw new Error('boom'); }), /boom/);
  assert.is(fs.readFileSync(path.join(dir, 'keep.txt'), 'utf8'), 'old');
  assert.equal(fs.readdirSync(path.dirname(dir)), ['out']);
  await writeDirAtomically(dir, true, (tmp) => fs.writeFileSync(path.join(tmp, 'new.txt'), 'new'));
  assert.equal(fs.readdirSync(dir), ['new.txt']);
});

test.run();
