/**
 * Data for street-view blurring: the generated world of street scenes, and (re-exported from
 * coco.ts) the loader for COCO-format detection data that users bring.
 *
 * A scene is a street seen from a car-mounted camera: sky, a row of facades with windows and shop
 * signs, a sidewalk with lamps and street signs, a road with lane marks, pedestrians and vehicles.
 * Sizes follow the camera's perspective (objects nearer the bottom are larger), so most faces are
 * small and a few are large, as in real street imagery. What makes the task hard in practice is kept:
 *  - faces in eight skin tones from very light to very dark, frontal and profile, some with
 *    glasses or hats, some hidden by vehicles, poles or other people; people seen from behind show
 *    hair and no face (a negative that is round and head-sized);
 *  - plates of four aspect ratios (EU 4.7:1, US 2:1, AU 2.6:1, square two-row 1.4:1) with dark glyph
 *    strokes on light panels, sheared and rolled by the viewing angle, from 3 pixels wide to large;
 *  - distractors that look like targets: shop and street signs with text, lit windows with
 *    mullions, crossing stripes, round lamps and headlights, skin-coloured brick facades;
 *  - lighting changes (gain, white balance, a side gradient, cast shadows), optional focus blur and
 *    sensor noise.
 * Ground truth comes from an owner map kept while painting: a box is the tight box of the object's
 * visible pixels, and its visibility is visible area / full area. Objects whose visible part is too
 * small or too hidden to be annotated by a person are listed in `ignored`, not in `objects`: the
 * honest counterpart of annotators skipping them.
 */
import { createRng, type Rng } from '@mlsd/core';
import { Canvas, type Rgb, type RgbImage, type XywhBox } from './raster.js';

export {
  type CocoCategoryMapping,
  type CocoDataset,
  type CocoImageRecord,
  type CocoIssue,
  type LoadCocoOptions,
  loadCocoDataset,
  type PreparedCocoImage,
  parseCategoryMapping,
  prepareCocoImages,
} from './coco.js';

// 1. Types

/** The two classes to blur. */
export const CLASSES = ['face', 'plate'] as const;
export type ObjectClass = (typeof CLASSES)[number];

/** One ground-truth object. */
export interface SceneObject {
  label: ObjectClass;
  /** Tight box of the visible pixels, `[x, y, w, h]`. */
  box: XywhBox;
  /** Visible share of the object's full area (occlusion and the image border both hide). */
  visibility: number;
  /** Faces: 'frontal' or 'profile'; plates: the plate style. */
  variant: string;
}

/** A look-alike painted on purpose (not ground truth): kept so evaluation can explain false positives. */
export interface Distractor {
  kind: 'sign' | 'window' | 'lamp' | 'headlight' | 'back-of-head' | 'crossing';
  box: XywhBox;
}

export interface Scene {
  id: string;
  image: RgbImage;
  objects: SceneObject[];
  /** Objects too small or too hidden to annotate, with the reason. */
  ignored: { label: ObjectClass; box: XywhBox; reason: string }[];
  distractors: Distractor[];
}

export interface SceneOptions {
  width: number;
  height: number;
  /** Mean pedestrians per scene (Poisson). */
  pedestrians: number;
  /** Mean vehicles per scene (Poisson). */
  vehicles: number;
  /** Smallest visible box side for an object to be annotated. */
  minSide: number;
  /** Smallest visibility for an object to be annotated. */
  minVisibility: number;
}

export const DEFAULT_SCENE: SceneOptions = {
  width: 256,
  height: 256,
  pedestrians: 5,
  vehicles: 3,
  minSide: 3,
  minVisibility: 0.35,
};

// 2. Palettes

/** From very light to very dark, so a skin-colour rule cannot cover them all. */
const SKIN_TONES: Rgb[] = [
  [255, 224, 196],
  [241, 194, 160],
  [224, 172, 130],
  [198, 134, 96],
  [161, 102, 70],
  [120, 76, 52],
  [88, 56, 40],
  [62, 42, 32],
];
const HAIR: Rgb[] = [
  [20, 16, 14],
  [55, 35, 22],
  [110, 72, 40],
  [200, 170, 110],
  [150, 150, 150],
  [140, 60, 30],
];
const CLOTHES: Rgb[] = [
  [30, 30, 35],
  [200, 40, 40],
  [40, 70, 150],
  [230, 230, 225],
  [90, 110, 60],
  [150, 120, 90],
  [240, 190, 40],
  [110, 50, 110],
  [60, 60, 70],
  [210, 160, 130],
];
const CAR_PAINT: Rgb[] = [
  [220, 220, 222],
  [30, 30, 32],
  [150, 152, 158],
  [170, 30, 30],
  [30, 60, 130],
  [200, 200, 190],
  [90, 95, 100],
  [40, 90, 60],
  [230, 200, 60],
];
const FACADES: Rgb[] = [
  [178, 104, 74], // red brick
  [205, 150, 110], // tan brick, close to light skin on purpose
  [190, 140, 120],
  [160, 160, 158],
  [215, 205, 180],
  [120, 118, 116],
  [200, 180, 150],
  [150, 170, 185],
];

interface PlateStyle {
  name: string;
  aspect: number;
  /** Physical width in metres (vehicle width is 1.8 m for a car). */
  widthM: number;
  rows: number;
  chars: number;
}
const PLATE_STYLES: PlateStyle[] = [
  { name: 'eu', aspect: 4.7, widthM: 0.52, rows: 1, chars: 7 },
  { name: 'us', aspect: 2.0, widthM: 0.305, rows: 1, chars: 6 },
  { name: 'au', aspect: 2.6, widthM: 0.372, rows: 1, chars: 6 },
  { name: 'square', aspect: 1.4, widthM: 0.3, rows: 2, chars: 3 },
];
const PLATE_COLOURS: Rgb[] = [
  [238, 238, 232],
  [245, 245, 240],
  [250, 210, 40],
  [225, 228, 230],
];

