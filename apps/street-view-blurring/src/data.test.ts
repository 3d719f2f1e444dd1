import { describe, expect, it } from 'vitest';
import { describeScenes, generateScene, generateScenes } from './data.js';

describe('generateScene', () => {
  it('is deterministic from (seed, index) and independent of the other scenes', () => {
    const a = generateScene(3, 5);
    const b = generateScenes(3, 6)[5];
    expect(Buffer.from(a.image.data).equals(Buffer.from(b.image.data))).toBe(true);
    expect(a.objects).toEqual(b.objects);
    const c = generateScene(4, 5);
    expect(Buffer.from(a.image.data).equals(Buffer.from(c.image.data))).toBe(false);
  });

  it('renders RGB of the asked size with boxes inside the image', () => {
    const s = generateScene(1, 0, { width: 320, height: 256 });
    expect(s.image.data.length).toBe(320 * 256 * 3);
    for (const o of generateScenes(1, 20).flatMap((x) => x.objects)) {
      const [x, y, w, h] = o.box;
      expect(x).toBeGreaterThanOrEqual(0);
      expect(y).toBeGreaterThanOrEqual(0);
      expect(x + w).toBeLessThanOrEqual(256);
      expect(y + h).toBeLessThanOrEqual(256);
      expect(Math.min(w, h)).toBeGreaterThanOrEqual(3);
      expect(o.visibility).toBeGreaterThanOrEqual(0.35);
    }
  });

  it('keeps honest object statistics: mostly small faces, some occluded, every plate style', () => {
    const scenes = generateScenes(11, 60);
    const stats = describeScenes(scenes);
    const objects = scenes.flatMap((s) => s.objects);
    expect(stats.face.total).toBeGreaterThan(100);
    expect(stats.face.small / stats.face.total).toBeGreaterThan(0.5);
    expect(stats.face.medium + stats.face.large).toBeGreaterThan(5);
    expect(stats.face.occluded).toBeGreaterThan(5);
    expect(stats.plate.total).toBeGreaterThan(40);
    const faces = objects.filter((o) => o.label === 'face');
    expect(faces.some((o) => o.variant === 'profile')).toBe(true);
    expect(faces.some((o) => o.variant === 'frontal')).toBe(true);
    const styles = new Set(objects.filter((o) => o.label === 'plate').map((o) => o.variant));
    expect([...styles].sort()).toEqual(['au', 'eu', 'square', 'us']);
    // Too small or too hidden objects are reported, not silently dropped.
    expect(scenes.flatMap((s) => s.ignored).length).toBeGreaterThan(0);
    expect(scenes.flatMap((s) => s.distractors).some((d) => d.kind === 'sign')).toBe(true);
  });

  it('puts the box on the object: face boxes hold skin-ish pixels, not the sky', () => {
    const s = generateScene(2, 1);
    const { width, data } = s.image;
    for (const o of s.objects) {
      const [x, y, w, h] = o.box;
      const i = ((y + Math.floor(h / 2)) * width + x + Math.floor(w / 2)) * 3;
      // The box centre is not pure background blue sky.
      expect(data[i + 2] > data[i] + 60 && data[i + 2] > 180).toBe(false);
    }
  });

  it('rejects bad arguments with the argument named', () => {
    expect(() => generateScene(1, -1)).toThrow(/index/);
    expect(() => generateScene(1, 0, { width: 10 })).toThrow(/width/);
  });
});
