/**
 * A real node state whose calls fail, on the test's say-so, as a store that blips fails: with a
 * retriable `StorageError` (a broken connection, a PostgreSQL restart). Every method of the state
 * and of its repositories goes through `failing(path)` first, with `path` such as
 * `"nipost.add"` or `"check"`; when it answers true the call rejects instead of running.
 */
import { StorageError } from "../../src/errors.js";
import type { NodeState } from "../../src/storage/index.js";

/** The failure a blipping call rejects with. */
export function blip(path: string): StorageError {
  return new StorageError(`${path}: connection terminated (test)`, { kind: "io", retriable: true });
}

/** `state`, with every call asking `failing` first. */
export function blippingState(state: NodeState, failing: (path: string) => boolean): NodeState {
  const wrap = <T extends object>(target: T, prefix: string): T => {
    const inner = new Map<PropertyKey, unknown>();
    return new Proxy(target, {
      get(t, prop) {
        const value = Reflect.get(t, prop, t) as unknown;
        if (typeof prop === "symbol") return value;
        const path = `${prefix}${prop}`;
        if (typeof value === "function") {
          return (...args: unknown[]) =>
            failing(path)
              ? Promise.reject(blip(path))
              : (value as (...a: unknown[]) => unknown).apply(t, args);
        }
        if (prefix === "" && value !== null && typeof value === "object") {
          let proxied = inner.get(prop);
          if (proxied === undefined) {
            proxied = wrap(value, `${path}.`);
            inner.set(prop, proxied);
          }
          return proxied;
        }
        return value;
      },
    });
  };
  return wrap(state, "");
}
