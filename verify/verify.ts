/**
 * `polyglot verify DIR`: runs every case of a reference fixture and reports
 * max abs / rel error against its tolerance. Model fixtures: DIR/reference/cases.json
 * (dispatched on config.json model_type); tokenizer fixtures: DIR/cases.json +
 * DIR/sentencepiece.bpe.model.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';
import { readJsonFile } from '../convert/checkpoint.js';
import { SafetensorsFile, type HostTensor } from '../convert/safetensors.js';
import { compareOutput } from './compare.js';
import { resultFromError, resultFromOutputs } from './results.js';
import type { CaseContext, CaseResult, CaseSpec, ModelCaseRunner } from './types.js';
import { xglmCaseRunner } from './xglm-cases.js';
import { nllbMoeCaseRunner } from './nllb-cases.js';
import { runTokenizerFixture } from './tokenizer-cases.js';

const MODEL_RUNNERS: Record<string, ModelCaseRunner> = {
  xglm: xglmCaseRunner,
  'nllb-moe': nllbMoeCaseRunner,
  nllb_moe: nllbMoeCaseRunner,
};

export interface VerifyOptions {
  /** Only run cases whose name matches. */
  filter?: RegExp;
  /** Called after each case (progress). */
  onResult?: (r: CaseResult) => void;
}

export async function verifyFixture(dir: string, opts: VerifyOptions = {}): Promise<CaseResult[]> {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs)) throw new PolyglotError(`${dir}: no such directory`);
  if (fs.existsSync(path.join(abs, 'cases.json')) && fs.existsSync(path.join(abs, 'sentencepiece.bpe.model'))) {
    const results = await runTokenizerFixture(abs, opts.filter);
    results.forEach((r) => opts.onResult?.(r));
    return results;
  }
  const casesPath = path.join(abs, 'reference', 'cases.json');
  if (!fs.existsSync(casesPath)) {
    throw new PolyglotError(`${dir}: not a fixture: expected reference/cases.json (model) or cases.json + sentencepiece.bpe.model (tokenizer)`);
  }
  const config = readJsonFile(path.join(abs, 'config.json')) as { model_type?: unknown };
  const runner = MODEL_RUNNERS[String(config.model_type)];
  if (!runner) throw new PolyglotError(`${abs}/config.json: model_type ${JSON.stringify(config.model_type)} is not supported (expected "xglm" or "nllb-moe")`);
  const cases = (readJsonFile(casesPath) as { cases?: CaseSpec[] }).cases;
  if (!Array.isArray(cases)) throw new PolyglotError(`${casesPath}: expected {"cases": [...]}`);
  const refs = SafetensorsFile.open(path.join(abs, 'reference', 'tensors.safetensors'));
  const handlers = await runner.prepare(abs);
  const results: CaseResult[] = [];
  try {
    for (const spec of cases) {
      if (opts.filter && !opts.filter.test(spec.name)) continue;
      const r = await runCase(abs, spec, refs, handlers as Record<string, unknown>);
      results.push(r);
      opts.onResult?.(r);
    }
  } finally {
    handlers.dispose?.();
  }
  return results;
}

function makeContext(fixtureDir: string, spec: CaseSpec, refs: SafetensorsFile): CaseContext {
  const cache = new Map<string, HostTensor>();
  const reference = (name: string): HostTensor => {
    let t = cache.get(name);
    if (!t) {
      if (!refs.has(name)) throw new PolyglotError(`${refs.path}: case "${spec.name}" names tensor "${name}", which is not there`);
      t = refs.read(name);
      cache.set(name, t);
    }
    return t;
  };
  return {
    fixtureDir,
    spec,
    reference,
    input(key) {
      const v = spec.inputs[key];
      if (typeof v !== 'string') throw new PolyglotError(`case "${spec.name}": input "${key}" is ${v === undefined ? 'missing' : 'not a tensor name'}`);
      return reference(v);
    },
    literal<V>(key: string) {
      const v = spec.inputs[key] ?? spec.params?.[key];
      return v as V | undefined;
    },
  };
}

async function runCase(fixtureDir: string, spec: CaseSpec, refs: SafetensorsFile, handlers: Record<string, unknown>): Promise<CaseResult> {
  const base = { fixture: path.basename(fixtureDir), case: spec.name, kind: spec.kind, rtol: spec.rtol, atol: spec.atol };
  const handler = handlers[spec.kind] as ((ctx: CaseContext) => ReturnType<import('./types.js').CaseHandler>) | undefined;
  if (!handler) {
    return { ...base, status: 'unsupported', maxAbsError: NaN, maxRelError: NaN, outputs: [], message: `case kind "${spec.kind}" is not supported yet` };
  }
  const ctx = makeContext(fixtureDir, spec, refs);
  try {
    const out = await handler(ctx);
    if ('unsupported' in out && typeof out.unsupported === 'string') {
      return { ...base, status: 'unsupported', maxAbsError: NaN, maxRelError: NaN, outputs: [], message: out.unsupported };
    }
    const actual = out as Record<string, import('./types.js').ActualOutput>;
    const outputs = Object.entries(spec.expect).map(([key, ref]) => {
      const a = actual[key];
      if (!a) return { key, maxAbsError: Infinity, maxRelError: Infinity, ok: false, message: `${key}: not computed` };
      const refTensor: HostTensor =
        typeof ref === 'string' ? ctx.reference(ref) : { dtype: 'F32', shape: [], data: new Float32Array([Number(ref)]) };
      return compareOutput(key, a, refTensor, spec.rtol, spec.atol);
    });
    return resultFromOutputs(base, outputs);
  } catch (e) {
    return resultFromError(base, e);
  }
}

/** The human-readable table of `polyglot verify`. */
export function formatResultsTable(results: CaseResult[]): string {
  const rows = [['fixture', 'case', 'kind', 'max abs err', 'max rel err', 'tolerance', 'result']];
  for (const r of results) {
    const fmt = (x: number) => (Number.isNaN(x) ? '-' : x.toExponential(2));
    rows.push([r.fixture, r.case, r.kind, fmt(r.maxAbsError), fmt(r.maxRelError), `rtol ${r.rtol} atol ${r.atol}`, r.status + (r.message && r.status !== 'pass' ? ` (${r.message})` : '')]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (c === rows[0].length - 1 ? 0 : r[c].length))));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ')).join('\n');
}
