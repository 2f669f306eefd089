/** Reference-fixture cases (format: ../shared/fixtures/FORMAT.md) and their results. */
import type { WeightPrecision } from '../layers/weight-precision.js';
import type { HostTensor } from '../convert/safetensors.js';

export type CaseKind = 'forward' | 'incremental' | 'generate_greedy' | 'loss' | 'grad' | 'adamw_step' | 'tokenize';

export interface CaseSpec {
  name: string;
  kind: CaseKind | string;
  mode?: 'eval' | 'train';
  /** A string names a tensor in reference/tensors.safetensors; anything else is a literal. */
  inputs: Record<string, unknown>;
  expect: Record<string, unknown>;
  params?: Record<string, unknown>;
  rtol: number;
  atol: number;
  notes?: string;
}

/** One computed output. `positionMask` ([B, T], 1 = real position) limits the comparison of per-position outputs. */
export interface ActualOutput {
  data: ArrayLike<number>;
  shape: number[];
  positionMask?: { data: ArrayLike<number>; shape: [number, number] };
}

export type CaseStatus = 'pass' | 'fail' | 'unsupported';

/** The element nearest its bound (largest |a - b| / (atol + rtol * |b|)): the one that decides the check. */
export interface DecidingElement {
  absError: number;
  /** |b|, the reference value's magnitude. */
  refAbs: number;
  /** atol + rtol * |b|. */
  bound: number;
}

export interface OutputComparison {
  key: string;
  maxAbsError: number;
  maxRelError: number;
  ok: boolean;
  message?: string;
  /** Tolerance comparisons only (exact ones have none). */
  deciding?: DecidingElement;
}

export interface CaseResult {
  fixture: string;
  case: string;
  kind: string;
  status: CaseStatus;
  maxAbsError: number;
  maxRelError: number;
  rtol: number;
  atol: number;
  outputs: OutputComparison[];
  message?: string;
  /** The tolerance check that decided the status, e.g. `|a-b| 3.0e-6 <= atol 1e-4 + rtol 1e-3*|b| (|b| 2.1e-1, logits)`. */
  check?: string;
}

/** What a case handler sees: the fixture's inputs resolved to host tensors. */
export interface CaseContext {
  fixtureDir: string;
  spec: CaseSpec;
  /** Resolves an inputs/expect value: a tensor name -> HostTensor, a literal -> itself. */
  input(key: string): HostTensor;
  literal<V>(key: string): V | undefined;
  reference(name: string): HostTensor;
}

/** Computes the case's outputs (keys of spec.expect), or returns 'unsupported' with a reason. */
/** A computed value compared exactly with a literal expectation (token ids, tokens, decoded text). */
export interface LiteralOutput {
  literal: number[] | string[] | string;
}

export type CaseHandler = (ctx: CaseContext) => Promise<Record<string, ActualOutput | LiteralOutput> | { unsupported: string }>;

/** A model family's handlers, by case kind. */
export interface ModelCaseRunner {
  /**
   * Loads what all cases share (the model) once per fixture; `weights` is the precision
   * the eval models compute with (layers/weight-precision.ts; default float32); `maxMemoryGB`
   * loads them with offloaded experts (models/pretrained.ts).
   */
  prepare(fixtureDir: string, weights?: WeightPrecision, maxMemoryGB?: number): Promise<Partial<Record<CaseKind, CaseHandler>> & { dispose?: () => void }>;
}
