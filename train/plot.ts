/**
 * The loss-curve picture written at the end of training: train loss (blue, smoothed
 * where dense) and eval loss (orange, dots joined) against the step, loss on a log axis
 * (a curve from 7 to 0.01 is otherwise a flat line at 0), round ticks; as a PNG (via
 * train/png.ts, built-in 3x5 pixel font) and as an SVG with real text beside it.
 */
import * as fs from 'node:fs';
import { encodePng } from './png.js';

export interface Series {
  points: [number, number][];
  color: [number, number, number];
  /** Draw a 2-pixel marker at every point. */
  markers?: boolean;
  /** Legend text (lowercase letters, digits, spaces); unlabelled series get no legend entry. */
  label?: string;
}

const FONT: Record<string, string[]> = {
  '0': ['111', '101', '101', '101', '111'],
  '1': ['010', '110', '010', '010', '111'],
  '2': ['111', '001', '111', '100', '111'],
  '3': ['111', '001', '111', '001', '111'],
  '4': ['101', '101', '111', '001', '001'],
  '5': ['111', '100', '111', '001', '111'],
  '6': ['111', '100', '111', '101', '111'],
  '7': ['111', '001', '010', '010', '010'],
  '8': ['111', '101', '111', '101', '111'],
  '9': ['111', '101', '111', '001', '111'],
  '.': ['000', '000', '000', '000', '010'],
  '-': ['000', '000', '111', '000', '000'],
  'e': ['000', '111', '111', '100', '111'],
  // lowercase letters for the legend and the axis title
  'a': ['000', '110', '011', '101', '111'],
  'd': ['001', '001', '111', '101', '111'],
  'i': ['010', '000', '010', '010', '010'],
  'l': ['010', '010', '010', '010', '011'],
  'n': ['000', '110', '101', '101', '101'],
  'o': ['000', '111', '101', '101', '111'],
  'p': ['000', '111', '101', '111', '100'],
  'r': ['000', '101', '110', '100', '100'],
  's': ['000', '011', '110', '011', '110'],
  't': ['010', '111', '010', '010', '011'],
  'v': ['000', '101', '101', '101', '010'],
  'c': ['000', '111', '100', '100', '111'],
  'g': ['111', '100', '101', '101', '111'],
};

class Canvas {
  readonly rgb: Uint8Array;
  constructor(readonly w: number, readonly h: number) {
    this.rgb = new Uint8Array(w * h * 3).fill(255);
  }
  set(x: number, y: number, c: [number, number, number]): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.w || y >= this.h) return;
    const i = (y * this.w + x) * 3;
    this.rgb[i] = c[0];
    this.rgb[i + 1] = c[1];
    this.rgb[i + 2] = c[2];
  }
  line(x0: number, y0: number, x1: number, y1: number, c: [number, number, number], thick = 1): void {
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    for (let i = 0; i <= n; i++) {
      const x = x0 + ((x1 - x0) * i) / n;
      const y = y0 + ((y1 - y0) * i) / n;
      for (let d = 0; d < thick; d++) this.set(x, y + d, c);
    }
  }
  text(x: number, y: number, s: string, c: [number, number, number] = [60, 60, 60], scale = 2): void {
    let cx = x;
    for (const ch of s) {
      const g = FONT[ch];
      if (g) {
        for (let r = 0; r < 5; r++) {
          for (let k = 0; k < 3; k++) {
            if (g[r][k] === '1') for (let a = 0; a < scale; a++) for (let b = 0; b < scale; b++) this.set(cx + k * scale + a, y + r * scale + b, c);
          }
        }
      }
      cx += 4 * scale;
    }
  }
}

/** A tick: where (data units) and its label. */
export interface Tick {
  value: number;
  label: string;
}

/** Decimals that show a multiple of `step` without float noise (0.1 * 3 -> "0.3"). */
function decimalsFor(step: number): number {
  return Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
}

/** Round ticks in [lo, hi]: multiples of 1, 2 or 5 x 10^k, about `target` of them. */
export function linearTicks(lo: number, hi: number, target = 5): Tick[] {
  if (!(hi > lo)) return [{ value: lo, label: String(lo) }];
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const d = decimalsFor(step);
  const ticks: Tick[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) {
    const value = Number((k * step).toFixed(d));
    ticks.push({ value, label: value.toFixed(d) });
  }
  return ticks;
}

function logLabel(v: number): string {
  const k = Math.floor(Math.log10(v) + 1e-9);
  return k >= 4 || k <= -3 ? `${Number((v / 10 ** k).toPrecision(2))}e${k}` : v.toFixed(Math.max(0, -k));
}

