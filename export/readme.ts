/**
 * OUT/README.md of an export: what each graph folder takes and returns, and how to run it
 * with stock @tensorflow/tfjs (no tfjs-polyglot code needed).
 */
import type { SignatureEntry } from '../ops/graph.js';
import type { QuantizeMode } from './quantize.js';

export interface GraphSummary {
  folder: string;
  purpose: string;
  inputs: SignatureEntry[];
  outputs: SignatureEntry[];
  bytes: number;
}

function shapeText(shape: (number | null)[], names: string[]): string {
  return `[${shape.map((d, i) => (d === null ? names[i] ?? '?' : String(d))).join(', ')}]`;
}

function table(entries: SignatureEntry[], dimNames: (e: SignatureEntry) => string[]): string {
  const rows = entries.map((e) => `| \`${e.name}\` | ${e.dtype} | ${shapeText(e.shape, dimNames(e))} |`);
  return ['| name | dtype | shape |', '| --- | --- | --- |', ...rows].join('\n');
}

export function exportReadme(opts: {
  /** The model's name, e.g. "XGLM". */
  title: string;
  source: string;
  quantize: QuantizeMode;
  graphs: GraphSummary[];
  dimNames: (folder: string) => (e: SignatureEntry) => string[];
  notes: string[];
}): string {
  const parts: string[] = [];
  parts.push(`# ${opts.title} as TensorFlow.js graph models`);
  parts.push(
    `Exported by tfjs-polyglot from \`${opts.source}\` (weights quantization: ${opts.quantize}). ` +
      'Each folder is a TensorFlow.js GraphModel (`model.json` + weight shards) that runs with stock ' +
      '`@tensorflow/tfjs` (`tf.loadGraphModel`), in Node or a browser; no tfjs-polyglot code is needed. ' +
      'Tokenizer files, `config.json` and `generation_config.json` are copied beside them. ' +
      '`weights/` holds weight shards used by several graphs (written once; each `model.json` refers to them as `../weights/...`): keep the folder layout when you serve or copy the export.',
  );
  parts.push('Dimension names: B = batch, T = new tokens, P = cached (past) tokens, S = source tokens; all dynamic.');
  for (const g of opts.graphs) {
    parts.push(`## \`${g.folder}/\`\n\n${g.purpose} (${(g.bytes / 1e6).toFixed(2)} MB to load, shared weights included)\n\nInputs:\n\n${table(g.inputs, opts.dimNames(g.folder))}\n\nOutputs:\n\n${table(g.outputs, opts.dimNames(g.folder))}`);
  }
  parts.push('## Notes\n\n' + opts.notes.map((n) => `- ${n}`).join('\n'));
  parts.push(
    [
      '## Running',
      '',
      'In a browser (or Node 20 with a local HTTP server), `tf.loadGraphModel(url)` reads a folder directly.',
      'In Node without `@tensorflow/tfjs-node`, give it a small IOHandler reading the files:',
      '',
      '```js',
      "import * as tf from '@tensorflow/tfjs';",
      "import * as fs from 'node:fs';",
      "import * as path from 'node:path';",
      'const fromDir = (dir) => ({',
      '  load: async () => {',
      "    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));",
      '    return tf.io.getModelArtifactsForJSON(json, async (manifest) => {',
      '      const specs = manifest.flatMap((g) => g.weights);',
      '      const bufs = manifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(dir, p))));',
      '      return [specs, new Uint8Array(Buffer.concat(bufs)).buffer];',
      '    });',
      '  },',
      '});',
      `const model = await tf.loadGraphModel(fromDir('${opts.graphs[0]?.folder ?? 'decoder_model'}'));`,
      `const out = model.execute({ ${(opts.graphs[0]?.inputs ?? []).map((i) => `${i.name}: ...`).join(', ')} }, [${(opts.graphs[0]?.outputs ?? []).slice(0, 1).map((o) => `'${o.name}'`).join(', ')}]);`,
      '```',
      '',
      'Inputs are passed by the names above (`model.execute({name: tensor}, [outputNames])`); ' +
        '`model.predict(inputs)` returns every output in a `{name: tensor}` map. Integer inputs are int32.',
      'The repository examples (`examples/`) show greedy generation / translation with these folders in Node and in a web page.',
    ].join('\n'),
  );
  return parts.join('\n\n') + '\n';
}
