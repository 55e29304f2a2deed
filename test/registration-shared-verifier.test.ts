/**
 * `registration/shared-verifier.ts` when the store blips: a verified proof whose verdict row meets
 * a retriable store failure is used at once, and its row is written in the background, tried again
 * on the clock until it is written, or until the proof is of no more use (the caller's
 * `proofDeadlineMs`) with one warning. Real SQLite node state (its `proofs.put` fails on purpose a
 * given number of times), `ManualClock`, a stub proof verifier.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../src/clock.js";
import { StorageError } from "../src/errors.js";
import { RoundMembers } from "../src/registration/round-members.js";
import { SharedVerifier } from "../src/registration/shared-verifier.js";
import { type NodeState, openNodeState } from "../src/storage/index.js";
import { PackedMembers } from "../src/wire/index.js";
import { prng, prngBytes } from "./helpers/prng.js";
import { recordingLogger } from "./helpers/recording-logger.js";
import { tempDir } from "./helpers/temp-dir.js";

const dirs = tempDir("shared-verifier-");
const T = 1_750_000_000_000;
const RETRY_MS = 1_000;

async function withVerifier(
  failures: number,
  fn: (ctx: {
    verifier: SharedVerifier;
    clock: ManualClock;
    state: NodeState;
    puts: () => number;
    verifications: () => number;
    logger: ReturnType<typeof recordingLogger>;
    input: Parameters<SharedVerifier["check"]>[0];
  }) => Promise<void>,
): Promise<void> {
  const state = await openNodeState(dirs.file(), { create: true });
  const clock = new ManualClock(T);
  const logger = recordingLogger();
  const closed = new AbortController();
  let puts = 0;
  let verifications = 0;
  // The store's own repository, whose writes fail retriably `failures` times first.
  const proofs = {
    get: state.proofs.get.bind(state.proofs),
    put: async (...args: Parameters<NodeState["proofs"]["put"]>) => {
      puts++;
      if (puts <= failures) {
        throw new StorageError("connection terminated", { kind: "io", retriable: true });
      }
      return state.proofs.put(...args);
    },
  };
  const verifier = new SharedVerifier({
    state: { proofs } as unknown as NodeState,
    verifier: {
      verify: async () => {
        verifications++;
      },
    },
    clock,
    signal: closed.signal,
    logger,
    storeRetryDelayMs: RETRY_MS,
    random: () => 0,
  });
  const random = prng(7);
  const input = {
    poet: "https://poet-a",
    roundId: "3",
    proof: { root: prngBytes(random, 32), provenLeaves: [], proofNodes: [], leaves: 5_000n },
    members: await RoundMembers.build(PackedMembers.from([prngBytes(random, 32)])),
    servicePubkey: new Uint8Array(32).fill(9),
  };
  try {
    await fn({
      verifier,
      clock,
      state,
      puts: () => puts,
      verifications: () => verifications,
      logger,
      input,
    });
  } finally {
    closed.abort();
    await verifier.idle();
    await state.close();
  }
}

/** Lets the background write take its next attempt: the clock to the next sleeper, then quiet. */
async function nextAttempt(clock: ManualClock): Promise<void> {
  const next = clock.nextWakeup();
  assert.ok(next !== undefined, "no attempt is waiting");
  await clock.set(next);
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

describe("shared verifier: a verdict row the store cannot take", () => {
  it("answers at once and writes the row in the background once the store is back", async () => {
    await withVerifier(2, async ({ verifier, clock, state, puts, verifications, input }) => {
      const verified = await verifier.check(input, { proofDeadlineMs: T + 60_000 });
      assert.equal(verified.fromCache, false);
      assert.equal(verifications(), 1);
      assert.equal(puts(), 1);
      assert.equal(await state.proofs.get(verified.ref), undefined);

      await nextAttempt(clock); // fails again
      assert.equal(puts(), 2);
      await nextAttempt(clock); // written
      await verifier.idle();
      assert.equal(puts(), 3);
      const row = await state.proofs.get(verified.ref);
      assert.ok(row !== undefined);
      assert.deepEqual(row.statement, verified.statement);
      // The next asker reuses the verdict: no second verification.
      await verifier.check(input);
      assert.equal(verifications(), 1);
    });
  });

  it("stops trying when the proof is of no more use, with one warning", async () => {
    await withVerifier(
      Number.POSITIVE_INFINITY,
      async ({ verifier, clock, state, puts, logger, input }) => {
        const until = T + 3.5 * RETRY_MS;
        const verified = await verifier.check(input, { proofDeadlineMs: until });
        for (let i = 0; i < 20 && clock.nextWakeup() !== undefined; i++) await nextAttempt(clock);
        await verifier.idle();
        // Attempts at T, T+1 s, T+2 s, T+3 s; the next would start after the deadline.
        assert.equal(puts(), 4);
        assert.ok(clock.now() <= until);
        assert.equal(await state.proofs.get(verified.ref), undefined);
        assert.deepEqual(
          logger.warnings.map((w) => w.message),
          ["could not store a verified proof; it is used without being cached"],
        );
      },
    );
  });
});
