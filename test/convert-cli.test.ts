import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { infoCommand } from '../cli/commands/info.js';
import { convertCommand } from '../cli/commands/convert.js';
import { PolyglotError } from '../core/errors.js';
import { fixturePath } from './helpers.js';
import { expectOneLineError } from './cli-run.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ccli-'));

/** Runs a command handler and returns what it printed on stdout. */
async function run(handler: unknown, args: Record<string, unknown>): Promise<string> {
  let out = '';
  const orig = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array): boolean => {
    out += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    await (handler as (a: Record<string, unknown>) => Promise<void>)({ _: [], $0: 'polyglot', ...args });
  } finally {
    process.stdout.write = orig;
  }
  return out;
}

test('convert of a tensor too large for one buffer names the source tensor and file, not a temporary output, before writing', () => {
  const src = path.join(tmp, 'oversized');
  fs.mkdirSync(src);
  fs.copyFileSync(fixturePath('xglm-tiny', 'config.json'), path.join(src, 'config.json'));
  // a sparse 32 GiB safetensors file: one F32 tensor of 2^33 elements (no disk space used)
  const header = Buffer.from(JSON.stringify({ 'big.weight': { dtype: 'F32', shape: [131072, 65536], data_offsets: [0, 2 ** 35] } }).padEnd(104, ' '));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  const file = path.join(src, 'model.safetensors');
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, Buffer.concat([len, header]));
  fs.ftruncateSync(fd, 8 + header.length + 2 ** 35);
  fs.closeSync(fd);
  const out = path.join(tmp, 'oversized-out');
  const r = expectOneLineError(['convert', src, '--out', out], /^polyglot: \S*oversized\/model\.safetensors: tensor "big\.weight" of shape \[131072,65536\] needs 34359738368 bytes in one buffer, past this platform's \d+-byte limit/);
  assert.not.match(r.stderr, /\.tmp-/);
  assert.not.ok(fs.existsSync(out));
  assert.equal(fs.readdirSync(tmp).filter((n) => n.includes('oversized-out')), []);
});

test('polyglot info prints the description, --json parses', async () => {
  const text = await run(infoCommand.handler, { model: fixturePath('xglm-tiny-bin'), json: false });
  assert.match(text, /^directory:\s+.*xglm-tiny-bin$/m);
  assert.match(text, /^model type:\s+xglm$/m);
  assert.match(text, /^parameters:\s+131584 \(131\.6K\)$/m);
  assert.match(text, /^size on disk:\s+537050 bytes \(524\.5 KiB\)$/m);
  const json = JSON.parse(await run(infoCommand.handler, { model: fixturePath('nllb-moe-tiny'), json: true }));
  assert.is(json.parameterCount, 344704);
  assert.is(json.summary['encoder layers'], 2);
});

test('polyglot convert writes the directory and reports tied weights and copied files', async () => {
  const out = path.join(tmp, 'x');
  const text = await run(convertCommand.handler, { input: fixturePath('xglm-tiny-bin'), out, dtype: 'float16', force: false, quiet: false });
  assert.equal(text.split('\n'), [
    `wrote ${out}: 35 tensors as float16, 257.0 KiB in model.safetensors`,
    '  tied: lm_head.weight not stored (same storage as model.embed_tokens.weight; tie_word_embeddings)',
    '  copied: generation_config.json, sentencepiece.bpe.model, special_tokens_map.json, tokenizer_config.json',
    '',
  ]);
  try {
    await run(convertCommand.handler, { input: fixturePath('xglm-tiny-bin'), out, force: false, quiet: true, 'max-shard-size': '1MB' });
    assert.unreachable('should refuse');
  } catch (e) {
    assert.ok(e instanceof PolyglotError);
    assert.is((e as Error).message, `${out}: already exists (pass overwrite / --force to replace it)`);
  }
  assert.is(await run(convertCommand.handler, { input: fixturePath('xglm-tiny-bin'), out, force: true, quiet: true, 'max-shard-size': '100KB' }), '');
  // huggingface_hub's greedy split of the 35 float32 tensors at 100 kB, computed with python3: 258048 | 99840 | 83968 | 84480 bytes
  const shards = fs.readdirSync(out).filter((f) => f.endsWith('.safetensors')).sort();
  assert.equal(shards, [1, 2, 3, 4].map((k) => `model-0000${k}-of-00004.safetensors`));
  const index = JSON.parse(fs.readFileSync(path.join(out, 'model.safetensors.index.json'), 'utf8'));
  assert.equal(index.metadata, { total_size: 258048 + 99840 + 83968 + 84480 });
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test.run();
