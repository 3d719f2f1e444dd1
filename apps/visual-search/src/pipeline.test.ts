import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { InProcessJobRunner } from '@mlsd/serving';
import { HnswIndex, SwappableIndex } from '@mlsd/vector-index';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeImage, generateCatalogue } from './data.js';
import {
  addToIndex,
  buildIndex,
  catalogueKey,
  createIndexingJob,
  type EncoderBundle,
  embedLibrary,
  ImageLibrary,
  INDEXING_JOB,
  loadEncoder,
  loadSavedIndex,
  runIndexing,
} from './pipeline.js';

const MODEL_DIR = new URL('../../../fixtures/visual-search/model/', import.meta.url).pathname;
const catalogue = generateCatalogue({ count: 240, seed: 3 });
let encoder: EncoderBundle;
let dir: string;

beforeAll(async () => {
  encoder = await loadEncoder(MODEL_DIR);
  dir = await mkdtemp(join(tmpdir(), 'vs-pipeline-'));
});
afterAll(async () => {
  await encoder?.embedder.close();
  await rm(dir, { recursive: true, force: true });
});

describe('image library', () => {
  it('marks a seeded share of the catalogue private or removed, and reopens uploads from disk', async () => {
    const uploadsDir = join(dir, 'lib-uploads');
    const big = generateCatalogue({ count: 4000, seed: 3 });
    const library = await ImageLibrary.open(big, { uploadsDir, seed: 1 });
    const hidden = library.ids().filter((id) => !library.isVisible(id));
    // 3 % private + 2 % removed by default.
    expect(hidden.length / big.count).toBeGreaterThan(0.035);
    expect(hidden.length / big.count).toBeLessThan(0.065);
    const again = await ImageLibrary.open(big, { uploadsDir, seed: 1 });
    expect(again.ids().filter((id) => !again.isVisible(id))).toEqual(hidden);

    const png = await encodeImage(big.pixels(5), big.size, 'png');
    const id = library.newUploadId();
    await library.addUpload(id, png, 'png', 'private');
    const reopened = await ImageLibrary.open(big, { uploadsDir, seed: 1 });
    expect(reopened.get(id)).toMatchObject({ source: 'upload', visibility: 'private', format: 'png' });
    expect(reopened.size).toBe(big.count + 1);
    // A lossless upload of a catalogue image gives the encoder the same pixels.
    expect(await reopened.pixels(id, big.size)).toEqual(big.pixels(5));
    await reopened.dropUpload(id);
    expect(await readdir(uploadsDir)).toEqual([]);
  });
});

