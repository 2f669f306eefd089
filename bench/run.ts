/**
 * Benchmark entry point:
 *   node dist/bench/run.js [name ...] [--backend auto|wasm|cpu|tensorflow] [--quick]
 *                          [--native 0|1] [--threads N]
 *                          [--json[=file]] [--list] [bench options, e.g. --full]
 * --native 0 turns the native kernels off for the run (as POLYGLOT_NATIVE=0 does),
 * --threads N sets their thread count. The last line is the process's peak RSS.
 * Prints the chosen backend, the backend's own matmul rate, then one report line per
 * result (bench/common.ts formatResult). With --json the results are also written as a
 * JSON array (to the file, or to stdout after the report lines when no file is given).
 *
 * To add a bench: export a `Bench` from bench/<name>.ts and add it to BENCHES below.
 */
import * as fs from 'node:fs';
import { selectBackend, type BackendName } from '../backend/select.js';
import { measureMatmulGflops } from '../backend/matmul-rate.js';
import { nativeAddon, nativeStatus } from '../backend/native.js';
import { setNativeMatMulEnabled } from '../backend/native-matmul.js';
import { wasmThreadsInUse } from '../backend/wasm-threads.js';
import { formatResult, parseBenchArgs, type Bench, type BenchResult } from './common.js';
import { matmulBench } from './matmul.js';
import { moeBench } from './moe.js';
import { xglmBench } from './xglm.js';
import { trainBench } from './train.js';
import { loraBench } from './lora.js';
import { m2m100Bench } from './m2m100.js';
import { bigBench } from './big.js';
import { ortBench } from './ort.js';
import { linearWeightsBench } from './linear-weights.js';
import { reportBench } from './report.js';
import { decodeAttentionBench } from './decode-attention.js';

export const BENCHES: Bench[] = [
  matmulBench,
  moeBench,
  xglmBench,
  trainBench,
  loraBench,
  m2m100Bench,
  bigBench,
  ortBench,
  linearWeightsBench,
  reportBench,
  decodeAttentionBench,
  // add benches here (bench/xglm.ts, bench/moe.ts, bench/train.ts)
];

async function main(argv: string[]): Promise<number> {
  const { names, options } = parseBenchArgs(argv);
  if (options['list'] === true || options['help'] === true) {
    for (const b of BENCHES) console.log(`${b.name}: ${b.description}`);
    return 0;
  }
  const unknown = names.filter((n) => !BENCHES.some((b) => b.name === n));
  if (unknown.length > 0) {
    console.error(`bench: unknown bench ${unknown.map((n) => `"${n}"`).join(', ')}; expected one of ${BENCHES.map((b) => b.name).join(', ')}`);
    return 1;
  }
  const selected = names.length > 0 ? BENCHES.filter((b) => names.includes(b.name)) : BENCHES.filter((b) => !b.onlyByName);
  const backendOpt = typeof options['backend'] === 'string' ? options['backend'] : 'auto';
  const backend = await selectBackend(backendOpt as BackendName);
  const quick = options['quick'] === true;
  const addon = nativeAddon();
  if (options['native'] === '0') setNativeMatMulEnabled(false);
  if (typeof options['threads'] === 'string' && addon !== undefined) addon.setThreads(Number.parseInt(options['threads'], 10));
  const threads = wasmThreadsInUse();
  const nativeLine = `${threads !== undefined ? `wasm threads: ${threads}; ` : ''}${options['native'] === '0' ? 'native kernels: off (--native 0)' : nativeStatus().line}`;
  console.log(`backend: ${backend}${backend === 'wasm' ? ` (${nativeLine})` : ''}`);
  // Best-of timing over a second or more per shape: robust to load spikes from other processes.
  const rate = await measureMatmulGflops({ minMs: quick ? 400 : 1200 });
  for (const s of rate.perShape) console.log(`backend matmul [${s.m}x${s.k}]x[${s.k}x${s.n}]: ${s.gflops.toFixed(1)} GFLOP/s`);
  const all: BenchResult[] = [];
  for (const bench of selected) {
    const results = await bench.run({ backend, matmulGflops: rate.gflops, quick, options });
    for (const r of results) console.log(formatResult(r));
    all.push(...results);
  }
  // resourceUsage().maxRSS is in kilobytes.
  const peakRssGB = process.resourceUsage().maxRSS / 1e6;
  console.log(`peak RSS: ${peakRssGB.toFixed(2)} GB`);
  const json = options['json'];
  if (typeof json === 'string') fs.writeFileSync(json, JSON.stringify({ backend, native: nativeLine, peakRssGB, matmul: rate, results: all }, null, 2) + '\n');
  else if (json === true) console.log(JSON.stringify({ backend, native: nativeLine, peakRssGB, matmul: rate, results: all }));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`bench: ${e instanceof Error ? (process.env.POLYGLOT_BENCH_STACK === "1" ? e.stack : e.message) : String(e)}`);
    process.exit(1);
  },
);
