/**
 * Input checks shared by the package: every message names the argument, what was expected and what arrived.
 */

/** Short, printable description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  return typeof value === 'object'
    ? `an object (${Object.keys(value as object)
        .slice(0, 5)
        .join(', ')})`
    : typeof value;
}

export function assertFiniteNumber(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`${name}: expected a finite number, got ${describe(value)}`);
  }
}

export function assertProbability(name: string, value: unknown, open = false): asserts value is number {
  assertFiniteNumber(name, value);
  if (open ? value <= 0 || value >= 1 : value < 0 || value > 1) {
    throw new RangeError(`${name}: expected a number in ${open ? '(0, 1)' : '[0, 1]'}, got ${value}`);
  }
}

export function assertPositiveInteger(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name}: expected a positive integer, got ${describe(value)}`);
  }
}

export function assertArrayLike(name: string, value: unknown): asserts value is ArrayLike<unknown> {
  if (!Array.isArray(value) && !(ArrayBuffer.isView(value) && !(value instanceof DataView))) {
    throw new TypeError(`${name}: expected an array or typed array, got ${describe(value)}`);
  }
}