// 3. Glyphs: seven segments plus diagonals and a centre bar, in a unit box (x right, y down).

const SEGMENTS: [number, number, number, number][] = [
  [0, 0, 1, 0],
  [1, 0, 1, 0.5],
  [1, 0.5, 1, 1],
  [0, 1, 1, 1],
  [0, 0.5, 0, 1],
  [0, 0, 0, 0.5],
  [0, 0.5, 1, 0.5],
  [0, 0, 1, 1],
  [1, 0, 0, 1],
  [0.5, 0, 0.5, 1],
];
const GLYPHS: number[][] = [
  [0, 1, 2, 3, 4, 5],
  [1, 2],
  [0, 1, 6, 4, 3],
  [0, 1, 6, 2, 3],
  [5, 6, 1, 2],
  [0, 5, 6, 2, 3],
  [0, 5, 4, 3, 2, 6],
  [0, 1, 2],
  [0, 1, 2, 3, 4, 5, 6],
  [0, 1, 2, 3, 5, 6],
  [0, 1, 2, 4, 5, 6], // A
  [5, 4, 3], // L
  [5, 4, 1, 2, 7], // N
  [7, 8], // X
  [0, 9], // T
  [5, 4, 6, 1, 2], // H
  [5, 4, 0, 6], // F
  [0, 5, 6, 4, 3], // E
];

/** Segment-distance test of one glyph at unit coordinates (u, v); `t` is half the stroke width. */
function onGlyph(glyph: number[], u: number, v: number, t: number, aspect: number): boolean {
  for (const s of glyph) {
    const [ax, ay, bx, by] = SEGMENTS[s];
    // Distances in a frame where the glyph is `aspect` wide per unit height.
    const dx = (bx - ax) * aspect;
    const dy = by - ay;
    const px = (u - ax) * aspect;
    const py = v - ay;
    const len2 = dx * dx + dy * dy;
    const k = len2 === 0 ? 0 : Math.max(0, Math.min(1, (px * dx + py * dy) / len2));
    if ((px - k * dx) ** 2 + (py - k * dy) ** 2 <= t * t) return true;
  }
  return false;
}

// 4. Panels: plates, signs. An affine frame maps panel coordinates (u, v) in [0, 1]^2 to pixels.

interface Frame {
  ox: number;
  oy: number;
  ex: [number, number];
  ey: [number, number];
}

function frameCorners(f: Frame): [number, number][] {
  return [
    [f.ox, f.oy],
    [f.ox + f.ex[0], f.oy + f.ex[1]],
    [f.ox + f.ex[0] + f.ey[0], f.oy + f.ex[1] + f.ey[1]],
    [f.ox + f.ey[0], f.oy + f.ey[1]],
  ];
}

function toUnit(f: Frame, x: number, y: number): [number, number] {
  const det = f.ex[0] * f.ey[1] - f.ex[1] * f.ey[0];
  const dx = x - f.ox;
  const dy = y - f.oy;
  return [(dx * f.ey[1] - dy * f.ey[0]) / det, (f.ex[0] * dy - f.ex[1] * dx) / det];
}

interface PanelStyle {
  background: Rgb;
  ink: Rgb;
  border?: Rgb;
  /** Blue EU band on the left. */
  band?: Rgb;
  rows: number;
  chars: number;
  glyphs: number[][];
}

/** Paints a panel of text. Panel pixels are owned by `owner`; glyphs too (they are part of it). */
function paintPanel(canvas: Canvas, frame: Frame, style: PanelStyle, owner: number): void {
  const corners = frameCorners(frame);
  const xs = corners.map((c) => c[0]);
  const ys = corners.map((c) => c[1]);
  const widthPx = Math.hypot(frame.ex[0], frame.ex[1]);
  const heightPx = Math.hypot(frame.ey[0], frame.ey[1]);
  const aspect = widthPx / heightPx;
  const bandEnd = style.band ? 0.1 : 0;
  const rowH = 0.8 / style.rows;
  const textW = 1 - bandEnd - 0.1;
  const charW = textW / style.chars;
  const colour = (x: number, y: number): Rgb => {
    const [u, v] = toUnit(frame, x, y);
    if (style.border && (u < 0.03 || u > 0.97 || v < 0.08 || v > 0.92)) return style.border;
    if (style.band && u < bandEnd) return style.band;
    const row = Math.floor((v - 0.1) / rowH);
    if (row < 0 || row >= style.rows) return style.background;
    const col = Math.floor((u - bandEnd - 0.05) / charW);
    if (col < 0 || col >= style.chars) return style.background;
    // Each glyph fills 70 % of its cell width and 80 % of the row height.
    const gu = ((u - bandEnd - 0.05 - col * charW) / charW - 0.15) / 0.7;
    const gv = ((v - 0.1 - row * rowH) / rowH - 0.1) / 0.8;
    if (gu < -0.2 || gu > 1.2 || gv < -0.1 || gv > 1.1) return style.background;
    const glyphAspect = (charW * 0.7 * aspect) / (rowH * 0.8);
    return onGlyph(style.glyphs[row * style.chars + col], gu, gv, 0.09, glyphAspect)
      ? style.ink
      : style.background;
  };
  canvas.fill(
    [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)],
    (x, y) => {
      const [u, v] = toUnit(frame, x, y);
      return u >= 0 && u <= 1 && v >= 0 && v <= 1;
    },
    colour,
    owner,
  );
}

