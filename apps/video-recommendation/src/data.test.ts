import { describe, expect, it } from 'vitest';
import {
  checkInteractionTable,
  DAY_SECONDS,
  generateVideoWorld,
  relevanceProbability,
  SMALL_WORLD,
  summarizeWorld,
  worldInteractions,
} from './data.js';

describe('generated video world', () => {
  const world = generateVideoWorld({ ...SMALL_WORLD, seed: 7 });
  const imp = world.impressions;

  it('is deterministic by seed', () => {
    const again = generateVideoWorld({ ...SMALL_WORLD, seed: 7 });
    expect(again.impressions.count).toBe(imp.count);
    expect(Buffer.from(again.impressions.pRelevant.buffer).equals(Buffer.from(imp.pRelevant.buffer))).toBe(
      true,
    );
    expect(Buffer.from(again.impressions.relevant.buffer).equals(Buffer.from(imp.relevant.buffer))).toBe(
      true,
    );
    const other = generateVideoWorld({ ...SMALL_WORLD, seed: 8 });
    expect(Buffer.from(other.impressions.video.buffer).equals(Buffer.from(imp.video.buffer))).toBe(false);
  });

  it('is in time order, and no one sees a video before joining or before its upload', () => {
    let violations = 0;
    for (let k = 1; k < imp.count; k++) if (imp.ts[k] < imp.ts[k - 1]) violations++;
    for (let k = 0; k < imp.count; k++) {
      if (imp.ts[k] < world.users.signupTs[imp.user[k]]) violations++;
      if (imp.ts[k] < world.videos.uploadTs[imp.video[k]]) violations++;
      if (imp.ts[k] < 0 || imp.ts[k] >= world.endTs) violations++;
    }
    expect(violations).toBe(0);
  });

  it('labels relevant exactly the impressions liked or watched at least half', () => {
    let mismatches = 0;
    for (let k = 0; k < imp.count; k++) {
      const half = imp.watchSeconds[k] >= 0.5 * world.videos.lengthSeconds[imp.video[k]] - 1e-3;
      if (imp.relevant[k] !== (imp.liked[k] || half ? 1 : 0)) mismatches++;
      if ((imp.liked[k] || imp.watchSeconds[k] > 0) && !imp.clicked[k]) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it('keeps an oracle that is calibrated: relevant rate per decile of pRelevant matches its mean', () => {
    const order = Array.from({ length: imp.count }, (_, k) => k).sort(
      (a, b) => imp.pRelevant[a] - imp.pRelevant[b],
    );
    const bins = 10;
    for (let b = 0; b < bins; b++) {
      const lo = Math.floor((b * imp.count) / bins);
      const hi = Math.floor(((b + 1) * imp.count) / bins);
      let p = 0;
      let y = 0;
      for (let i = lo; i < hi; i++) {
        p += imp.pRelevant[order[i]];
        y += imp.relevant[order[i]];
      }
      // Binomial: |observed - expected| within 4 standard deviations (plus one count).
      expect(Math.abs(y - p)).toBeLessThan(4 * Math.sqrt(p) + 1);
    }
  });

  it('answers the oracle for any (user, video, time), equal to the stored probability on impressions', () => {
    for (let k = 0; k < imp.count; k += 997) {
      expect(relevanceProbability(world, imp.user[k], imp.video[k], imp.ts[k])).toBeCloseTo(
        imp.pRelevant[k],
        6,
      );
    }
    // Tastes separate users: for a user, the best video is far likelier relevant than the median one.
    const p = Array.from({ length: world.videos.count }, (_, v) => relevanceProbability(world, 0, v, 0)).sort(
      (a, b) => a - b,
    );
    expect(p[p.length - 1]).toBeGreaterThan(5 * p[Math.floor(p.length / 2)]);
  });

  it('has a long tail, new users, new videos, and about the target relevant rate', () => {
    const s = summarizeWorld(world);
    expect(s.relevantRate).toBeGreaterThan(0.05);
    expect(s.relevantRate).toBeLessThan(0.07);
    // The most-shown 1 % of videos get far more than 1 % of impressions.
    expect(s.topPercentShare).toBeGreaterThan(0.08);
    expect(s.newUsers / s.users).toBeGreaterThan(0.12);
    expect(s.newVideos / s.videos).toBeGreaterThan(0.25);
    expect(s.searches).toBeGreaterThan(0);
    let arrivals = 0;
    for (let v = 0; v < world.videos.count; v++) if (world.videos.uploadTs[v] > 30 * DAY_SECONDS) arrivals++;
    expect(arrivals).toBeGreaterThan(0);
  });

  it('rejects bad options with the option named', () => {
    expect(() => generateVideoWorld({ users: 0 })).toThrow(/users: expected an integer >= 1, got 0/);
    expect(() => generateVideoWorld({ tasteDrift: 2 })).toThrow(/tasteDrift: expected in \[0, 1\]/);
  });
});

describe('interaction table of the world', () => {
  const world = generateVideoWorld({ ...SMALL_WORLD, seed: 3 });
  const table = worldInteractions(world);

  it('holds the clicked impressions in time order with their labels', () => {
    expect(() => checkInteractionTable(table)).not.toThrow();
    let clicks = 0;
    let relevant = 0;
    for (let k = 0; k < world.impressions.count; k++) {
      clicks += world.impressions.clicked[k];
      relevant += world.impressions.relevant[k];
    }
    expect(table.rows).toBe(clicks);
    expect(Array.from(table.relevant).reduce((a, b) => a + b, 0)).toBe(relevant);
  });

  it('checkInteractionTable names the first row out of time order', () => {
    const broken = { ...table, ts: Float64Array.from(table.ts) };
    broken.ts[5] = -1e12;
    expect(() => checkInteractionTable(broken)).toThrow(/ts\[5\]: expected time order/);
  });
});
