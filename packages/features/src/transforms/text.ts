/**
 * Text to hashed word and character n-grams. Tokenization follows scikit-learn's defaults so its
 * HashingVectorizer is the reference: lower-case; words are runs of 2+ letters, digits or '_'; word
 * n-grams join tokens with one space; character n-grams run over the text with runs of whitespace
 * collapsed to one space. Output is either bucket counts (a dense row of `numBuckets` floats) or the
 * first `maxLength` bucket ids + 1 (0 pads), for an embedding-bag style model input.
 */
import type { Row } from '../definitions.js';
import { hashBucketOf } from './categorical.js';
import { FeatureValueError } from './common.js';

export interface TextHashDef {
  kind: 'text';
  name: string;
  input: string;
  column: string;
  numBuckets: number;
  /** Inclusive n-gram range of words, or null for none. */
  wordNgrams: [number, number] | null;
  /** Inclusive n-gram range of characters, or null for none. */
  charNgrams: [number, number] | null;
  encoding: 'counts' | 'ids';
  /** Number of ids per row for `ids` encoding. */
  maxLength: number;
  seed: number;
}

const WORD = /[\p{L}\p{N}_]{2,}/gu;
const SPACES = /\s\s+/gu;

/** The n-grams of a text in a fixed order: word n-grams (by n, then position), then character n-grams. */
export function textNgrams(
  text: string,
  words: [number, number] | null,
  chars: [number, number] | null,
): string[] {
  const lower = text.toLowerCase();
  const out: string[] = [];
  if (words) {
    const tokens = lower.match(WORD) ?? [];
    for (let n = words[0]; n <= words[1]; n++) {
      for (let i = 0; i + n <= tokens.length; i++) out.push(tokens.slice(i, i + n).join(' '));
    }
  }
  if (chars) {
    const cps = Array.from(lower.replace(SPACES, ' '));
    for (let n = chars[0]; n <= chars[1]; n++) {
      for (let i = 0; i + n <= cps.length; i++) out.push(cps.slice(i, i + n).join(''));
    }
  }
  return out;
}

function checkRange(d: TextHashDef, what: string, r: [number, number] | null): void {
  if (r === null) return;
  if (
    !Array.isArray(r) ||
    r.length !== 2 ||
    !Number.isInteger(r[0]) ||
    !Number.isInteger(r[1]) ||
    r[0] < 1 ||
    r[1] < r[0]
  ) {
    throw new RangeError(
      `transform ${d.name}: ${what}: expected [min, max] with 1 <= min <= max, got ${JSON.stringify(r)}`,
    );
  }
}

export function checkText(d: TextHashDef): void {
  if (typeof d.column !== 'string' || d.column === '')
    throw new TypeError(
      `transform ${d.name}: column: expected a column name, got ${JSON.stringify(d.column)}`,
    );
  checkRange(d, 'wordNgrams', d.wordNgrams);
  checkRange(d, 'charNgrams', d.charNgrams);
  if (!d.wordNgrams && !d.charNgrams)
    throw new TypeError(`transform ${d.name}: expected wordNgrams or charNgrams`);
  if (!(Number.isInteger(d.numBuckets) && d.numBuckets >= 1 && d.numBuckets <= 2 ** 31 - 1)) {
    throw new RangeError(
      `transform ${d.name}: numBuckets: expected an integer in [1, 2^31 - 1], got ${d.numBuckets}`,
    );
  }
  if (d.encoding === 'ids' && !(Number.isInteger(d.maxLength) && d.maxLength >= 1)) {
    throw new RangeError(`transform ${d.name}: maxLength: expected an integer >= 1, got ${d.maxLength}`);
  }
  if (d.encoding !== 'ids' && d.encoding !== 'counts')
    throw new TypeError(
      `transform ${d.name}: encoding: expected counts or ids, got ${JSON.stringify(d.encoding)}`,
    );
}

export function textWidth(d: TextHashDef): number {
  return d.encoding === 'counts' ? d.numBuckets : d.maxLength;
}

export function writeText(d: TextHashDef, row: Row, rowIndex: number, out: Float64Array, off: number): void {
  const v = row[d.column];
  if (v !== null && v !== undefined && typeof v !== 'string') {
    throw new FeatureValueError(
      d.name,
      rowIndex,
      `column ${d.column}: expected a string, got ${JSON.stringify(v)}`,
    );
  }
  const grams = typeof v === 'string' ? textNgrams(v, d.wordNgrams, d.charNgrams) : [];
  const w = textWidth(d);
  for (let j = 0; j < w; j++) out[off + j] = 0;
  if (d.encoding === 'counts') {
    for (const g of grams) out[off + hashBucketOf(g, d.numBuckets, d.seed)] += 1;
  } else {
    const n = Math.min(grams.length, w);
    for (let j = 0; j < n; j++) out[off + j] = hashBucketOf(grams[j], d.numBuckets, d.seed) + 1;
  }
}
