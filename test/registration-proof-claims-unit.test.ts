/**
 * `registration/proof-claims.ts` on its own, on a real SQLite node state and a `ManualClock`: how a
 * claim holder ends its claim (stored, not stored, given up), how a waiting worker gets the stored
 * result, and what a worker does when claiming fails.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../src/clock.js";
import { PoetError, ProofVerificationError, StorageError } from "../src/errors.js";
import { silentLogger } from "../src/logger.js";
import type { RegistrationEvent } from "../src/registration/index.js";
import { ProofClaims } from "../src/registration/proof-claims.js";
import { type NodeState, openNodeState, type ProofClaimRepository } from "../src/storage/index.js";
import { settle } from "./helpers/clock-driver.js";
import { tempDir } from "./helpers/temp-dir.js";

const dirs = tempDir("proof-claims-");
const ROUND = { poet: "https://poet-a", roundId: "7" };
const T = 1_750_000_000_000;
const TTL = 30_000;
const POLL = 1_000;

async function withClaims(
  fn: (ctx: {
    state: NodeState;
    clock: ManualClock;
    claims: (holder: string, repository?: ProofClaimRepository) => ProofClaims;
    events: RegistrationEvent[];
  }) => Promise<void>,
): Promise<void> {
  const state = await openNodeState(dirs.file(), { create: true });
  const clock = new ManualClock(T);
  const events: RegistrationEvent[] = [];
  const claims = (holder: string, repository = state.proofClaims) =>
    new ProofClaims({
      claims: repository,
      holder,
      ttlMs: TTL,
      pollIntervalMs: POLL,
      clock,
      logger: silentLogger,
      emit: (e) => events.push(e),
    });
  try {
    await fn({ state, clock, claims, events });
  } finally {
    await state.close();
  }
}

const never = async () => undefined;
const signal = new AbortController().signal;
const verdict = {
  shared: () => true,
  final: (err: unknown) => err instanceof ProofVerificationError,
};

describe("proof claims of one round", () => {
  it("the holder's download ends stored; a waiting worker then reads the result", () =>
    withClaims(async ({ state, clock, claims }) => {
      const a = claims("A");
      const b = claims("B");
      const turnA = await a.turn(ROUND, () => T + 600_000, never, signal);
      assert.equal(turnA.kind, "download");
      assert.ok(turnA.kind === "download" && turnA.claim !== undefined);
      // B finds A's claim and waits, polling the store.
      let stored: string | undefined;
      const waiting = b.turn(
        ROUND,
        () => T + 600_000,
        async () => stored,
        signal,
      );
      await settle();
      assert.equal(await a.hold(ROUND, turnA.claim, async () => "proof", verdict, signal), "proof");
      assert.equal((await state.proofClaims.get(ROUND.poet, ROUND.roundId))?.outcome, "stored");
      stored = "proof";
      await clock.advance(POLL);
      assert.deepEqual(await waiting, { kind: "stored", value: "proof" });
    }));

  it("a result that cannot be shared, or a final failure, ends not-stored: every worker downloads", () =>
    withClaims(async ({ state, claims }) => {
      const a = claims("A");
      const first = await a.turn(ROUND, () => T + 600_000, never, signal);
      assert.ok(first.kind === "download");
      await a.hold(
        ROUND,
        first.claim,
        async () => "huge",
        { ...verdict, shared: () => false },
        signal,
      );
      assert.equal((await state.proofClaims.get(ROUND.poet, ROUND.roundId))?.outcome, "not-stored");
      assert.deepEqual(await claims("B").turn(ROUND, () => T + 600_000, never, signal), {
        kind: "download",
        claim: undefined,
      });

      const other = { poet: ROUND.poet, roundId: "8" };
      const turn = await a.turn(other, () => T + 600_000, never, signal);
      assert.ok(turn.kind === "download");
      const invalid = new ProofVerificationError("merkle-root-mismatch", "bad proof");
      await assert.rejects(
        a.hold(other, turn.claim, async () => Promise.reject(invalid), verdict, signal),
        (err) => err === invalid,
      );
      assert.equal((await state.proofClaims.get(other.poet, other.roundId))?.outcome, "not-stored");
    }));

  it("a holder that gets no proof gives the claim up: the next worker takes it at once", () =>
    withClaims(async ({ state, claims, events }) => {
      const a = claims("A");
      const turn = await a.turn(ROUND, () => T + 600_000, never, signal);
      assert.ok(turn.kind === "download");
      const late = new PoetError("timeout", "no proof before the deadline");
      await assert.rejects(
        a.hold(ROUND, turn.claim, async () => Promise.reject(late), verdict, signal),
        (err) => err === late,
      );
      const next = await claims("B").turn(ROUND, () => T + 600_000, never, signal);
      assert.ok(next.kind === "download" && next.claim !== undefined);
      assert.equal(next.claim.token, 2n);
      assert.equal((await state.proofClaims.get(ROUND.poet, ROUND.roundId))?.holder, "B");
      // Given up, not died: no takeover event.
      assert.equal(events.length, 0);
    }));

  it("a waiting worker gives up at its deadline while another holds the claim", () =>
    withClaims(async ({ clock, claims }) => {
      const turn = await claims("A").turn(ROUND, () => T + 600_000, never, signal);
      assert.ok(turn.kind === "download");
      const waiting = claims("B").turn(ROUND, () => T + 2_500, never, signal);
      waiting.catch(() => {});
      for (let i = 0; i < 3; i++) {
        await settle();
        await clock.advance(POLL);
      }
      await assert.rejects(waiting, (err: unknown) => {
        assert.ok(err instanceof PoetError);
        assert.equal(err.code, "timeout");
        assert.match(err.message, /A holds its download/);
        return true;
      });
    }));

  it("asks again when claiming fails, and downloads alone when it keeps failing", () =>
    withClaims(async ({ clock, claims }) => {
      let failures = 0;
      const failing = {
        claim: async () => {
          failures++;
          throw new StorageError("deadlock detected", { kind: "io" });
        },
      } as unknown as ProofClaimRepository;
      const turn = claims("A", failing).turn(ROUND, () => T + 600_000, never, signal);
      for (let i = 0; i < 10 && failures < 5; i++) {
        await settle();
        await clock.advance(POLL);
      }
      assert.deepEqual(await turn, { kind: "download", claim: undefined });
      assert.equal(failures, 5);
    }));
});
