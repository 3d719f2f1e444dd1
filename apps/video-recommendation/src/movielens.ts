/**
 * Loaders for the MovieLens rating files users bring, into the same interaction table the generated
 * world produces, so every recommender and the evaluation run on either.
 *
 * Formats (GroupLens): `u.data` (ML-100K: user, item, rating, timestamp, tab-separated, no header),
 * `ratings.csv` (ML-latest / 25M: `userId,movieId,rating,timestamp` with a header); optional item
 * metadata `u.item` (pipe-separated, 19 genre flags, Latin-1) or `movies.csv` (`movieId,title,genres`,
 * quoted titles, genres joined by `|`), and optional user metadata `u.user` (`id|age|gender|occupation|zip`).
 * A rating at or above `relevantThreshold` is relevant; at or below `negativeThreshold` it is explicit
 * negative feedback. Malformed lines are reported with file, line number and reason, and skipped.
 */
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import type { InteractionTable } from './data.js';

/** The 19 genres of ML-100K's `u.item`, in flag order (as listed in its `u.genre`). */
export const ML100K_GENRES = [
  'unknown',
  'Action',
  'Adventure',
  'Animation',
  "Children's",
  'Comedy',
  'Crime',
  'Documentary',
  'Drama',
  'Fantasy',
  'Film-Noir',
  'Horror',
  'Musical',
  'Mystery',
  'Romance',
  'Sci-Fi',
  'Thriller',
  'War',
  'Western',
] as const;

export type RatingsFormat = 'u.data' | 'ratings.csv';

export interface MovieLensOptions {
  /** Path of the ratings file. */
  ratings: string;
  /** Format of the ratings file; by default `ratings.csv` for a `.csv` name, else `u.data`. */
  format?: RatingsFormat;
  /** Ratings at or above this are relevant (default 4). */
  relevantThreshold?: number;
  /** Ratings at or below this are explicit negatives (default 2). */
  negativeThreshold?: number;
  /** Optional item metadata: `u.item` or `movies.csv` (chosen by the file name's extension). */
  items?: string;
  /** Optional user metadata, `u.user`. */
  users?: string;
}

/** A line that could not be read, and why. */
export interface FileRowError {
  file: string;
  line: number;
  reason: string;
}

export interface UserInfo {
  age: number;
  gender: string;
  occupation: string;
  zip: string;
}

export interface MovieLensData {
  table: InteractionTable;
  /** Titles by dense item index ('' when no metadata). */
  titles: string[];
  /** User metadata by dense user index (undefined when absent). */
  userInfo?: (UserInfo | undefined)[];
  errors: FileRowError[];
  /** Ratings lines read, good and bad (blank lines and the header are not counted). */
  linesRead: number;
}

interface RatingRow {
  user: string;
  item: string;
  rating: number;
  ts: number;
}

const ID = /^[0-9A-Za-z_-]+$/;

/**
 * Parses one ratings line. `u.data` fields are separated by a tab; `ratings.csv` by commas.
 * Returns the row or the reason it is malformed.
 */
export function parseRatingLine(line: string, format: RatingsFormat): RatingRow | { error: string } {
  const fields = format === 'u.data' ? line.split('\t') : line.split(',');
  const sep = format === 'u.data' ? 'tab' : 'comma';
  if (fields.length !== 4) return { error: `expected 4 ${sep}-separated fields, got ${fields.length}` };
  const [user, item, ratingText, tsText] = fields.map((f) => f.trim());
  if (!ID.test(user)) return { error: `user id: expected letters or digits, got '${user.slice(0, 20)}'` };
  if (!ID.test(item)) return { error: `item id: expected letters or digits, got '${item.slice(0, 20)}'` };
  const rating = Number(ratingText);
  if (ratingText === '' || !Number.isFinite(rating) || rating < 0 || rating > 10)
    return { error: `rating: expected a number in [0, 10], got '${ratingText.slice(0, 20)}'` };
  const ts = Number(tsText);
  if (!/^\d+$/.test(tsText) || !Number.isSafeInteger(ts))
    return { error: `timestamp: expected whole seconds since 1970, got '${tsText.slice(0, 20)}'` };
  return { user, item, rating, ts };
}

