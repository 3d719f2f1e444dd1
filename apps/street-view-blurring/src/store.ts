/**
 * Where the batch pipeline keeps images between its stages, on disk under one folder, so both
 * stages can run in different processes (BullMQ workers on one machine share it):
 *
 *   originals/<id>      the uploaded bytes (deleted after processing unless retention is on)
 *   working/<id>.rgb    the decoded, validated, resized raster between the two stages (always deleted)
 *   blurred/<id>.png    the only version ever served
 *   status/<id>.json    the final record of an image: completed (sizes, detections) or failed (reason)
 *   reports/<id>.json   user reports of a missed or wrong blur
 *   hard/<image id>     the original of a reported image, kept as a hard example for retraining
 *
 * Every write goes to a temporary file first and is renamed into place, so a reader never sees half
 * a file and a crash leaves nothing behind that looks complete.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObjectClass } from './data.js';
import type { RgbImage, XywhBox } from './raster.js';

/** Ids the store hands out and accepts: `img-` or `rep-` and 24 hex digits. */
const ID = /^(img|rep)-[0-9a-f]{24}$/;

export function newId(kind: 'img' | 'rep'): string {
  return `${kind}-${randomBytes(12).toString('hex')}`;
}

/** True when `id` has the shape of an id this store hands out (anything else is unknown). */
export function isStoreId(id: unknown, kind: 'img' | 'rep' = 'img'): id is string {
  return typeof id === 'string' && ID.test(id) && id.startsWith(kind);
}

/** What the pipeline found in one image and what it did. */
export interface CompletedRecord {
  id: string;
  state: 'completed';
  width: number;
  height: number;
  /** Source size before the preprocessing stage's resize. */
  sourceWidth: number;
  sourceHeight: number;
  detections: { box: XywhBox; label: ObjectClass; score: number }[];
  /** Boxes blurred after a user reported them missing. */
  reportedBlurs?: { box: XywhBox; label: ObjectClass }[];
  originalRetained: boolean;
  finishedAt: string;
}

export interface FailedRecord {
  id: string;
  state: 'failed';
  stage: 'preprocess' | 'detect-blur';
  reason: string;
  /** The error's code when it is an input error (not-an-image, truncated, too-large, too-small). */
  code?: string;
  finishedAt: string;
}

export type FinalRecord = CompletedRecord | FailedRecord;

/** A user's report of a missed blur (an object left visible) or a wrong one (a blurred non-object). */
export interface ReportRecord {
  id: string;
  imageId: string;
  kind: 'missed' | 'wrong';
  label: ObjectClass;
  /** In the image's pixels (the blurred image the user saw). */
  box: XywhBox;
  createdAt: string;
  /** True when the original was kept, so the report can become a training example. */
  usable: boolean;
  /** Why the report cannot be trained on, when it cannot. */
  note?: string;
}

export class ImageStore {
  private constructor(readonly root: string) {}

  /** Opens (and creates) a store under `root`. */
  static async open(root: string): Promise<ImageStore> {
    for (const d of ['originals', 'working', 'blurred', 'status', 'reports', 'hard']) {
      await mkdir(join(root, d), { recursive: true });
    }
    return new ImageStore(root);
  }

  private path(dir: string, id: string, ext = ''): string {
    // Ids come from requests: only the store's own id shape may become a file name.
    if (!ID.test(id)) throw new RangeError(`id: expected an id of this store, got ${JSON.stringify(id)}`);
    return join(this.root, dir, `${id}${ext}`);
  }

  private async atomicWrite(file: string, data: Uint8Array | string): Promise<void> {
    const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
    await writeFile(tmp, data);
    await rename(tmp, file);
  }

  private async readOrUndefined(file: string): Promise<Buffer | undefined> {
    try {
      return await readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async putOriginal(id: string, bytes: Uint8Array): Promise<void> {
    await this.atomicWrite(this.path('originals', id), bytes);
  }

  readOriginal(id: string): Promise<Buffer | undefined> {
    return this.readOrUndefined(this.path('originals', id));
  }

  async deleteOriginal(id: string): Promise<void> {
    await rm(this.path('originals', id), { force: true });
  }

  /** The decoded raster between the stages: 8 bytes of width and height, then RGB. */
  async putWorking(id: string, image: RgbImage): Promise<void> {
    const out = new Uint8Array(8 + image.data.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, image.width, true);
    view.setUint32(4, image.height, true);
    out.set(image.data, 8);
    await this.atomicWrite(this.path('working', id, '.rgb'), out);
  }

  async readWorking(id: string): Promise<RgbImage | undefined> {
    const buf = await this.readOrUndefined(this.path('working', id, '.rgb'));
    if (!buf) return undefined;
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const width = view.getUint32(0, true);
    const height = view.getUint32(4, true);
    if (buf.byteLength !== 8 + width * height * 3) {
      throw new RangeError(
        `working/${id}.rgb: expected ${8 + width * height * 3} bytes, got ${buf.byteLength}`,
      );
    }
    return { width, height, data: new Uint8Array(buf.buffer, buf.byteOffset + 8, width * height * 3) };
  }

  async deleteWorking(id: string): Promise<void> {
    await rm(this.path('working', id, '.rgb'), { force: true });
  }

  async putBlurred(id: string, png: Uint8Array): Promise<void> {
    await this.atomicWrite(this.path('blurred', id, '.png'), png);
  }

  readBlurred(id: string): Promise<Buffer | undefined> {
    return this.readOrUndefined(this.path('blurred', id, '.png'));
  }

  async putFinal(record: FinalRecord): Promise<void> {
    await this.atomicWrite(this.path('status', record.id, '.json'), `${JSON.stringify(record)}\n`);
  }

  async readFinal(id: string): Promise<FinalRecord | undefined> {
    const buf = await this.readOrUndefined(this.path('status', id, '.json'));
    return buf ? (JSON.parse(buf.toString('utf8')) as FinalRecord) : undefined;
  }

  async putReport(report: ReportRecord): Promise<void> {
    await this.atomicWrite(this.path('reports', report.id, '.json'), `${JSON.stringify(report)}\n`);
  }

  /** Every stored report, oldest first. */
  async reports(): Promise<ReportRecord[]> {
    const files = (await readdir(join(this.root, 'reports'))).filter((f) => f.endsWith('.json'));
    const out: ReportRecord[] = [];
    for (const f of files) out.push(JSON.parse(await readFile(join(this.root, 'reports', f), 'utf8')));
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** Keeps a copy of an original as a hard example (once per image). */
  async putHardExample(imageId: string, bytes: Uint8Array): Promise<void> {
    await this.atomicWrite(this.path('hard', imageId), bytes);
  }

  readHardExample(imageId: string): Promise<Buffer | undefined> {
    return this.readOrUndefined(this.path('hard', imageId));
  }

  /** Names of the files in one of the store's folders (for tests and clean-up checks). */
  async list(dir: 'originals' | 'working' | 'blurred' | 'status' | 'reports' | 'hard'): Promise<string[]> {
    return (await readdir(join(this.root, dir))).filter((f) => !f.includes('.tmp-')).sort();
  }
}
