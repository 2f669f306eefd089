/**
 * Model fixtures whose cases use FORMAT.md's other forms: `tokenize` cases (literal text in,
 * ids / tokens / decoded text out) and literal (non-tensor) expectations such as a nested list
 * of token ids. Expectations copied from the shared fixtures must pass; a changed one must fail.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SafetensorsFile } from '../convert/safetensors.js';
import { verifyFixture } from '../verify/verify.js';
import { fixturePath, useBackend } from './helpers.js';

interface TokCase {
  name: string;
  tokenizer: string;
  text: string;
  src_lang?: string;
  tgt_lang?: string;
  input_ids: number[];
  tokens: string[];
  decoded: string;
  decoded_skip_special: string;
}

const tokCases = (JSON.parse(fs.readFileSync(fixturePath('tokenizer', 'cases.json'), 'utf8')) as { cases: TokCase[] }).cases;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-literals-'));

/** A copy of a shared model fixture with `edit` applied to its cases. */
function fixtureWith(name: string, edit: (cases: Record<string, unknown>[], refs: SafetensorsFile) => Record<string, unknown>[]): string {
  const dir = path.join(tmp, name + '-' + Math.random().toString(36).slice(2));
  fs.cpSync(fixturePath(name), dir, { recursive: true });
  const file = path.join(dir, 'reference', 'cases.json');
  const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as { cases: Record<string, unknown>[] };
  doc.cases = edit(doc.cases, SafetensorsFile.open(path.join(dir, 'reference', 'tensors.safetensors')));
  fs.chmodSync(file, 0o644);
  fs.writeFileSync(file, JSON.stringify(doc));
  return dir;
}

function tokenizeCase(c: TokCase, change?: (expect: Record<string, unknown>) => void): Record<string, unknown> {
  const expect: Record<string, unknown> = { input_ids: c.input_ids, tokens: c.tokens, decoded: c.decoded, decoded_skip_special: c.decoded_skip_special };
  change?.(expect);
  return { name: `tok_${c.name}`, kind: 'tokenize', inputs: { text: c.text, src_lang: c.src_lang, tgt_lang: c.tgt_lang }, expect, rtol: 0, atol: 0 };
}

/** generate_greedy with its expected sequences written as a literal nested list. */
function literalSequences(cases: Record<string, unknown>[], refs: SafetensorsFile, bump = false): Record<string, unknown>[] {
  const g = cases.find((c) => c.kind === 'generate_greedy')! as { expect: Record<string, unknown> };
  const t = refs.read(g.expect.sequences as string);
  const flat = Array.from(t.data as BigInt64Array, Number);
  if (bump) flat[flat.length - 1] += 1;
  const [b, n] = t.shape;
  return [{ ...g, expect: { sequences: Array.from({ length: b }, (_, i) => flat.slice(i * n, (i + 1) * n)) } }];
}

test('xglm fixture: tokenize cases and literal expected sequences pass', async () => {
  await useBackend('cpu');
  const xglm = tokCases.filter((c) => c.tokenizer === 'xglm').slice(0, 3);
  const dir = fixtureWith('xglm-tiny', (cases, refs) => [...literalSequences(cases, refs), ...xglm.map((c) => tokenizeCase(c))]);
  const results = await verifyFixture(dir);
  assert.is(results.length, 4);
  for (const r of results) assert.is(r.status, 'pass', `${r.case}: ${r.message}`);
});

test('nllb-moe fixture: tokenize cases with src_lang pass; a changed id, text or sequence fails', async () => {
  await useBackend('cpu');
  const nllb = tokCases.filter((c) => c.tokenizer === 'nllb' && c.src_lang).slice(0, 2);
  const good = fixtureWith('nllb-moe-tiny', (cases, refs) => [...literalSequences(cases, refs), ...nllb.map((c) => tokenizeCase(c))]);
  for (const r of await verifyFixture(good)) assert.is(r.status, 'pass', `${r.case}: ${r.message}`);
  const bad = fixtureWith('nllb-moe-tiny', (cases, refs) => [
    ...literalSequences(cases, refs, true),
    tokenizeCase(nllb[0], (e) => ((e.input_ids as number[])[1] += 1)),
    tokenizeCase(nllb[1], (e) => (e.decoded = `${e.decoded}!`)),
  ]);
  const results = await verifyFixture(bad);
  assert.equal(results.map((r) => r.status), ['fail', 'fail', 'fail']);
  assert.match(results[1].message ?? '', /input_ids: first difference at 1/);
  assert.match(results[2].message ?? '', /decoded: differs at character/);
});

test.run();
