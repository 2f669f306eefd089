/**
 * Loads an exported GraphModel folder with stock @tensorflow/tfjs only (no project code):
 * the same few lines a user would write in Node without tfjs-node's file:// handler.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';

export function dirIOHandler(dir: string): tf.io.IOHandler {
  return {
    load: async () => {
      const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs = manifest.flatMap((g) => g.weights);
        const buffers = manifest.flatMap((g) => g.paths.map((p) => new Uint8Array(fs.readFileSync(path.join(dir, p)))));
        const total = buffers.reduce((a, b) => a + b.length, 0);
        const all = new Uint8Array(total);
        let off = 0;
        for (const b of buffers) {
          all.set(b, off);
          off += b.length;
        }
        return [specs, all.buffer];
      });
    },
  };
}

export async function loadStockGraphModel(dir: string): Promise<tf.GraphModel> {
  return tf.loadGraphModel(dirIOHandler(dir));
}
