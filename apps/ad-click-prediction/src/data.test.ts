import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  clickWithinWindowProbability,
  DAY_SECONDS,
  generateAdWorld,
  parseCriteoLine,
  populationOracle,
  readCriteo,
  SMALL_WORLD,
  summarizeWorld,
} from './data.js';

const sample = fileURLToPath(
  new URL('../../../fixtures/ad-click-prediction/criteo-sample.tsv', import.meta.url),
);

describe('generated ad world', () => {
  const world = generateAdWorld({ ...SMALL_WORLD, seed: 7 });
  const imp = world.impressions;

  it('is deterministic by seed', () => {
    const again = generateAdWorld({ ...SMALL_WORLD, seed: 7 });
    expect(again.impressions.count).toBe(imp.count);
    expect(Buffer.from(again.impressions.pLabel.buffer).equals(Buffer.from(imp.pLabel.buffer))).toBe(true);
    expect(Buffer.from(again.impressions.label.buffer).equals(Buffer.from(imp.label.buffer))).toBe(true);
    const other = generateAdWorld({ ...SMALL_WORLD, seed: 8 });
    expect(Buffer.from(other.impressions.label.buffer).equals(Buffer.from(imp.label.buffer))).toBe(false);
  });

  it('has a base click rate between 1 % and 5 %, and clicks that arrive after the window', () => {
    const s = summarizeWorld(world);
    expect(s.positiveRate).toBeGreaterThan(0.01);
    expect(s.positiveRate).toBeLessThan(0.05);
    expect(s.lateClicks).toBeGreaterThan(0);
    // Late clicks are not positives: labels are clicks within the window only.
    expect(s.clicks - s.lateClicks).toBe(Array.from(imp.label).reduce((a, b) => a + b, 0));
  });

  it('is in time order, and no one sees an ad before joining or before the ad starts', () => {
    let violations = 0;
    for (let k = 1; k < imp.count; k++) if (imp.ts[k] < imp.ts[k - 1]) violations++;
    for (let k = 0; k < imp.count; k++) {
      if (imp.ts[k] < world.users.signupTs[imp.user[k]]) violations++;
      if (imp.ts[k] < world.ads.startTs[imp.ad[k]]) violations++;
    }
    expect(violations).toBe(0);
  });

  it("respects every campaign's targeting", () => {
    let violations = 0;
    let restricted = 0;
    for (let k = 0; k < imp.count; k++) {
      const c = world.campaigns[world.ads.campaign[imp.ad[k]]];
      const u = imp.user[k];
      if (world.users.age[u] < c.ageRange[0] || world.users.age[u] > c.ageRange[1]) violations++;
      if (c.countries) {
        restricted++;
        if (!c.countries.has(world.users.country[u])) violations++;
      }
    }
    expect(violations).toBe(0);
    expect(restricted).toBeGreaterThan(imp.count / 4);
  });

  it('has cold starts: users who join and ads that start during the log', () => {
    const end = world.options.days * DAY_SECONDS;
    const newUsers = new Set<number>();
    const newAds = new Set<number>();
    for (let k = 0; k < imp.count; k++) {
      if (world.users.signupTs[imp.user[k]] > 0 && world.users.signupTs[imp.user[k]] < end)
        newUsers.add(imp.user[k]);
      if (world.ads.startTs[imp.ad[k]] > 0) newAds.add(imp.ad[k]);
    }
    expect(newUsers.size).toBeGreaterThan(50);
    expect(newAds.size).toBeGreaterThan(5);
  });

  it('has a long tail of user activity', () => {
    const perUser = new Map<number, number>();
    for (let k = 0; k < imp.count; k++) perUser.set(imp.user[k], (perUser.get(imp.user[k]) ?? 0) + 1);
    const counts = [...perUser.values()].sort((a, b) => b - a);
    const top = counts.slice(0, Math.ceil(counts.length / 10)).reduce((a, b) => a + b, 0);
    // The top tenth of users makes well over a tenth of the impressions.
    expect(top / imp.count).toBeGreaterThan(0.3);
  });

  it('keeps an oracle that is calibrated: in each probability decile, observed rate matches', () => {
    const big = generateAdWorld({ ...SMALL_WORLD, seed: 3, impressionsPerDay: 8_000 });
    const b = big.impressions;
    const order = Array.from({ length: b.count }, (_, i) => i).sort((x, y) => b.pLabel[x] - b.pLabel[y]);
    const bins = 10;
    for (let q = 0; q < bins; q++) {
      const part = order.slice(Math.floor((q * b.count) / bins), Math.floor(((q + 1) * b.count) / bins));
      let p = 0;
      let y = 0;
      for (const i of part) {
        p += b.pLabel[i];
        y += b.label[i];
      }
      const expected = p / part.length;
      const observed = y / part.length;
      // 4 binomial standard errors.
      const se = Math.sqrt((expected * (1 - expected)) / part.length);
      expect(Math.abs(observed - expected)).toBeLessThan(4 * se + 1e-4);
    }
  });

  it('keeps a second ceiling without per-user knowledge: same mean, lower spread, worse log loss', () => {
    const pop = populationOracle(world);
    let mOracle = 0;
    let mPop = 0;
    let llOracle = 0;
    let llPop = 0;
    for (let k = 0; k < imp.count; k++) {
      mOracle += imp.pLabel[k];
      mPop += pop[k];
      const y = imp.label[k];
      llOracle -= y ? Math.log(imp.pLabel[k]) : Math.log1p(-imp.pLabel[k]);
      llPop -= y ? Math.log(pop[k]) : Math.log1p(-pop[k]);
      expect(pop[k]).toBeGreaterThan(0);
      expect(pop[k]).toBeLessThan(clickWithinWindowProbability(world.options.clickWindowSeconds));
    }
    // Averaging the user effect out keeps the mean probability (within 3 %) ...
    expect(Math.abs(mPop / mOracle - 1)).toBeLessThan(0.03);
    // ... and loses the information only the user's identity carries.
    expect(llPop / imp.count).toBeGreaterThan((llOracle / imp.count) * 1.03);
  });

  it('rejects bad options with the name of the option', () => {
    expect(() => generateAdWorld({ users: 0 })).toThrow(/users: expected an integer >= 1, got 0/);
    expect(() => generateAdWorld({ clickWindowSeconds: -1 })).toThrow(/clickWindowSeconds/);
    expect(() => generateAdWorld({ targetClickRate: 0.9 })).toThrow(/targetClickRate/);
  });

  it('computes the share of clicks inside the window from the log-normal delay', () => {
    // Median delay 20 s: half the clicks come within 20 s.
    expect(clickWithinWindowProbability(20)).toBeCloseTo(0.5, 6);
    expect(clickWithinWindowProbability(0)).toBe(0);
    expect(clickWithinWindowProbability(1e9)).toBeCloseTo(1, 6);
  });
});

