/**
 * Random-weight Hugging Face checkpoints of real model shapes, written for the big-shape benches
 * (bench/big.ts): config.json + one model.safetensors in BF16 or F32, streamed in chunks so a
 * 3.4 GB file never needs more than a few MB of memory. Tensor names and shapes come from a tiny
 * instance of the model class (same layer count and experts, dims 8 / 12 / 20), mapped to the
 * real dims: the names are exactly what the loader expects.
 * Values: matrices uniform-ish in +-0.03 (random sign, exponent and mantissa of a bf16), biases 0,
 * LayerNorm weights 1.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hfShape } from '../models/pretrained.js';
import { safetensorsHeader } from '../convert/safetensors-writer.js';
import type { NamedParameter } from '../core/trainable.js';

const TINY = { d: 8, ffn: 12, vocab: 20 };

export interface RealDims {
  d: number;
  ffn: number;
  vocab: number;
}

/** HF names and real shapes from a tiny model's parameters. */
export function realTensors(tinyParams: NamedParameter[], dims: RealDims): { name: string; shape: number[] }[] {
  const map = new Map([
    [TINY.d, dims.d],
    [TINY.ffn, dims.ffn],
    [TINY.vocab, dims.vocab],
  ]);
  return tinyParams.map((p) => ({
    name: p.name,
    // Other sizes (the expert count of a router) are kept as they are.
    shape: hfShape(p.variable.shape as number[], p.transposed).map((s) => map.get(s) ?? s),
  }));
}

export const TINY_DIMS = TINY;

/** Writes config.json and model.safetensors; returns the bytes of tensor data. */
export function writeRandomCheckpoint(dir: string, config: Record<string, unknown>, tensors: { name: string; shape: number[] }[], dtype: 'BF16' | 'F32', seed = 1): number {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, torch_dtype: dtype === 'BF16' ? 'bfloat16' : 'float32' }, null, 2));
  const specs = tensors.map((t) => ({ ...t, dtype }));
  const header = safetensorsHeader(specs, { format: 'pt' });
  const file = path.join(dir, 'model.safetensors');
  const fd = fs.openSync(file, 'w');
  let bytes = 0;
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    fs.writeSync(fd, len);
    fs.writeSync(fd, header);
    const CHUNK = 1 << 22; // elements
    const bf = new Uint16Array(CHUNK);
    const f32 = new Uint32Array(CHUNK);
    let s = seed >>> 0;
    for (const t of tensors) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      const kind = t.shape.length >= 2 ? 'random' : /layer_norm\.weight$/.test(t.name) ? 'one' : 'zero';
      for (let done = 0; done < n; done += CHUNK) {
        const m = Math.min(CHUNK, n - done);
        for (let i = 0; i < m; i++) {
          let b = 0;
          if (kind === 'random') {
            s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
            // sign | exponent 117..121 (2^-10 .. 2^-6) | 7 mantissa bits
            b = ((s >>> 31) << 15) | ((117 + ((s >>> 24) % 5)) << 7) | ((s >>> 8) & 0x7f);
          } else if (kind === 'one') {
            b = 0x3f80;
          }
          if (dtype === 'BF16') bf[i] = b;
          else f32[i] = b << 16;
        }
        const view = dtype === 'BF16' ? Buffer.from(bf.buffer, 0, 2 * m) : Buffer.from(f32.buffer, 0, 4 * m);
        fs.writeSync(fd, view);
        bytes += view.length;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return bytes;
}
