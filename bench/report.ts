/**
 * Issue 14's comparison in one run: every path that runs the XGLM-564M shape (or --d/--layers/...)
 * measured in its own child process (so each row has its own peak RSS and no state leaks between
 * them), then one table:
 *  - ONNX Runtime float32 and int8 beside us (bench/ort.ts --ort-only; "not installed" without
 *    onnxruntime-node),
 *  - the wasm path without the addon (POLYGLOT_NATIVE=0, float32: what issue 14 started from),
 *  - the native path with 1 and 2 threads, weights float32, bfloat16 and int8,
 *  - a training step of the reduced shapes (bench/train.ts) on wasm and native, and a LoRA step
 *    (bench/lora.ts, --lora) on native: tokens/s and the achieved matmul GFLOP/s.
 * Forward is [1 x --prompt] tokens/s, decode is greedy with the KV cache (batch 1, --new tokens; best of --rounds generations, default 3, for ORT and ours alike).
 * Ratios are to ORT of the same precision (bfloat16 to ORT float32: ORT's CPU provider has no
 * bf16 MatMul) and, for training, to the wasm step.
 * Options: --prompt T (default 128) --new N (default 16) --rounds R (default 3) --repeat N (each
 *          inference child N times, interleaved, best kept; default 1) --threads-list 1,2 --weights-list
 *          float32,bfloat16,int8 --skip-wasm --skip-train --lora, and the shape options of bench/xglm.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Bench, type BenchContext, type BenchResult } from './common.js';

interface ChildReport {
  native: string;
  peakRssGB: number;
  results: BenchResult[];
}

/** One child run: its label, the bench and options, and what it reported (or why not). */
interface Run {
  label: string;
  args: string[];
  report?: ChildReport;
  error?: string;
}

const SHAPE_OPTIONS = ['d', 'layers', 'ffn', 'heads', 'vocab'];
/** The path issue 14 started from: the addon not loaded at all (matmuls, int8/16-bit weights, AdamW in wasm). */
const NO_NATIVE = { POLYGLOT_NATIVE: '0' };

