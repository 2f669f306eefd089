/**
 * `polyglot demo` through the real CLI, as a log (not a TTY): it says it trains from scratch; its
 * progress follows the time budget that ends it (not --max-steps 3000); loss.png and loss.svg.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from './cli-process.js';
import { runProgress } from '../cli/train-progress.js';
import type { StepReport } from '../train/trainer.js';

const report = (o: Partial<StepReport>): StepReport => ({
  step: 1,
  maxSteps: 3000,
  firstStep: 0,
  loss: 1,
  lr: 1e-3,
  tokensPerSecond: 1,
  elapsedSeconds: 1,
  ...o,
});

test('runProgress: the limit that ends the run first sets fraction, ETA and the expected last step', () => {
  // 200 steps in 45 s of a 180 s budget: time ends it near step 800, long before 3000
  const byTime = runProgress(report({ step: 200, elapsedSeconds: 45, timeBudgetSeconds: 180 }));
  assert.is(byTime.endsBy, 'time');
  assert.is(byTime.fraction, 0.25);
  assert.is(byTime.etaSeconds, 135);
  assert.is(byTime.endStep, 800);
  // the step that finds the budget spent is the last one
  const last = runProgress(report({ step: 801, elapsedSeconds: 180.2, timeBudgetSeconds: 180 }));
  assert.equal([last.endsBy, last.endStep, last.fraction, last.etaSeconds], ['time', 801, 1, 0]);
  // steps end it first: the usual bar
  const bySteps = runProgress(report({ step: 50, maxSteps: 100, elapsedSeconds: 10, timeBudgetSeconds: 180 }));
  assert.equal([bySteps.endsBy, bySteps.endStep, bySteps.fraction, bySteps.etaSeconds], ['steps', 100, 0.5, 10]);
});

test('demo (log output): progress towards the time budget, not to --max-steps; says "from scratch"; loss.png + loss.svg', async () => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'demo-cli-')), 'demo');
  // wasm: the cpu backend would spend the whole budget in the first evaluation
  const r = await runCli([
    'demo',
    '--out',
    out,
    '--minutes',
    '0.25',
    '--train-pairs',
    '300',
    '--d-model',
    '32',
    '--experts',
    '2',
    '--batch-size',
    '8',
    '--examples',
    '1',
    '--backend',
    'wasm',
  ]);
  assert.is(r.code, 0, r.stderr.slice(-1000));
  assert.match(r.stdout, /training a small NLLB-MoE .* from scratch/);
  assert.not.match(r.stdout, /fine-tun/);
  assert.not.match(r.stderr, /\r/);
  const steps = r.stderr.split('\n').filter((l) => l.startsWith('step '));
  assert.ok(steps.length >= 5, `progress lines in a log:\n${r.stderr}`);
  assert.not.ok(
    steps.some((l) => l.includes('/3000')),
    `no step counts to --max-steps:\n${steps.join('\n')}`,
  );
  for (const l of steps.slice(0, -1)) assert.match(l, /^step \d+\/~\d+ \(time budget\) \[/);
  const final = steps[steps.length - 1].match(/^step (\d+)\/(\d+) \(time budget reached\) \[=+>\] .* ETA 0s$/);
  assert.ok(final, `last progress line: ${steps[steps.length - 1]}`);
  assert.match(r.stdout, new RegExp(`trained ${final![1]} steps`));
  assert.ok(
    fs.existsSync(path.join(out, 'run', 'loss.png')) &&
      fs.readFileSync(path.join(out, 'run', 'loss.svg'), 'utf8').includes('loss (log scale)'),
  );
  assert.match(r.stdout, /loss curve: .*loss\.png \(PNG\), .*loss\.svg \(SVG\)/);
});

test.run();
