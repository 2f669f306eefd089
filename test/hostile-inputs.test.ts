/** Issue 10 items 4, 7 (safetensors header), 13: hostile configs and headers end in one line, fast. */
import { test } from 'uvu';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expectOneLineError, fixtureCopy } from './cli-run.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-inputs-'));
const xglm = (name: string, edit: (dir: string) => void): string => fixtureCopy(tmp, 'xglm-tiny', name, edit);
const editJson = (file: string, edit: (j: Record<string, unknown>) => void): void => {
  const j = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(j);
  fs.writeFileSync(file, JSON.stringify(j));
};
const T = 30_000;

test('generation_config.json num_beams 1e6 / num_return_sequences 1e6, and --num-beams 1e6: bounded', () => {
  for (const key of ['num_beams', 'num_return_sequences']) {
    const dir = xglm(`gen-${key}`, (d) => editJson(path.join(d, 'generation_config.json'), (j) => (j[key] = 1e6)));
    expectOneLineError(['generate', '--model', dir, '--prompt', 'hi'], new RegExp(`generation_config\\.json: field "${key}": expected an integer from 1 to 256 .*found 1000000`), T);
  }
  const dir = xglm('cli-beams', () => {});
  expectOneLineError(['generate', '--model', dir, '--prompt', 'hi', '--num-beams', '1000000'], /--num-beams 1000000 is more than 256/, T);
});

test('tokenizer_class "EvilTokenizer" is refused by generate as by tokenize', () => {
  const dir = xglm('evil-class', (d) => editJson(path.join(d, 'tokenizer_config.json'), (j) => (j.tokenizer_class = 'EvilTokenizer')));
  for (const args of [['tokenize', '--model', dir, 'hi'], ['generate', '--model', dir, '--prompt', 'hi', '--max-new-tokens', '1']]) {
    expectOneLineError(args, /tokenizer_config\.json: tokenizer_class "EvilTokenizer" is not supported/, T);
  }
  const nllbClass = xglm('nllb-class', (d) => editJson(path.join(d, 'tokenizer_config.json'), (j) => (j.tokenizer_class = 'NllbTokenizer')));
  expectOneLineError(['generate', '--model', nllbClass, '--prompt', 'hi', '--max-new-tokens', '1'], /tokenizer_config\.json: tokenizer_class "NllbTokenizer" is not the XGLMTokenizer this model needs/, T);
});

function safetensorsWithHeader(header: Buffer): Buffer {
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([len, header]);
}

test('safetensors header nested 200k deep, or not UTF-8: one line', () => {
  const deep = xglm('deep-header', (d) => {
    const h = Buffer.from(`{"__metadata__":${'['.repeat(200_000)}${']'.repeat(200_000)}}`);
    fs.writeFileSync(path.join(d, 'model.safetensors'), safetensorsWithHeader(h));
  });
  expectOneLineError(['info', deep], /model\.safetensors: safetensors header: JSON nests deeper than 64 levels/, T);
  const latin1 = xglm('latin1-header', (d) => {
    const h = Buffer.from('{"__metadata__":{"k":"caf\xe9"}}', 'latin1');
    fs.writeFileSync(path.join(d, 'model.safetensors'), safetensorsWithHeader(h));
  });
  expectOneLineError(['info', latin1], /model\.safetensors: safetensors header is not valid UTF-8/, T);
  const deepConfig = xglm('deep-config', (d) => fs.writeFileSync(path.join(d, 'config.json'), `{"x":${'['.repeat(200_000)}${']'.repeat(200_000)}}`));
  expectOneLineError(['info', deepConfig], /config\.json: JSON nests deeper than 64 levels/, T);
});

test('one 5 MB line in translate --input or training data: an error naming file:line, no stack overflow', () => {
  const long = path.join(tmp, 'long.txt');
  fs.writeFileSync(long, `short line\n${'word '.repeat(1_000_000)}\nlast\n`);
  const nllb = fixtureCopy(tmp, 'nllb-moe-tiny', 'nllb', () => {});
  expectOneLineError(['translate', '--model', nllb, '--src-lang', 'eng_Latn', '--tgt-lang', 'fra_Latn', '--input', long], new RegExp(`--input ${long.replace(/[.]/g, '\\.')}:2: text of 5000000 characters is longer than the 262144-character limit`), T);
  const dir = xglm('train-long', () => {});
  expectOneLineError(['train', '--model', dir, '--data', long, '--out', path.join(tmp, 'train-out'), '--max-steps', '1', '--batch-size', '4'], /long\.txt:2: text of 5000000 characters is longer than the 262144-character limit/, 120_000);
});

test('config sizes that drive allocation: bounded, and checked against the checkpoint before building', () => {
  const xcfg = (name: string, edit: (j: Record<string, unknown>) => void): string => xglm(name, (d) => editJson(path.join(d, 'config.json'), edit));
  for (const [key, v] of [['num_layers', 1e9], ['num_layers', 5000], ['vocab_size', 1e12], ['ffn_dim', 1e9], ['max_position_embeddings', 1e9]] as const) {
    const dir = xcfg(`x-${key}-${v}`, (j) => (j[key] = v));
    for (const args of [['info', dir], ['generate', '--model', dir, '--prompt', 'hi', '--max-new-tokens', '1']]) {
      expectOneLineError(args, new RegExp(`config\\.json: field "${key}": expected at most \\d+ .*found ${v}`), T);
    }
  }
  const layers = xcfg('x-layers-3', (j) => (j.num_layers = 3));
  expectOneLineError(['generate', '--model', layers, '--prompt', 'hi', '--max-new-tokens', '1'], /config\.json: field "num_layers" is 3, but the checkpoint holds 2 decoder layers/, T);
  const ffn = xcfg('x-ffn', (j) => (j.ffn_dim = (j.ffn_dim as number) * 2));
  expectOneLineError(['generate', '--model', ffn, '--prompt', 'hi', '--max-new-tokens', '1'], /config\.json: ffn_dim and d_model give model\.layers\.0\.fc1\.weight the shape/, T);
  const ncfg = (name: string, edit: (j: Record<string, unknown>) => void): string => fixtureCopy(tmp, 'nllb-moe-tiny', name, (d) => editJson(path.join(d, 'config.json'), edit));
  const translateArgs = (dir: string): string[] => ['translate', '--model', dir, '--src-lang', 'eng_Latn', '--tgt-lang', 'fra_Latn', 'Hello'];
  for (const [key, v] of [['encoder_layers', 1e9], ['num_experts', 1e6]] as const) {
    const dir = ncfg(`n-${key}`, (j) => (j[key] = v));
    for (const args of [['info', dir], translateArgs(dir)]) expectOneLineError(args, new RegExp(`config\\.json: field "${key}": expected at most`), T);
  }
  const experts = ncfg('n-experts-8', (j) => (j.num_experts = 8));
  expectOneLineError(translateArgs(experts), /config\.json: field "num_experts" is 8, but the checkpoint holds 4 experts per sparse layer/, T);
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
test.run();
