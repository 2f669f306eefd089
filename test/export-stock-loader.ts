/**
 * Loads an exported GraphModel folder with stock @tensorflow/tfjs only (no project code):
 * the same few lines a user would write in Node without tfjs-node's file:// handler.
 * Shards are passed as separate buffers, like tf.loadGraphModel(url) does in a browser.
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
        // One ArrayBuffer per shard file, exactly as tfjs's http loader hands them over
        // (tfjs then reads them through its CompositeArrayBuffer).
        const buffers = manifest.flatMap((g) =>
          g.paths.map((p) => {
            const b = fs.readFileSync(path.join(dir, p));
            return b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
          }),
        );
        return [specs, buffers];
      });
    },
  };
}

export async function loadStockGraphModel(dir: string): Promise<tf.GraphModel> {
  return tf.loadGraphModel(dirIOHandler(dir));
}
