/**
 * @module transport/retry-after
 *
 * The `Retry-After` header (RFC 9110 §10.2.3): either whole seconds or an HTTP date. The Go node
 * ignores it for PoET calls (docs/node-client.md §2.2); this client honours it, so a PoET that
 * sheds load with 429 or 503 can say when to come back. Anything unparsable is ignored rather than
 * trusted, and the result is never negative.
 */

/**
 * Milliseconds to wait according to a `Retry-After` value, or `undefined` when absent or invalid.
 *
 * @example
 * ```ts
 * parseRetryAfter("120", clock.now()); // 120000
 * parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", clock.now());
 * ```
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (text === "") return undefined;
  if (/^\d+$/.test(text)) {
    const seconds = Number(text);
    return Number.isSafeInteger(seconds) ? seconds * 1000 : undefined;
  }
  // An HTTP date names its month; this keeps `Date.parse` from reading "-5" as the year −5.
  if (!/[A-Za-z]{3}/.test(text)) return undefined;
  const at = Date.parse(text);
  if (!Number.isFinite(at)) return undefined;
  return Math.max(0, at - nowMs);
}
