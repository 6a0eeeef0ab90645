/**
 * Decoded events keep their byte strings (keys, ids, ciphertexts, the signature) as
 * Uint8Arrays, and the decoder gives each one an ArrayBuffer of its own: about eight per event,
 * each costing a heap object and a native allocation with its bookkeeping, more than the bytes
 * themselves for 32-byte ids. A log holds every event it has folded, so at 100,000 events that
 * overhead was about a fifth of the node's live memory.
 *
 * packByteStrings copies every byte string under `root` into one buffer and puts a view of
 * that buffer in its place: the same bytes, one allocation per event. The views do not
 * overlap, so writing into one (a key wiped after use) never changes another.
 */
export function packByteStrings(root: object): void {
  // Parallel arrays, filled by one walk: this runs once per event decoded (a replay decodes
  // every stored event), so it allocates nothing per byte string but its view.
  const holders: Record<string, unknown>[] = [];
  const keys: string[] = [];
  const found: Uint8Array[] = [];
  let total = 0;
  const visit = (holder: Record<string, unknown>): void => {
    // Own properties only, read and written as such: a body's user-chosen key named
    // `__proto__` is an own data property here, and [[Set]] on it writes that property.
    for (const key of Object.keys(holder)) {
      if (!Object.hasOwn(holder, key)) continue;
      const value = holder[key];
      if (value instanceof Uint8Array) {
        holders.push(holder);
        keys.push(key);
        found.push(value);
        total += value.length;
      } else if (value !== null && typeof value === 'object') {
        visit(value as Record<string, unknown>);
      }
    }
  };
  // Recursion is bounded: a decoded value nests at most MAX_CANONICAL_DEPTH deep.
  visit(root as Record<string, unknown>);
  if (found.length < 2) return;
  const buffer = new ArrayBuffer(total);
  let offset = 0;
  for (let i = 0; i < found.length; i++) {
    const bytes = found[i]!;
    const view = new Uint8Array(buffer, offset, bytes.length);
    view.set(bytes);
    const holder = holders[i]!;
    const key = keys[i]!;
    if (Object.hasOwn(holder, key)) holder[key] = view;
    offset += bytes.length;
  }
}
