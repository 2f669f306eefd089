/**
 * The loss-curve picture written at the end of training: train loss (blue, smoothed
 * where dense) and eval loss (orange, dots joined) against the step, with axis ticks,
 * an axis title and a legend in a built-in 3x5 pixel font, as a PNG via train/png.ts.
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

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000 || a < 0.01) return v.toExponential(1).replace('+', '');
  return Number(v.toPrecision(3)).toString();
}

/** Renders series into a PNG buffer (width x height pixels). */
export function renderPlot(series: Series[], width = 640, height = 400): Buffer {
  const c = new Canvas(width, height);
  const left = 60;
  const right = 15;
  const top = 15;
  const bottom = 35;
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  let x0 = pts.length ? Math.min(...xs) : 0;
  let x1 = pts.length ? Math.max(...xs) : 1;
  let y0 = pts.length ? Math.min(...ys) : 0;
  let y1 = pts.length ? Math.max(...ys) : 1;
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const pad = (y1 - y0) * 0.05;
  // losses are >= 0: no negative axis range
  y0 = y0 >= 0 ? Math.max(0, y0 - pad) : y0 - pad;
  y1 += pad;
  const px = (x: number) => left + ((x - x0) / (x1 - x0)) * (width - left - right);
  const py = (y: number) => height - bottom - ((y - y0) / (y1 - y0)) * (height - top - bottom);
  const grid: [number, number, number] = [225, 225, 225];
  const axis: [number, number, number] = [90, 90, 90];
  for (let i = 0; i <= 4; i++) {
    const yv = y0 + ((y1 - y0) * i) / 4;
    c.line(left, py(yv), width - right, py(yv), grid);
    c.text(4, py(yv) - 5, fmt(yv));
    const xv = x0 + ((x1 - x0) * i) / 4;
    c.line(px(xv), top, px(xv), height - bottom, grid);
    const label = String(Math.round(xv));
    // centred under the tick, kept inside the picture
    c.text(Math.min(px(xv) - label.length * 4, width - 2 - label.length * 8), height - bottom + 8, label);
  }
  c.line(left, top, left, height - bottom, axis);
  c.line(left, height - bottom, width - right, height - bottom, axis);
  c.text((left + width - right) / 2 - 16, height - 12, 'step');
  for (const s of series) {
    const p = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    for (let i = 1; i < p.length; i++) c.line(px(p[i - 1][0]), py(p[i - 1][1]), px(p[i][0]), py(p[i][1]), s.color, 2);
    if (s.markers) for (const [x, y] of p) for (let a = -2; a <= 2; a++) for (let b = -2; b <= 2; b++) c.set(px(x) + a, py(y) + b, s.color);
  }
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

/** Writes the train/eval loss curves to `file` (PNG). */
export function writeLossPlot(file: string, train: [number, number][], evalLoss: [number, number][]): void {
  const series: Series[] = [
    { points: train, color: [170, 200, 235] },
    { points: smooth(train, Math.max(1, Math.round(train.length / 40)) | 1), color: [31, 119, 180], label: 'train loss' },
    { points: evalLoss, color: [255, 127, 14], markers: true, label: 'dev loss' },
  ];
  fs.writeFileSync(file, renderPlot(series));
}