/**
 * Round ticks for a log axis over [lo, hi] (lo > 0): powers of ten when there are at least 4,
 * else 1-2-5 or every digit per decade when that gives 3 to 10; a range narrower than that (a
 * loss that barely moved) gets round linear ticks, still placed on the log axis.
 */
export function logTicks(lo: number, hi: number): Tick[] {
  const at = (mantissas: number[]): Tick[] => {
    const ticks: Tick[] = [];
    for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++) {
      for (const m of mantissas) {
        const value = Number((m * 10 ** k).toPrecision(6));
        if (value >= lo * (1 - 1e-9) && value <= hi * (1 + 1e-9)) ticks.push({ value, label: logLabel(value) });
      }
    }
    return ticks;
  };
  const decades = at([1]);
  if (decades.length >= 4) return decades;
  for (const mantissas of [[1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]]) {
    const ticks = at(mantissas);
    if (ticks.length >= 3 && ticks.length <= 10) return ticks;
  }
  return decades.length >= 2 ? decades : linearTicks(lo, hi, 4);
}

/** Where everything goes: plot area, axis mapping, ticks. Shared by the PNG and the SVG. */
export interface PlotLayout {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
  /** Loss on a log10 axis (all values > 0); linear otherwise. */
  logY: boolean;
  px(x: number): number;
  py(y: number): number;
  xTicks: Tick[];
  yTicks: Tick[];
  /** Finite points of each series (and > 0 on a log axis). */
  points: [number, number][][];
}

