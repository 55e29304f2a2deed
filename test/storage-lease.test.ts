/**
 * Identity leases in the node state, on real SQLite files and on PostgreSQL (two states on one
 * schema with pools of their own, as two workers would have): acquire, renew, release, expiry and
 * takeover with growing fencing tokens, and fencing — a stale holder's write is refused with a
 * `LeaseLostError` and writes nothing, while the other identities' writes of the same group commit
 * are committed. Instants are given by hand (the store reads no clock).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { toHex } from "../src/bytes.js";
import { ConfigError, LeaseLostError, StorageError } from "../src/errors.js";
import {
  companionPath,
  leaseIsLive,
  type NodeState,
  openNodeState,
  openPostgresState,
} from "../src/storage/index.js";
import { postgresDatabase } from "./helpers/postgres-database.js";
import { filled } from "./helpers/storage-go-db.js";
import { tempDir } from "./helpers/temp-dir.js";

const tmp = tempDir("storage-lease-");
const T0 = Date.parse("2024-01-01T00:00:00Z");
const TTL = 30_000;
const at = (ms: number) => new Date(T0 + ms);

/** Where a node state lives, and how to open it there (writable or read-only). */
interface StoreUnderTest {
  name: string;
  place: () => Promise<(readonly?: boolean) => Promise<NodeState>>;
}

let database: Promise<string> | undefined;
let schemas = 0;
const STORES: readonly StoreUnderTest[] = [
  {
    name: "sqlite",
    place: async () => {
      const file = tmp.file();
      return (readonly = false) =>
        readonly ? openNodeState(file, { readonly: true }) : openNodeState(file, { create: true });
    },
  },
  {
    name: "postgres",
    place: async () => {
      database ??= postgresDatabase();
      const connection = await database;
      const schema = `lease_${schemas++}`;
      return (readonly = false) => openPostgresState({ connection, schema, readonly });
    },
  },
];