async function forEachLine(
  path: string,
  encoding: BufferEncoding,
  fn: (line: string, lineNo: number) => void,
): Promise<void> {
  const stream = createReadStream(path, { encoding });
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let lineNo = 0;
  try {
    for await (const raw of lines) {
      lineNo++;
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line.trim() === '') continue;
      fn(line, lineNo);
    }
  } finally {
    lines.close();
    stream.destroy();
  }
}

/** Splits one CSV line with RFC 4180 quoting (titles in movies.csv contain commas and quotes). */
export function splitCsvLine(line: string): string[] | { error: string } {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= line.length) return { error: 'unterminated quoted field' };
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            value += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += line[i++];
      }
      out.push(value);
      if (i === line.length) return out;
      if (line[i] !== ',') return { error: `expected a comma after a quoted field at column ${i + 1}` };
      i++;
    } else {
      const next = line.indexOf(',', i);
      if (next < 0) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, next));
      i = next + 1;
    }
  }
}

interface ItemMeta {
  title: string;
  genres: string[];
}

async function readItems(path: string, errors: FileRowError[]): Promise<Map<string, ItemMeta>> {
  const file = basename(path);
  const items = new Map<string, ItemMeta>();
  if (path.endsWith('.csv')) {
    let header = true;
    await forEachLine(path, 'utf8', (line, lineNo) => {
      if (header) {
        header = false;
        if (line.startsWith('movieId')) return;
      }
      const fields = splitCsvLine(line);
      if (!Array.isArray(fields)) return void errors.push({ file, line: lineNo, reason: fields.error });
      if (fields.length !== 3)
        return void errors.push({ file, line: lineNo, reason: `expected 3 fields, got ${fields.length}` });
      const [id, title, genres] = fields;
      if (!ID.test(id))
        return void errors.push({
          file,
          line: lineNo,
          reason: `movieId: expected an id, got '${id.slice(0, 20)}'`,
        });
      items.set(id, {
        title,
        genres: genres === '(no genres listed)' || genres === '' ? [] : genres.split('|'),
      });
    });
    return items;
  }
  // u.item is Latin-1 (accented titles), pipe-separated: id, title, dates, URL, then 19 flags.
  await forEachLine(path, 'latin1', (line, lineNo) => {
    const fields = line.split('|');
    const expected = 5 + ML100K_GENRES.length;
    if (fields.length !== expected)
      return void errors.push({
        file,
        line: lineNo,
        reason: `expected ${expected} pipe-separated fields, got ${fields.length}`,
      });
    const id = fields[0];
    if (!ID.test(id))
      return void errors.push({
        file,
        line: lineNo,
        reason: `movie id: expected an id, got '${id.slice(0, 20)}'`,
      });
    const genres: string[] = [];
    for (let g = 0; g < ML100K_GENRES.length; g++) {
      const flag = fields[5 + g];
      if (flag !== '0' && flag !== '1')
        return void errors.push({
          file,
          line: lineNo,
          reason: `genre flag ${ML100K_GENRES[g]}: expected 0 or 1, got '${flag.slice(0, 20)}'`,
        });
      if (flag === '1') genres.push(ML100K_GENRES[g]);
    }
    items.set(id, { title: fields[1], genres });
  });
  return items;
}

async function readUsers(path: string, errors: FileRowError[]): Promise<Map<string, UserInfo>> {
  const file = basename(path);
  const users = new Map<string, UserInfo>();
  await forEachLine(path, 'utf8', (line, lineNo) => {
    const fields = line.split('|');
    if (fields.length !== 5)
      return void errors.push({
        file,
        line: lineNo,
        reason: `expected 5 pipe-separated fields, got ${fields.length}`,
      });
    const [id, ageText, gender, occupation, zip] = fields;
    if (!ID.test(id))
      return void errors.push({
        file,
        line: lineNo,
        reason: `user id: expected an id, got '${id.slice(0, 20)}'`,
      });
    const age = Number(ageText);
    if (!/^\d+$/.test(ageText) || age > 130)
      return void errors.push({
        file,
        line: lineNo,
        reason: `age: expected whole years in [0, 130], got '${ageText.slice(0, 20)}'`,
      });
    if (gender !== 'M' && gender !== 'F')
      return void errors.push({
        file,
        line: lineNo,
        reason: `gender: expected M or F, got '${gender.slice(0, 20)}'`,
      });
    users.set(id, { age, gender, occupation, zip });
  });
  return users;
}

