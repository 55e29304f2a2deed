/**
 * Drives a `ManualClock` from one timer to the next while real sockets, worker-backed verification
 * and sliced work run, without ever guessing how long real work takes.
 *
 * Before each step the process must be quiet: no HTTP/1.1 exchange on its way between a client and
 * a server (a request a server has fully received and not yet answered is parked there — a hanging
 * or delayed mock — and does not count), no pending `setImmediate` slice, file-system request or
 * connection attempt, and nothing new on the clock for a few event-loop turns. Then the clock jumps
 * to the earliest sleeper's wake-up time. So a busy machine makes a test slower, never different.
 *
 * HTTP/2 exchanges (gRPC, Connect over HTTP/2) are not seen: drive those protocols by hand.
 */
import dc from "node:diagnostics_channel";
import type { ClientRequest, IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import zlib from "node:zlib";
import type { ManualClock } from "../../src/clock.js";

/** Client requests not yet closed. */
const openRequests = new Set<ClientRequest>();
/** The request a server is handling on each connection, by the client's port. */
const atServer = new Map<number, IncomingMessage>();
/** Bumped on every exchange event, so that a quiet check sees that something happened. */
let exchangeEvents = 0;
const wakeWaiters = new Set<() => void>();

function exchangeEvent(): void {
  exchangeEvents++;
  for (const wake of wakeWaiters) wake();
  wakeWaiters.clear();
}

dc.subscribe("http.client.request.start", (message) => {
  const { request } = message as { request: ClientRequest };
  openRequests.add(request);
  exchangeEvent();
  request.once("close", () => {
    openRequests.delete(request);
    exchangeEvent();
  });
});

dc.subscribe("http.server.request.start", (message) => {
  const { request, response, socket } = message as {
    request: IncomingMessage;
    response: NodeJS.EventEmitter;
    socket: Socket;
  };
  const port = socket.remotePort;
  if (port === undefined) return;
  atServer.set(port, request);
  exchangeEvent();
  request.once("end", exchangeEvent);
  response.once("close", () => {
    if (atServer.get(port) === request) atServer.delete(port);
    exchangeEvent();
  });
});

/**
 * Compression runs on the thread pool, out of sight of `getActiveResourcesInfo()`: count the
 * chunks every zlib and brotli stream (and so every `zlib.gzip`-style call) has in progress.
 */
let zlibChunks = 0;
{
  type TransformFn = (
    chunk: unknown,
    encoding: unknown,
    callback: (...args: unknown[]) => void,
  ) => void;
  const base = Object.getPrototypeOf(Object.getPrototypeOf(zlib.Gzip.prototype)) as {
    _transform: TransformFn;
  };
  const transform = base._transform;
  base._transform = function (this: unknown, chunk, encoding, callback) {
    zlibChunks++;
    let done = false;
    return transform.call(this, chunk, encoding, (...args: unknown[]) => {
      if (!done) {
        done = true;
        zlibChunks--;
      }
      callback(...args);
    });
  };
}

/**
 * Work the driver cannot see otherwise (a query on a PostgreSQL connection, for example): each
 * {@link beginWork} counts as busy until the function it returns is called.
 */
let trackedWork = 0;

/** Marks work in progress for the driver; call the returned function once it is done. */
export function beginWork(): () => void {
  trackedWork++;
  let done = false;
  return () => {
    if (!done) {
      done = true;
      trackedWork--;
      exchangeEvent();
    }
  };
}

/** HTTP/1.1 exchanges on their way to or from a server (not parked at one). */
function exchangesInTransit(): number {
  let n = 0;
  for (const request of openRequests) {
    const port = request.socket?.localPort;
    const incoming = port === undefined ? undefined : atServer.get(port);
    if (incoming === undefined || !incoming.complete) n++;
  }
  return n;
}

/** Pending requests and slices that mean real work is still running. */
const BUSY_RESOURCES = new Set([
  "Immediate",
  "FSReqCallback",
  "FSReqPromise",
  "TCPConnectWrap",
  "GetAddrInfoReqWrap",
  "WriteWrap",
  "ShutdownWrap",
]);

function busyResources(): number {
  let n = 0;
  for (const resource of process.getActiveResourcesInfo()) if (BUSY_RESOURCES.has(resource)) n++;
  return n;
}

/** Event-loop turns in a row with nothing running and nothing changing that count as quiet. */
const QUIET_TURNS = 3;

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Waits for the next exchange event, or a few milliseconds, whichever comes first. */
function nextExchangeEvent(): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, 5);
    function done() {
      clearTimeout(timer);
      wakeWaiters.delete(done);
      resolve();
    }
    wakeWaiters.add(done);
  });
}

