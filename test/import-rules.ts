/**
 * The dependency rule of docs/ARCHITECTURE.md, checked on the sources: every relative import
 * stays in its own top-level folder or goes to a folder listed before it in LAYERS, and no
 * file reaches itself through imports (type-only imports count: they are how contracts leak
 * upward). Used by test/import-rules.test.ts, so `npm test` fails on a cycle or an upward import.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Lowest first. A file in layer i may import from layers 0..i only (its own folder included). */
export const LAYERS: readonly string[] = [
  'core',
  'ops',
  'backend',
  'hub',
  'convert',
  'layers',
  'tokenizers',
  'losses',
  'models',
  'generation',
  'export',
  'checkpoints',
  'train',
  'verify',
  'index.ts',
  'cli',
  'bench',
  'test',
  'examples',
];

/** Relative import specifiers of one source text (static, re-exports, side-effect and dynamic imports). */
export function relativeImports(source: string): string[] {
  const out: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)'(\.{1,2}\/[^']+)'/gm;
  for (let m = re.exec(source); m; m = re.exec(source)) out.push(m[1]);
  return out;
}

/** The layer name of a repository-relative path: its first segment (a root file is its own name). */
export function layerOf(file: string): string {
  return file.split('/')[0];
}

export interface ImportViolation {
  kind: 'cycle' | 'upward' | 'unknown-layer' | 'unresolved';
  message: string;
}

/**
 * Checks a set of files (repository-relative path -> source text): upward imports by LAYERS,
 * and cycles (each strongly connected component reported once, as one cycle through it).
 */
export function importViolations(files: ReadonlyMap<string, string>): ImportViolation[] {
  const violations: ImportViolation[] = [];
  const edges = new Map<string, string[]>();
  for (const [file, source] of files) {
    if (!LAYERS.includes(layerOf(file))) {
      violations.push({
        kind: 'unknown-layer',
        message: `${file}: folder "${layerOf(file)}" is not in the layer list (test/import-rules.ts LAYERS)`,
      });
    }
    const targets: string[] = [];
    for (const spec of relativeImports(source)) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, '.ts');
      if (!files.has(target)) {
        if (target.endsWith('.ts'))
          violations.push({
            kind: 'unresolved',
            message: `${file}: import '${spec}' resolves to ${target}, which does not exist`,
          });
        continue;
      }
      targets.push(target);
      const from = LAYERS.indexOf(layerOf(file));
      const to = LAYERS.indexOf(layerOf(target));
      if (from >= 0 && to > from)
        violations.push({
          kind: 'upward',
          message: `${file} imports ${target}: ${layerOf(file)}/ may not import ${layerOf(target)}/ (a higher layer)`,
        });
    }
    edges.set(file, targets);
  }
  for (const cycle of findCycles(edges))
    violations.push({ kind: 'cycle', message: `import cycle: ${cycle.join(' -> ')}` });
  return violations;
}

/** One cycle per strongly connected component with more than one file (or a self-import); Tarjan's algorithm. */
function findCycles(edges: ReadonlyMap<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    const selfLoop = (edges.get(v) ?? []).includes(v);
    if (component.length > 1 || selfLoop) cycles.push(cycleThrough(component, edges));
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles;
}

/** A concrete cycle inside one strongly connected component, starting from its first file by name. */
function cycleThrough(component: string[], edges: ReadonlyMap<string, string[]>): string[] {
  const inside = new Set(component);
  const start = [...component].sort()[0];
  // Breadth-first search back to `start`, staying inside the component.
  const parent = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of edges.get(v) ?? []) {
      if (!inside.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = parent.get(u)!) path.splice(1, 0, u);
        return [...path, start];
      }
      if (!parent.has(w)) {
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  return [...component, start];
}

/** Every .ts source of the repository at `root` (dist, node_modules and hidden folders skipped). */
export function readSources(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
      if (e.name.startsWith('.') || e.name === 'node_modules' || e.name === 'dist') continue;
      const rel = dir ? `${dir}/${e.name}` : e.name;
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
        files.set(rel, fs.readFileSync(path.join(root, rel), 'utf8'));
    }
  };
  walk('');
  return files;
}
