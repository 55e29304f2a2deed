/**
 * How often a manager asks the store for the leases it does not hold (`identity-leases.ts`,
 * `lease-waiters.ts`): a lease row locked by another worker's takeover is asked for again after
 * a pause that doubles on the clock, up to a tenth of the lease time (before: at once, in a loop);
 * the identities waiting for another live holder are checked in one read for all those due, and
 * only those found free run an acquisition (before: one acquisition each, every two thirds of the
 * lease time). All time is a `ManualClock`; the store is a stand-in that counts, and a real
 * PostgreSQL row lock for the first case. And how the manager gives its leases back on close: a
 * step of its turn budget each (turns counted), not ten thousand in one turn of the event loop.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import { toHex } from "../src/bytes.js";
import { ManualClock } from "../src/clock.js";
import { LeaseLostError } from "../src/errors.js";
import { silentLogger } from "../src/logger.js";
import {
  BUSY_LEASE_FIRST_PAUSE_MS,
  busyPauseCapMs,
  IdentityLeases,
} from "../src/registration/identity-leases.js";
import type { RegistrationEvent } from "../src/registration/index.js";
import {
  type Lease,
  type LeaseAcquireOptions,
  type LeaseAcquireResult,
  type LeaseRepository,
  openPostgresState,
} from "../src/storage/index.js";
import { TurnBudget } from "../src/turn-budget.js";
import { waitFor } from "./helpers/clock-driver.js";
import { postgresDatabase } from "./helpers/postgres-database.js";
import { turnCounter } from "./helpers/turn-counter.js";

const TTL_MS = 30_000;
const T0 = Date.UTC(2024, 0, 1);

/** Lets every promise chain that can run, run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** A lease store of rows in memory, counting what it is asked. */
class CountingLeases implements LeaseRepository {
  readonly rows = new Map<string, Lease>();
  acquires: Array<{ nodeId: string; at: number }> = [];
  getManyCalls: number[] = [];
  /** Identities whose row is "locked": acquire answers with the (expired) row as committed. */
  readonly locked = new Set<string>();

  async acquire(nodeId: Uint8Array, options: LeaseAcquireOptions): Promise<LeaseAcquireResult> {
    const key = toHex(nodeId);
    const at = options.at.getTime();
    this.acquires.push({ nodeId: key, at });
    const row = this.rows.get(key);
    if (this.locked.has(key) && row !== undefined) return { held: false, current: row };
    if (
      row !== undefined &&
      row.holder !== options.holder &&
      !row.released &&
      row.expiresAt.getTime() > at
    ) {
      return { held: false, current: row };
    }
    const lease: Lease = {
      nodeId,
      holder: options.holder,
      token: (row?.token ?? 0n) + 1n,
      acquiredAt: options.at,
      renewedAt: options.at,
      expiresAt: new Date(at + options.ttlMs),
      released: false,
    };
    this.rows.set(key, lease);
    const tookOver =
      row !== undefined && !row.released && row.holder !== options.holder ? row : undefined;
    return { held: true, lease, tookOver };
  }
  async renew(lease: Lease): Promise<Lease> {
    return lease;
  }
  async renewMany(leases: readonly Lease[]) {
    return { renewed: [...leases], lost: [] };
  }
  releases = 0;
  async release(): Promise<boolean> {
    this.releases++;
    return true;
  }
  async check(): Promise<void> {}
  async get(nodeId: Uint8Array): Promise<Lease | undefined> {
    return this.rows.get(toHex(nodeId));
  }
  async getMany(nodeIds: readonly Uint8Array[]): Promise<Lease[]> {
    this.getManyCalls.push(nodeIds.length);
    return nodeIds.flatMap((id) => {
      const row = this.rows.get(toHex(id));
      return row === undefined ? [] : [row];
    });
  }
  async list(): Promise<Lease[]> {
    return [...this.rows.values()];
  }
  /** Another holder's live lease on `nodeId`, renewed at `at`. */
  heldBy(nodeId: Uint8Array, holder: string, at: number): void {
    this.rows.set(toHex(nodeId), {
      nodeId,
      holder,
      token: 1n,
      acquiredAt: new Date(T0),
      renewedAt: new Date(at),
      expiresAt: new Date(at + TTL_MS),
      released: false,
    });
  }
}

