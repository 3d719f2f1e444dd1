/**
 * Data for visual search: the generated product catalogue and the collection type every part of the
 * app reads images through (the loaders for users' folders, IDX and CSV files live in loaders.ts).
 *
 * The generated catalogue stands in for a marketplace's product photos. Each image shows one object
 * whose identity is three attributes (what the book would call the product): a shape (the product
 * type), a body colour and a surface pattern. Everything else about the photo is pose and noise that
 * a good embedding must ignore: size, rotation, position, the pattern's phase, the background, the
 * lighting (brightness, a gradient across the scene, a warm or cold colour cast), Gaussian sensor
 * noise, and sometimes an occluding rectangle over part of the object. Images are rendered in
 * TypeScript into an RGB raster on demand (nothing is stored but the attributes), so a catalogue of
 * any size costs a few bytes per image until it is drawn.
 *
 * The oracle is the graded relevance between two images (0-5, {@link relevanceOf}), computed from
 * the identity attributes only: it is what nDCG is measured against.
 */
import { AliasTable, createRng, type Rng } from '@mlsd/core';
import sharp from 'sharp';

// 1. The collection every part of the app reads

/**
 * A set of same-sized RGB images with a relevance oracle between any two of them: the generated
 * catalogue, or a user's data set (folder of class folders, IDX, CSV).
 */
export interface ImageCollection {
  /** Short name for reports, e.g. `generated-catalogue` or the folder name. */
  readonly name: string;
  readonly source: 'generated' | 'user';
  readonly count: number;
  /** Pixels per side of every image (images are square). */
  readonly size: number;
  /** Highest relevance {@link relevance} returns (5 generated, 1 for class labels). */
  readonly maxRelevance: number;
  /** Relevance at or above which an item counts as relevant for the binary metrics (mAP, MRR, recall). */
  readonly relevantAt: number;
  /** Stable string id of image i (file name, `img-000123`, ...). */
  id(i: number): string;
  /**
   * Image i as RGB bytes, row-major, 3 bytes per pixel, `size * size * 3` long. Writes into `out`
   * when given (and returns it), so batch loops allocate nothing.
   */
  pixels(i: number, out?: Uint8Array): Uint8Array;
  /** Graded relevance of image b to query image a, symmetric, in [0, maxRelevance]. */
  relevance(a: number, b: number): number;
  /** Label for stratified splits (the product or the class), when there is one. */
  label(i: number): number;
  /**
   * Optional fast path: the relevance of every image in `items` to query `q`, written to `out`
   * (evaluation calls it once per query over the whole catalogue).
   */
  relevanceRow?(q: number, items: ArrayLike<number>, out: Uint8Array): Uint8Array;
}

// 2. Vocabulary of the generated world

/** Product types, drawn as shapes that stay distinct under any rotation. */
export const SHAPES = [
  'circle',
  'square',
  'triangle',
  'hexagon',
  'star',
  'ring',
  'cross',
  'heart',
  'crescent',
  'bar',
] as const;
/** Some product types are more common than others. */
const SHAPE_WEIGHTS = [1.4, 1.3, 1.0, 0.8, 1.0, 0.9, 0.7, 1.1, 0.6, 1.2];

/** Body colours, with their sRGB values. */
export const COLOURS = [
  { name: 'red', rgb: [210, 40, 40] },
  { name: 'orange', rgb: [240, 135, 30] },
  { name: 'yellow', rgb: [235, 205, 40] },
  { name: 'green', rgb: [45, 150, 60] },
  { name: 'teal', rgb: [30, 150, 150] },
  { name: 'blue', rgb: [40, 85, 205] },
  { name: 'purple', rgb: [125, 55, 185] },
  { name: 'pink', rgb: [235, 115, 175] },
  { name: 'brown', rgb: [125, 75, 40] },
  { name: 'black', rgb: [35, 35, 38] },
  { name: 'grey', rgb: [135, 135, 140] },
  { name: 'white', rgb: [238, 238, 232] },
] as const;
const COLOUR_WEIGHTS = [1.0, 0.7, 0.6, 0.8, 0.5, 1.0, 0.6, 0.7, 0.6, 1.2, 0.9, 1.0];

