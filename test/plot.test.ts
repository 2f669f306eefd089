/** The loss plot: log-scale loss with round ticks, as a PNG and an SVG (real text) with the same layout. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { linearTicks, logTicks, plotLayout, renderPlotSvg, svgPathFor, writeLossPlot } from '../train/plot.js';
import { decodePng } from '../train/png.js';

const labels = (t: { label: string }[]) => t.map((x) => x.label);

test('round ticks: 1-2-5 steps on a linear axis, decades (or 1-2-5 / digits) on a log axis', () => {
  assert.equal(labels(linearTicks(0, 805)), ['0', '200', '400', '600', '800']);
  assert.equal(labels(linearTicks(0, 0.37, 4)), ['0.0', '0.1', '0.2', '0.3']);
  assert.equal(labels(logTicks(0.0095, 7.6)), ['0.01', '0.02', '0.05', '0.1', '0.2', '0.5', '1', '2', '5']);
  assert.equal(labels(logTicks(0.001, 9000)), ['1e-3', '0.01', '0.1', '1', '10', '100', '1000']);
  assert.equal(labels(logTicks(2.1, 7.3)), ['3', '4', '5', '6', '7']);
  assert.equal(labels(logTicks(4.1, 4.6)), ['4.2', '4.4', '4.6']); // a loss that barely moved
});

test('a loss falling from 7 to 0.01 is on a log axis: each decade takes the same height', () => {
  const train: [number, number][] = Array.from({ length: 800 }, (_, i) => [i + 1, 7 * Math.exp(-i / 80) + 0.01]);
  const l = plotLayout([{ points: train, color: [0, 0, 0] }]);
  assert.ok(l.logY);
  const decade = l.py(0.1) - l.py(1);
  assert.ok(decade > 50, `decade height ${decade}`);
  assert.ok(Math.abs(l.py(0.01) - l.py(0.1) - decade) < 1e-9);
  // a series with a value <= 0 (not a loss) stays linear
  assert.not.ok(
    plotLayout([
      {
        points: [
          [0, 0],
          [1, 2],
        ],
        color: [0, 0, 0],
      },
    ]).logY,
  );
});

test('a run of 300,000 logged steps plots (no argument-spread limit) with the right x range', () => {
  const train: [number, number][] = Array.from({ length: 300_000 }, (_, i) => [i + 1, 5 + Math.sin(i)]);
  const l = plotLayout([{ points: train, color: [0, 0, 0] }]);
  assert.ok(Math.abs(l.px(1) - 60) < 1e-6, `x=1 at the left edge, found ${l.px(1)}`);
  assert.ok(l.px(300_000) > l.px(150_000));
});

test('writeLossPlot writes loss.png and loss.svg beside it; the SVG has text tick labels, title and legend', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plot-'));
  const file = path.join(dir, 'loss.png');
  const train: [number, number][] = Array.from({ length: 300 }, (_, i) => [i + 1, 6 * Math.exp(-i / 40) + 0.02]);
  writeLossPlot(file, train, [
    [0, 6.1],
    [100, 0.4],
    [300, 0.05],
  ]);
  assert.is(svgPathFor(file), path.join(dir, 'loss.svg'));
  const png = decodePng(fs.readFileSync(file));
  assert.equal([png.width, png.height], [640, 400]);
  const svg = fs.readFileSync(path.join(dir, 'loss.svg'), 'utf8');
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
  for (const t of [
    '0.05',
    '0.1',
    '0.2',
    '0.5',
    '1',
    '2',
    '5',
    '0',
    '100',
    '200',
    '300',
    'step',
    'loss (log scale)',
    'train loss',
    'dev loss',
  ])
    assert.ok(texts.includes(t), `SVG text ${t} in ${texts.join('|')}`);
  assert.is((svg.match(/<circle /g) ?? []).length, 3, 'one marker per eval point');
  assert.is(renderPlotSvg([{ points: [[0, 1]], color: [1, 2, 3], label: 'a<b' }]).includes('a&lt;b'), true);
});

test.run();