export function plotLayout(series: Series[], width = 640, height = 400): PlotLayout {
  const left = 60;
  const right = 15;
  const top = 24;
  const bottom = 35;
  const finite = series.map((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  const all = finite.flat();
  // a loss curve that falls from 7 to 0.01 is a flat line at 0 on a linear axis: log10 shows it all
  const logY = all.length > 0 && all.every(([, y]) => y > 0);
  const points = finite;
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => (logY ? Math.log10(p[1]) : p[1]));
  // loops, not Math.min(...xs): a long run logs more points than a call can take as arguments
  const x0 = all.length ? minOf(xs) : 0;
  let x1 = all.length ? maxOf(xs) : 1;
  let y0 = all.length ? minOf(ys) : 0;
  let y1 = all.length ? maxOf(ys) : 1;
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const pad = (y1 - y0) * 0.05;
  // linear losses are >= 0: no negative axis range
  y0 = !logY && y0 >= 0 ? Math.max(0, y0 - pad) : y0 - pad;
  y1 += pad;
  const px = (x: number) => left + ((x - x0) / (x1 - x0)) * (width - left - right);
  const py = (y: number) => height - bottom - (((logY ? Math.log10(y) : y) - y0) / (y1 - y0)) * (height - top - bottom);
  const yTicks = logY ? logTicks(10 ** y0, 10 ** y1) : linearTicks(y0, y1, 4);
  const xTicks = linearTicks(x0, x1, 5).filter((t) => Number.isInteger(t.value));
  return { width, height, left, right, top, bottom, logY, px, py, xTicks, yTicks, points };
}

const yTitle = (l: PlotLayout) => (l.logY ? 'loss log scale' : 'loss');

/** Renders series into a PNG buffer (width x height pixels). */
export function renderPlot(series: Series[], width = 640, height = 400): Buffer {
  const l = plotLayout(series, width, height);
  const { left, right, top, bottom, px, py } = l;
  const c = new Canvas(width, height);
  const grid: [number, number, number] = [225, 225, 225];
  const axis: [number, number, number] = [90, 90, 90];
  for (const t of l.yTicks) {
    c.line(left, py(t.value), width - right, py(t.value), grid);
    c.text(Math.max(2, left - 6 - t.label.length * 8), py(t.value) - 5, t.label);
  }
  for (const t of l.xTicks) {
    c.line(px(t.value), top, px(t.value), height - bottom, grid);
    // centred under the tick, kept inside the picture
    c.text(Math.min(px(t.value) - t.label.length * 4, width - 2 - t.label.length * 8), height - bottom + 8, t.label);
  }
  c.line(left, top, left, height - bottom, axis);
  c.line(left, height - bottom, width - right, height - bottom, axis);
  c.text((left + width - right) / 2 - 16, height - 12, 'step');
  c.text(4, 6, yTitle(l));
  series.forEach((s, k) => {
    const p = l.points[k];
    for (let i = 1; i < p.length; i++) c.line(px(p[i - 1][0]), py(p[i - 1][1]), px(p[i][0]), py(p[i][1]), s.color, 2);
    if (s.markers) for (const [x, y] of p) for (let a = -2; a <= 2; a++) for (let b = -2; b <= 2; b++) c.set(px(x) + a, py(y) + b, s.color);
  });
  // legend, top right: a colour swatch and the label of each labelled series
  const labelled = series.filter((s) => s.label);
  const longest = Math.max(0, ...labelled.map((s) => s.label!.length));
  labelled.forEach((s, i) => {
    const x = width - right - 12 - longest * 8 - 26;
    const y = top + 10 + i * 16;
    for (let d = -1; d <= 1; d++) c.line(x, y + 4 + d, x + 18, y + 4 + d, s.color);
    c.text(x + 26, y, s.label!);
  });
  return encodePng(width, height, c.rgb);
}

const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const rgb = (c: [number, number, number]) => `rgb(${c[0]},${c[1]},${c[2]})`;
const n1 = (v: number) => Number(v.toFixed(1));

/** The same picture as an SVG document: real text (any font, selectable, scalable), same layout and ticks. */
export function renderPlotSvg(series: Series[], width = 640, height = 400): string {
  const l = plotLayout(series, width, height);
  const { left, right, top, bottom, px, py } = l;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  for (const t of l.yTicks) {
    out.push(`<line x1="${left}" y1="${n1(py(t.value))}" x2="${width - right}" y2="${n1(py(t.value))}" stroke="rgb(225,225,225)"/>`);
    out.push(`<text x="${left - 6}" y="${n1(py(t.value) + 4)}" text-anchor="end" fill="rgb(60,60,60)">${esc(t.label)}</text>`);
  }
  for (const t of l.xTicks) {
    out.push(`<line x1="${n1(px(t.value))}" y1="${top}" x2="${n1(px(t.value))}" y2="${height - bottom}" stroke="rgb(225,225,225)"/>`);
    out.push(`<text x="${n1(px(t.value))}" y="${height - bottom + 18}" text-anchor="middle" fill="rgb(60,60,60)">${esc(t.label)}</text>`);
  }
  out.push(`<polyline points="${left},${top} ${left},${height - bottom} ${width - right},${height - bottom}" fill="none" stroke="rgb(90,90,90)"/>`);
  out.push(`<text x="${(left + width - right) / 2}" y="${height - 6}" text-anchor="middle" fill="rgb(60,60,60)">step</text>`);
  out.push(`<text x="4" y="14" fill="rgb(60,60,60)">${l.logY ? 'loss (log scale)' : 'loss'}</text>`);
  series.forEach((s, k) => {
    const p = l.points[k];
    if (p.length > 1) out.push(`<polyline points="${p.map(([x, y]) => `${n1(px(x))},${n1(py(y))}`).join(' ')}" fill="none" stroke="${rgb(s.color)}" stroke-width="2"/>`);
    if (s.markers) for (const [x, y] of p) out.push(`<circle cx="${n1(px(x))}" cy="${n1(py(y))}" r="2.5" fill="${rgb(s.color)}"/>`);
  });
  series
    .filter((s) => s.label)
    .forEach((s, i) => {
      const x = width - right - 130;
      const y = top + 14 + i * 18;
      out.push(`<line x1="${x}" y1="${y - 4}" x2="${x + 18}" y2="${y - 4}" stroke="${rgb(s.color)}" stroke-width="3"/>`);
      out.push(`<text x="${x + 26}" y="${y}" fill="rgb(60,60,60)">${esc(s.label!)}</text>`);
    });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** Centred moving average over `window` points (a readable noisy train-loss curve without lag). */
export function smooth(points: [number, number][], window = 9): [number, number][] {
  const h = Math.floor(window / 2);
  return points.map(([x], i) => {
    const lo = Math.max(0, i - h);
    const hi = Math.min(points.length, i + h + 1);
    let s = 0;
    for (let k = lo; k < hi; k++) s += points[k][1];
    return [x, s / (hi - lo)];
  });
}

/** The SVG written beside a PNG plot: `loss.png` -> `loss.svg`. */
export function svgPathFor(pngFile: string): string {
  return pngFile.replace(/\.png$/i, '') + '.svg';
}

/** Writes the train/eval loss curves to `file` (PNG) and the same plot as SVG beside it (`svgPathFor`). */
export function writeLossPlot(file: string, train: [number, number][], evalLoss: [number, number][]): void {
  const series: Series[] = [
    { points: train, color: [170, 200, 235] },
    { points: smooth(train, Math.max(1, Math.round(train.length / 40)) | 1), color: [31, 119, 180], label: 'train loss' },
    { points: evalLoss, color: [255, 127, 14], markers: true, label: 'dev loss' },
  ];
  fs.writeFileSync(file, renderPlot(series));
  fs.writeFileSync(svgPathFor(file), renderPlotSvg(series));
}

function minOf(xs: number[]): number {
  let m = Infinity;
  for (const x of xs) if (x < m) m = x;
  return m;
}

function maxOf(xs: number[]): number {
  let m = -Infinity;
  for (const x of xs) if (x > m) m = x;
  return m;
}
