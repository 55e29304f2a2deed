/**
 * @module verify/bytes
 *
 * Byte comparison for the verifier. Every value it compares is public (roots, labels), so it
 * needs no constant-time care.
 */

/** Whether `a` and `b` hold the same bytes. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