function leasesOf(
  store: LeaseRepository,
  clock: ManualClock,
  closed: AbortController,
  turns?: TurnBudget,
) {
  const events: RegistrationEvent[] = [];
  const leases = new IdentityLeases({
    leases: store,
    clock,
    logger: silentLogger,
    emit: (e) => events.push(e),
    holder: "me",
    ttlMs: TTL_MS,
    whenHeldElsewhere: "wait",
    closed: closed.signal,
    onLost: () => {},
    turns,
  });
  return { leases, events };
}

const id = (i: number) => new Uint8Array(32).fill(i);

describe("asking for leases held elsewhere", () => {
  it("asks again for a row locked by another worker's takeover after doubling pauses on the clock, not in a loop", async () => {
    const clock = new ManualClock(T0);
    const store = new CountingLeases();
    const closed = new AbortController();
    const { leases } = leasesOf(store, clock, closed);
    const nodeId = id(1);
    // The row as committed: an expired lease of a dead holder; a takeover has it locked.
    store.heldBy(nodeId, "dead", T0 - 2 * TTL_MS);
    store.locked.add(toHex(nodeId));
    const held = leases.hold(nodeId, undefined);
    held.catch(() => {});
    await flush();
    // One question, then a pause: the clock has not moved, so nothing more is asked.
    assert.equal(store.acquires.length, 1);
    const cap = busyPauseCapMs(TTL_MS);
    assert.equal(cap, 3_000);
    const pauses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const before = clock.now();
      assert.equal(await clock.advanceToNextWakeup(), true);
      await flush();
      pauses.push(clock.now() - before);
      assert.equal(store.acquires.length, i + 2);
    }
    const expected: number[] = [];
    for (let p = BUSY_LEASE_FIRST_PAUSE_MS; expected.length < 10; p = Math.min(2 * p, cap)) {
      expected.push(p);
    }
    assert.deepEqual(pauses, expected); // 50, 100, 200, … up to 3000, then 3000 each
    // The takeover commits: the live lease of its holder is waited for until its expiry.
    store.locked.delete(toHex(nodeId));
    store.heldBy(nodeId, "other", clock.now() + cap); // at the next question
    await clock.advanceToNextWakeup();
    await flush();
    const asked = store.acquires.length;
    await clock.advance(TTL_MS - 1);
    await flush();
    assert.equal(
      store.acquires.length,
      asked,
      "no acquisition while the other holder's lease is live",
    );
    closed.abort();
    await assert.rejects(held);
  });

  it("checks the identities waiting for live leases in one read per expiry, and acquires only those found free", async () => {
    const clock = new ManualClock(T0);
    const store = new CountingLeases();
    const closed = new AbortController();
    const { leases, events } = leasesOf(store, clock, closed);
    const N = 200;
    const ids = Array.from({ length: N }, (_, i) => id(i + 1));
    for (const nodeId of ids) store.heldBy(nodeId, "other", T0);
    const holds = ids.map((nodeId) => leases.hold(nodeId, undefined));
    for (const h of holds) h.catch(() => {});
    await flush();
    assert.equal(store.acquires.length, N, "one acquisition each to learn who holds it");
    assert.equal(events.filter((e) => e.type === "identity-held-elsewhere").length, N);

    // The other holder renews every ttl / 3 for two minutes: the waiting identities cost one
    // read per expiry that passes, and no acquisition.
    for (let t = TTL_MS / 3; t <= 120_000; t += TTL_MS / 3) {
      await clock.set(T0 + t);
      for (const nodeId of ids) store.heldBy(nodeId, "other", T0 + t);
      await flush();
    }
    assert.equal(store.acquires.length, N, "no acquisition while the leases are live");
    assert.ok(
      store.getManyCalls.length >= 1 && store.getManyCalls.length <= 6,
      String(store.getManyCalls),
    );
    assert.ok(
      store.getManyCalls.every((n) => n === N),
      "every due identity in one read",
    );
    assert.deepEqual(leases.queries, { acquisitions: N, waitReads: store.getManyCalls.length });
    // Still the same holder and token: reported once.
    assert.equal(events.filter((e) => e.type === "identity-held-elsewhere").length, N);

    // The holder dies (stops renewing) for half of them and releases the others later.
    const dead = ids.slice(0, N / 2);
    const renewedAt = clock.now();
    for (let t = renewedAt + TTL_MS / 3; t < renewedAt + TTL_MS; t += TTL_MS / 3) {
      await clock.set(t);
      for (const nodeId of ids.slice(N / 2)) store.heldBy(nodeId, "other", t);
      await flush();
    }
    await clock.set(renewedAt + TTL_MS);
    await flush();
    const taken = await Promise.all(holds.slice(0, N / 2));
    assert.equal(taken.length, N / 2);
    assert.equal(store.acquires.length, N + N / 2, "one acquisition per identity found free");
    for (const nodeId of dead) assert.equal(store.rows.get(toHex(nodeId))?.holder, "me");
    closed.abort();
    for (const h of holds.slice(N / 2)) await assert.rejects(h);
    assert.equal(events.filter((e) => e.type === "lease-taken-over").length, N / 2);
  });

  it("on PostgreSQL, waits on the clock while another connection holds the row lock, then takes the lease", async () => {
    const url = await postgresDatabase();
    await using state = await openPostgresState({ connection: url, schema: "busy" });
    const nodeId = id(9);
    const at = new Date(T0);
    // A dead holder's lease, expired long ago.
    const first = await state.leases.acquire(nodeId, {
      holder: "dead",
      at: new Date(T0 - 3 * TTL_MS),
      ttlMs: TTL_MS,
    });
    assert.ok(first.held);
    // Another worker's takeover holds the row lock.
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    try {
      await other.query("begin");
      await other.query("select * from busy.poet_client_lease for update");
      const clock = new ManualClock(at);
      const closed = new AbortController();
      const { leases } = leasesOf(state.leases, clock, closed);
      const held = leases.hold(nodeId, undefined);
      held.catch(() => {});
      // The answer comes back ("held elsewhere", the row as committed) and the holder sleeps.
      await waitFor(() => clock.pending === 1);
      assert.equal(leases.queries.acquisitions, 1);
      await flush();
      assert.equal(leases.queries.acquisitions, 1, "not asked again while the clock stands still");
      // The lock goes (the other worker gave up): the next question takes it over.
      await other.query("rollback");
      await clock.advanceToNextWakeup();
      await held;
      assert.equal(leases.queries.acquisitions, 2);
      const row = await state.leases.get(nodeId);
      assert.equal(row?.holder, "me");
      assert.equal(row?.token, 2n);
      closed.abort();
      await leases.releaseAll();
    } finally {
      await other.end();
    }
  });
});

