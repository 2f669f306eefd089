/**
 * SIGINT (Ctrl-C) and SIGTERM during training: the first one aborts the run's stop signal, so
 * the trainer saves a checkpoint after the current micro-batch and returns; the CLI then exits
 * 130 / 143 (128 + signal number) so `train && next` does not continue. A training step is
 * synchronous JS: a signal reaches the handler only when the event loop turns, i.e. between
 * micro-batches (docs/TRAINING.md). The handlers are removed after the first signal, so a
 * second one gets Node's default action and ends the process at once.
 */
const EXIT_CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

export interface StopOnSignals {
  signal: AbortSignal;
  /** The signal received, if any. */
  received(): NodeJS.Signals | undefined;
  dispose(): void;
}

export function stopOnSignals(onFirst: (sig: NodeJS.Signals) => void): StopOnSignals {
  const controller = new AbortController();
  let got: NodeJS.Signals | undefined;
  const handler = (sig: NodeJS.Signals) => {
    got = sig;
    dispose();
    onFirst(sig);
    controller.abort(sig);
  };
  const dispose = () => {
    for (const s of Object.keys(EXIT_CODES)) process.removeListener(s, handler);
  };
  for (const s of Object.keys(EXIT_CODES)) process.on(s, handler);
  return { signal: controller.signal, received: () => got, dispose };
}

export function signalExitCode(sig: NodeJS.Signals): number {
  return EXIT_CODES[sig] ?? 1;
}
