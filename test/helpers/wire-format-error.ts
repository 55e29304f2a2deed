/**
 * The assertion of the wire tests that a decoder refuses its input.
 */
import assert from "node:assert/strict";
import { WireFormatError } from "../../src/errors.js";

/** Asserts that `fn` throws a `WireFormatError` naming `field`, its message matching `pattern`. */
export function rejects(fn: () => unknown, field: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof WireFormatError, `expected WireFormatError, got ${String(err)}`);
    assert.equal(err.field, field);
    assert.match(err.message, pattern);
    return true;
  });
}
