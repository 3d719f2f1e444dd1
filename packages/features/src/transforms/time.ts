/**
 * Cyclical encodings of a timestamp (epoch ms): hour of day (fractional) and day of week as sine and
 * cosine pairs, so 23:59 sits next to 00:00 and Sunday next to Monday. Time since an event is a
 * numeric source (`secondsSince`) and is cut with `bucketize` like any number.
 */
import type { Row } from '../definitions.js';
import { FeatureValueError, readNumber } from './common.js';

export type CyclicalPart = 'hour' | 'weekday';

export interface CyclicalDef {
  kind: 'cyclical';
  name: string;
  input: string;
  column: string;
  parts: CyclicalPart[];
  /** Offset of local time from UTC in minutes (for example 120 for UTC+2). */
  utcOffsetMinutes: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export function checkCyclical(d: CyclicalDef): void {
  if (typeof d.column !== 'string' || d.column === '')
    throw new TypeError(
      `transform ${d.name}: column: expected a column name, got ${JSON.stringify(d.column)}`,
    );
  if (
    !Array.isArray(d.parts) ||
    d.parts.length === 0 ||
    d.parts.some((p) => p !== 'hour' && p !== 'weekday')
  ) {
    throw new TypeError(
      `transform ${d.name}: parts: expected a non-empty list of 'hour' and 'weekday', got ${JSON.stringify(d.parts)}`,
    );
  }
  if (!Number.isInteger(d.utcOffsetMinutes) || Math.abs(d.utcOffsetMinutes) > 14 * 60) {
    throw new RangeError(
      `transform ${d.name}: utcOffsetMinutes: expected an integer within ±840, got ${d.utcOffsetMinutes}`,
    );
  }
}

export function cyclicalColumns(d: CyclicalDef): string[] {
  return d.parts.flatMap((p) => [`${d.name}__${p}_sin`, `${d.name}__${p}_cos`]);
}

export function writeCyclical(
  d: CyclicalDef,
  row: Row,
  rowIndex: number,
  out: Float64Array,
  off: number,
): void {
  const t = readNumber(row, d.column, d.name, rowIndex);
  if (t === null) throw new FeatureValueError(d.name, rowIndex, `column ${d.column}: missing timestamp`);
  const local = t + d.utcOffsetMinutes * 60_000;
  const msOfDay = ((local % DAY) + DAY) % DAY;
  // 1970-01-01 was a Thursday: day index 0 -> weekday 4 (0 = Sunday).
  const weekday = (((Math.floor(local / DAY) + 4) % 7) + 7) % 7;
  let j = off;
  for (const p of d.parts) {
    const angle = p === 'hour' ? (2 * Math.PI * msOfDay) / DAY : (2 * Math.PI * weekday) / 7;
    out[j++] = Math.sin(angle);
    out[j++] = Math.cos(angle);
  }
}