function randomGlyphs(rng: Rng, n: number): number[][] {
  return Array.from({ length: n }, () => GLYPHS[rng.int(GLYPHS.length)]);
}

// 5. The scene

/** A thing to paint in depth order (farther first). */
interface Actor {
  depth: number;
  paint: () => void;
}

interface Pending {
  id: number;
  label: ObjectClass;
  variant: string;
  /** Full area in pixels, including parts outside the image. */
  area: number;
  /** Pixels the object owned right after it was painted, before anything in front of it. */
  selfCount: number;
  /** Share of its bounding box inside the frame. */
  inFrame: number;
}

function jitter(rng: Rng, c: Rgb, sd: number): Rgb {
  return [c[0] + rng.normal(0, sd), c[1] + rng.normal(0, sd), c[2] + rng.normal(0, sd)];
}

function shade(c: Rgb, k: number): Rgb {
  return [c[0] * k, c[1] * k, c[2] * k];
}

/** A log-uniform draw in [lo, hi]. */
function logUniform(rng: Rng, lo: number, hi: number): number {
  return Math.exp(rng.uniform(Math.log(lo), Math.log(hi)));
}

class SceneBuilder {
  readonly canvas: Canvas;
  readonly pending: Pending[] = [];
  readonly distractors: Distractor[] = [];
  readonly actors: Actor[] = [];
  readonly W: number;
  readonly H: number;
  /** Horizon row, bottom of the facades, edge of the sidewalk. */
  horizon = 0;
  facadeBottom = 0;
  curb = 0;
  /** Pedestrian height in pixels per pixel below the horizon (1.7 m over the camera height). */
  heightPerRow = 0;

  constructor(
    readonly rng: Rng,
    readonly options: SceneOptions,
  ) {
    this.W = options.width;
    this.H = options.height;
    this.canvas = new Canvas(this.W, this.H);
  }

  newObject(label: ObjectClass, variant: string, area: number): number {
    const id = this.pending.length;
    this.pending.push({ id, label, variant, area, selfCount: 0, inFrame: 1 });
    return id;
  }

  /**
   * Records how much of object `id` is visible once its own parts are painted (a fringe or a hair
   * line are part of how it looks, not occlusion), and how much of its box is inside the frame.
   */
  settle(id: number, bounds: readonly [number, number, number, number]): void {
    const { owner } = this.canvas;
    const x0 = Math.max(0, Math.floor(bounds[0]));
    const y0 = Math.max(0, Math.floor(bounds[1]));
    const x1 = Math.min(this.W, Math.ceil(bounds[2]));
    const y1 = Math.min(this.H, Math.ceil(bounds[3]));
    let n = 0;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (owner[y * this.W + x] === id) n++;
    const full = (bounds[2] - bounds[0]) * (bounds[3] - bounds[1]);
    const inside =
      Math.max(0, Math.min(this.W, bounds[2]) - Math.max(0, bounds[0])) *
      Math.max(0, Math.min(this.H, bounds[3]) - Math.max(0, bounds[1]));
    this.pending[id].selfCount = n;
    this.pending[id].inFrame = full > 0 ? inside / full : 0;
  }

  build(): void {
    const { rng, H } = this;
    this.horizon = Math.round(H * rng.uniform(0.3, 0.48));
    this.facadeBottom = this.horizon + Math.round(H * rng.uniform(0.04, 0.1));
    this.curb = this.facadeBottom + Math.round(H * rng.uniform(0.08, 0.16));
    this.heightPerRow = 1.7 / rng.uniform(1.8, 2.8);
    this.paintSky(rng.fork('sky'));
    this.paintFacades(rng.fork('facades'));
    this.paintGround(rng.fork('ground'));
    const people = rng.fork('people');
    const nPeople = people.poisson(this.options.pedestrians);
    for (let i = 0; i < nPeople; i++) this.addPedestrian(people.fork(`p${i}`));
    const cars = rng.fork('vehicles');
    const nCars = cars.poisson(this.options.vehicles);
    for (let i = 0; i < nCars; i++) this.addVehicle(cars.fork(`v${i}`));
    const street = rng.fork('street');
    const nLamps = street.intBetween(0, 3);
    for (let i = 0; i < nLamps; i++) this.addLamp(street.fork(`l${i}`));
    const nSigns = street.intBetween(0, 3);
    for (let i = 0; i < nSigns; i++) this.addStreetSign(street.fork(`s${i}`));
    this.actors.sort((a, b) => a.depth - b.depth);
    for (const a of this.actors) a.paint();
  }

  paintSky(rng: Rng): void {
    const top: Rgb = jitter(rng, rng.bernoulli(0.7) ? [110, 160, 220] : [185, 190, 198], 12);
    const bottom: Rgb = jitter(rng, [205, 215, 228], 10);
    const h = this.horizon;
    this.canvas.rect(0, 0, this.W, h + 1, (_x, y) => {
      const t = Math.min(1, y / Math.max(1, h));
      return [
        top[0] + (bottom[0] - top[0]) * t,
        top[1] + (bottom[1] - top[1]) * t,
        top[2] + (bottom[2] - top[2]) * t,
      ];
    });
  }

