/**
 * Which item ids a batch's results file already holds, in 16–32 bytes an item whatever the ids'
 * length, where a `Set<string>` of the ids took 45 (ids like `r123456`) to 77 bytes (UUIDs) and
 * more for longer ids: an open-addressing table of each line's 32-bit id hash and byte offset.
 * The hash only says where to look; an id counts as present when the line at a matching offset
 * carries exactly that id (the caller reads the line's key from the file), so two ids with the
 * same hash never hide each other. A lookup reads the file only on a hash match: a retried write
 * (the id is there), or one in ~2^32 probes of other ids.
 */
export class ResultLineIndex {
  private hashes: Uint32Array;
  private offsets: Float64Array;
  private count = 0;

  /** `initialCapacity`: slots at first, a power of two. */
  constructor(private readonly initialCapacity = 1024) {
    if (!Number.isInteger(Math.log2(initialCapacity))) throw new RangeError('initialCapacity must be a power of two');
    this.hashes = new Uint32Array(initialCapacity);
    this.offsets = new Float64Array(initialCapacity);
  }

  /** Lines indexed. */
  get size(): number {
    return this.count;
  }

  /** The table's bytes (its typed arrays). */
  get bytes(): number {
    return this.hashes.byteLength + this.offsets.byteLength;
  }

  /** Whether a line of `itemId` is indexed; `idAt(offset)` reads the item id of the line at that offset. */
  has(itemId: string, idAt: (offset: number) => string | undefined): boolean {
    return this.offsetOf(itemId, idAt) !== undefined;
  }

  /** The offset of the first line of `itemId` in the file, if any is indexed; `idAt` as for `has`. */
  offsetOf(itemId: string, idAt: (offset: number) => string | undefined): number | undefined {
    const hash = hashOf(itemId);
    const mask = this.hashes.length - 1;
    let first: number | undefined;
    // The whole probe run: a file with an id twice (damaged by hand) answers with its first line, as readers do.
    for (let slot = hash & mask; this.hashes[slot] !== EMPTY; slot = (slot + 1) & mask) {
      const offset = this.offsets[slot] as number;
      if (this.hashes[slot] === hash && (first === undefined || offset < first) && idAt(offset) === itemId)
        first = offset;
    }
    return first;
  }

  /** Indexes the line of `itemId` at `offset` (an id indexed twice, a file's duplicate line, takes two slots). */
  add(itemId: string, offset: number): void {
    if ((this.count + 1) * 4 > this.hashes.length * 3) this.grow(); // load ≤ 3/4
    this.place(hashOf(itemId), offset);
    this.count += 1;
  }

  /** Forgets every line (the file was replaced or emptied). */
  clear(): void {
    this.hashes = new Uint32Array(this.initialCapacity);
    this.offsets = new Float64Array(this.initialCapacity);
    this.count = 0;
  }

  private place(hash: number, offset: number): void {
    const mask = this.hashes.length - 1;
    let slot = hash & mask;
    while (this.hashes[slot] !== EMPTY) slot = (slot + 1) & mask;
    this.hashes[slot] = hash;
    this.offsets[slot] = offset;
  }

  private grow(): void {
    const { hashes, offsets } = this;
    this.hashes = new Uint32Array(hashes.length * 2);
    this.offsets = new Float64Array(offsets.length * 2);
    for (let slot = 0; slot < hashes.length; slot += 1)
      if (hashes[slot] !== EMPTY) this.place(hashes[slot] as number, offsets[slot] as number);
  }
}

/** A slot's hash when it is empty; no id hashes to it (see hashOf). */
const EMPTY = 0;

/**
 * FNV-1a over the id's UTF-16 code units, then MurmurHash3's finalizer so that the low bits (the
 * slot) of ids that differ in one character spread; never 0 (the empty slot's mark).
 */
export function hashOf(itemId: string): number {
  let hash = 0x811c9dc5;
  for (let position = 0; position < itemId.length; position += 1) {
    hash ^= itemId.charCodeAt(position);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0 || 1;
}