/** Pairs of colours a shopper would call "nearly the same" (the relevance grades use them). */
const NEIGHBOUR_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['red', 'orange'],
  ['red', 'pink'],
  ['red', 'brown'],
  ['orange', 'yellow'],
  ['orange', 'brown'],
  ['yellow', 'green'],
  ['green', 'teal'],
  ['teal', 'blue'],
  ['blue', 'purple'],
  ['purple', 'pink'],
  ['black', 'grey'],
  ['grey', 'white'],
];

export const PATTERNS = ['solid', 'stripes', 'dots', 'checks'] as const;
const PATTERN_WEIGHTS = [1.6, 1.0, 0.8, 0.7];

export type Shape = (typeof SHAPES)[number];
export type Pattern = (typeof PATTERNS)[number];

/** What a product is: the attributes relevance is computed from. Indices into the vocabularies. */
export interface ProductAttributes {
  shape: number;
  colour: number;
  pattern: number;
}

const NEIGHBOURS: boolean[][] = (() => {
  const n = COLOURS.length;
  const m = Array.from({ length: n }, () => new Array<boolean>(n).fill(false));
  const index = (name: string) => COLOURS.findIndex((c) => c.name === name);
  for (const [a, b] of NEIGHBOUR_PAIRS) {
    m[index(a)][index(b)] = true;
    m[index(b)][index(a)] = true;
  }
  return m;
})();

/** True when two colour indices are neighbours (never true of a colour with itself). */
export function neighbourColours(a: number, b: number): boolean {
  return NEIGHBOURS[a][b];
}

/**
 * Graded relevance (0-5) of product b to a query showing product a. Product type dominates (nothing
 * of another shape scores above 1), colour comes next, then pattern:
 *
 * | grade | shape | colour | pattern |
 * |---|---|---|---|
 * | 5 | same | same | same (pose, lighting, noise and occlusion may all differ) |
 * | 4 | same | same | different |
 * | 3 | same | neighbouring | same |
 * | 2 | same | neighbouring, or other | different, or same |
 * | 1 | same, or other | other, or same | different, or same |
 * | 0 | anything else | | |
 *
 * Spelled out: 2 is the same shape with a neighbouring colour and another pattern, or the same shape
 * and pattern in an unrelated colour; 1 is the same shape alone, or another shape in the same colour
 * and pattern. Symmetric by construction (the colour neighbourhood is symmetric).
 */
export function relevanceOf(a: ProductAttributes, b: ProductAttributes): number {
  const samePattern = a.pattern === b.pattern;
  const sameColour = a.colour === b.colour;
  if (a.shape === b.shape) {
    if (sameColour) return samePattern ? 5 : 4;
    if (neighbourColours(a.colour, b.colour)) return samePattern ? 3 : 2;
    return samePattern ? 2 : 1;
  }
  return sameColour && samePattern ? 1 : 0;
}

// 3. Pose: everything about a photo that is not the product

export type BackgroundKind = 'plain' | 'gradient' | 'tinted';

/** How one photo of a product was taken. Positions and sizes are fractions of the image side. */
export interface Pose {
  /** Radius of the object's bounding circle. */
  size: number;
  /** Radians. */
  rotation: number;
  /** Centre of the object. */
  centreX: number;
  centreY: number;
  /** Offset of the pattern in the object's own frame, in [0, 1). */
  patternPhase: [number, number];
  background: { kind: BackgroundKind; top: [number, number, number]; bottom: [number, number, number] };
  /** Multiplies every pixel; 1 is neutral. */
  brightness: number;
  /** A linear light gradient across the scene: direction (radians) and strength (0 = flat). */
  lightAngle: number;
  lightStrength: number;
  /** Warm (> 0) or cold (< 0) colour cast: red times 1 + cast, blue times 1 - cast. */
  colourCast: number;
  /** Standard deviation of the Gaussian sensor noise, in 0-255 units. */
  noiseSd: number;
  /** A rectangle in front of the object, or null. Fractions of the image side. */
  occluder: { x0: number; y0: number; x1: number; y1: number; rgb: [number, number, number] } | null;
  /** Seed of the per-pixel noise. */
  noiseSeed: number;
}

