/** The dependency rule (docs/ARCHITECTURE.md, "Dependency rule"): no import cycle, no upward import. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { packageRoot } from './paths.js';
import { importViolations, readSources, relativeImports } from './import-rules.js';

test('the sources have no import cycle and no upward import', () => {
  const sources = readSources(packageRoot());
  assert.ok(sources.size > 100, `expected the repository's sources, found ${sources.size} files`);
  assert.equal(
    importViolations(sources).map((v) => v.message),
    [],
  );
});

// Quotes built at run time, so this file's own sources do not look like imports to the checker.
const q = "'";
const imp = (what: string, spec: string): string => `${what} from ${q}${spec}${q};`;

test('the checker sees every import form', () => {
  const src = [
    imp('import { a }', './a.js'),
    imp('import type { B }', '../b.js'),
    imp('export { c }', './c.js'),
    `import ${q}./side-effect.js${q};`,
    `const d = await import(${q}./d.js${q});`,
    imp('import * as fs', 'node:fs'),
  ].join('\n');
  assert.equal(relativeImports(src), ['./a.js', '../b.js', './c.js', './side-effect.js', './d.js']);
});

test('the checker reports an upward import, cycles (type-only imports included) and unresolved imports', () => {
  const files = new Map([
    ['layers/a.ts', imp('import type { M }', '../models/m.js')],
    ['models/m.ts', imp('import { a }', '../layers/a.js')],
    ['models/s.ts', imp('import { t }', './t.js')],
    ['models/t.ts', imp('import type { S }', './s.js')],
    ['core/x.ts', imp('import { y }', './missing.js')],
  ]);
  assert.equal(
    importViolations(files).map((v) => v.message),
    [
      'layers/a.ts imports models/m.ts: layers/ may not import models/ (a higher layer)',
      `core/x.ts: import ${q}./missing.js${q} resolves to core/missing.ts, which does not exist`,
      'import cycle: layers/a.ts -> models/m.ts -> layers/a.ts',
      'import cycle: models/s.ts -> models/t.ts -> models/s.ts',
    ],
  );
});

test.run();