function checkThreshold(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new RangeError(`${name}: expected a finite number, got ${value}`);
  return value;
}

/**
 * Reads MovieLens ratings (and optional item and user metadata) into an interaction table: dense
 * indices in order of first appearance, rows sorted by time (ties keep file order). Items are
 * recommendable from their first rating. Never throws on bad content; throws only when a file
 * cannot be opened or an option is invalid.
 */
export async function loadMovieLens(options: MovieLensOptions): Promise<MovieLensData> {
  if (typeof options?.ratings !== 'string' || options.ratings === '')
    throw new TypeError(`ratings: expected a file path, got ${String(options?.ratings)}`);
  const format = options.format ?? (options.ratings.endsWith('.csv') ? 'ratings.csv' : 'u.data');
  if (format !== 'u.data' && format !== 'ratings.csv')
    throw new RangeError(`format: expected 'u.data' or 'ratings.csv', got '${String(format)}'`);
  const relevantAt = checkThreshold('relevantThreshold', options.relevantThreshold ?? 4);
  const negativeAt = checkThreshold('negativeThreshold', options.negativeThreshold ?? 2);
  if (negativeAt >= relevantAt)
    throw new RangeError(
      `negativeThreshold: expected below relevantThreshold (${relevantAt}), got ${negativeAt}`,
    );
  const errors: FileRowError[] = [];
  const file = basename(options.ratings);
  const rows: RatingRow[] = [];
  let linesRead = 0;
  let first = true;
  await forEachLine(options.ratings, 'utf8', (line, lineNo) => {
    if (first) {
      first = false;
      if (format === 'ratings.csv' && /^userId\s*,/.test(line)) return;
    }
    linesRead++;
    const row = parseRatingLine(line, format);
    if ('error' in row) errors.push({ file, line: lineNo, reason: row.error });
    else rows.push(row);
  });
  const itemMeta = options.items ? await readItems(options.items, errors) : undefined;
  const userMeta = options.users ? await readUsers(options.users, errors) : undefined;

  const order = Array.from({ length: rows.length }, (_, i) => i).sort(
    (a, b) => rows[a].ts - rows[b].ts || a - b,
  );
  const userIndex = new Map<string, number>();
  const itemIndex = new Map<string, number>();
  const n = rows.length;
  const user = new Int32Array(n);
  const item = new Int32Array(n);
  const ts = new Float64Array(n);
  const relevant = new Uint8Array(n);
  const negative = new Uint8Array(n);
  const itemStart: number[] = [];
  for (let r = 0; r < n; r++) {
    const row = rows[order[r]];
    let u = userIndex.get(row.user);
    if (u === undefined) {
      u = userIndex.size;
      userIndex.set(row.user, u);
    }
    let i = itemIndex.get(row.item);
    if (i === undefined) {
      i = itemIndex.size;
      itemIndex.set(row.item, i);
      itemStart.push(row.ts);
    }
    user[r] = u;
    item[r] = i;
    ts[r] = row.ts;
    relevant[r] = row.rating >= relevantAt ? 1 : 0;
    negative[r] = row.rating <= negativeAt ? 1 : 0;
  }
  const itemIds = [...itemIndex.keys()];
  const userIds = [...userIndex.keys()];
  const tagIndex = new Map<string, number>();
  const itemTags = itemIds.map((id) => {
    const genres = itemMeta?.get(id)?.genres ?? [];
    const tags = genres.map((g) => {
      let t = tagIndex.get(g);
      if (t === undefined) {
        t = tagIndex.size;
        tagIndex.set(g, t);
      }
      return t;
    });
    return Int32Array.from(tags.sort((a, b) => a - b));
  });
  const table: InteractionTable = {
    name: `MovieLens ${file} (relevant: rating >= ${relevantAt})`,
    users: userIds.length,
    items: itemIds.length,
    userIds,
    itemIds,
    rows: n,
    user,
    item,
    ts,
    relevant,
    negative,
    itemTags,
    tagNames: [...tagIndex.keys()],
    itemStart: Float64Array.from(itemStart),
  };
  return {
    table,
    titles: itemIds.map((id) => itemMeta?.get(id)?.title ?? ''),
    userInfo: userMeta ? userIds.map((id) => userMeta.get(id)) : undefined,
    errors,
    linesRead,
  };
}