for (const store of STORES) {
  describe(store.name, () => {
    /** Two node states on one file (one schema), as two processes would have. */
    async function twoStates(): Promise<{ a: NodeState; b: NodeState }> {
      const open = await store.place();
      const a = await open();
      const b = await open();
      return { a, b };
    }

    function registration(nodeId: Uint8Array, address: string) {
      return {
        nodeId,
        hash: filled(32, 0x77),
        address,
        roundId: "3",
        roundEnd: new Date(T0 + 3_600_000),
      };
    }

    describe("identity leases", () => {
      it("grants a free lease, answers who holds a live one, and takes over an expired one with a higher token", async () => {
        const { a, b } = await twoStates();
        try {
          const id = filled(32, 1);
          const first = await a.leases.acquire(id, { holder: "A", at: at(0), ttlMs: TTL });
          assert.equal(first.held, true);
          assert.ok(first.held);
          assert.equal(first.lease.token, 1n);
          assert.equal(first.lease.expiresAt.getTime(), T0 + TTL);
          assert.equal(first.tookOver, undefined);

          // B, another process, sees A's live lease.
          const refused = await b.leases.acquire(id, { holder: "B", at: at(TTL - 1), ttlMs: TTL });
          assert.equal(refused.held, false);
          assert.ok(!refused.held);
          assert.equal(refused.current.holder, "A");
          assert.equal(refused.current.token, 1n);
          assert.equal(refused.current.expiresAt.getTime(), T0 + TTL);

          // A acquires again: still its own, same token, extended.
          const again = await a.leases.acquire(id, { holder: "A", at: at(10_000), ttlMs: TTL });
          assert.ok(again.held);
          assert.equal(again.lease.token, 1n);
          assert.equal(again.lease.acquiredAt.getTime(), T0);
          assert.equal(again.lease.expiresAt.getTime(), T0 + 10_000 + TTL);

          // At the expiry B takes it over; the token grows and the previous holder is named.
          const taken = await b.leases.acquire(id, {
            holder: "B",
            at: at(10_000 + TTL),
            ttlMs: TTL,
          });
          assert.ok(taken.held);
          assert.equal(taken.lease.token, 2n);
          assert.equal(taken.tookOver?.holder, "A");
          assert.equal(taken.tookOver?.token, 1n);
          const stored = await a.leases.get(id);
          assert.equal(stored?.holder, "B");
          assert.equal(stored?.token, 2n);
          assert.ok(stored !== undefined && leaseIsLive(stored, at(10_000 + TTL)));
          assert.deepEqual(
            (await a.leases.list()).map((l) => [l.holder, l.token]),
            [["B", 2n]],
          );
        } finally {
          await a.close();
          await b.close();
        }
      });

      it("renews only while the row still names the holder and token, and a stale renewal fails with LeaseLostError", async () => {
        const { a, b } = await twoStates();
        try {
          const id = filled(32, 2);
          const got = await a.leases.acquire(id, { holder: "A", at: at(0), ttlMs: TTL });
          assert.ok(got.held);
          const renewed = await a.leases.renew(got.lease, { at: at(10_000), ttlMs: TTL });
          assert.equal(renewed.token, 1n);
          assert.equal(renewed.renewedAt.getTime(), T0 + 10_000);
          assert.equal(renewed.expiresAt.getTime(), T0 + 40_000);
          // Expired but nobody took it: still A's, renewable.
          const late = await a.leases.renew(renewed, { at: at(50_000), ttlMs: TTL });
          assert.equal(late.expiresAt.getTime(), T0 + 80_000);

          const taken = await b.leases.acquire(id, { holder: "B", at: at(80_000), ttlMs: TTL });
          assert.ok(taken.held);
          const err = await a.leases.renew(late, { at: at(81_000), ttlMs: TTL }).then(
            () => assert.fail("the stale renewal succeeded"),
            (e: unknown) => e,
          );
          assert.ok(err instanceof LeaseLostError);
          assert.equal(err.reason, "taken-over");
          assert.equal(err.holder, "A");
          assert.equal(err.token, 1n);
          assert.deepEqual(err.nodeId, id);
          assert.equal(err.current?.holder, "B");
          assert.equal(err.current?.token, 2n);
          assert.equal(err.code, "lease-lost");
          // Nothing of the stale renewal was written.
          assert.equal((await b.leases.get(id))?.expiresAt.getTime(), T0 + 80_000 + TTL);
          await assert.rejects(a.leases.check(late), LeaseLostError);
          await b.leases.check(taken.lease);
        } finally {
          await a.close();
          await b.close();
        }
      });

      it("keeps the token across a release, and a new holder after a release gets the next one", async () => {
        const { a, b } = await twoStates();
        try {
          const id = filled(32, 3);
          const got = await a.leases.acquire(id, { holder: "A", at: at(0), ttlMs: TTL });
          assert.ok(got.held);
          assert.equal(await a.leases.release(got.lease), true);
          assert.equal(await a.leases.release(got.lease), false);
          const row = await b.leases.get(id);
          assert.equal(row?.released, true);
          assert.equal(row?.token, 1n);
          assert.ok(row !== undefined && !leaseIsLive(row, at(1)));
          // Free at once for anyone, without waiting for the expiry; not a takeover.
          const next = await b.leases.acquire(id, { holder: "B", at: at(1), ttlMs: TTL });
          assert.ok(next.held);
          assert.equal(next.lease.token, 2n);
          assert.equal(next.tookOver, undefined);
          // The same holder after its own release is a new acquisition too.
          assert.equal(await b.leases.release(next.lease), true);
          const back = await b.leases.acquire(id, { holder: "B", at: at(2), ttlMs: TTL });
          assert.ok(back.held);
          assert.equal(back.lease.token, 3n);
          // Renewing a released lease fails.
          await b.leases.release(back.lease);
          const err = await b.leases.renew(back.lease, { at: at(3), ttlMs: TTL }).catch((e) => e);
          assert.ok(err instanceof LeaseLostError);
          assert.equal(err.reason, "released");
        } finally {
          await a.close();
          await b.close();
        }
      });

      it("renews many leases at once and reports each one that is no longer ours", async () => {
        const { a, b } = await twoStates();
        try {
          const ids = Array.from({ length: 600 }, (_, i) => {
            const id = new Uint8Array(32);
            id[0] = 0x40;
            id[30] = i >> 8;
            id[31] = i & 0xff;
            return id;
          });
          const lostSeen: LeaseLostError[] = [];
          const held = [];
          for (const id of ids) {
            const got = await a.leases.acquire(id, {
              holder: "A",
              at: at(0),
              ttlMs: TTL,
              onLost: (e) => lostSeen.push(e),
            });
            assert.ok(got.held);
            held.push(got.lease);
          }
          // Two of them are taken over once expired, one is released by hand.
          await b.leases.acquire(ids[7]!, { holder: "B", at: at(TTL), ttlMs: TTL });
          await b.leases.acquire(ids[300]!, { holder: "B", at: at(TTL), ttlMs: TTL });
          await a.leases.release(held[599]!);
          const result = await a.leases.renewMany(held, { at: at(TTL + 1), ttlMs: TTL });
          assert.equal(result.renewed.length, 597);
          assert.ok(result.renewed.every((l) => l.expiresAt.getTime() === T0 + 2 * TTL + 1));
          assert.deepEqual(
            result.lost.map((e) => [e.nodeId[31], e.reason, e.current?.holder]).sort(),
            [
              [7, "taken-over", "B"],
              [44, "taken-over", "B"],
              [87, "released", undefined],
            ].sort(),
          );
          const rows = await a.leases.list();
          assert.equal(rows.filter((r) => r.holder === "A" && !r.released).length, 597);
          assert.ok(
            rows
              .filter((r) => r.holder === "A" && !r.released)
              .every((r) => r.expiresAt.getTime() === T0 + 2 * TTL + 1),
          );
          await new Promise((resolve) => setImmediate(resolve));
          assert.equal(lostSeen.length, 2); // the released one was given up on purpose: no onLost
        } finally {
          await a.close();
          await b.close();
        }
      });

      it("refuses bad input with ConfigError", async () => {
        const { a, b } = await twoStates();
        try {
          const id = filled(32, 4);
          await assert.rejects(
            a.leases.acquire(filled(31, 4), { holder: "A", at: at(0), ttlMs: TTL }),
            ConfigError,
          );
          await assert.rejects(
            a.leases.acquire(id, { holder: "", at: at(0), ttlMs: TTL }),
            ConfigError,
          );
          await assert.rejects(
            a.leases.acquire(id, { holder: "x".repeat(201), at: at(0), ttlMs: TTL }),
            ConfigError,
          );
          await assert.rejects(
            a.leases.acquire(id, { holder: "A", at: at(0), ttlMs: 0 }),
            ConfigError,
          );
          await assert.rejects(
            a.leases.acquire(id, { holder: "A", at: new Date(Number.NaN), ttlMs: TTL }),
            ConfigError,
          );
          assert.equal(await a.leases.get(id), undefined);
        } finally {
          await a.close();
          await b.close();
        }
      });

      it("reads leases on a read-only state and refuses to acquire", async () => {
        const open = await store.place();
        const w = await open();
        const id = filled(32, 5);
        const got = await w.leases.acquire(id, { holder: "A", at: at(0), ttlMs: TTL });
        assert.ok(got.held);
        await w.close();
        const view = await open(true);
        try {
          assert.equal((await view.leases.get(id))?.holder, "A");
          assert.equal((await view.leases.list()).length, 1);
          const err = await view.leases
            .acquire(id, { holder: "B", at: at(TTL), ttlMs: TTL })
            .catch((e) => e);
          assert.ok(err instanceof StorageError);
          assert.equal(err.kind, "readonly");
        } finally {
          await view.close();
        }
      });
    });

    describe("fencing", () => {
      it("refuses a stale holder's writes inside a group commit, writes nothing of them, and commits the other identities' writes", async () => {
        const { a, b } = await twoStates();
        try {
          const stale = filled(32, 0x11);
          const free = filled(32, 0x12);
          const mine = filled(32, 0x13);
          const lost: LeaseLostError[] = [];
          const gotStale = await a.leases.acquire(stale, {
            holder: "A",
            at: at(0),
            ttlMs: TTL,
            onLost: (e) => lost.push(e),
          });
          const gotMine = await a.leases.acquire(mine, { holder: "A", at: at(0), ttlMs: TTL });
          assert.ok(gotStale.held && gotMine.held);
          // While A holds it, A's writes for the identity go through.
          await a.registrations.add(registration(stale, "http://poet-0"));

          // A stops renewing (it hangs); B takes the identity over after the expiry.
          const taken = await b.leases.acquire(stale, { holder: "B", at: at(TTL), ttlMs: TTL });
          assert.ok(taken.held);

          // A's next writes, queued in one turn so that they share one transaction.
          const results = await Promise.allSettled([
            a.registrations.add(registration(free, "http://poet-1")),
            a.registrations.add(registration(stale, "http://poet-1")),
            a.registrations.add(registration(mine, "http://poet-1")),
            a.registrations.clear(stale),
            a.registrations.add(registration(free, "http://poet-2")),
          ]);
          assert.deepEqual(
            results.map((r) => r.status),
            ["fulfilled", "rejected", "fulfilled", "rejected", "fulfilled"],
          );
          for (const i of [1, 3]) {
            const reason = (results[i] as PromiseRejectedResult).reason;
            assert.ok(reason instanceof LeaseLostError, String(reason));
            assert.equal(reason.reason, "taken-over");
            assert.equal(reason.holder, "A");
            assert.equal(reason.token, 1n);
            assert.equal(reason.current?.holder, "B");
            assert.equal(reason.current?.token, 2n);
          }
          // Nothing of the stale writes: the row A wrote while it held the lease is still there alone.
          assert.deepEqual(
            (await b.registrations.listFor(stale)).map((r) => r.address),
            ["http://poet-0"],
          );
          assert.deepEqual(
            (await b.registrations.listFor(free)).map((r) => r.address),
            ["http://poet-1", "http://poet-2"],
          );
          assert.deepEqual(
            (await b.registrations.listFor(mine)).map((r) => r.address),
            ["http://poet-1"],
          );
          // The lease is lost for A: told once, and later writes are refused without asking the file.
          await new Promise((resolve) => setImmediate(resolve));
          assert.equal(lost.length, 1);
          assert.equal(lost[0]?.current?.holder, "B");
          await assert.rejects(a.registrations.clear(stale), LeaseLostError);
          await assert.rejects(a.resetIdentity(stale), LeaseLostError);
          await assert.rejects(
            a.transaction(async (tx) => {
              await tx.registrations.delete(stale, "http://poet-0");
            }),
            LeaseLostError,
          );
          // Reads still work for the stale holder, and B's writes go through.
          assert.equal((await a.registrations.listFor(stale)).length, 1);
          await b.registrations.add(registration(stale, "http://poet-1"));
          assert.equal((await a.registrations.listFor(stale)).length, 2);
        } finally {
          await a.close();
          await b.close();
        }
      });

      it("does not fence identities without a lease, nor after a release", async () => {
        const { a, b } = await twoStates();
        try {
          const id = filled(32, 0x21);
          // No lease anywhere: writes as before.
          await a.registrations.add(registration(id, "http://poet-0"));
          // B holds it; A, which never asked for the lease, is not fenced (a CLI, a caller without a manager).
          const held = await b.leases.acquire(id, { holder: "B", at: at(0), ttlMs: TTL });
          assert.ok(held.held);
          await a.registrations.add(registration(id, "http://poet-1"));
          await b.registrations.add(registration(id, "http://poet-2"));
          await b.leases.release(held.lease);
          await b.registrations.add(registration(id, "http://poet-3"));
          assert.equal((await a.registrations.listFor(id)).length, 4);
        } finally {
          await a.close();
          await b.close();
        }
      });
    });
  });
}

