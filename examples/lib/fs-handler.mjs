// tf.loadGraphModel(fromDir(folder)) in Node without @tensorflow/tfjs-node: a tiny IOHandler
// reading model.json and its weight shards from disk (stock tfjs API only).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';

export function fromDir(dir) {
  return {
    load: async () => {
      const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs = manifest.flatMap((g) => g.weights);
        const bufs = manifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(dir, p))));
        return [specs, new Uint8Array(Buffer.concat(bufs)).buffer];
      });
    },
  };
}

export function loadGraph(dir) {
  return tf.loadGraphModel(fromDir(dir));
}