// 4. The catalogue

export interface CatalogueOptions {
  seed: number;
  /** Number of images. */
  count: number;
  /** Pixels per side of a rendered image (64 by default; any size renders the same scene). */
  size: number;
  /** Share of photos with an occluding rectangle. */
  occlusionRate: number;
  /** Upper bound of the sensor noise standard deviation (0-255 units); each photo draws below it. */
  maxNoiseSd: number;
}

/** The default catalogue: 20,000 images of 64 x 64 pixels. */
export const DEFAULT_CATALOGUE: CatalogueOptions = {
  seed: 42,
  count: 20_000,
  size: 64,
  occlusionRate: 0.2,
  maxNoiseSd: 10,
};

/** A small catalogue for tests. */
export const SMALL_CATALOGUE: CatalogueOptions = { ...DEFAULT_CATALOGUE, count: 600 };

function checkCatalogueOptions(o: CatalogueOptions): CatalogueOptions {
  if (!Number.isInteger(o.count) || o.count < 1)
    throw new RangeError(`count: expected an integer >= 1, got ${o.count}`);
  if (!Number.isInteger(o.size) || o.size < 8 || o.size > 1024)
    throw new RangeError(`size: expected an integer in [8, 1024], got ${o.size}`);
  if (!(o.occlusionRate >= 0 && o.occlusionRate <= 1))
    throw new RangeError(`occlusionRate: expected a number in [0, 1], got ${o.occlusionRate}`);
  if (!(o.maxNoiseSd >= 0 && o.maxNoiseSd <= 100))
    throw new RangeError(`maxNoiseSd: expected a number in [0, 100], got ${o.maxNoiseSd}`);
  return o;
}

function paleColour(rng: Rng, lo: number, hi: number): [number, number, number] {
  const base = rng.uniform(lo, hi);
  return [base + rng.uniform(-8, 8), base + rng.uniform(-8, 8), base + rng.uniform(-8, 8)];
}

function drawPose(rng: Rng, o: CatalogueOptions): Pose {
  const size = rng.uniform(0.2, 0.36);
  const margin = size + 0.03;
  const kind = (['plain', 'plain', 'gradient', 'tinted'] as const)[rng.int(4)];
  let top: [number, number, number];
  let bottom: [number, number, number];
  if (kind === 'plain') {
    top = paleColour(rng, 200, 250);
    bottom = top;
  } else if (kind === 'gradient') {
    top = paleColour(rng, 215, 250);
    bottom = paleColour(rng, 150, 210);
  } else {
    // A pale tint of a random body colour: the background can carry a colour of its own.
    const c = COLOURS[rng.int(COLOURS.length)].rgb;
    const w = rng.uniform(0.55, 0.8);
    top = [c[0] + w * (250 - c[0]), c[1] + w * (250 - c[1]), c[2] + w * (250 - c[2])];
    bottom = top;
  }
  const centreX = rng.uniform(margin, 1 - margin);
  const centreY = rng.uniform(margin, 1 - margin);
  let occluder: Pose['occluder'] = null;
  if (rng.bernoulli(o.occlusionRate)) {
    const w = size * 2 * rng.uniform(0.25, 0.5);
    const h = size * 2 * rng.uniform(0.25, 0.5);
    // The rectangle's centre lies on the object, so it really hides part of it.
    const angle = rng.uniform(0, 2 * Math.PI);
    const dist = rng.uniform(0.3, 0.9) * size;
    const x = centreX + dist * Math.cos(angle);
    const y = centreY + dist * Math.sin(angle);
    const shade = rng.uniform(60, 200);
    occluder = {
      x0: x - w / 2,
      y0: y - h / 2,
      x1: x + w / 2,
      y1: y + h / 2,
      rgb: rng.bernoulli(0.6)
        ? [shade, shade, shade]
        : ([...COLOURS[rng.int(COLOURS.length)].rgb] as [number, number, number]),
    };
  }
  return {
    size,
    rotation: rng.uniform(-0.5, 0.5),
    centreX,
    centreY,
    patternPhase: [rng.float(), rng.float()],
    background: { kind, top, bottom },
    brightness: rng.uniform(0.75, 1.15),
    lightAngle: rng.uniform(0, 2 * Math.PI),
    lightStrength: rng.uniform(0, 0.35),
    colourCast: rng.uniform(-0.06, 0.06),
    noiseSd: rng.uniform(0.5, Math.max(0.5, o.maxNoiseSd)),
    occluder,
    noiseSeed: rng.int(2 ** 32),
  };
}

