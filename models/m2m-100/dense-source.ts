/**
 * What upcycling reads: an m2m_100 checkpoint (dense NLLB-200, M2M-100) or an NLLB-MoE one, as
 * NLLB-MoE names and config.
 */
import { PolyglotError } from '../../core/errors.js';
import type { HfCheckpoint } from '../../convert/checkpoint.js';
import { openCheckpoint } from '../../convert/open-checkpoint.js';
import { parseNllbMoeConfig } from '../nllb-moe/config.js';
import { upcycleToNllbMoe, type DenseSource, type UpcycleOptions, type UpcycleResult } from '../nllb-moe/upcycle.js';
import { M2M100_MODEL_TYPE, parseM2M100Config } from './config.js';
import { isIgnoredM2m100Key, m2m100ToNllbMoeName } from './names.js';

export function denseSourceOf(ck: HfCheckpoint): DenseSource {
  const mt = ck.config.model_type;
  const source = `${ck.dir}/config.json`;
  if (mt === M2M100_MODEL_TYPE) return { ck, config: parseM2M100Config(ck.config, source), toNllbMoeName: m2m100ToNllbMoeName, isIgnored: isIgnoredM2m100Key };
  if (mt === 'nllb-moe' || mt === 'nllb_moe') return { ck, config: parseNllbMoeConfig(ck.config, source), toNllbMoeName: (n) => n };
  throw new PolyglotError(`${source}: field "model_type": expected "m2m_100" (dense NLLB-200 / M2M-100) or "nllb-moe" to upcycle, found ${JSON.stringify(mt)}`);
}

/** `polyglot upcycle`: a dense checkpoint (directory or cached hub id) -> an NLLB-MoE checkpoint in `outDir`. */
export function upcycleCheckpoint(dirOrModelId: string, outDir: string, o: UpcycleOptions): UpcycleResult {
  return upcycleToNllbMoe(denseSourceOf(openCheckpoint(dirOrModelId)), outDir, o);
}