function runChild(label: string, args: string[], env: Record<string, string> = {}): Run {
  const runJs = path.join(path.dirname(fileURLToPath(import.meta.url)), 'run.js');
  const jsonFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-report-')), 'out.json');
  process.stderr.write(`report: ${label} ...\n`);
  const t0 = performance.now();
  const child = spawnSync(process.execPath, [runJs, ...args, `--json=${jsonFile}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26, env: { ...process.env, ...env } });
  const seconds = ((performance.now() - t0) / 1000).toFixed(0);
  try {
    if (child.status !== 0 || !fs.existsSync(jsonFile)) {
      const why = `${child.stderr ?? ''}${child.stdout ?? ''}`.trim().split('\n').pop() ?? `exit ${child.status}`;
      process.stderr.write(`report: ${label}: failed after ${seconds} s: ${why}\n`);
      return { label, args, error: why };
    }
    const report = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as ChildReport;
    process.stderr.write(`report: ${label}: ${seconds} s, peak RSS ${report.peakRssGB.toFixed(2)} GB\n`);
    return { label, args, report };
  } finally {
    fs.rmSync(path.dirname(jsonFile), { recursive: true, force: true });
  }
}

function find(run: Run, part: string, prefix = ''): BenchResult | undefined {
  return run.report?.results.find((r) => r.name.startsWith(prefix) && r.name.includes(part));
}

function fmt(x: number | undefined, digits = 1): string {
  return x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined || b === 0 ? '-' : `${(a / b).toFixed(2)}x`;
}

/** The markdown table of the inference rows. */
export function inferenceTable(rows: { label: string; forward?: number; decode?: number; ortForward?: number; ortDecode?: number; rssGB?: number; error?: string }[]): string[] {
  const lines = ['| path | forward tokens/s | x ORT | greedy decode tokens/s | x ORT | peak RSS GB |', '| --- | --- | --- | --- | --- | --- |'];
  for (const r of rows) {
    if (r.error !== undefined) lines.push(`| ${r.label} | ${r.error} | | | | |`);
    else lines.push(`| ${r.label} | ${fmt(r.forward)} | ${ratio(r.forward, r.ortForward)} | ${fmt(r.decode, 2)} | ${ratio(r.decode, r.ortDecode)} | ${fmt(r.rssGB, 2)} |`);
  }
  return lines;
}

async function run(ctx: BenchContext): Promise<BenchResult[]> {
  const opt = (k: string, d: string) => (typeof ctx.options[k] === 'string' ? (ctx.options[k] as string) : d);
  const prompt = opt('prompt', '128');
  const newTokens = opt('new', '16');
  const shape = SHAPE_OPTIONS.flatMap((k) => (typeof ctx.options[k] === 'string' ? [`--${k}`, ctx.options[k] as string] : []));
  // Decode is the best of --rounds generations on both sides (default 3).
  const common = ['--prompt', prompt, '--new', newTokens, '--rounds', opt('rounds', '3'), ...shape, ...(ctx.quick ? ['--quick'] : [])];
  const threadsList = opt('threads-list', '1,2').split(',');
  const weightsList = opt('weights-list', 'float32,bfloat16,int8').split(',');

  // --repeat N: every inference child N times, interleaved (ORT, then each of ours, N rounds), each
  // row keeping its best forward and decode: the machine's state drifts over minutes, so rows measured
  // in one round only would compare different moments.
  const repeat = Math.max(1, Number.parseInt(opt('repeat', '1'), 10) || 1);
  interface RowSpec {
    label: string;
    args: string[];
    weights: string;
    env?: Record<string, string>;
  }
  const specs: RowSpec[] = [];
  if (ctx.options['skip-wasm'] !== true) specs.push({ label: 'wasm, no native kernels, float32', args: [], weights: 'float32', env: NO_NATIVE });
  for (const threads of threadsList) {
    for (const weights of weightsList) specs.push({ label: `native, ${threads} thread${threads === '1' ? '' : 's'}, ${weights}`, args: ['--threads', threads], weights });
  }
  const ortRuns: Run[] = [];
  const rowRuns = specs.map(() => [] as Run[]);
  for (let round = 0; round < repeat; round++) {
    ortRuns.push(runChild(`ONNX Runtime${repeat > 1 ? ` (round ${round + 1})` : ''}`, ['ort', '--threads', '2', ...common, '--ort-only']));
    specs.forEach((spec, i) => rowRuns[i].push(runChild(`${spec.label}${repeat > 1 ? ` (round ${round + 1})` : ''}`, ['xglm', ...spec.args, '--weights', spec.weights, ...common], spec.env)));
  }
  /** The best tokens/s over the runs that produced `part` (a result name fragment). */
  const best = (runs: Run[], part: string, prefix = ''): number | undefined => {
    const values = runs.map((r) => find(r, part, prefix)?.tokensPerSec).filter((v): v is number => v !== undefined);
    return values.length === 0 ? undefined : Math.max(...values);
  };
  const ort = ortRuns.find((r) => r.report !== undefined) ?? ortRuns[0];
  const ortF32 = { forward: best(ortRuns, 'forward', 'ORT float32'), decode: best(ortRuns, 'decode', 'ORT float32') };
  const ortI8 = { forward: best(ortRuns, 'forward', 'ORT int8'), decode: best(ortRuns, 'decode', 'ORT int8') };
  const ortMissing = ort.report !== undefined && ort.report.results.length === 0;

  const rows: Parameters<typeof inferenceTable>[0] = [];
  const results: BenchResult[] = [];
  const addOrtRow = (label: string, r: { forward?: number; decode?: number }) => {
    if (ort.report === undefined) rows.push({ label, error: `failed: ${ort.error}` });
    else if (ortMissing) rows.push({ label, error: 'onnxruntime-node not installed' });
    else rows.push({ label, forward: r.forward, decode: r.decode, ortForward: r.forward, ortDecode: r.decode, rssGB: Math.max(...ortRuns.map((x) => x.report?.peakRssGB ?? 0)) });
  };
  addOrtRow('ONNX Runtime float32, 2 threads', ortF32);
  addOrtRow('ONNX Runtime int8 (q8), 2 threads', ortI8);
  for (const r of ortRuns) results.push(...(r.report?.results ?? []));

  specs.forEach((spec, i) => {
    const runs = rowRuns[i];
    const ok = runs.filter((r) => r.report !== undefined);
    const ref = spec.weights === 'int8' ? ortI8 : ortF32;
    if (ok.length === 0) rows.push({ label: spec.label, error: `failed: ${runs[0]?.error}` });
    else rows.push({ label: spec.label, forward: best(ok, 'forward'), decode: best(ok, 'decode'), ortForward: ref.forward, ortDecode: ref.decode, rssGB: Math.max(...ok.map((r) => r.report!.peakRssGB)) });
    for (const r of runs) results.push(...(r.report?.results ?? []).map((x) => ({ ...x, name: `${spec.label}: ${x.name}` })));
  });

  const shapeName = results.map((r) => /d\d+ L\d+ ffn\d+ V\d+/.exec(r.name)?.[0]).find((x) => x !== undefined) ?? 'XGLM';
  const lines = [`XGLM shape ${shapeName}, forward [1x${prompt}], greedy decode of ${newTokens} tokens:`, '', ...inferenceTable(rows)];

  if (ctx.options['skip-train'] !== true) {
    const wasm = runChild('training step, wasm', ['train'], NO_NATIVE);
    const native = runChild('training step, native', ['train']);
    lines.push('', '| training step (bench/train.ts) | wasm tokens/s | native tokens/s | native / wasm | wasm matmul GFLOP/s | native matmul GFLOP/s |', '| --- | --- | --- | --- | --- | --- |');
    for (const r of native.report?.results ?? []) {
      const w = wasm.report?.results.find((x) => x.name === r.name);
      lines.push(`| ${r.name} | ${fmt(w?.tokensPerSec)} | ${fmt(r.tokensPerSec)} | ${ratio(r.tokensPerSec, w?.tokensPerSec)} | ${fmt(w?.achievedGflops)} | ${fmt(r.achievedGflops)} |`);
    }
    if (native.error !== undefined) lines.push(`| training step | | failed: ${native.error} | | | |`);
    results.push(...(wasm.report?.results ?? []).map((x) => ({ ...x, name: `wasm: ${x.name}` })), ...(native.report?.results ?? []).map((x) => ({ ...x, name: `native: ${x.name}` })));
  }
  if (ctx.options['lora'] === true) {
    const lora = runChild('LoRA step, native', ['lora', '--model', 'xglm', '--r', '8']);
    for (const r of lora.report?.results ?? []) lines.push('', `LoRA (native): ${r.name}: ${fmt(r.tokensPerSec)} tokens/s, matmul ${fmt(r.achievedGflops)} GFLOP/s, peak RSS ${fmt(lora.report?.peakRssGB, 2)} GB`);
    results.push(...(lora.report?.results ?? []));
  }
  console.log(lines.join('\n'));
  return results;
}

export const reportBench: Bench = {
  name: 'report',
  description: "issue 14's comparison in one run: ORT float32/int8, wasm, native 1/2 threads x float32/bfloat16/int8 (forward, decode, peak RSS, each in its own process), training step wasm vs native",
  onlyByName: true,
  run,
};
