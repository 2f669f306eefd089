/**
 * `polyglot verify DIR`: runs every case of a reference fixture and reports
 * max abs / rel error against its tolerance. Model fixtures: DIR/reference/cases.json
 * (dispatched on config.json model_type); tokenizer fixtures: DIR/cases.json +
 * DIR/sentencepiece.bpe.model.
 */
import type { WeightPrecision } from '../layers/weight-precision.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';
import { readJsonFile } from '../convert/checkpoint.js';
import { SafetensorsFile, type HostTensor } from '../convert/safetensors.js';
import { compareExact, compareOutput } from './compare.js';
import { resultFromError, resultFromOutputs } from './results.js';
import type { ActualOutput, CaseContext, CaseResult, CaseSpec, LiteralOutput, ModelCaseRunner } from './types.js';
import { tokenizeCase } from './tokenize-case.js';
import { xglmCaseRunner } from './xglm-cases.js';
import { nllbMoeCaseRunner } from './nllb-cases.js';
import { runTokenizerFixture } from './tokenizer-cases.js';
import { modelEntryFor, type RegisteredArchitecture } from '../models/registry.js';

/** Case handlers per architecture (a model_type reaches its architecture through models/registry.ts). */
const MODEL_RUNNERS: Record<RegisteredArchitecture['arch'], ModelCaseRunner> = {
  xglm: xglmCaseRunner,
  'nllb-moe': nllbMoeCaseRunner,
};

export interface VerifyOptions {
  /** Only run cases whose name matches. */
  filter?: RegExp;
  /** Precision the eval models compute with (`verify --weights`); default float32. */
  weights?: WeightPrecision;
  /** `verify --max-memory`: eval models load with offloaded experts (models/pretrained.ts `maxMemoryGB`). */
  maxMemoryGB?: number;
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
  const config = readJsonFile(path.join(abs, 'config.json')) as Record<string, unknown>;
  const runner = MODEL_RUNNERS[modelEntryFor(config, `${abs}/config.json`).architecture.arch];
  const cases = (readJsonFile(casesPath) as { cases?: CaseSpec[] }).cases;
  if (!Array.isArray(cases)) throw new PolyglotError(`${casesPath}: expected {"cases": [...]}`);
  const refs = SafetensorsFile.open(path.join(abs, 'reference', 'tensors.safetensors'));
  // tokenize cases (FORMAT.md) may stand in any model fixture: one handler for every family
  const handlers = { tokenize: tokenizeCase(abs), ...(await runner.prepare(abs, opts.weights ?? 'float32', opts.maxMemoryGB)) };
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
    const actual = out as Record<string, ActualOutput | LiteralOutput>;
    const outputs = Object.entries(spec.expect).map(([key, ref]) => {
      const a = actual[key];
      if (!a) return { key, maxAbsError: Infinity, maxRelError: Infinity, ok: false, message: `${key}: not computed` };
      const namesTensor = typeof ref === 'string' && refs.has(ref);
      if ('literal' in a) {
        // exact: against the named tensor's values, or the literal JSON value itself
        const expected = namesTensor ? Array.from(ctx.reference(ref as string).data as ArrayLike<number | bigint>, Number) : ref;
        return compareExact(key, a.literal, expected);
      }
      return compareOutput(key, a, namesTensor || typeof ref === 'string' ? ctx.reference(ref as string) : literalTensor(key, ref), spec.rtol, spec.atol);
    });
    return resultFromOutputs(base, outputs);
  } catch (e) {
    return resultFromError(base, e);
  }
}

/** A literal expectation (a number or a nested list of numbers) as a host tensor. */
function literalTensor(key: string, value: unknown): HostTensor {
  const shape: number[] = [];
  for (let v = value; Array.isArray(v); v = v[0]) shape.push(v.length);
  const flat = (Array.isArray(value) ? value.flat(Infinity) : [value]) as unknown[];
  if (!flat.every((x) => typeof x === 'number')) {
    throw new PolyglotError(`expect "${key}": a literal must be a number or a list of numbers, found ${JSON.stringify(value).slice(0, 60)}`);
  }
  const ints = flat.every((x) => Number.isInteger(x));
  return { dtype: ints ? 'I32' : 'F32', shape, data: ints ? Int32Array.from(flat as number[]) : Float32Array.from(flat as number[]) };
}

/** The human-readable table of `polyglot verify`. */
export function formatResultsTable(results: CaseResult[]): string {
  // the check column shows the element nearest its bound (|a-b| <= atol + rtol*|b|): a relative error
  // column would show huge values beside "pass" wherever the reference is near 0
  const rows = [['fixture', 'case', 'kind', 'max abs err', 'check (element nearest its bound)', 'result']];
  for (const r of results) {
    const fmt = (x: number) => (Number.isNaN(x) ? '-' : x.toExponential(2));
    rows.push([r.fixture, r.case, r.kind, fmt(r.maxAbsError), r.check ?? '-', r.status + (r.message && r.status !== 'pass' ? ` (${r.message})` : '')]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (c === rows[0].length - 1 ? 0 : r[c].length))));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ')).join('\n');
}
