/** Named errors of the package, so callers can tell a bad batch from a programming error. */
import type { RejectedRow } from './types.js';

/** A batch `add` had bad rows; nothing was stored. `rejected` lists every bad row and why. */
export class InvalidRowsError extends RangeError {
  readonly rejected: RejectedRow[];

  constructor(argument: string, rejected: RejectedRow[]) {
    const shown = rejected
      .slice(0, 5)
      .map((r) => `row ${r.row} (id ${JSON.stringify(r.id)}): ${r.reason}`)
      .join('; ');
    const more = rejected.length > 5 ? `; and ${rejected.length - 5} more` : '';
    super(`${argument}: ${rejected.length} invalid row(s), nothing was stored: ${shown}${more}`);
    this.name = 'InvalidRowsError';
    this.rejected = rejected;
  }
}
