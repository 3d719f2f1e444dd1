import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadMovieLens, parseRatingLine, splitCsvLine } from './movielens.js';

// Hand-made files written by fixtures/video-recommendation/movielens/make-fixtures.mjs; the
// expected values below are worked out by hand from that script's comments.
const fixture = (name: string) =>
  fileURLToPath(new URL(`../../../fixtures/video-recommendation/movielens/${name}`, import.meta.url));

describe('u.data with u.item and u.user', async () => {
  const data = await loadMovieLens({
    ratings: fixture('u.data'),
    items: fixture('u.item'),
    users: fixture('u.user'),
  });
  const t = data.table;

  it('keeps the good lines in time order, ties in file order, with ids dense by first appearance', () => {
    expect(t.rows).toBe(6);
    expect(data.linesRead).toBe(9);
    expect(t.userIds).toEqual(['1', '3', '2']);
    expect(t.itemIds).toEqual(['20', '10']);
    expect(Array.from(t.ts)).toEqual([100, 150, 150, 200, 300, 400]);
    expect(Array.from(t.user)).toEqual([0, 1, 1, 2, 0, 2]);
    expect(Array.from(t.item)).toEqual([0, 0, 1, 1, 1, 0]);
    expect(Array.from(t.itemStart)).toEqual([100, 150]);
  });

  it('labels ratings >= 4 relevant and <= 2 negative', () => {
    expect(Array.from(t.relevant)).toEqual([0, 0, 1, 1, 1, 0]);
    expect(Array.from(t.negative)).toEqual([0, 1, 0, 0, 0, 1]);
  });

  it('reports each malformed line with its file, number and reason', () => {
    const byFile = (f: string) => data.errors.filter((e) => e.file === f).map((e) => e.line);
    expect(byFile('u.data')).toEqual([4, 7, 9]);
    expect(byFile('u.item')).toEqual([4]);
    expect(byFile('u.user')).toEqual([3]);
    const reason = (f: string, line: number) =>
      data.errors.find((e) => e.file === f && e.line === line)?.reason;
    expect(reason('u.data', 4)).toMatch(/rating.*'five'/);
    expect(reason('u.data', 7)).toMatch(/expected 4 tab-separated fields, got 3/);
    expect(reason('u.data', 9)).toMatch(/timestamp.*'-5'/);
    expect(reason('u.item', 4)).toMatch(/expected 24 pipe-separated fields, got 25/);
    expect(reason('u.user', 3)).toMatch(/age.*'abc'/);
  });

  it('reads genres as tags, Latin-1 titles, and user metadata by dense index', () => {
    expect(t.tagNames).toEqual(['Comedy', 'Romance', 'Animation', "Children's"]);
    expect(t.itemTags.map((x) => Array.from(x))).toEqual([
      [0, 1],
      [0, 2, 3],
    ]);
    expect(data.titles).toEqual(['Amélie (2001)', 'Toy Story (1995)']);
    expect(data.userInfo?.[0]).toEqual({ age: 24, gender: 'M', occupation: 'technician', zip: '85711' });
    expect(data.userInfo?.[1]).toBeUndefined();
    expect(data.userInfo?.[2]?.age).toBe(53);
  });
});

