import type { ModelCaseRunner } from './types.js';

/** XGLM case handlers (forward, incremental, generate_greedy, loss; grad/adamw_step from train). */
export const xglmCaseRunner: ModelCaseRunner = {
  async prepare() {
    return {};
  },
};