  paintFacades(rng: Rng): void {
    const { canvas, W } = this;
    let x = -rng.uniform(0, 30);
    let b = 0;
    while (x < W) {
      const r = rng.fork(`b${b++}`);
      const w = r.uniform(0.18, 0.5) * W;
      const top = r.uniform(-0.1, 0.85) * this.horizon;
      const bottom = this.facadeBottom;
      const wall = jitter(r, r.choice(FACADES), 8);
      canvas.rect(x, top, w, bottom - top, (px, py) => {
        // Brick courses: a faint horizontal texture.
        const k = 1 + 0.05 * Math.sin(py * 1.7) * (Math.floor(px / 5) % 2 ? 1 : -1);
        return shade(wall, k);
      });
      // Windows on a grid, above a shop storey.
      const shop = Math.min((bottom - top) * 0.35, this.H * 0.09);
      const cols = Math.max(1, Math.round(w / r.uniform(18, 34)));
      const rows = Math.max(0, Math.floor((bottom - top - shop) / r.uniform(20, 32)));
      const cellW = w / cols;
      const cellH = rows > 0 ? (bottom - top - shop) / rows : 0;
      const ww = cellW * r.uniform(0.4, 0.7);
      const wh = cellH * r.uniform(0.45, 0.7);
      const frame: Rgb = r.bernoulli(0.5) ? [235, 235, 230] : shade(wall, 0.6);
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          const wx = x + j * cellW + (cellW - ww) / 2;
          const wy = top + i * cellH + (cellH - wh) / 2;
          const lit = r.bernoulli(0.2);
          const glass: Rgb = lit ? jitter(r, [245, 225, 160], 10) : jitter(r, [60, 75, 95], 12);
          canvas.rect(wx - 1, wy - 1, ww + 2, wh + 2, frame);
          canvas.rect(wx, wy, ww, wh, (_px, py) => shade(glass, 1 + (0.25 * (py - wy)) / Math.max(1, wh)));
          if (r.bernoulli(0.6)) {
            // Mullions: dark strokes on a bright rectangle are what a plate looks like too.
            const ink: Rgb = lit ? [60, 50, 40] : frame;
            canvas.line(wx + ww / 2, wy, wx + ww / 2, wy + wh, Math.max(0.8, ww * 0.08), ink);
            canvas.line(wx, wy + wh * 0.45, wx + ww, wy + wh * 0.45, Math.max(0.8, wh * 0.07), ink);
          }
          if (lit) this.distractors.push({ kind: 'window', box: [wx, wy, ww, wh] });
        }
      }
      // Shop storey: a sign with text and a dark shop window.
      const shopTop = bottom - shop;
      canvas.rect(x + w * 0.1, shopTop + shop * 0.45, w * 0.8, shop * 0.55, jitter(r, [50, 60, 70], 10));
      if (r.bernoulli(0.75) && shop > 6) {
        const sw = w * r.uniform(0.35, 0.8);
        const sh = Math.min(shop * 0.4, sw / r.uniform(2.5, 7));
        const sx = x + (w - sw) / 2;
        const dark = r.bernoulli(0.3);
        const chars = Math.max(2, Math.min(10, Math.round((sw / sh) * 1.3)));
        paintPanel(
          canvas,
          { ox: sx, oy: shopTop + shop * 0.02, ex: [sw, 0], ey: [0, sh] },
          {
            background: dark ? jitter(r, [40, 50, 90], 10) : jitter(r, [240, 236, 225], 8),
            ink: dark ? [240, 240, 230] : jitter(r, [30, 30, 40], 8),
            rows: 1,
            chars,
            glyphs: randomGlyphs(r, chars),
          },
          -1,
        );
        this.distractors.push({ kind: 'sign', box: [sx, shopTop + shop * 0.02, sw, sh] });
      }
      x += w;
    }
  }

  paintGround(rng: Rng): void {
    const { canvas, W, H } = this;
    const pavement: Rgb = jitter(rng, [175, 172, 165], 8);
    canvas.rect(0, this.facadeBottom, W, this.curb - this.facadeBottom, (px, py) =>
      shade(pavement, 1 + 0.04 * ((Math.floor(px / 9) + Math.floor(py / 5)) % 2)),
    );
    canvas.rect(0, this.curb, W, 2, [200, 200, 195]);
    const asphalt: Rgb = jitter(rng, [92, 92, 96], 6);
    canvas.rect(0, this.curb + 2, W, H - this.curb - 2, (_px, py) =>
      shade(asphalt, 0.9 + (0.2 * (py - this.curb)) / H),
    );
    // Lane dashes in perspective: wider and longer nearer the camera.
    const laneY = this.curb + (H - this.curb) * rng.uniform(0.4, 0.7);
    const scaleAt = (y: number) => (y - this.horizon) / (H - this.horizon);
    const dashW = 28 * scaleAt(laneY);
    for (let x = rng.uniform(-dashW, dashW); x < W; x += dashW * 2.2) {
      canvas.rect(x, laneY, dashW, Math.max(1, 4 * scaleAt(laneY)), [225, 225, 215]);
    }
    if (rng.bernoulli(0.3)) {
      // A pedestrian crossing: bright bars, no strokes.
      const y0 = this.curb + 4;
      const y1 = Math.min(H, y0 + (H - this.curb) * 0.35);
      const x0 = rng.uniform(0, W * 0.6);
      const bar = 6 * scaleAt(y1);
      for (let i = 0; i < 5; i++) canvas.rect(x0 + i * bar * 2, y0, bar, y1 - y0, [232, 232, 225]);
      this.distractors.push({ kind: 'crossing', box: [x0, y0, bar * 10, y1 - y0] });
    }
  }

  /** Ground row of an object `sizePx` tall whose real height is `sizeM`. */
  groundRow(sizePx: number, sizeM: number): number {
    return this.horizon + (sizePx * 1.7) / sizeM / this.heightPerRow;
  }

  addPedestrian(rng: Rng): void {
    // Face height drawn log-uniform with a tail of close-ups: many small faces, a few large.
    const close = rng.bernoulli(0.12);
    const faceH = close ? logUniform(rng, 40, 170) : logUniform(rng, 4, 60);
    const personH = faceH / 0.13;
    let feet = Math.max(this.facadeBottom + 2, this.groundRow(personH, 1.7));
    // A person next to the camera has the head near camera height: keep close-up heads in frame.
    if (close)
      feet = Math.min(feet, this.horizon + rng.uniform(-0.1, 0.45) * (this.H - this.horizon) + personH);
    const cx = rng.uniform(-0.05, 1.05) * this.W;
    const view = rng.float();
    const kind: 'frontal' | 'profile' | 'back' = view < 0.55 ? 'frontal' : view < 0.85 ? 'profile' : 'back';
    const skin = jitter(rng, rng.choice(SKIN_TONES), 5);
    const hair = rng.choice(HAIR);
    const top = rng.choice(CLOTHES);
    const legs = rng.choice(CLOTHES);
    const glasses = rng.bernoulli(0.12);
    const hat = rng.bernoulli(0.15);
    const facing = rng.bernoulli(0.5) ? 1 : -1;
    // Something in front of the face sometimes: a pole, a bag, a raised arm.
    const occluder = rng.bernoulli(0.12) ? rng.uniform(-0.6, 0.6) : null;
    this.actors.push({
      depth: feet,
      paint: () => {
        const c = this.canvas;
        const y0 = feet - personH;
        const headCy = y0 + faceH * 0.55;
        // Body: legs, torso, arms, neck.
        c.rect(cx - personH * 0.07, y0 + personH * 0.5, personH * 0.06, personH * 0.5, legs);
        c.rect(cx + personH * 0.01, y0 + personH * 0.5, personH * 0.06, personH * 0.5, shade(legs, 0.9));
        c.rect(cx - personH * 0.12, y0 + personH * 0.16, personH * 0.24, personH * 0.36, top);
        c.rect(cx - personH * 0.16, y0 + personH * 0.17, personH * 0.045, personH * 0.3, shade(top, 0.85));
        c.rect(cx + personH * 0.115, y0 + personH * 0.17, personH * 0.045, personH * 0.3, shade(top, 0.85));
        c.rect(cx - faceH * 0.15, headCy + faceH * 0.3, faceH * 0.3, faceH * 0.4, shade(skin, 0.85));
        const rx = kind === 'profile' ? faceH * 0.33 : faceH * 0.38;
        const ry = faceH * 0.5;
        const lit = (x: number): Rgb => shade(skin, 1 + (0.12 * (x - cx)) / rx);
        if (kind === 'back') {
          c.ellipse(cx, headCy - faceH * 0.03, rx * 1.05, ry * 1.03, hair);
          this.distractors.push({ kind: 'back-of-head', box: [cx - rx, headCy - ry, 2 * rx, 2 * ry] });
        } else {
          const id = this.newObject('face', kind, Math.PI * rx * ry);
          c.ellipse(cx, headCy - faceH * 0.12, rx * 1.08, ry * 0.9, hair);
          c.ellipse(cx, headCy, rx, ry, lit, id);
          const eye: Rgb = [25, 20, 20];
          const er = Math.max(0.3, faceH * 0.045);
          if (kind === 'frontal') {
            c.ellipse(cx - rx * 0.4, headCy - ry * 0.08, er * 1.3, er, eye, id);
            c.ellipse(cx + rx * 0.4, headCy - ry * 0.08, er * 1.3, er, eye, id);
            c.ellipse(cx, headCy + ry * 0.15, er * 0.8, er * 1.6, shade(skin, 0.8), id);
            c.ellipse(cx, headCy + ry * 0.48, rx * 0.35, er * 0.9, [120, 40, 45], id);
            if (glasses) c.rect(cx - rx * 0.75, headCy - ry * 0.2, rx * 1.5, ry * 0.22, [20, 20, 25], id);
            // Fringe: hair over the forehead (not face pixels).
            c.fill(
              [cx - rx, headCy - ry, cx + rx, headCy - ry * 0.45],
              (x, y) => ((x - cx) / rx) ** 2 + ((y - headCy) / ry) ** 2 <= 1 && y < headCy - ry * 0.55,
              hair,
            );
          } else {
            c.ellipse(cx + facing * rx * 0.45, headCy - ry * 0.08, er * 1.1, er, eye, id);
            c.ellipse(
              cx + facing * rx * 0.98,
              headCy + ry * 0.1,
              rx * 0.18,
              ry * 0.13,
              lit(cx + facing * rx),
              id,
            );
            c.ellipse(cx + facing * rx * 0.5, headCy + ry * 0.48, rx * 0.22, er * 0.8, [120, 40, 45], id);
            // Hair over the back half of the head.
            c.fill(
              [cx - rx * 1.1, headCy - ry * 1.05, cx + rx * 1.1, headCy + ry * 0.4],
              (x, y) =>
                ((x - cx) / (rx * 1.08)) ** 2 + ((y - headCy + ry * 0.05) / (ry * 1.02)) ** 2 <= 1 &&
                (facing * (x - cx) < -rx * 0.15 || y < headCy - ry * 0.55),
              hair,
            );
            c.ellipse(cx - facing * rx * 0.1, headCy, rx * 0.15, ry * 0.2, shade(skin, 0.9), id);
          }
          this.settle(id, [cx - rx * 1.2, headCy - ry, cx + rx * 1.2, headCy + ry]);
        }
        if (hat) {
          const hatC: Rgb = rng.choice(CLOTHES);
          c.rect(cx - rx * 1.1, headCy - ry * 1.1, rx * 2.2, ry * 0.45, hatC);
          c.rect(cx - rx * 1.35, headCy - ry * 0.7, rx * 2.7, ry * 0.12, hatC);
        }
        if (occluder !== null) {
          c.rect(
            cx + occluder * rx * 1.5 - rx * 0.5,
            headCy - ry * 1.2,
            rx,
            ry * 3,
            jitter(rng, [70, 70, 75], 10),
          );
        }
      },
    });
  }

  addVehicle(rng: Rng): void {
    const type = rng.float() < 0.7 ? 'car' : rng.float() < 0.6 ? 'van' : 'bus';
    const widthM = type === 'car' ? 1.8 : type === 'van' ? 2.0 : 2.5;
    const heightM = type === 'car' ? 1.45 : type === 'van' ? 2.0 : 3.0;
    const close = rng.bernoulli(0.1);
    const w = close ? logUniform(rng, 140, 320) : logUniform(rng, 18, 140);
    const h = (w * heightM) / widthM;
    // A vehicle right in front of the camera is kept low enough that its plate can be in frame
    // (street cameras see near cars from a little way off, not from under the bumper).
    const bottom = Math.min(this.H + 0.2 * h, Math.max(this.curb + 4, this.groundRow(h, heightM)));
    const x = rng.uniform(-0.15, 1.0) * this.W - w / 2;
    const paint = jitter(rng, rng.choice(CAR_PAINT), 8);
    const front = rng.bernoulli(0.45);
    const angle =
      rng.float() < 0.4 ? rng.uniform(0.25, 0.6) * (rng.bernoulli(0.5) ? 1 : -1) : rng.normal(0, 0.06);
    const style = rng.choice(PLATE_STYLES);
    const plateColour =
      style.name === 'eu' ? rng.choice(PLATE_COLOURS) : rng.choice(PLATE_COLOURS.slice(0, 2));
    const glyphs = randomGlyphs(rng, style.rows * style.chars);
    const roll = rng.normal(0, 0.03);
    const hasPlate = rng.bernoulli(0.93);
    this.actors.push({
      depth: bottom,
      paint: () => {
        const c = this.canvas;
        const top = bottom - h;
        // A three-quarter view shows a side panel: a parallelogram next to the end face.
        const side = Math.abs(angle) > 0.2 ? w * Math.abs(angle) * 1.6 : 0;
        const faceX = angle > 0 ? x + side : x;
        if (side > 0) {
          const sx = angle > 0 ? x : x + w;
          const dir = angle > 0 ? 1 : -1;
          c.polygon(
            [
              [sx, top + h * 0.1],
              [sx + dir * side, top + h * 0.02],
              [sx + dir * side, bottom - h * 0.1],
              [sx, bottom - h * 0.2],
            ],
            shade(paint, 0.85),
          );
          c.ellipse(sx + dir * side * 0.3, bottom - h * 0.15, w * 0.1, h * 0.12, [20, 20, 22]);
        }
        // Wheels, body, cabin, glass, lights, bumper.
        c.rect(faceX + w * 0.06, bottom - h * 0.14, w * 0.16, h * 0.14, [18, 18, 20]);
        c.rect(faceX + w * 0.78, bottom - h * 0.14, w * 0.16, h * 0.14, [18, 18, 20]);
        c.rect(faceX, top + h * 0.42, w, h * 0.48, paint);
        c.polygon(
          [
            [faceX + w * 0.14, top],
            [faceX + w * 0.86, top],
            [faceX + w * 0.97, top + h * 0.43],
            [faceX + w * 0.03, top + h * 0.43],
          ],
          paint,
        );
        c.polygon(
          [
            [faceX + w * 0.19, top + h * 0.06],
            [faceX + w * 0.81, top + h * 0.06],
            [faceX + w * 0.9, top + h * 0.4],
            [faceX + w * 0.1, top + h * 0.4],
          ],
          [55, 70, 85],
        );
        const lamp: Rgb = front ? [250, 245, 215] : [200, 30, 30];
        if (front) {
          c.ellipse(faceX + w * 0.12, top + h * 0.55, w * 0.07, h * 0.06, lamp);
          c.ellipse(faceX + w * 0.88, top + h * 0.55, w * 0.07, h * 0.06, lamp);
          this.distractors.push({
            kind: 'headlight',
            box: [faceX + w * 0.05, top + h * 0.49, w * 0.14, h * 0.12],
          });
        } else {
          c.rect(faceX + w * 0.03, top + h * 0.5, w * 0.14, h * 0.09, lamp);
          c.rect(faceX + w * 0.83, top + h * 0.5, w * 0.14, h * 0.09, lamp);
        }
        c.rect(faceX, top + h * 0.8, w, h * 0.1, shade(paint, 0.6));
        if (!hasPlate) return;
        // The plate: its own physical size, sheared by the viewing angle and rolled a little.
        const pw = (w * style.widthM) / widthM;
        const ph = pw / style.aspect;
        const compress = Math.cos(angle);
        const ex: [number, number] = [
          pw * compress * Math.cos(roll),
          pw * compress * Math.sin(roll) + pw * angle * 0.3,
        ];
        const ey: [number, number] = [-ph * Math.sin(roll), ph * Math.cos(roll)];
        const pcx = faceX + w / 2;
        const pcy = top + h * 0.72;
        const frame: Frame = { ox: pcx - ex[0] / 2 - ey[0] / 2, oy: pcy - ex[1] / 2 - ey[1] / 2, ex, ey };
        const area = Math.abs(ex[0] * ey[1] - ex[1] * ey[0]);
        const id = this.newObject('plate', style.name, area);
        paintPanel(
          c,
          frame,
          {
            background: jitter(rng, plateColour, 4),
            ink: [20, 22, 28],
            border: [30, 30, 35],
            band: style.name === 'eu' ? [30, 60, 160] : undefined,
            rows: style.rows,
            chars: style.chars,
            glyphs,
          },
          id,
        );
        const corners = frameCorners(frame);
        this.settle(id, [
          Math.min(...corners.map((p) => p[0])),
          Math.min(...corners.map((p) => p[1])),
          Math.max(...corners.map((p) => p[0])),
          Math.max(...corners.map((p) => p[1])),
        ]);
      },
    });
  }

  addLamp(rng: Rng): void {
    const x = rng.uniform(0, this.W);
    const base = rng.uniform(this.facadeBottom + 2, this.curb);
    const poleH = (base - this.horizon) * this.heightPerRow * 2.2 + 10;
    const headR = Math.max(1.5, poleH * rng.uniform(0.035, 0.06));
    const glow: Rgb = jitter(
      rng,
      rng.choice<Rgb>([
        [250, 230, 170],
        [240, 190, 130],
        [235, 235, 225],
        [220, 160, 110],
      ]),
      6,
    );
    this.actors.push({
      depth: base,
      paint: () => {
        const c = this.canvas;
        c.rect(x - poleH * 0.012 - 0.4, base - poleH, poleH * 0.024 + 0.8, poleH, [50, 52, 55]);
        c.ellipse(x, base - poleH - headR * 0.6, headR * 1.1, headR * 1.25, glow);
        this.distractors.push({
          kind: 'lamp',
          box: [x - headR * 1.1, base - poleH - headR * 1.85, headR * 2.2, headR * 2.5],
        });
      },
    });
  }

  addStreetSign(rng: Rng): void {
    const x = rng.uniform(0, this.W);
    const base = rng.uniform(this.facadeBottom + 2, this.curb + 10);
    const scale = (base - this.horizon) * this.heightPerRow;
    const sw = scale * rng.uniform(0.35, 0.9);
    const sh = sw / rng.uniform(1.3, 4.5);
    const kind = rng.int(3);
    const background: Rgb = kind === 0 ? [30, 110, 60] : kind === 1 ? [240, 240, 235] : [245, 205, 40];
    const ink: Rgb = kind === 0 ? [245, 245, 240] : [25, 25, 30];
    const chars = Math.max(2, Math.min(8, Math.round((sw / sh) * 1.5)));
    const glyphs = randomGlyphs(rng, chars);
    const poleH = scale * 1.4;
    this.actors.push({
      depth: base,
      paint: () => {
        const c = this.canvas;
        c.rect(x - 0.6, base - poleH, Math.max(1.2, scale * 0.02), poleH, [90, 92, 95]);
        const frame: Frame = { ox: x - sw / 2, oy: base - poleH - sh, ex: [sw, 0], ey: [0, sh] };
        paintPanel(c, frame, { background, ink, border: ink, rows: 1, chars, glyphs }, -1);
        this.distractors.push({ kind: 'sign', box: [x - sw / 2, base - poleH - sh, sw, sh] });
      },
    });
  }

  /** Lighting, shadow, optional focus blur and noise, then 8-bit quantisation. */
  finish(rng: Rng): RgbImage {
    const { W, H } = this;
    const src = this.canvas.rgb;
    const gain = rng.uniform(0.55, 1.25);
    const wb = [1 + rng.normal(0, 0.06), 1 + rng.normal(0, 0.04), 1 + rng.normal(0, 0.06)];
    const tilt = rng.uniform(-0.35, 0.35);
    const shadow = rng.bernoulli(0.5)
      ? {
          x0: rng.uniform(-0.2, 0.8) * W,
          slope: rng.uniform(-1.2, 1.2),
          width: rng.uniform(0.15, 0.5) * W,
          k: rng.uniform(0.5, 0.75),
        }
      : null;
    const noise = rng.uniform(1.5, 7);
    let rgb = src;
    if (rng.bernoulli(0.3)) rgb = boxBlur121(src, W, H);
    const data = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let k = gain * (1 + tilt * (x / W - 0.5));
        if (shadow && y > this.horizon) {
          const sx = shadow.x0 + shadow.slope * (y - this.horizon);
          if (x >= sx && x < sx + shadow.width) k *= shadow.k;
        }
        const i = (y * W + x) * 3;
        for (let ch = 0; ch < 3; ch++) {
          const v = rgb[i + ch] * k * wb[ch] + rng.normal(0, noise);
          data[i + ch] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
        }
      }
    }
    return { width: W, height: H, data };
  }
}