/**
 * The generated product catalogue: identity attributes and a pose per image, rendered on demand.
 * Deterministic: the same options give the same attributes, poses and pixels, byte for byte.
 */
export class ProductCatalogue implements ImageCollection {
  readonly name = 'generated-catalogue';
  readonly source = 'generated' as const;
  readonly maxRelevance = 5;
  /** Same shape and colour: the product a shopper asked for, in any pattern. */
  readonly relevantAt = 4;
  readonly options: CatalogueOptions;
  readonly count: number;
  readonly size: number;
  readonly shape: Uint8Array;
  readonly colour: Uint8Array;
  readonly pattern: Uint8Array;
  readonly poses: Pose[];

  constructor(options: Partial<CatalogueOptions> = {}) {
    const o = checkCatalogueOptions({ ...DEFAULT_CATALOGUE, ...options });
    this.options = o;
    this.count = o.count;
    this.size = o.size;
    const root = createRng(o.seed);
    const attributes = root.fork('attributes');
    const shapes = new AliasTable(SHAPE_WEIGHTS);
    const colours = new AliasTable(COLOUR_WEIGHTS);
    const patterns = new AliasTable(PATTERN_WEIGHTS);
    this.shape = new Uint8Array(o.count);
    this.colour = new Uint8Array(o.count);
    this.pattern = new Uint8Array(o.count);
    for (let i = 0; i < o.count; i++) {
      this.shape[i] = shapes.sample(attributes);
      this.colour[i] = colours.sample(attributes);
      this.pattern[i] = patterns.sample(attributes);
    }
    const poses = root.fork('poses');
    this.poses = new Array<Pose>(o.count);
    for (let i = 0; i < o.count; i++) this.poses[i] = drawPose(poses, o);
  }

  id(i: number): string {
    this.check(i);
    return `img-${String(i).padStart(6, '0')}`;
  }

  /** Index of an id made by {@link id}, or -1. */
  indexOf(id: string): number {
    const m = /^img-(\d{6,})$/.exec(id);
    if (!m) return -1;
    const i = Number(m[1]);
    return i < this.count ? i : -1;
  }

  attributes(i: number): ProductAttributes {
    this.check(i);
    return { shape: this.shape[i], colour: this.colour[i], pattern: this.pattern[i] };
  }

  /** A human-readable description, e.g. `red striped heart`. */
  describe(i: number): string {
    const a = this.attributes(i);
    const p = PATTERNS[a.pattern];
    const adjective =
      p === 'solid' ? '' : p === 'stripes' ? 'striped ' : p === 'dots' ? 'dotted ' : 'checked ';
    return `${COLOURS[a.colour].name} ${adjective}${SHAPES[a.shape]}`;
  }

  /** Product index: one per (shape, colour, pattern) combination. */
  label(i: number): number {
    this.check(i);
    return (this.shape[i] * COLOURS.length + this.colour[i]) * PATTERNS.length + this.pattern[i];
  }

  relevance(a: number, b: number): number {
    return relevanceOf(this.attributes(a), this.attributes(b));
  }

