/** Shared plumbing of the example tests: fixture exports and the examples' own JS modules. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as tf from '@tensorflow/tfjs';
import { packageRoot } from './paths.js';
import { exportGraphModels } from '../export/export-model.js';
import { fixturePath } from './helpers.js';

export const examplesDir = path.join(packageRoot(), 'examples');

export interface GreedyModule {
  xglmGreedy(models: { decoder: tf.GraphModel; decoderWithPast: tf.GraphModel }, promptIds: number[], opts: { maxNewTokens?: number; eosTokenId?: number }): Promise<number[]>;
  nllbGreedy(
    models: { encoder: tf.GraphModel; decoder: tf.GraphModel; decoderWithPast: tf.GraphModel },
    srcIds: number[],
    opts: { tgtLangId: number; maxNewTokens?: number; eosTokenId?: number; decoderStartTokenId?: number },
  ): Promise<number[]>;
}
export interface FsHandlerModule {
  loadGraph(dir: string): Promise<tf.GraphModel>;
}
export interface MiniSpmModule {
  MiniSentencePiece: { fromBytes(b: Uint8Array): { encodeIds(text: string): number[]; decodeIds(ids: number[]): string } };
}

export async function importExample<M>(rel: string): Promise<M> {
  return (await import(pathToFileURL(path.join(examplesDir, rel)).href)) as M;
}

/** Exports both tiny fixtures (no quantization) once into a fresh temporary folder. */
export async function exportFixtures(): Promise<{ root: string; xglm: string; nllb: string }> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'polyglot-examples-'));
  const xglm = path.join(root, 'xglm');
  const nllb = path.join(root, 'nllb');
  await exportGraphModels(fixturePath('xglm-tiny'), { out: xglm });
  await exportGraphModels(fixturePath('nllb-moe-tiny'), { out: nllb });
  return { root, xglm, nllb };
}