/** Separable [1 2 1] / 4 blur: a slightly soft lens. */
function boxBlur121(src: Float32Array, W: number, H: number): Float32Array {
  const tmp = new Float32Array(src.length);
  const out = new Float32Array(src.length);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const l = Math.max(0, x - 1);
      const r = Math.min(W - 1, x + 1);
      for (let c = 0; c < 3; c++) {
        tmp[(y * W + x) * 3 + c] =
          (src[(y * W + l) * 3 + c] + 2 * src[(y * W + x) * 3 + c] + src[(y * W + r) * 3 + c]) / 4;
      }
    }
  }
  for (let y = 0; y < H; y++) {
    const u = Math.max(0, y - 1);
    const d = Math.min(H - 1, y + 1);
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < 3; c++) {
        out[(y * W + x) * 3 + c] =
          (tmp[(u * W + x) * 3 + c] + 2 * tmp[(y * W + x) * 3 + c] + tmp[(d * W + x) * 3 + c]) / 4;
      }
    }
  }
  return out;
}

/** Boxes of the visible pixels of each object, from the owner map. */
function collectObjects(
  builder: SceneBuilder,
  options: SceneOptions,
): { objects: SceneObject[]; ignored: Scene['ignored'] } {
  const { owner } = builder.canvas;
  const { W, H } = builder;
  const n = builder.pending.length;
  const minX = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const minY = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const maxX = new Float64Array(n).fill(-1);
  const maxY = new Float64Array(n).fill(-1);
  const count = new Float64Array(n);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const id = owner[y * W + x];
      if (id < 0) continue;
      count[id]++;
      if (x < minX[id]) minX[id] = x;
      if (y < minY[id]) minY[id] = y;
      if (x > maxX[id]) maxX[id] = x;
      if (y > maxY[id]) maxY[id] = y;
    }
  }
  const objects: SceneObject[] = [];
  const ignored: Scene['ignored'] = [];
  for (const p of builder.pending) {
    if (count[p.id] === 0) continue;
    const box: XywhBox = [minX[p.id], minY[p.id], maxX[p.id] - minX[p.id] + 1, maxY[p.id] - minY[p.id] + 1];
    const visibility = p.selfCount > 0 ? Math.min(1, count[p.id] / p.selfCount) * p.inFrame : 0;
    if (Math.min(box[2], box[3]) < options.minSide) {
      ignored.push({
        label: p.label,
        box,
        reason: `visible part ${box[2]}x${box[3]} px is below ${options.minSide} px`,
      });
    } else if (visibility < options.minVisibility) {
      ignored.push({ label: p.label, box, reason: `only ${(visibility * 100).toFixed(0)} % visible` });
    } else {
      objects.push({ label: p.label, box, visibility, variant: p.variant });
    }
  }
  return { objects, ignored };
}