  relevanceRow(q: number, items: ArrayLike<number>, out: Uint8Array): Uint8Array {
    const a = this.attributes(q);
    const b: ProductAttributes = { shape: 0, colour: 0, pattern: 0 };
    for (let k = 0; k < items.length; k++) {
      const i = items[k];
      this.check(i);
      b.shape = this.shape[i];
      b.colour = this.colour[i];
      b.pattern = this.pattern[i];
      out[k] = relevanceOf(a, b);
    }
    return out;
  }

  pixels(i: number, out?: Uint8Array): Uint8Array {
    this.check(i);
    return renderProduct(this.attributes(i), this.poses[i], this.size, out);
  }

  /** Image i rendered at another resolution (the same scene, sampled more or less finely). */
  pixelsAt(i: number, size: number, out?: Uint8Array): Uint8Array {
    this.check(i);
    return renderProduct(this.attributes(i), this.poses[i], size, out);
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.count)
      throw new RangeError(`image index: expected an integer in [0, ${this.count}), got ${i}`);
  }
}

/** Generates the catalogue (attributes and poses; pixels are rendered when asked for). */
export function generateCatalogue(options: Partial<CatalogueOptions> = {}): ProductCatalogue {
  return new ProductCatalogue(options);
}

// 5. Rendering

type Inside = (u: number, v: number) => boolean;

function polygonInside(points: ReadonlyArray<readonly [number, number]>): Inside {
  const xs = Float64Array.from(points, (p) => p[0]);
  const ys = Float64Array.from(points, (p) => p[1]);
  const n = points.length;
  return (u, v) => {
    // Even-odd rule.
    let inside = false;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      if (ys[i] > v !== ys[j] > v && u < ((xs[j] - xs[i]) * (v - ys[i])) / (ys[j] - ys[i]) + xs[i])
        inside = !inside;
    }
    return inside;
  };
}

function regular(n: number, radius: number, start: number): Array<[number, number]> {
  return Array.from({ length: n }, (_, k) => {
    const a = start + (2 * Math.PI * k) / n;
    return [radius * Math.cos(a), radius * Math.sin(a)] as [number, number];
  });
}

function star(points: number, outer: number, inner: number): Array<[number, number]> {
  return Array.from({ length: 2 * points }, (_, k) => {
    const a = -Math.PI / 2 + (Math.PI * k) / points;
    const r = k % 2 === 0 ? outer : inner;
    return [r * Math.cos(a), r * Math.sin(a)] as [number, number];
  });
}

/**
 * Inside tests in the object's own frame: unit radius, y pointing down as in the image. Each shape
 * fills its unit circle to a similar extent so that size does not give the type away.
 */
const SHAPE_INSIDE: Record<Shape, Inside> = {
  circle: (u, v) => u * u + v * v <= 0.9,
  square: (u, v) => Math.abs(u) <= 0.75 && Math.abs(v) <= 0.75,
  triangle: polygonInside(regular(3, 1, -Math.PI / 2)),
  hexagon: polygonInside(regular(6, 0.98, 0)),
  star: polygonInside(star(5, 1, 0.45)),
  ring: (u, v) => {
    const r2 = u * u + v * v;
    return r2 <= 0.95 && r2 >= 0.3;
  },
  cross: (u, v) => {
    const au = Math.abs(u);
    const av = Math.abs(v);
    return (au <= 0.32 && av <= 0.95) || (av <= 0.32 && au <= 0.95);
  },
  heart: (u, v) => {
    const x = u * 1.15;
    const y = -v * 1.15 + 0.12;
    const a = x * x + y * y - 1;
    return a * a * a - x * x * y * y * y <= 0;
  },
  crescent: (u, v) => {
    const dx = u - 0.42;
    const dy = v + 0.22;
    return u * u + v * v <= 0.95 && dx * dx + dy * dy >= 0.55;
  },
  bar: (u, v) => Math.abs(u) <= 0.97 && Math.abs(v) <= 0.4,
};