describe('Criteo loader', () => {
  it('keeps the good rows and reports each malformed line with its number and reason', async () => {
    const { table, errors, linesRead } = await readCriteo(sample);
    expect(linesRead).toBe(8);
    expect(table.rows).toBe(3);
    expect(Array.from(table.label)).toEqual([0, 1, 0]);
    expect(errors).toEqual([
      { line: 4, reason: "label: expected 0 or 1, got '2'" },
      { line: 5, reason: 'expected 40 tab-separated fields, got 39' },
      { line: 6, reason: "I1: expected an integer or empty, got '1.5'" },
      { line: 7, reason: "C26: expected a hexadecimal hash or empty, got 'not-hex!'" },
      { line: 9, reason: 'expected 40 tab-separated fields, got 1' },
    ]);
  });

  it('reads missing integers as NaN and missing categories as empty strings', async () => {
    const { table } = await readCriteo(sample);
    expect(table.numericNames).toHaveLength(13);
    expect(table.categoricalNames).toHaveLength(26);
    expect(table.numeric[0][0]).toBe(1);
    expect(table.numeric[1][0]).toBeNaN();
    expect(table.numeric[4][0]).toBe(1382);
    expect(table.numeric[0][2]).toBe(-1);
    expect(table.categorical[0][0]).toBe('68fd1e64');
    expect(table.categorical[21][0]).toBe('');
    for (let j = 0; j < 13; j++) expect(table.numeric[j][1]).toBeNaN();
    for (let j = 0; j < 26; j++) expect(table.categorical[j][1]).toBe('');
  });

  it('stops after maxRows good rows', async () => {
    const { table } = await readCriteo(sample, { maxRows: 2 });
    expect(table.rows).toBe(2);
  });

  it('fails clearly when the file does not exist', async () => {
    await expect(readCriteo('/nonexistent/criteo.tsv')).rejects.toThrow(/ENOENT/);
  });

  it('parses a line with a trailing carriage return removed by the reader only', () => {
    expect(parseCriteoLine(`1${'\t'.repeat(39)}`)).toMatchObject({ label: 1 });
    expect(parseCriteoLine('1\t2')).toEqual({ error: 'expected 40 tab-separated fields, got 2' });
  });
});
