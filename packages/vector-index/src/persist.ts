/**
 * The on-disk layout shared by the backends: a directory holding `meta.json` (kind, metric,
 * dimension, the id of every row or label, backend parameters) and binary files. A save is written
 * to a sibling temporary directory and renamed into place, so a reader never sees a half-written
 * index and a failed save leaves the previous one intact.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe } from './input.js';
import type { IndexKind, Metric, VectorId } from './types.js';

export const FORMAT = 'mlsd-vector-index';
export const FORMAT_VERSION = 1;

/** Contents of meta.json. */
export interface SavedMeta {
  format: typeof FORMAT;
  version: number;
  kind: IndexKind;
  metric: Metric;
  dimension: number;
  /** Id stored in each row (exact) or label (hnsw); null for a free label. */
  ids: (VectorId | null)[];
  params?: Record<string, number | string>;
}

/** Writes meta.json and the files written by `writeFiles` into `path`, replacing it as a whole. */
export async function writeIndexDir(
  path: string,
  meta: SavedMeta,
  writeFiles: (dir: string) => Promise<void>,
): Promise<void> {
  if (typeof path !== 'string' || path.length === 0)
    throw new TypeError(`path: expected a directory path, got ${describe(path)}`);
  const suffix = randomBytes(6).toString('hex');
  const tmp = `${path}.tmp-${suffix}`;
  const old = `${path}.old-${suffix}`;
  await mkdir(tmp, { recursive: true });
  try {
    await writeFiles(tmp);
    await writeFile(join(tmp, 'meta.json'), JSON.stringify(meta));
    let hadOld = false;
    try {
      await rename(path, old);
      hadOld = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await rename(tmp, path);
    if (hadOld) await rm(old, { recursive: true, force: true });
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Reads and checks meta.json of a saved index. */
export async function readMeta(path: string, expectedKind?: IndexKind): Promise<SavedMeta> {
  if (typeof path !== 'string' || path.length === 0)
    throw new TypeError(`path: expected a directory path, got ${describe(path)}`);
  let text: string;
  try {
    text = await readFile(join(path, 'meta.json'), 'utf8');
  } catch (err) {
    throw new Error(`path: no saved index at ${path} (${(err as Error).message})`);
  }
  const meta = JSON.parse(text) as SavedMeta;
  if (meta.format !== FORMAT || meta.version !== FORMAT_VERSION) {
    throw new RangeError(
      `path: ${path} is not a ${FORMAT} v${FORMAT_VERSION} directory (format ${meta.format}, version ${meta.version})`,
    );
  }
  if (expectedKind !== undefined && meta.kind !== expectedKind) {
    throw new RangeError(
      `path: expected a saved '${expectedKind}' index at ${path}, got a '${meta.kind}' index (use loadIndex)`,
    );
  }
  return meta;
}

export async function writeFloat32(file: string, data: Float32Array): Promise<void> {
  await writeFile(file, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

export async function readFloat32(file: string, expectedLength: number): Promise<Float32Array> {
  const buf = await readFile(file);
  if (buf.byteLength !== expectedLength * 4) {
    throw new RangeError(`${file}: expected ${expectedLength * 4} bytes, got ${buf.byteLength}`);
  }
  // Copy into an aligned buffer we own (Buffer may be a view into a shared pool).
  const out = new Float32Array(expectedLength);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

/** Total bytes of the files of a saved index. */
export async function savedBytes(path: string, files: string[]): Promise<number> {
  let total = 0;
  for (const f of files) total += (await stat(join(path, f))).size;
  return total;
}
