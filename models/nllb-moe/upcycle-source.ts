/**
 * What upcycling reads: a checkpoint of any format the NLLB-MoE class reads (m2m_100: dense
 * NLLB-200 / M2M-100; nllb-moe, possibly with dense layers), as NLLB-MoE names and config.
 */
import type { HfCheckpoint } from '../../convert/checkpoint.js';
import { openCheckpoint } from '../../convert/open-checkpoint.js';
import { formatFor, type CheckpointFormat } from '../checkpoint-format.js';
import type { NllbMoeConfig } from './config.js';
import { NllbMoeForConditionalGeneration } from './model.js';
import { m2m100Format } from './m2m100-format.js';
import { isIgnoredM2m100Key, m2m100ToNllbMoeName } from './m2m100-names.js';
import { upcycleToNllbMoe, type DenseSource, type UpcycleOptions, type UpcycleResult } from './upcycle.js';

/** State-dict names of a format -> NLLB-MoE names (the formats' `weights.hfName`, inverted); identity when absent. */
const SOURCE_NAMING = new Map<CheckpointFormat<NllbMoeConfig>, Pick<DenseSource, 'toNllbMoeName' | 'isIgnored'>>([
  [m2m100Format, { toNllbMoeName: m2m100ToNllbMoeName, isIgnored: isIgnoredM2m100Key }],
]);

export function denseSourceOf(ck: HfCheckpoint): DenseSource {
  const source = `${ck.dir}/config.json`;
  const format = formatFor(NllbMoeForConditionalGeneration.formats, ck.config, source, 'to upcycle');
  const naming = SOURCE_NAMING.get(format) ?? { toNllbMoeName: (n: string) => n };
  return { ck, config: format.parseConfig(ck.config, source), ...naming };
}

/** `polyglot upcycle`: a dense checkpoint (directory or cached hub id) -> an NLLB-MoE checkpoint in `outDir`. */
export function upcycleCheckpoint(dirOrModelId: string, outDir: string, o: UpcycleOptions): UpcycleResult {
  return upcycleToNllbMoe(denseSourceOf(openCheckpoint(dirOrModelId)), outDir, o);
}
