/**
 * The proof-download claims (`storage/proof-claim-repository.ts`), one suite that every store
 * passes: SQLite and PostgreSQL (`helpers/node-state-stores.ts`). Instants are given by the test,
 * as a manager's clock gives them.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, StorageError } from "../src/errors.js";
import type { NodeState } from "../src/storage/index.js";
import { NODE_STATE_STORES, type OpenedStore } from "./helpers/node-state-stores.js";

const POET = "https://poet-a";
const T = 1_750_000_000_000;
const at = (ms: number) => new Date(T + ms);
const TTL = 30_000;

for (const store of NODE_STATE_STORES) {
  describe(`proof claims on ${store.name}`, () => {
    async function withState(
      fn: (state: NodeState, raw: OpenedStore["exec"]) => Promise<void>,
    ): Promise<void> {
      const opened = await store.open();
      try {
        await fn(opened.state, opened.exec);
      } finally {
        await opened.close();
      }
    }

    it("grants a free round to the first worker and tells the others who has it", () =>
      withState(async (state) => {
        const first = await state.proofClaims.claim(POET, "30", {
          holder: "A",
          at: at(0),
          ttlMs: TTL,
        });
        assert.ok(first.granted);
        assert.deepEqual(first.claim, {
          poet: POET,
          roundId: "30",
          holder: "A",
          token: 1n,
          claimedAt: at(0),
          expiresAt: at(TTL),
          outcome: "open",
        });
        assert.equal(first.previous, undefined);

        const second = await state.proofClaims.claim(POET, "30", {
          holder: "B",
          at: at(1_000),
          ttlMs: TTL,
        });
        assert.equal(second.granted, false);
        assert.ok(!second.granted);
        assert.deepEqual(second.current, first.claim);

        // Other rounds and PoETs are claimed on their own.
        assert.ok(
          (await state.proofClaims.claim(POET, "31", { holder: "B", at: at(0), ttlMs: TTL }))
            .granted,
        );
        assert.ok(
          (
            await state.proofClaims.claim("https://poet-b", "30", {
              holder: "B",
              at: at(0),
              ttlMs: TTL,
            })
          ).granted,
        );
        // The holder asking again keeps its token and extends the expiry.
        const again = await state.proofClaims.claim(POET, "30", {
          holder: "A",
          at: at(5_000),
          ttlMs: TTL,
        });
        assert.ok(again.granted);
        assert.equal(again.claim.token, 1n);
        assert.deepEqual(again.claim.expiresAt, at(5_000 + TTL));
        assert.deepEqual(
          (await state.proofClaims.list()).map((c) => `${c.poet} ${c.roundId} ${c.holder}`),
          [`${POET} 30 A`, `${POET} 31 B`, "https://poet-b 30 B"],
        );
      }));

    it("grants one of several workers claiming at once", () =>
      withState(async (state) => {
        const answers = await Promise.all(
          ["A", "B", "C", "D"].map((holder) =>
            state.proofClaims.claim(POET, "30", { holder, at: at(0), ttlMs: TTL }),
          ),
        );
        assert.equal(answers.filter((a) => a.granted).length, 1);
      }));

    it("renews the holder's claim; an expired one is taken over with a higher token", () =>
      withState(async (state) => {
        const got = await state.proofClaims.claim(POET, "30", {
          holder: "A",
          at: at(0),
          ttlMs: TTL,
        });
        assert.ok(got.granted);
        const renewed = await state.proofClaims.renew(got.claim, { at: at(20_000), ttlMs: TTL });
        assert.deepEqual(renewed?.expiresAt, at(20_000 + TTL));
        // Still live at 49.999 s, expired at 50 s.
        const early = await state.proofClaims.claim(POET, "30", {
          holder: "B",
          at: at(20_000 + TTL - 1),
          ttlMs: TTL,
        });
        assert.equal(early.granted, false);
        const late = await state.proofClaims.claim(POET, "30", {
          holder: "B",
          at: at(20_000 + TTL),
          ttlMs: TTL,
        });
        assert.ok(late.granted);
        assert.equal(late.claim.token, 2n);
        assert.equal(late.previous?.holder, "A");
        assert.equal(late.previous?.token, 1n);
        assert.equal(late.previous?.outcome, "open");
        // The old holder's claim is no longer its own: no renewal, no finish, no release.
        assert.equal(
          await state.proofClaims.renew(got.claim, { at: at(60_000), ttlMs: TTL }),
          undefined,
        );
        assert.equal(await state.proofClaims.finish(got.claim, "stored"), false);
        assert.equal(await state.proofClaims.release(got.claim, { at: at(60_000) }), false);
        assert.equal((await state.proofClaims.get(POET, "30"))?.holder, "B");
      }));

    it("a released claim is taken at once; a finished one says where the result is", () =>
      withState(async (state) => {
        const a = await state.proofClaims.claim(POET, "30", { holder: "A", at: at(0), ttlMs: TTL });
        assert.ok(a.granted);
        assert.equal(await state.proofClaims.release(a.claim, { at: at(1_000) }), true);
        assert.equal((await state.proofClaims.get(POET, "30"))?.outcome, "released");
        const b = await state.proofClaims.claim(POET, "30", {
          holder: "B",
          at: at(1_000),
          ttlMs: TTL,
        });
        assert.ok(b.granted);
        assert.equal(b.claim.token, 2n);
        assert.equal(b.previous?.outcome, "released");

        assert.equal(await state.proofClaims.finish(b.claim, "stored"), true);
        assert.equal((await state.proofClaims.get(POET, "30"))?.outcome, "stored");
        assert.equal(await state.proofClaims.finish(b.claim, "not-stored"), false, "finished once");
        // A stored round can be claimed again (by a worker that finds the stored rows gone).
        const c = await state.proofClaims.claim(POET, "30", {
          holder: "C",
          at: at(2_000),
          ttlMs: TTL,
        });
        assert.ok(c.granted);
        assert.equal(c.claim.token, 3n);
        assert.equal(c.previous?.outcome, "stored");

        // A result that could not be shared: every worker downloads for itself.
        assert.equal(await state.proofClaims.finish(c.claim, "not-stored"), true);
        const d = await state.proofClaims.claim(POET, "30", {
          holder: "D",
          at: at(10 * TTL),
          ttlMs: TTL,
        });
        assert.equal(d.granted, false);
        assert.ok(!d.granted);
        assert.equal(d.current.outcome, "not-stored");
        assert.equal(d.current.holder, "C");
      }));

    it("prunes claims made before an instant", () =>
      withState(async (state) => {
        await state.proofClaims.claim(POET, "30", { holder: "A", at: at(0), ttlMs: TTL });
        await state.proofClaims.claim(POET, "31", { holder: "A", at: at(100_000), ttlMs: TTL });
        assert.equal(await state.proofClaims.pruneClaimedBefore(at(100_000)), 1);
        assert.deepEqual(
          (await state.proofClaims.list()).map((c) => c.roundId),
          ["31"],
        );
        assert.equal(await state.proofClaims.get(POET, "30"), undefined);
      }));

    it("refuses a bad claim time, and names a damaged row", () =>
      withState(async (state, raw) => {
        await assert.rejects(
          state.proofClaims.claim(POET, "30", { holder: "A", at: at(0), ttlMs: 0 }),
          ConfigError,
        );
        await assert.rejects(
          state.proofClaims.claim(POET, "30", { holder: "", at: at(0), ttlMs: TTL }),
          ConfigError,
        );
        await raw(
          `insert into poet_client_proof_claim (address, round_id, holder, token, claimed_at, expires_at, outcome)
           values ($1, $2, $3, $4, $5, $6, $7)`,
          [POET, "30", "A", 1n, BigInt(T), BigInt(T + TTL), "maybe"],
        );
        await assert.rejects(state.proofClaims.get(POET, "30"), (err: unknown) => {
          assert.ok(err instanceof StorageError, String(err));
          assert.equal(err.kind, "corrupt");
          assert.equal(err.table, "poet_client_proof_claim");
          return true;
        });
        // state.check() names it, and repairing deletes it: the round can be claimed again.
        const problems = await state.check();
        assert.deepEqual(
          problems.map((p) => [p.kind, p.table, p.address]),
          [["corrupt-row", "poet_client_proof_claim", POET]],
        );
        assert.equal(await state.repair(problems), 1);
        assert.deepEqual(await state.check(), []);
        assert.ok(
          (await state.proofClaims.claim(POET, "30", { holder: "B", at: at(0), ttlMs: TTL }))
            .granted,
        );
      }));
  });
}