// 6. Public API

/**
 * Generates scene `index` of the world seeded by `seed`. The same (seed, index, options) always gives
 * the same pixels and boxes; scenes are independent of each other, so any one can be regenerated alone.
 */
export function generateScene(seed: number, index: number, options: Partial<SceneOptions> = {}): Scene {
  const opts = { ...DEFAULT_SCENE, ...options };
  if (
    !Number.isInteger(opts.width) ||
    !Number.isInteger(opts.height) ||
    opts.width < 64 ||
    opts.height < 64
  ) {
    throw new RangeError(`options.width/height: expected integers >= 64, got ${opts.width}x${opts.height}`);
  }
  if (!Number.isInteger(index) || index < 0)
    throw new RangeError(`index: expected an integer >= 0, got ${index}`);
  const rng = createRng(seed).fork(`scene-${index}`);
  const builder = new SceneBuilder(rng.fork('layout'), opts);
  builder.build();
  const { objects, ignored } = collectObjects(builder, opts);
  const image = builder.finish(rng.fork('camera'));
  return { id: `scene-${seed}-${index}`, image, objects, ignored, distractors: builder.distractors };
}

/** Scenes `start .. start + count - 1` of the world seeded by `seed`. */
export function generateScenes(
  seed: number,
  count: number,
  options: Partial<SceneOptions> & { start?: number } = {},
): Scene[] {
  if (!Number.isInteger(count) || count < 0)
    throw new RangeError(`count: expected an integer >= 0, got ${count}`);
  const { start = 0, ...rest } = options;
  return Array.from({ length: count }, (_, i) => generateScene(seed, start + i, rest));
}