describe("sqlite: a damaged lease row", () => {
  it("is reported by check() and repair() frees the identity", async () => {
    const file = tmp.file();
    const state = await openNodeState(file, { create: true });
    try {
      const id = filled(32, 6);
      const other = filled(32, 7);
      assert.ok((await state.leases.acquire(id, { holder: "A", at: at(0), ttlMs: TTL })).held);
      assert.ok((await state.leases.acquire(other, { holder: "A", at: at(0), ttlMs: TTL })).held);
      const raw = new Database(companionPath(file));
      raw
        .prepare("update poet_client_lease set holder = x'00ff' where id = ?")
        .run(Buffer.from(id));
      raw.close();
      const problems = await state.check();
      assert.deepEqual(
        problems.map((p) => [p.kind, p.table, p.identity]),
        [["corrupt-row", "poet_client_lease", toHex(id)]],
      );
      assert.equal(await state.repair(problems), 1);
      assert.deepEqual(await state.check(), []);
      assert.equal(await state.leases.get(id), undefined);
      assert.equal((await state.leases.get(other))?.holder, "A", "the sound lease is kept");
      assert.ok((await state.leases.acquire(id, { holder: "B", at: at(1), ttlMs: TTL })).held);
    } finally {
      await state.close();
    }
  });
});