describe("releasing every lease on close", () => {
  it("releases them one turn-budget step each, never all in one event-loop turn", async () => {
    const clock = new ManualClock(T0);
    const store = new CountingLeases();
    const closed = new AbortController();
    const PER_TURN = 8;
    const { leases } = leasesOf(store, clock, closed, new TurnBudget(PER_TURN));
    const N = 100;
    const held = await Promise.all(
      Array.from({ length: N }, (_, i) => leases.hold(id(i + 1), undefined)),
    );
    const counter = turnCounter();
    const abortedIn: number[] = [];
    for (const lease of held) lease.add({ abort: () => abortedIn.push(counter.turn) });
    // As the manager closes: its signal first (the renewals stop), then the releases.
    closed.abort();
    await leases.releaseAll();
    counter.stop();
    assert.equal(store.releases, N, "every lease released in the store");
    assert.equal(abortedIn.length, N, "every identity's lease aborted");
    for (const lease of held) {
      assert.ok(lease.reason instanceof LeaseLostError);
      assert.equal(lease.reason.reason, "released");
    }
    const perTurn = new Map<number, number>();
    for (const turn of abortedIn) perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1);
    assert.ok(
      Math.max(...perTurn.values()) <= PER_TURN,
      `at most ${PER_TURN} per turn, got ${[...perTurn.values()]}`,
    );
    assert.ok(perTurn.size >= N / PER_TURN, `${N} releases over ${perTurn.size} turns`);
  });
});
