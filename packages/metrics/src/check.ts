/**
 * The one input check every metric family uses, so a bad argument fails the same way everywhere:
 * a `TypeError` for the wrong kind of value, a `RangeError` for a value of the right kind out of
 * range, each naming the argument, what was expected and what arrived (CONVENTIONS 8).
 */

/** Any array of numbers a metric accepts: a plain array or a numeric typed array. */
export type NumberArray =
  | readonly number[]
  | Float64Array
  | Float32Array
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array;

/** What a metric does with a query or input for which it is undefined (0 / 0). */
export type UndefinedHandler = (reason: string) => void;

/** Short description of a value for an error message, never the whole of a large array. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (typeof value === 'object') return `an object (${Object.prototype.toString.call(value)})`;
  return `a ${typeof value}`;
}

/** True for a plain array or a numeric typed array (DataView and BigInt arrays excluded). */
export function isNumberArray(value: unknown): value is NumberArray {
  if (Array.isArray(value)) return true;
  return (
    ArrayBuffer.isView(value) &&
    !(value instanceof DataView) &&
    !(value instanceof BigInt64Array) &&
    !(value instanceof BigUint64Array)
  );
}

/** Checks that `value` is an array of finite numbers; returns it typed. */
export function checkFiniteArray(name: string, value: unknown): NumberArray {
  if (!isNumberArray(value)) {
    throw new TypeError(`${name}: expected an array or typed array of numbers, got ${describe(value)}`);
  }
  const a = value as ArrayLike<unknown>;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (typeof v !== 'number') {
      throw new TypeError(`${name}[${i}]: expected a finite number, got ${describe(v)}`);
    }
    if (!Number.isFinite(v))
      throw new RangeError(`${name}[${i}]: expected a finite number, got ${describe(v)}`);
  }
  return value;
}

/** Checks that `value` is an array of 0/1 labels. */
export function checkBinaryLabels(name: string, value: unknown): NumberArray {
  if (!isNumberArray(value)) {
    throw new TypeError(`${name}: expected an array or typed array of 0/1 labels, got ${describe(value)}`);
  }
  const a = value as ArrayLike<unknown>;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v !== 0 && v !== 1) {
      if (typeof v !== 'number')
        throw new TypeError(`${name}[${i}]: expected a label 0 or 1, got ${describe(v)}`);
      throw new RangeError(`${name}[${i}]: expected a label 0 or 1, got ${describe(v)}`);
    }
  }
  return value;
}

/** Checks that `value` is an array of integer class labels. */
export function checkIntegerLabels(name: string, value: unknown): NumberArray {
  if (!isNumberArray(value)) {
    throw new TypeError(
      `${name}: expected an array or typed array of integer labels, got ${describe(value)}`,
    );
  }
  const a = value as ArrayLike<unknown>;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (typeof v !== 'number')
      throw new TypeError(`${name}[${i}]: expected an integer label, got ${describe(v)}`);
    if (!Number.isInteger(v))
      throw new RangeError(`${name}[${i}]: expected an integer label, got ${describe(v)}`);
  }
  return value;
}

/** Checks that `value` is an array of probabilities in [0, 1]. */
export function checkProbabilities(name: string, value: unknown): NumberArray {
  const a = checkFiniteArray(name, value);
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v < 0 || v > 1) throw new RangeError(`${name}[${i}]: expected a probability in [0, 1], got ${v}`);
  }
  return a;
}

/** Checks that `value` is an array of non-negative finite numbers (graded relevance). */
export function checkNonNegative(name: string, value: unknown): NumberArray {
  const a = checkFiniteArray(name, value);
  for (let i = 0; i < a.length; i++) {
    if (a[i] < 0) throw new RangeError(`${name}[${i}]: expected a non-negative number, got ${a[i]}`);
  }
  return a;
}

/** Checks that two arrays have the same length. */
export function checkSameLength(
  nameA: string,
  a: ArrayLike<unknown>,
  nameB: string,
  b: ArrayLike<unknown>,
): void {
  if (a.length !== b.length) {
    throw new RangeError(
      `${nameB}: expected the same length as ${nameA} (${a.length}), got length ${b.length}`,
    );
  }
}

/** Checks a cut-off `k`: an integer >= 1, or Infinity for "the whole list". */
export function checkK(name: string, k: unknown): number {
  if (typeof k !== 'number') throw new TypeError(`${name}: expected an integer >= 1, got ${describe(k)}`);
  if (k !== Number.POSITIVE_INFINITY && (!Number.isInteger(k) || k < 1)) {
    throw new RangeError(`${name}: expected an integer >= 1, got ${describe(k)}`);
  }
  return k;
}

/** Checks a number lies in an open or closed interval. */
export function checkNumberIn(
  name: string,
  value: unknown,
  low: number,
  high: number,
  { lowOpen = false, highOpen = false }: { lowOpen?: boolean; highOpen?: boolean } = {},
): number {
  const interval = `${lowOpen ? '(' : '['}${low}, ${high}${highOpen ? ')' : ']'}`;
  if (typeof value !== 'number')
    throw new TypeError(`${name}: expected a number in ${interval}, got ${describe(value)}`);
  const ok =
    !Number.isNaN(value) &&
    (lowOpen ? value > low : value >= low) &&
    (highOpen ? value < high : value <= high);
  if (!ok) throw new RangeError(`${name}: expected a number in ${interval}, got ${describe(value)}`);
  return value;
}

/** Checks a positive integer (counts, sizes). */
export function checkPositiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number')
    throw new TypeError(`${name}: expected a positive integer, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name}: expected a positive integer, got ${describe(value)}`);
  }
  return value;
}

/** Checks a non-negative integer (counts). */
export function checkCount(name: string, value: unknown): number {
  if (typeof value !== 'number')
    throw new TypeError(`${name}: expected a non-negative integer, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${name}: expected a non-negative integer, got ${describe(value)}`);
  }
  return value;
}

/** Checks that a value is one of a fixed set of strings. */
export function checkOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    const expected = allowed.map((a) => `'${a}'`).join(', ');
    const err = `${name}: expected one of ${expected}, got ${describe(value)}`;
    throw typeof value === 'string' ? new RangeError(err) : new TypeError(err);
  }
  return value as T;
}

/** Checks an array of arrays (one per query or per sample). */
export function checkArrayOfArrays(name: string, value: unknown): NumberArray[] {
  if (!Array.isArray(value)) {
    throw new TypeError(
      `${name}: expected an array of arrays (one per query or sample), got ${describe(value)}`,
    );
  }
  for (let i = 0; i < value.length; i++) {
    if (!isNumberArray(value[i])) {
      throw new TypeError(
        `${name}[${i}]: expected an array or typed array of numbers, got ${describe(value[i])}`,
      );
    }
  }
  return value as NumberArray[];
}

/** True when `value` looks like a 2-D input (an array whose first element is itself an array). */
export function is2d(value: unknown): value is NumberArray[] {
  return Array.isArray(value) && value.length > 0 && isNumberArray(value[0]);
}

/** Reports an undefined result through the caller's handler and returns NaN. */
export function undefinedResult(onUndefined: UndefinedHandler | undefined, reason: string): number {
  onUndefined?.(reason);
  return Number.NaN;
}