describe('ratings.csv with movies.csv', async () => {
  const data = await loadMovieLens({ ratings: fixture('ratings.csv'), items: fixture('movies.csv') });
  const t = data.table;

  it('skips the header, sorts by time and reports bad lines', () => {
    expect(data.linesRead).toBe(7);
    expect(t.userIds).toEqual(['8', '7', '9']);
    expect(t.itemIds).toEqual(['1', '2', '3']);
    expect(Array.from(t.ts)).toEqual([999, 1000, 1001, 1002, 1005]);
    expect(Array.from(t.relevant)).toEqual([1, 1, 0, 0, 1]);
    expect(Array.from(t.negative)).toEqual([0, 0, 0, 1, 0]);
    expect(data.errors.map((e) => `${e.file}:${e.line}`)).toEqual([
      'ratings.csv:6',
      'ratings.csv:7',
      'movies.csv:5',
    ]);
    expect(data.errors[2].reason).toMatch(/unterminated/);
  });

  it('parses quoted titles and genre lists', () => {
    expect(data.titles).toEqual(['Godfather, The (1972)', 'Say "Hi" (2001)', 'Untitled (2020)']);
    expect(t.tagNames).toEqual(['Crime', 'Drama', 'Comedy']);
    expect(t.itemTags.map((x) => x.length)).toEqual([2, 1, 0]);
  });

  it('moves the relevance threshold when asked', async () => {
    const lower = await loadMovieLens({ ratings: fixture('ratings.csv'), relevantThreshold: 3.5 });
    expect(Array.from(lower.table.relevant)).toEqual([1, 1, 1, 0, 1]);
  });
});

describe('loader input checks', () => {
  it('rejects bad options with the argument named', async () => {
    await expect(loadMovieLens({ ratings: '' })).rejects.toThrow(/ratings: expected a file path/);
    await expect(
      loadMovieLens({ ratings: fixture('u.data'), relevantThreshold: 2, negativeThreshold: 3 }),
    ).rejects.toThrow(/negativeThreshold: expected below relevantThreshold/);
    await expect(loadMovieLens({ ratings: fixture('no-such-file') })).rejects.toThrow(/ENOENT/);
  });

  it('parses single lines', () => {
    expect(parseRatingLine('196\t242\t3\t881250949', 'u.data')).toEqual({
      user: '196',
      item: '242',
      rating: 3,
      ts: 881250949,
    });
    expect(parseRatingLine('1,2,x,3', 'ratings.csv')).toEqual({ error: expect.stringMatching(/^rating/) });
    expect(splitCsvLine('a,"b,c",d')).toEqual(['a', 'b,c', 'd']);
    expect(splitCsvLine('"a"x')).toEqual({ error: expect.stringMatching(/comma/) });
  });
});

describe('side information from MovieLens files (features for the towers)', async () => {
  const { movieLensSideInfo, USER_SLOTS, VIDEO_TOKEN_SLOTS } = await import('./features.js');
  const data = await loadMovieLens({
    ratings: fixture('u.data'),
    items: fixture('u.item'),
    users: fixture('u.user'),
  });
  const side = movieLensSideInfo(data);

  it('turns genres into video tokens (tag id + 1) and leaves language and creator unknown', () => {
    // Item 0 is movie 20 (Comedy and Romance, tags 5 and 14), item 1 is movie 10 (Animation, Children's, Comedy).
    const tokens = (i: number) =>
      Array.from(side.itemTokens.subarray(i * VIDEO_TOKEN_SLOTS, (i + 1) * VIDEO_TOKEN_SLOTS)).filter(
        (t) => t > 0,
      );
    expect(tokens(0)).toEqual(Array.from(data.table.itemTags[0], (t) => t + 1));
    expect(tokens(1)).toEqual(Array.from(data.table.itemTags[1], (t) => t + 1));
    expect(tokens(1)).toHaveLength(3);
    expect(Array.from(side.itemLanguage)).toEqual([-1, -1]);
    expect(Array.from(side.itemCreator)).toEqual([-1, -1]);
  });

  it('gives users with a valid u.user line age, gender and occupation tokens, others none', () => {
    const tokens = (u: number) => Array.from(side.userTokens.subarray(u * USER_SLOTS, (u + 1) * USER_SLOTS));
    // Users by index: '1' (24, M, technician), '3' (bad line: no tokens), '2' (53, F, other).
    expect(tokens(0).filter((t) => t > 0)).toHaveLength(3);
    expect(tokens(1)).toEqual([0, 0, 0, 0]);
    expect(tokens(2).filter((t) => t > 0)).toHaveLength(3);
    expect(tokens(0)[0]).not.toBe(tokens(2)[0]);
    expect(side.userVocab).toBe(7);
  });
});
