/**
 * Causal-LM data (XGLM): plain text (one document a line) or JSONL with a text field, either
 * packed into fixed blocks (documents as `</s> doc`, so `</s>` separates them, as XGLM was
 * trained) or one padded example a row (labels -100 on padding).
 */
import { PolyglotError } from '../../core/errors.js';
import type { HostBatch } from '../batch.js';
import { checkTextLength, type FairseqSpmTokenizer } from '../../tokenizers/tokenizer.js';
import { collateBlocks, collateCausal, packDocuments } from './collate.js';
import type { LineCorpus } from './line-index.js';
import { formatOf, textRecord, type TextFormat } from './records.js';
import type { ChunkPlanner } from './sampler.js';
import { openTrainingData, type CommonDataOptions, type TrainingData } from './training-data.js';

export interface CausalLmDataOptions extends CommonDataOptions {
  tokenizer: FairseqSpmTokenizer;
  /** `pack` (fixed blocks of blockSize, no padding) or `pad` (one example a row, up to maxLength). */
  mode: 'pack' | 'pad';
  blockSize?: number;
  maxLength?: number;
  /** Force plain text or JSONL (default: by file extension). */
  format?: TextFormat;
  /** JSONL field holding the document (default "text"). */
  textField?: string;
  paddingSide?: 'left' | 'right';
}

class CausalPlanner implements ChunkPlanner<number[]> {
  readonly oneToOne: boolean;
  constructor(
    private readonly corpus: LineCorpus,
    private readonly o: CausalLmDataOptions,
  ) {
    this.oneToOne = o.mode === 'pad' && (o.overLength ?? 'truncate') === 'truncate';
  }

  private text(i: number): string {
    const format = this.o.format ?? formatOf(this.corpus.file(i));
    const text = textRecord(this.corpus.line(i), format, this.o.textField ?? 'text', this.corpus.where(i));
    checkTextLength(text, this.corpus.where(i));
    return text;
  }

  private encode(i: number): number[] {
    return this.o.tokenizer.encode(this.text(i));
  }

  validate(i: number): void {
    this.text(i); // parses a JSONL record and checks the length bound, before step 1
  }

  load(indices: Uint32Array): number[][] {
    const docs = Array.from(indices, (i) => this.encode(i));
    if (this.o.mode === 'pack') return packDocuments(docs, this.o.blockSize!);
    const max = this.o.maxLength;
    if (max === undefined) return docs;
    if ((this.o.overLength ?? 'truncate') === 'drop') return docs.filter((d) => d.length <= max);
    return docs.map((d) => (d.length > max ? d.slice(0, max) : d));
  }

  length(item: number[]): number {
    return item.length;
  }

  collate(items: number[][]): HostBatch {
    return this.o.mode === 'pack' ? collateBlocks(items) : collateCausal(items, { padId: this.o.tokenizer.padTokenId, side: this.o.paddingSide ?? 'right' });
  }
}

export async function causalLmData(o: CausalLmDataOptions): Promise<TrainingData<number[]>> {
  if (o.mode === 'pack' && !(Number.isInteger(o.blockSize) && o.blockSize! > 1)) throw new PolyglotError(`data: packing needs a block size > 1, found ${o.blockSize}`);
  if (o.maxLength !== undefined && !(Number.isInteger(o.maxLength) && o.maxLength > 1)) throw new PolyglotError(`data: max length must be an integer > 1, found ${o.maxLength}`);
  return openTrainingData(o, (corpus, opts) => new CausalPlanner(corpus, opts), { bucketByLength: o.mode === 'pad' && o.bucketByLength !== false });
}
