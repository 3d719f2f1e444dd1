import { OnnxModel } from '@mlsd/onnx';
import { initBackend, predictArrays } from '@mlsd/training';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateVideoWorld, SMALL_WORLD, worldInteractions } from './data.js';
import { sliceTable } from './evaluate.js';
import {
  demographicTokens,
  HISTORY_SLOTS,
  USER_SLOTS,
  VIDEO_NUMERIC,
  VIDEO_TOKEN_SLOTS,
  worldSideInfo,
} from './features.js';
import {
  embedUsers,
  embedVideos,
  exportTwoTower,
  mlpForward,
  mlpWeights,
  type TwoTower,
  trainRanker,
  trainTwoTower,
  videoInputs,
} from './model.js';

const world = generateVideoWorld({ ...SMALL_WORLD, seed: 5 });
const full = worldInteractions(world);
const table = sliceTable(full, 0, Math.floor(full.rows * 0.6));
const side = worldSideInfo(world);
let tower: TwoTower;

beforeAll(async () => {
  await initBackend({ prefer: 'wasm', log: () => {} });
  tower = await trainTwoTower(table, side, { epochs: 3, batchSize: 256, seed: 1 });
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('two-tower model', () => {
  it('lowers the in-batch softmax loss epoch after epoch', () => {
    expect(tower.losses).toHaveLength(3);
    expect(tower.losses[1]).toBeLessThan(tower.losses[0]);
    expect(tower.losses[2]).toBeLessThan(tower.losses[1]);
  });

  it('repeats with a seed', async () => {
    const again = await trainTwoTower(sliceTable(table, 0, 3000), side, {
      epochs: 1,
      batchSize: 256,
      seed: 4,
    });
    const twice = await trainTwoTower(sliceTable(table, 0, 3000), side, {
      epochs: 1,
      batchSize: 256,
      seed: 4,
    });
    expect(twice.losses).toEqual(again.losses);
  });

  it('gives unit-length embeddings, also to a user with no history and a video it never saw', () => {
    const cold = embedUsers(tower, demographicTokens({ age: 1, gender: 0, country: 2, language: 2 }), [[]]);
    const other = embedUsers(tower, demographicTokens({ age: 5, gender: 1, country: 8, language: 7 }), [[]]);
    expect(Math.hypot(...cold)).toBeCloseTo(1, 4);
    // Demographics alone move the vector.
    expect(maxAbsDiff(cold, other)).toBeGreaterThan(0.05);
    const unseen = { ...tower, shape: { ...tower.shape, items: 0 } }; // every id fed as unknown
    const v = embedVideos(unseen, side, [10, 11], world.endTs, world.videos.uploadTs);
    expect(Math.hypot(...v.subarray(0, 32))).toBeCloseTo(1, 4);
    expect(maxAbsDiff(v.subarray(0, 32), v.subarray(32, 64))).toBeGreaterThan(1e-3);
  });

  it('scores the videos a user later finds relevant above random ones', () => {
    // Users with history in the first 60 % and a new relevant video after it.
    const hist: number[][] = Array.from({ length: full.users }, () => []);
    for (let r = 0; r < table.rows; r++) if (table.relevant[r]) hist[table.user[r]].push(table.item[r]);
    let wins = 0;
    let pairs = 0;
    for (let r = table.rows; r < full.rows && pairs < 400; r++) {
      const u = full.user[r];
      if (!full.relevant[r] || hist[u].length === 0 || full.item[r] >= world.videos.count) continue;
      const e = embedUsers(tower, side.userTokens.subarray(u * USER_SLOTS, (u + 1) * USER_SLOTS), [hist[u]]);
      const neg = (full.item[r] * 7919 + 13) % world.videos.count;
      const v = embedVideos(tower, side, [full.item[r], neg], full.ts[r], world.videos.uploadTs);
      let sp = 0;
      let sn = 0;
      for (let k = 0; k < 32; k++) {
        sp += e[k] * v[k];
        sn += e[k] * v[32 + k];
      }
      wins += sp > sn ? 1 : 0;
      pairs++;
    }
    expect(pairs).toBeGreaterThan(100);
    expect(wins / pairs).toBeGreaterThan(0.7);
  });

  it('exports both towers to ONNX with the same outputs as tfjs', async () => {
    const bytes = exportTwoTower(tower, 'test');
    const user = await OnnxModel.load(bytes.user);
    const video = await OnnxModel.load(bytes.video);
    try {
      const n = 64;
      const tokens = side.userTokens.slice(0, n * USER_SLOTS);
      const history = new Int32Array(n * HISTORY_SLOTS);
      for (let k = 0; k < history.length; k++)
        history[k] = (k * 37) % 5 === 0 ? 0 : 1 + ((k * 131) % table.items);
      const tfUser = predictArrays(tower.userModel, [
        { data: tokens, shape: [n, USER_SLOTS] },
        { data: history, shape: [n, HISTORY_SLOTS] },
      ]);
      const onnxUser = await user.run({
        user_tokens: { data: tokens, dims: [n, USER_SLOTS] },
        history: { data: history, dims: [n, HISTORY_SLOTS] },
      });
      expect(maxAbsDiff(tfUser, onnxUser.user_embedding.data as Float32Array)).toBeLessThan(1e-5);
      const items = Int32Array.from({ length: n }, (_, k) => (k * 17) % world.videos.count);
      const x = videoInputs(side, tower.shape, items, world.endTs, world.videos.uploadTs);
      const tfVideo = predictArrays(tower.videoModel, [
        { data: x.ids, shape: [n, 1] },
        { data: x.tokens, shape: [n, VIDEO_TOKEN_SLOTS] },
        { data: x.numeric, shape: [n, VIDEO_NUMERIC] },
      ]);
      const onnxVideo = await video.run({
        video_id: { data: x.ids, dims: [n, 1] },
        video_tokens: { data: x.tokens, dims: [n, VIDEO_TOKEN_SLOTS] },
        video_numeric: { data: x.numeric, dims: [n, VIDEO_NUMERIC] },
      });
      expect(maxAbsDiff(tfVideo, onnxVideo.video_embedding.data as Float32Array)).toBeLessThan(1e-5);
    } finally {
      await user.close();
      await video.close();
    }
  });
});

describe('ranking model', () => {
  it('learns a separable rule, and its plain-JS forward matches tfjs and ONNX', async () => {
    const n = 4000;
    const f = 5;
    const x = new Float32Array(n * f);
    const y = new Float32Array(n);
    let s = 7;
    const rand = () => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return s / 2147483648;
    };
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < f; j++) x[r * f + j] = rand() * 2 - 1;
      y[r] = x[r * f] + 0.5 * x[r * f + 1] > 0 ? 1 : 0;
    }
    const { model, losses } = await trainRanker(x, y, f, { epochs: 5, batchSize: 256, seed: 2 });
    expect(losses[4]).toBeLessThan(losses[0] * 0.6);
    const js = mlpForward(mlpWeights(model), x, n);
    let correct = 0;
    for (let r = 0; r < n; r++) correct += (js[r] > 0 ? 1 : 0) === y[r] ? 1 : 0;
    expect(correct / n).toBeGreaterThan(0.9);
    const tf = predictArrays(model, { data: x, shape: [n, f] });
    expect(maxAbsDiff(js, tf)).toBeLessThan(1e-4);
    const { exportToOnnx } = await import('@mlsd/onnx');
    const onnx = await OnnxModel.load(exportToOnnx(model, { name: 'ranker' }));
    try {
      const out = await onnx.run({ features: { data: x, dims: [n, f] } });
      expect(maxAbsDiff(js, out.logit.data as Float32Array)).toBeLessThan(1e-4);
    } finally {
      await onnx.close();
    }
  });
});
