/**
 * @module storage/write-lock
 *
 * An in-process queue in front of SQLite's write lock, shared by every connection this process
 * opens on the same file (docs/node-client.md §1.11).
 *
 * better-sqlite3 is synchronous: when a connection waits on SQLite's busy handler it blocks the
 * whole event loop. If the connection holding the write lock lives in the same process, it can
 * never finish while the other one waits, and the waiter fails after the busy timeout. Queueing
 * writers of one process here, before `BEGIN IMMEDIATE`, leaves SQLite's busy timeout to do what
 * it is good at: waiting for writers in other processes.
 */
import { abortedError } from "../errors.js";

/** A FIFO mutex whose waiters can give up through an `AbortSignal`. */
export class WriteLock {
  #locked = false;
  #waiters: Array<() => void> = [];

  /** Resolves with a release function once the lock is held. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(abortedError(signal));
    if (!this.#locked) {
      this.#locked = true;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = this.#waiters.indexOf(grant);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(abortedError(signal as AbortSignal));
      };
      const grant = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve(this.#releaser());
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(grant);
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next();
      else this.#locked = false;
    };
  }
}

const shared = new Map<string, { lock: WriteLock; users: number }>();

/**
 * The lock for a database file, shared within the process; an empty name (in-memory database)
 * gets a private lock. Call the returned `release` when the connection closes.
 */
export function writeLockFor(file: string): { lock: WriteLock; release: () => void } {
  if (file === "") return { lock: new WriteLock(), release: () => {} };
  let entry = shared.get(file);
  if (!entry) {
    entry = { lock: new WriteLock(), users: 0 };
    shared.set(file, entry);
  }
  entry.users++;
  const held = entry;
  let released = false;
  return {
    lock: held.lock,
    release: () => {
      if (released) return;
      released = true;
      held.users--;
      if (held.users === 0 && shared.get(file) === held) shared.delete(file);
    },
  };
}