function signature(clock: ManualClock | undefined): string {
  if (clock === undefined) return String(exchangeEvents);
  return `${exchangeEvents}:${clock.pending}:${clock.nextWakeup()}:${clock.now()}`;
}

/**
 * Resolves once the process is quiet: no exchange in transit, no pending slice or I/O request,
 * and the clock's sleepers unchanged for {@link QUIET_TURNS} event-loop turns.
 */
export async function settle(clock?: ManualClock): Promise<void> {
  let quiet = 0;
  let last = signature(clock);
  while (quiet < QUIET_TURNS) {
    if (exchangesInTransit() > 0) {
      quiet = 0;
      await nextExchangeEvent();
      last = signature(clock);
      continue;
    }
    if (trackedWork > 0) {
      // A query on its way: wait for its end (or a few ms) instead of spinning the event loop,
      // which would take the CPU from the database server that answers it.
      quiet = 0;
      await nextExchangeEvent();
      last = signature(clock);
      continue;
    }
    const busy = busyResources() > 0 || zlibChunks > 0;
    await nextTurn();
    const now = signature(clock);
    if (busy || now !== last) {
      quiet = 0;
      last = now;
    } else {
      quiet++;
    }
  }
}

/** How long, in real time, the driver waits for work it cannot see before calling it stuck. */
const STALL_LIMIT_MS = 60_000;

function realPause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Options of {@link runClock}. */
export interface RunClockOptions {
  /** Stop once the clock has reached this time (Unix ms). */
  untilMs?: number | undefined;
  /** Most clock steps before giving up (a guard against a loop that never ends). */
  maxSteps?: number | undefined;
}

/**
 * Steps `clock` from one wake-up to the next, waiting for quiet before each step, until `done()`
 * holds or the clock reaches `untilMs`.
 *
 * @throws when `done()` still does not hold after `maxSteps` steps, or when nothing is scheduled on
 *   the clock, nothing is seen running and `done()` stays false for a long time.
 */
export async function runClock(
  clock: ManualClock,
  done: () => boolean,
  options: RunClockOptions = {},
): Promise<void> {
  const maxSteps = options.maxSteps ?? 100_000;
  const until = options.untilMs;
  let stalledSince: number | undefined;
  for (let step = 0; ; step++) {
    await settle(clock);
    if (done()) return;
    if (until !== undefined && clock.now() >= until) return;
    if (step >= maxSteps) throw new Error(`the clock was stepped ${maxSteps} times to no end`);
    const woke = await clock.advanceToNextWakeup(until);
    if (woke || (until !== undefined && clock.now() >= until)) {
      stalledSince = undefined;
      continue;
    }
    // Nothing is due on the clock: whatever `done` waits for is real work the driver cannot see.
    stalledSince ??= performance.now();
    if (performance.now() - stalledSince > STALL_LIMIT_MS) {
      throw new Error("nothing is scheduled on the clock and nothing finished: stuck");
    }
    await realPause(5);
  }
}

/** Whether `promise` has settled yet, as a function to poll. */
export function settledFlag(promise: Promise<unknown>): () => boolean {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  return () => settled;
}

/** Steps the clock until `promise` settles; resolves or rejects with it. */
export async function driveClock<T>(
  clock: ManualClock,
  promise: Promise<T>,
  options: RunClockOptions = {},
): Promise<T> {
  await runClock(clock, settledFlag(promise), options);
  return promise;
}

/**
 * Waits, without moving the clock, until `condition` holds: first for quiet, then (for work the
 * driver cannot see) in short real pauses up to a generous limit.
 */
export async function waitFor(condition: () => boolean, clock?: ManualClock): Promise<void> {
  const start = performance.now();
  for (;;) {
    await settle(clock);
    if (condition()) return;
    if (performance.now() - start > STALL_LIMIT_MS) throw new Error("condition not reached");
    await realPause(5);
  }
}
