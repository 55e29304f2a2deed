/**
 * @module bytes
 *
 * The byte helpers every layer needs: equality, ordering and hex. Every value the library compares
 * is public (roots, labels, keys, challenges), so equality needs no constant-time care.
 */

/**
 * Whether `a` and `b` hold the same bytes.
 *
 * @example
 * ```ts
 * equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2)); // true
 * ```
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Orders byte strings the way LevelDB orders keys: bytewise, a prefix before its extensions.
 * Negative when `a` comes first, positive when `b` does, 0 when they are equal.
 *
 * @example
 * ```ts
 * [b, a].sort(compareBytes);
 * ```
 */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * Lower-case hex of `bytes`, without copying them.
 *
 * @example
 * ```ts
 * toHex(Uint8Array.of(0xab, 0x01)); // "ab01"
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** Each node id array's hex, while the array lives (see {@link nodeKey}). */
const nodeKeys = new WeakMap<Uint8Array, string>();

/**
 * The hex of a node id as the key of a map by identity: the same string for the same array, kept
 * as long as the array. The manager, the identity leases and the lease store each keep a map by
 * identity; with `toHex` each held a copy of the 64-character key (80 bytes), ten thousand
 * identities × six maps. Only for arrays never written after (a signer's node id).
 *
 * @example
 * ```ts
 * nodeKey(signer.nodeId) === nodeKey(signer.nodeId); // true: one string
 * ```
 */
export function nodeKey(nodeId: Uint8Array): string {
  let key = nodeKeys.get(nodeId);
  if (key === undefined) {
    key = toHex(nodeId);
    nodeKeys.set(nodeId, key);
  }
  return key;
}
