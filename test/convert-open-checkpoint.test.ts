import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hubCacheDir, openCheckpoint, resolveHubSnapshot } from '../convert/open-checkpoint.js';
import { fixturePath, throwsExactly } from './helpers.js';
import { f32Bytes, stateDictPickle, torchZip } from './convert-torchfile.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'openck-'));
const xglmConfig = fs.readFileSync(fixturePath('xglm-tiny', 'config.json'), 'utf8');

function dir(name: string, files: Record<string, string | Uint8Array>): string {
  const d = path.join(tmp, name);
  fs.mkdirSync(d, { recursive: true });
  for (const [f, c] of Object.entries(files)) fs.writeFileSync(path.join(d, f), c);
  return d;
}

test('opens every fixture layout: safetensors, sharded safetensors, pytorch_model.bin', () => {
  const st = openCheckpoint(fixturePath('xglm-tiny'));
  const bin = openCheckpoint(fixturePath('xglm-tiny-bin'));
  const moe = openCheckpoint(fixturePath('nllb-moe-tiny'));
  assert.is(st.config.model_type, 'xglm');
  assert.equal(st.files.map((f) => path.basename(f)), ['model.safetensors']);
  assert.equal(bin.files.map((f) => path.basename(f)), ['pytorch_model.bin']);
  assert.equal(moe.files.map((f) => path.basename(f)).sort(), ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
  assert.is(moe.config.num_experts, 4);
  assert.is(bin.tensors.names().length, st.tensors.names().length + 1);
  const name = 'model.layers.0.self_attn.q_proj.weight';
  assert.equal(Array.from(bin.tensors.read(name).data as Float32Array), Array.from(st.tensors.read(name).data as Float32Array));
  assert.is(bin.tensors.aliasOf?.('lm_head.weight'), 'model.embed_tokens.weight');
  assert.is(st.tensors.aliasOf?.('model.embed_tokens.weight'), undefined);
});

test('sharded pytorch_model.bin.index.json', () => {
  const a = torchZip(stateDictPickle([{ name: 'a', storageType: 'FloatStorage', key: '0', numel: 2, offset: 0, shape: [2], stride: [1] }]), { '0': f32Bytes([1.5, -2]) });
  const b = torchZip(stateDictPickle([{ name: 'b', storageType: 'FloatStorage', key: '0', numel: 3, offset: 0, shape: [3], stride: [1] }]), { '0': f32Bytes([7, 8, 9]) });
  const index = { metadata: { total_size: 20 }, weight_map: { a: 'pytorch_model-00001-of-00002.bin', b: 'pytorch_model-00002-of-00002.bin' } };
  const d = dir('sharded-bin', {
    'config.json': xglmConfig,
    'pytorch_model.bin.index.json': JSON.stringify(index),
    'pytorch_model-00001-of-00002.bin': a,
    'pytorch_model-00002-of-00002.bin': b,
  });
  const ck = openCheckpoint(d);
  assert.equal(ck.tensors.names(), ['a', 'b']);
  assert.equal(Array.from(ck.tensors.read('a').data as Float32Array), [1.5, -2]);
  assert.equal(Array.from(ck.tensors.read('b').data as Float32Array), [7, 8, 9]);
  assert.is(ck.files.length, 2);
  assert.is(path.basename(ck.tensors.meta('b').file), 'pytorch_model-00002-of-00002.bin');
  // An index that lies about where a tensor lives
  const wrong = { weight_map: { a: 'pytorch_model-00002-of-00002.bin', b: 'pytorch_model-00002-of-00002.bin' } };
  fs.writeFileSync(path.join(d, 'pytorch_model.bin.index.json'), JSON.stringify(wrong));
  throwsExactly(() => openCheckpoint(d), `${path.join(d, 'pytorch_model.bin.index.json')}: weight_map names "a" in pytorch_model-00002-of-00002.bin, but that shard has no such tensor`);
  fs.writeFileSync(path.join(d, 'pytorch_model.bin.index.json'), JSON.stringify({ weight_map: { a: '../../x.bin' } }));
  throwsExactly(() => openCheckpoint(d), `${path.join(d, 'pytorch_model.bin.index.json')}: weight_map["a"]: expected a plain file name inside the model folder, found "../../x.bin"`);
});

test('safetensors wins over pytorch_model.bin when a directory has both (HF precedence)', () => {
  const d = dir('both', {
    'config.json': xglmConfig,
    'model.safetensors': fs.readFileSync(fixturePath('xglm-tiny', 'model.safetensors')),
    'pytorch_model.bin': fs.readFileSync(fixturePath('xglm-tiny-bin', 'pytorch_model.bin')),
  });
  assert.equal(openCheckpoint(d).files, [path.join(d, 'model.safetensors')]);
});

test('clear errors: missing dir, a file, missing config.json, bad JSON, non-object config, no weights', () => {
  const missing = path.join(tmp, 'nope');
  throwsExactly(() => openCheckpoint(missing), `${missing}: no such directory (and not an ORG/NAME model id)`);
  const file = path.join(dir('afile', { 'x.txt': 'x' }), 'x.txt');
  throwsExactly(() => openCheckpoint(file), `${file}: expected a model directory, found a file`);
  const noConfig = dir('noconfig', { 'model.safetensors': fs.readFileSync(fixturePath('xglm-tiny', 'model.safetensors')) });
  throwsExactly(() => openCheckpoint(noConfig), `${noConfig}: no config.json (expected a Hugging Face model directory)`);
  const badJson = dir('badjson', { 'config.json': '{"model_type": "xglm",' });
  throwsExactly(() => openCheckpoint(badJson), new RegExp(`^${escape(path.join(badJson, 'config.json'))}: not valid JSON \\(.+\\)$`));
  const arrJson = dir('arrjson', { 'config.json': '[1]' });
  throwsExactly(() => openCheckpoint(arrJson), `${path.join(arrJson, 'config.json')}: expected a JSON object`);
  const noWeights = dir('noweights', { 'config.json': xglmConfig, 'tokenizer_config.json': '{}' });
  throwsExactly(() => openCheckpoint(noWeights), `${noWeights}: no weights found (expected one of model.safetensors.index.json, model.safetensors, pytorch_model.bin.index.json, pytorch_model.bin)`);
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A hub-cache repo laid out like huggingface_hub: blobs + symlinked snapshot files + refs/main. */
function hubRepo(cache: string, id: string, revs: string[], main?: string): string {
  const repo = path.join(cache, `models--${id.replace('/', '--')}`);
  fs.mkdirSync(path.join(repo, 'blobs'), { recursive: true });
  const blob = (name: string, src: string): string => {
    const p = path.join(repo, 'blobs', name);
    fs.copyFileSync(src, p);
    return p;
  };
  const cfg = blob('cfgblob', fixturePath('xglm-tiny', 'config.json'));
  const weights = blob('stblob', fixturePath('xglm-tiny', 'model.safetensors'));
  for (const r of revs) {
    const snap = path.join(repo, 'snapshots', r);
    fs.mkdirSync(snap, { recursive: true });
    fs.symlinkSync(path.relative(snap, cfg), path.join(snap, 'config.json'));
    fs.symlinkSync(path.relative(snap, weights), path.join(snap, 'model.safetensors'));
  }
  if (main) {
    fs.mkdirSync(path.join(repo, 'refs'), { recursive: true });
    fs.writeFileSync(path.join(repo, 'refs', 'main'), main);
  }
  return repo;
}

test('HF hub cache: HF_HUB_CACHE, HF_HOME/hub, ~/.cache default; refs/main or the single snapshot', () => {
  assert.is(hubCacheDir({ HF_HUB_CACHE: '/a', HF_HOME: '/b' }), '/a');
  assert.is(hubCacheDir({ HF_HOME: '/b' }), path.join('/b', 'hub'));
  assert.is(hubCacheDir({ XDG_CACHE_HOME: '/c' }), path.join('/c', 'huggingface', 'hub'));
  assert.is(hubCacheDir({}), path.join(os.homedir(), '.cache', 'huggingface', 'hub'));

  const home = path.join(tmp, 'hfhome');
  const cache = path.join(home, 'hub');
  const repo = hubRepo(cache, 'facebook/xglm-tiny', ['1111aaaa', '2222bbbb'], '2222bbbb\n');
  hubRepo(cache, 'someone/only-one', ['3333cccc']);
  hubRepo(cache, 'someone/ambiguous', ['4444', '5555']);
  const saved = { home: process.env.HF_HOME, cache: process.env.HF_HUB_CACHE };
  try {
    delete process.env.HF_HUB_CACHE;
    process.env.HF_HOME = home;
    const ck = openCheckpoint('facebook/xglm-tiny');
    assert.is(ck.dir, path.join(repo, 'snapshots', '2222bbbb'));
    assert.is(ck.config.model_type, 'xglm');
    assert.equal(ck.tensors.read('model.layers.1.fc2.weight').shape, [64, 128]);
    assert.is(openCheckpoint('someone/only-one').dir, path.join(cache, 'models--someone--only-one', 'snapshots', '3333cccc'));
    throwsExactly(
      () => openCheckpoint('someone/ambiguous'),
      `${path.join(cache, 'models--someone--ambiguous', 'snapshots')}: 2 snapshots (4444, 5555) and no refs/main to choose one; pass the snapshot directory itself`,
    );
    throwsExactly(
      () => openCheckpoint('facebook/not-downloaded'),
      `facebook/not-downloaded: not a directory, and not in the Hugging Face hub cache (looked for ${path.join(cache, 'models--facebook--not-downloaded', 'snapshots')}; set HF_HUB_CACHE or HF_HOME, or download it with \`huggingface-cli download facebook/not-downloaded\`)`,
    );
    fs.writeFileSync(path.join(repo, 'refs', 'main'), '9999ffff');
    throwsExactly(
      () => openCheckpoint('facebook/xglm-tiny'),
      `${path.join(repo, 'refs', 'main')}: points at revision 9999ffff, but ${path.join(repo, 'snapshots', '9999ffff')} does not exist (incomplete download?)`,
    );
    // HF_HUB_CACHE takes precedence over HF_HOME
    process.env.HF_HUB_CACHE = path.join(tmp, 'empty-cache');
    throwsExactly(() => resolveHubSnapshot('someone/only-one'), /^someone\/only-one: not a directory, and not in the Hugging Face hub cache \(looked for .*empty-cache/);
  } finally {
    if (saved.home === undefined) delete process.env.HF_HOME;
    else process.env.HF_HOME = saved.home;
    if (saved.cache === undefined) delete process.env.HF_HUB_CACHE;
    else process.env.HF_HUB_CACHE = saved.cache;
  }
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test.run();
