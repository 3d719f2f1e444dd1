/**
 * Bounded top-k selection: a max-heap of the k smallest distances seen, so a scan over n items costs
 * O(n log k) at worst and, once the heap is full, one comparison for most items.
 */
export class TopK {
  readonly k: number;
  size = 0;
  private readonly dist: Float64Array;
  private readonly slot: Int32Array;

  constructor(k: number) {
    this.k = k;
    this.dist = new Float64Array(k);
    this.slot = new Int32Array(k);
  }

  /** Distance an item must beat to enter (Infinity until the heap is full). */
  get bound(): number {
    return this.size < this.k ? Number.POSITIVE_INFINITY : this.dist[0];
  }

  push(d: number, s: number): void {
    const { dist, slot } = this;
    if (this.size < this.k) {
      // Sift up from the new leaf.
      let i = this.size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (dist[p] >= d) break;
        dist[i] = dist[p];
        slot[i] = slot[p];
        i = p;
      }
      dist[i] = d;
      slot[i] = s;
      return;
    }
    if (!(d < dist[0])) return;
    // Replace the root and sift down.
    const n = this.size;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && dist[r] > dist[l] ? r : l;
      if (dist[c] <= d) break;
      dist[i] = dist[c];
      slot[i] = slot[c];
      i = c;
    }
    dist[i] = d;
    slot[i] = s;
  }

  /** Items nearest first; ties broken by slot so results are deterministic. */
  sorted(): { slot: number; distance: number }[] {
    const out: { slot: number; distance: number }[] = [];
    for (let i = 0; i < this.size; i++) out.push({ slot: this.slot[i], distance: this.dist[i] });
    out.sort((a, b) => a.distance - b.distance || a.slot - b.slot);
    return out;
  }
}
