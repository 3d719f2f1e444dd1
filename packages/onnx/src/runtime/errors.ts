/**
 * The named errors of the runtime: one for a model that cannot be loaded, one for a request that
 * does not match the model's declared inputs.
 */

/** A model file or buffer that is missing, corrupt, truncated or has an unexpected signature. */
export class OnnxLoadError extends Error {
  override readonly name = 'OnnxLoadError';
  /** The path, or `<buffer of N bytes>`. */
  readonly source: string;

  constructor(source: string, message: string, options?: { cause?: unknown }) {
    super(`${source}: ${message}`, options);
    this.source = source;
  }
}

/** A request whose inputs do not match the model's signature (name, dtype or shape). */
export class OnnxInputError extends TypeError {
  override readonly name = 'OnnxInputError';
  /** The input the problem is about. */
  readonly input: string;
  /** What the model declares. */
  readonly expected: string;
  /** What the request carried. */
  readonly received: string;

  constructor(input: string, expected: string, received: string, detail?: string) {
    super(`input "${input}": expected ${expected}, received ${received}${detail ? ` (${detail})` : ''}`);
    this.input = input;
    this.expected = expected;
    this.received = received;
  }
}
