/** Helpers shared by the app's tests (not a test file itself). */
import { join } from 'node:path';
import sharp from 'sharp';
import { generateScene } from './data.js';
import { encodePng, type RgbImage } from './raster.js';

export const FIXTURES = join(import.meta.dirname, '../../../fixtures/street-view-blurring');

/** A PNG of a generated scene, and the same PNG cut short (a corrupt upload). */
export async function scenePng(index: number, size = { width: 320, height: 240 }) {
  const scene = generateScene(5, index, size);
  const png = await encodePng(scene.image);
  return { scene, png, truncated: png.subarray(0, Math.floor(png.length * 0.6)) };
}

export async function decodePng(png: Uint8Array): Promise<RgbImage> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}
