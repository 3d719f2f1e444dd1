/** Creating by backend name, and loading: the right class back, clear errors for wrong paths. */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExactIndex } from './exact-index.js';
import { HnswIndex } from './hnsw-index.js';
import { createIndex, loadIndex } from './load.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vector-index-load-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('createIndex and loadIndex', () => {
  it('creates the named backend', () => {
    expect(createIndex({ backend: 'exact', dimension: 3 })).toBeInstanceOf(ExactIndex);
    const hnsw = createIndex({ backend: 'hnsw', dimension: 3, metric: 'l2', M: 8, ef: 40 });
    expect(hnsw).toBeInstanceOf(HnswIndex);
    expect((hnsw as HnswIndex).parameters).toMatchObject({ M: 8, ef: 40, efConstruction: 200 });
    expect(() => createIndex({ backend: 'faiss', dimension: 3 } as never)).toThrow(
      /options.backend: expected 'exact' or 'hnsw', got faiss/,
    );
  });

  it('loads each backend as its own class with its parameters, and leaves no temporary files', async () => {
    const hnsw = new HnswIndex({ dimension: 2, metric: 'l2', M: 8, ef: 33, exactFilterCount: 5 });
    hnsw.add(
      ['a', 'b'],
      [
        [0, 1],
        [1, 0],
      ],
    );
    await hnsw.save(join(dir, 'h'));
    const loaded = await loadIndex(join(dir, 'h'));
    expect(loaded).toBeInstanceOf(HnswIndex);
    expect((loaded as HnswIndex).parameters).toMatchObject({ M: 8, ef: 33, exactFilterCount: 5 });
    await new ExactIndex({ dimension: 2 }).save(join(dir, 'e'));
    expect(await loadIndex(join(dir, 'e'))).toBeInstanceOf(ExactIndex);
    expect((await readdir(dir)).sort()).toEqual(['e', 'h']);
  });

  it('names the path and the problem when loading fails', async () => {
    await expect(loadIndex(join(dir, 'nothing'))).rejects.toThrow(/no saved index at .*nothing/);
    await new ExactIndex({ dimension: 2 }).save(join(dir, 'exact-only'));
    await expect(HnswIndex.load(join(dir, 'exact-only'))).rejects.toThrow(
      /expected a saved 'hnsw' index at .*, got a 'exact' index/,
    );
    const bogus = join(dir, 'bogus');
    await new ExactIndex({ dimension: 2 }).save(bogus);
    await writeFile(join(bogus, 'meta.json'), JSON.stringify({ format: 'other', version: 1 }));
    await expect(loadIndex(bogus)).rejects.toThrow(/is not a mlsd-vector-index v1 directory/);
  });
});