/** Pattern ink: a darker shade of light colours, a lighter one of dark colours. */
function inkOf(rgb: readonly number[]): [number, number, number] {
  const luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
  if (luma > 140) return [rgb[0] * 0.35, rgb[1] * 0.35, rgb[2] * 0.35];
  return [rgb[0] + 0.6 * (255 - rgb[0]), rgb[1] + 0.6 * (255 - rgb[1]), rgb[2] + 0.6 * (255 - rgb[2])];
}

/** True where the pattern's ink shows, at a point of the object's frame. */
function patternInk(pattern: Pattern, u: number, v: number, pu: number, pv: number): boolean {
  switch (pattern) {
    case 'solid':
      return false;
    case 'stripes': {
      const t = v * 2.6 + pv;
      return t - Math.floor(t) < 0.45;
    }
    case 'dots': {
      const a = u * 2.2 + pu;
      const b = v * 2.2 + pv;
      const fu = a - Math.floor(a) - 0.5;
      const fv = b - Math.floor(b) - 0.5;
      return fu * fu + fv * fv <= 0.09;
    }
    case 'checks':
      return (Math.floor(u * 2.4 + pu) + Math.floor(v * 2.4 + pv)) % 2 === 0;
  }
}

/** mulberry32: a tiny per-image stream for the sensor noise (millions of draws per catalogue). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let normalTable: Float32Array | undefined;

/**
 * 65,536 standard normal draws (Box-Muller on a fixed stream), built on first use: the sensor noise
 * picks from it with a per-image stream, which is as Gaussian as needed and many times faster than
 * a logarithm and two trigonometric calls per channel.
 */
function gaussianTable(): Float32Array {
  if (normalTable) return normalTable;
  const random = mulberry32(0x5eed);
  const t = new Float32Array(65_536);
  for (let i = 0; i < t.length; i += 2) {
    const u1 = 1 - random();
    const u2 = random();
    const m = Math.sqrt(-2 * Math.log(u1));
    t[i] = m * Math.cos(2 * Math.PI * u2);
    t[i + 1] = m * Math.sin(2 * Math.PI * u2);
  }
  normalTable = t;
  return t;
}

/** Sub-pixel sample offsets (2 x 2) for anti-aliased edges. */
const SUBSAMPLES = [-0.25, 0.25];

/**
 * Renders one product photo into an RGB raster of `size` x `size` pixels. The scene is described
 * in fractions of the image side, so any resolution shows the same photo.
 */