/** Per-class and per-size counts of a set of scenes (COCO sizes: small < 32², large > 96² pixels). */
export function describeScenes(
  scenes: readonly Scene[],
): Record<ObjectClass, { small: number; medium: number; large: number; occluded: number; total: number }> {
  const out = {
    face: { small: 0, medium: 0, large: 0, occluded: 0, total: 0 },
    plate: { small: 0, medium: 0, large: 0, occluded: 0, total: 0 },
  };
  for (const s of scenes) {
    for (const o of s.objects) {
      const c = out[o.label];
      const a = o.box[2] * o.box[3];
      c.total++;
      if (a < 32 * 32) c.small++;
      else if (a <= 96 * 96) c.medium++;
      else c.large++;
      if (o.visibility < 0.9) c.occluded++;
    }
  }
  return out;
}

/**
 * The standard split of the generated world: disjoint ranges of scene indices, so every split can be
 * regenerated alone and no scene is in two splits. `count` caps the size (the ranges are far apart).
 */
export const SCENE_SPLITS = {
  train: { start: 0, count: 4000 },
  validation: { start: 100_000, count: 200 },
  test: { start: 200_000, count: 300 },
} as const;

export type SceneSplit = keyof typeof SCENE_SPLITS;

/** Scenes of one split of the world seeded by `seed` (the first `count`, default the split's size). */
export function generateSplit(
  seed: number,
  split: SceneSplit,
  count?: number,
  options: Partial<SceneOptions> = {},
): Scene[] {
  const s = SCENE_SPLITS[split];
  if (s === undefined)
    throw new RangeError(`split: expected train, validation or test, got ${JSON.stringify(split)}`);
  const n = count ?? s.count;
  if (!Number.isInteger(n) || n < 0 || n > 99_000)
    throw new RangeError(`count: expected an integer in [0, 99000], got ${n}`);
  return generateScenes(seed, n, { ...options, start: s.start });
}