describe('indexing pipeline', () => {
  it('builds an index in which every image finds itself first', async () => {
    const library = await ImageLibrary.open(catalogue, { uploadsDir: join(dir, 'u1') });
    const ids = library.ids();
    const index = await buildIndex(library, encoder.embedder, ids, { batchSize: 64 });
    expect(index.size).toBe(catalogue.count);
    const vectors = await embedLibrary(library, encoder.embedder, ids.slice(0, 20));
    const d = encoder.embedder.dimension;
    for (let k = 0; k < 20; k++) {
      const [hit] = index.search(vectors.subarray(k * d, (k + 1) * d), 1);
      expect(hit.id).toBe(ids[k]);
      expect(hit.distance).toBeLessThan(1e-4);
    }
  });

  it('adds an upload without a rebuild', async () => {
    const library = await ImageLibrary.open(catalogue, { uploadsDir: join(dir, 'u2') });
    const handle = new SwappableIndex(await buildIndex(library, encoder.embedder, library.ids()));
    const before = handle.current;
    const png = await encodeImage(catalogue.pixels(7), catalogue.size, 'png');
    const id = library.newUploadId();
    await library.addUpload(id, png, 'png', 'public');
    const [vector] = [await embedLibrary(library, encoder.embedder, [id])];
    await addToIndex(handle, id, vector);
    expect(handle.current).toBe(before); // same index object: no rebuild
    expect(handle.size).toBe(catalogue.count + 1);
    const hits = handle.search(vector, 2).map((h) => h.id);
    expect(hits).toContain(id);
    expect(hits).toContain(catalogue.id(7)); // its twin in the catalogue
  });

  it('rebuilds and swaps while searches go on, keeps uploads that arrive mid-build, and saves', async () => {
    const library = await ImageLibrary.open(catalogue, { uploadsDir: join(dir, 'u3') });
    // The service starts on an old index holding only the first half of the catalogue.
    const half = library.ids().slice(0, 120);
    const old = await buildIndex(library, encoder.embedder, half);
    const handle = new SwappableIndex(old);
    const query = (await embedLibrary(library, encoder.embedder, [catalogue.id(200)])).slice();
    const indexDir = join(dir, 'index');
    const deps = {
      library,
      encoder,
      index: handle,
      indexDir,
      catalogueKey: catalogueKey(catalogue, 3),
      build: { batchSize: 16 },
    };
    const seen: Array<{ size: number; ids: string[] }> = [];
    let building = true;
    const searching = (async () => {
      while (building) {
        const hits = handle.search(query, 5);
        seen.push({ size: handle.size, ids: hits.map((h) => String(h.id)) });
        await yieldToLoop();
      }
    })();
    const job = runIndexing(deps, { progress: async () => {}, signal: new AbortController().signal });
    // An upload in the middle of the build.
    await new Promise((r) => setTimeout(r, 30));
    const id = library.newUploadId();
    await library.addUpload(
      id,
      await encodeImage(catalogue.pixels(3), catalogue.size, 'png'),
      'png',
      'public',
    );
    await addToIndex(handle, id, await embedLibrary(library, encoder.embedder, [id]));
    const result = await job;
    building = false;
    await searching;

    expect(result.items).toBe(catalogue.count + 1);
    expect(handle.current).not.toBe(old);
    expect(handle.has(id)).toBe(true);
    expect(handle.has(catalogue.id(239))).toBe(true);
    // Searches were answered during the build, first by the old index (only its ids), then the new.
    const during = seen.filter((s) => s.size <= 121);
    expect(during.length).toBeGreaterThan(3);
    for (const s of during) {
      expect(s.ids).toHaveLength(5);
      for (const hit of s.ids) expect(half.includes(hit) || hit === id).toBe(true);
    }
    const sizes = seen.map((s) => s.size);
    expect(sizes).toEqual([...sizes].sort((a, b) => a - b)); // never back to the old index
    expect(handle.search(query, 1)[0].id).toBe(catalogue.id(200)); // found only by the new index

    // The saved build is reused for this model and catalogue, and refused for another model.
    const saved = await loadSavedIndex(indexDir, {
      modelVersion: encoder.version,
      catalogue: deps.catalogueKey,
    });
    expect(saved?.index.size).toBe(catalogue.count + 1);
    expect(saved?.index.search(query, 3).map((h) => h.id)).toEqual(handle.search(query, 3).map((h) => h.id));
    expect(
      await loadSavedIndex(indexDir, { modelVersion: 'other', catalogue: deps.catalogueKey }),
    ).toBeUndefined();
    expect((await readdir(indexDir)).filter((f) => f.startsWith('build-'))).toHaveLength(1);
  });

  it('runs as a job on the in-process runner', async () => {
    const library = await ImageLibrary.open(catalogue, { uploadsDir: join(dir, 'u4') });
    const handle = new SwappableIndex(
      new HnswIndex({ dimension: encoder.embedder.dimension, metric: 'cosine' }),
    );
    const runner = new InProcessJobRunner({
      jobs: [createIndexingJob({ library, encoder, index: handle, catalogueKey: 'c' })],
    });
    await runner.start();
    try {
      const info = await runner.enqueue(INDEXING_JOB, { reason: 'test' });
      const done = await runner.waitFor(INDEXING_JOB, info.id, 60_000);
      expect(done.state).toBe('completed');
      expect(done.result).toMatchObject({ items: catalogue.count, modelVersion: encoder.version });
      expect(handle.size).toBe(catalogue.count);
    } finally {
      await runner.close();
    }
  });
});
