/**
 * How `registration/proof-fetcher.ts` hands a round's proof to the identities waiting for it: one
 * identity (the callers of one signal) per step of the turn budget, first come first served, with
 * every PoET whose proof it is waiting for and that has arrived, so that an identity judges the
 * proofs that arrived together at once (docs/embedding.md, "Several identities"). The turn budget
 * here is the test's own: a step runs only when the test lets it, so what each step hands out is
 * exact. Real SQLite node state, `ManualClock`, stub PoETs and verifier.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../src/clock.js";
import { AbortedError } from "../src/errors.js";
import { silentLogger } from "../src/logger.js";
import { ConcurrencyLimit } from "../src/registration/concurrency-limit.js";
import type { RegistrationEvent } from "../src/registration/index.js";
import { ProofFetcher, type ProofSource } from "../src/registration/proof-fetcher.js";
import type { SharedVerifier, VerifiedRoundProof } from "../src/registration/shared-verifier.js";
import { openNodeState } from "../src/storage/index.js";
import type { TurnBudget } from "../src/turn-budget.js";
import { PackedMembers } from "../src/wire/index.js";
import { waitFor } from "./helpers/clock-driver.js";
import { prng, prngBytes } from "./helpers/prng.js";
import { tempDir } from "./helpers/temp-dir.js";

const dirs = tempDir("proof-handout-");
const T = 1_750_000_000_000;
const POETS = ["https://poet-a", "https://poet-b"];

/** A turn budget whose every step waits until the test grants it. */
function gatedTurns(): { turns: TurnBudget; waiting: () => number; grant: () => void } {
  const steps: Array<() => void> = [];
  const turns = {
    take: () => new Promise<void>((resolve) => steps.push(resolve)),
  } as unknown as TurnBudget;
  return {
    turns,
    waiting: () => steps.length,
    grant: () => {
      const step = steps.shift();
      assert.ok(step !== undefined, "no step waits for a turn");
      step();
    },
  };
}

/** A PoET that serves a small round's proof at once. */
function source(seed: number): ProofSource {
  const random = prng(seed);
  const members = PackedMembers.from([prngBytes(random, 32), prngBytes(random, 32)]);
  const root = prngBytes(random, 32);
  return {
    proof: async () => ({
      proof: { root, provenLeaves: [], proofNodes: [], leaves: 1000n },
      members,
      pubkey: new Uint8Array(32).fill(seed),
    }),
  };
}

async function withFetcher(
  fn: (ctx: {
    fetcher: ProofFetcher;
    gate: ReturnType<typeof gatedTurns>;
    events: RegistrationEvent[];
    ask: (poet: string, signal: AbortSignal) => Promise<VerifiedRoundProof>;
  }) => Promise<void>,
): Promise<void> {
  const state = await openNodeState(dirs.file(), { create: true });
  const clock = new ManualClock(T);
  const closed = new AbortController();
  const gate = gatedTurns();
  const events: RegistrationEvent[] = [];
  // The verdict is the stub's: what is under test is who gets it when.
  const verifier = {
    check: async (input: {
      poet: string;
      roundId: string;
      proof: VerifiedRoundProof["proof"];
      members: VerifiedRoundProof["members"];
      servicePubkey: Uint8Array;
    }): Promise<VerifiedRoundProof> => ({
      ...input,
      ref: new Uint8Array(32),
      statement: new Uint8Array(32),
      fromCache: false,
    }),
  } as unknown as SharedVerifier;
  const fetcher = new ProofFetcher({
    state,
    verifier,
    clock,
    logger: silentLogger,
    random: () => 0.5,
    graceMs: 0,
    jitter: { minMs: 0, maxMs: 0 },
    pollIntervalMs: 1_000,
    maxPollIntervalMs: 4_000,
    tickSize: 1n,
    downloads: new ConcurrencyLimit(4),
    emit: (e) => events.push(e),
    signal: closed.signal,
    turns: gate.turns,
  });
  const sources = new Map(POETS.map((p, i) => [p, source(10 * (i + 1))]));
  const ask = (poet: string, signal: AbortSignal) =>
    fetcher.fetch(
      {
        poet,
        source: sources.get(poet) as ProofSource,
        roundId: "0",
        roundEndMs: T,
        untilMs: T + 60_000,
      },
      { signal },
    );
  try {
    await fn({ fetcher, gate, events, ask });
  } finally {
    closed.abort();
    await state.close();
  }
}

describe("proof fetcher: handing proofs out", () => {
  it("gives each identity every proof that arrived, one identity per step, in the order they asked", async () => {
    await withFetcher(async ({ gate, events, ask }) => {
      const got: string[][] = [];
      const identities = ["id-1", "id-2", "id-3"].map((name) => {
        const signal = new AbortController().signal;
        return Promise.all(
          POETS.map((poet) =>
            ask(poet, signal).then((v) => {
              got.push([name, v.poet]);
            }),
          ),
        );
      });
      // Both proofs downloaded, verified and stored; nobody has had one yet.
      await waitFor(() => events.filter((e) => e.type === "proof-downloaded").length === 2);
      await waitFor(() => gate.waiting() === 1);
      assert.equal(got.length, 0);

      for (const name of ["id-1", "id-2", "id-3"]) {
        const before: number = got.length;
        gate.grant();
        await waitFor(() => got.length === before + 2);
        // One step: both PoETs' proofs to this identity, nothing to the others.
        assert.deepEqual(
          got.slice(before).sort(),
          POETS.map((poet) => [name, poet]),
        );
      }
      await Promise.all(identities);
      assert.equal(got.length, 6);
    });
  });

  it("skips an identity that stopped waiting before its turn, and the others still get theirs", async () => {
    await withFetcher(async ({ gate, events, ask }) => {
      const got: string[] = [];
      const controllers = ["id-1", "id-2", "id-3"].map(() => new AbortController());
      const asked = controllers.map((c, i) =>
        Promise.allSettled(
          POETS.map((poet) =>
            ask(poet, c.signal).then((v) => {
              got.push(`id-${i + 1} ${v.poet}`);
            }),
          ),
        ),
      );
      await waitFor(() => events.filter((e) => e.type === "proof-downloaded").length === 2);
      await waitFor(() => gate.waiting() === 1);
      controllers[1]?.abort();
      const stopped = await asked[1];
      for (const s of stopped ?? []) {
        assert.equal(s.status, "rejected");
        assert.ok((s as PromiseRejectedResult).reason instanceof AbortedError);
      }
      gate.grant(); // id-1
      await waitFor(() => got.length === 2);
      // id-2 left its place: the next step is id-3's.
      await waitFor(() => gate.waiting() === 1);
      gate.grant();
      await waitFor(() => got.length === 4);
      await Promise.all([asked[0], asked[2]]);
      assert.deepEqual(
        got.filter((g) => g.startsWith("id-2")),
        [],
      );
      assert.equal(got.filter((g) => g.startsWith("id-3")).length, 2);
    });
  });
});