export function renderProduct(
  attributes: ProductAttributes,
  pose: Pose,
  size: number,
  out?: Uint8Array,
): Uint8Array {
  const n = size * size * 3;
  if (out && out.length !== n) throw new RangeError(`out: expected ${n} bytes, got ${out.length}`);
  const img = new Float32Array(n);
  const { top, bottom } = pose.background;
  // 5a. Background.
  for (let y = 0; y < size; y++) {
    const t = (y + 0.5) / size;
    const r = top[0] + t * (bottom[0] - top[0]);
    const g = top[1] + t * (bottom[1] - top[1]);
    const b = top[2] + t * (bottom[2] - top[2]);
    for (let x = 0; x < size; x++) {
      const p = (y * size + x) * 3;
      img[p] = r;
      img[p + 1] = g;
      img[p + 2] = b;
    }
  }
  // 5b. The object, 4 samples per pixel inside its bounding box.
  const inside = SHAPE_INSIDE[SHAPES[attributes.shape]];
  const body = COLOURS[attributes.colour].rgb;
  const ink = inkOf(body);
  const pattern = PATTERNS[attributes.pattern];
  const radius = pose.size * size;
  const cx = pose.centreX * size;
  const cy = pose.centreY * size;
  const cos = Math.cos(pose.rotation);
  const sin = Math.sin(pose.rotation);
  const [pu, pv] = pose.patternPhase;
  const x0 = Math.max(0, Math.floor(cx - radius * 1.05));
  const x1 = Math.min(size - 1, Math.ceil(cx + radius * 1.05));
  const y0 = Math.max(0, Math.floor(cy - radius * 1.05));
  const y1 = Math.min(size - 1, Math.ceil(cy + radius * 1.05));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      let covered = 0;
      let r = 0;
      let g = 0;
      let b = 0;
      for (let sy = 0; sy < 2; sy++) {
        const oy = SUBSAMPLES[sy];
        for (let sx = 0; sx < 2; sx++) {
          const ox = SUBSAMPLES[sx];
          const dx = (x + 0.5 + ox - cx) / radius;
          const dy = (y + 0.5 + oy - cy) / radius;
          const u = dx * cos + dy * sin;
          const v = -dx * sin + dy * cos;
          if (!inside(u, v)) continue;
          covered++;
          const c = patternInk(pattern, u, v, pu, pv) ? ink : body;
          r += c[0];
          g += c[1];
          b += c[2];
        }
      }
      if (covered === 0) continue;
      const p = (y * size + x) * 3;
      const keep = 1 - covered / 4;
      img[p] = img[p] * keep + r / 4;
      img[p + 1] = img[p + 1] * keep + g / 4;
      img[p + 2] = img[p + 2] * keep + b / 4;
    }
  }
  // 5c. The occluder, in front of the object.
  const occ = pose.occluder;
  if (occ) {
    const ox0 = Math.max(0, Math.round(occ.x0 * size));
    const ox1 = Math.min(size, Math.round(occ.x1 * size));
    const oy0 = Math.max(0, Math.round(occ.y0 * size));
    const oy1 = Math.min(size, Math.round(occ.y1 * size));
    for (let y = oy0; y < oy1; y++) {
      for (let x = ox0; x < ox1; x++) {
        const p = (y * size + x) * 3;
        img[p] = occ.rgb[0];
        img[p + 1] = occ.rgb[1];
        img[p + 2] = occ.rgb[2];
      }
    }
  }
  // 5d. Lighting (brightness, gradient, colour cast) and sensor noise, then 8-bit quantisation.
  const result = out ?? new Uint8Array(n);
  const lx = Math.cos(pose.lightAngle);
  const ly = Math.sin(pose.lightAngle);
  const random = mulberry32(pose.noiseSeed);
  const normals = gaussianTable();
  const mask = normals.length - 1;
  const sd = pose.noiseSd;
  const castR = 1 + pose.colourCast;
  const castB = 1 - pose.colourCast;
  const gaussian = (): number => normals[(random() * 4294967296) & mask];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const along = ((x + 0.5) / size - 0.5) * lx + ((y + 0.5) / size - 0.5) * ly;
      const light = pose.brightness * (1 + 2 * pose.lightStrength * along);
      const p = (y * size + x) * 3;
      result[p] = clampByte(img[p] * light * castR + sd * gaussian());
      result[p + 1] = clampByte(img[p + 1] * light + sd * gaussian());
      result[p + 2] = clampByte(img[p + 2] * light * castB + sd * gaussian());
    }
  }
  return result;
}

function clampByte(x: number): number {
  return x <= 0 ? 0 : x >= 255 ? 255 : Math.round(x);
}

// 6. Encoding for files and HTTP

export type ImageFormat = 'png' | 'jpeg' | 'webp';

/**
 * Encodes an RGB raster as a real image file through sharp. PNG is lossless (decoding it gives the
 * raster back, byte for byte); JPEG and WebP are lossy at `quality`.
 */
export async function encodeImage(
  pixels: Uint8Array,
  size: number,
  format: ImageFormat = 'png',
  quality = 90,
): Promise<Buffer> {
  if (pixels.length !== size * size * 3)
    throw new RangeError(
      `pixels: expected ${size * size * 3} bytes for ${size} x ${size} RGB, got ${pixels.length}`,
    );
  const img = sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.length), {
    raw: { width: size, height: size, channels: 3 },
  });
  if (format === 'png') return img.png().toBuffer();
  if (format === 'jpeg') return img.jpeg({ quality }).toBuffer();
  if (format === 'webp') return img.webp({ quality }).toBuffer();
  throw new TypeError(`format: expected 'png', 'jpeg' or 'webp', got ${String(format)}`);
}
