import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createPoetClient } from "../src/client/index.js";
import { ProofNotReadyError } from "../src/errors.js";
import {
  adaptPoetClient,
  type RegistrationManagerOptions,
  type RegistrationPoetClient,
  type ResolvedPoet,
} from "../src/registration/index.js";
import { proofPacing } from "../src/schedule/index.js";
import {
  build,
  drive,
  driveTo,
  type Harness,
  identity,
  ofType,
  ready,
  schedule,
  setup,
  until,
} from "./registration-harness.js";

/** A proof query as the PoET saw it. */
interface Query {
  poet: string;
  at: number;
  ready: boolean;
}

/**
 * Clients whose PoET publishes each round's proof only `publishAfterMs[i]` after the round end,
 * as real PoETs do (0.3–2.1 s after it), answering "not ready" (404) before; every query is logged.
 */
function publishingLate(
  h: () => Harness,
  publishAfterMs: readonly number[],
  queries: Query[],
): Partial<RegistrationManagerOptions> {
  return {
    createClient: (poet: ResolvedPoet): RegistrationPoetClient => {
      // Made on first use: the manager makes its clients before the harness is complete.
      let client: RegistrationPoetClient | undefined;
      const inner = () => {
        client ??= adaptPoetClient(
          createPoetClient({
            url: poet.address,
            protocol: poet.protocol,
            servicePubkey: poet.pubkey,
            clock: h().clock,
          }),
        );
        return client;
      };
      return {
        info: (options) => inner().info(options),
        register: (request, options) => inner().register(request, options),
        async proof(roundId, options) {
          const harness = h();
          const index = harness.poets.findIndex((m) => poet.address.startsWith(m.url));
          const now = harness.clock.now();
          const publishedAt =
            schedule.roundEnd(Number(roundId)).getTime() + (publishAfterMs[index] ?? 0);
          queries.push({ poet: poet.address, at: now, ready: now >= publishedAt });
          if (now < publishedAt) throw new ProofNotReadyError(poet.address, roundId);
          return inner().proof(roundId, options);
        },
        close: () => client?.close?.(),
      };
    },
  };
}

/** The harness's pacing settings taken away: the manager's defaults apply. */
const DEFAULT_PACING: Partial<RegistrationManagerOptions> = {
  proofCutoffMs: undefined,
  proofPollIntervalMs: undefined,
  maxProofPollIntervalMs: undefined,
};

describe("RegistrationManager's proof pacing", () => {
  it("asks every PoET for its proof after a grace and before the cut-off, and takes the best", async () => {
    const queries: Query[] = [];
    // The PoET with the most leaves publishes last, after the grace: it must still count.
    const publishAfterMs = [300, 700, 1_100];
    let harness!: Harness;
    harness = await setup(
      [{ leavesPerRound: 20n }, { leavesPerRound: 50n }, { leavesPerRound: 90n }],
      { ...DEFAULT_PACING, ...publishingLate(() => harness, publishAfterMs, queries) },
    );
    const h = harness;
    try {
      const pacing = proofPacing(schedule);
      const roundEnd = schedule.roundEnd(0).getTime();
      const downloaded = () => ofType(h.events, "proof-downloaded");
      const id = identity(1);
      const run = build(h, id);
      run.catch(() => {}); // awaited below; a failed assertion must not leave it unhandled
      await driveTo(h.clock, roundEnd - 1_000);
      const waiting = ofType(h.events, "waiting-for-round-end").at(-1)!;
      const cutoff = waiting.cutoff.getTime();
      assert.equal(cutoff, roundEnd + pacing.cutoffMs);
      assert.equal(waiting.queryAt.getTime(), roundEnd + pacing.graceMs + pacing.jitter.minMs);

      // Up to the end of the grace nobody is asked: a real PoET has not published yet.
      await h.clock.set(roundEnd + pacing.graceMs - 1);
      assert.equal(queries.length, 0);
      // The first queries (grace + jitter): two PoETs have published, the third not yet. The clock
      // stands still while the proofs are downloaded and checked.
      await h.clock.set(roundEnd + pacing.graceMs + pacing.jitter.maxMs);
      await until(() => queries.length === 3 && downloaded().length === 2);
      assert.equal(queries.filter((q) => !q.ready).length, 1);
      await until(() => ofType(h.events, "best-proof-selected").at(-1)?.leaves === 50n);
      assert.equal(ofType(h.events, "post-started").length, 0);
      // One poll interval later the third PoET is asked again, well before the cut-off.
      const retryAt = queries.find((q) => !q.ready)!.at + pacing.pollIntervalMs;
      assert.ok(retryAt < cutoff);
      await h.clock.set(retryAt);
      await until(() => downloaded().length === 3);
      const nipost = ready(await drive(h.clock, run));
      assert.equal(nipost.leaves, 90n);
      assert.equal(nipost.poet, h.poets[2]!.url);
      for (const q of queries) assert.ok(q.at >= roundEnd + pacing.graceMs && q.at < cutoff);
      assert.equal(new Set(queries.map((q) => q.poet)).size, 3);
      const started = ofType(h.events, "post-started")[0]!;
      assert.ok(started.at.getTime() <= cutoff);
    } finally {
      await h.close();
    }
  });

  it("sends the waiting event again each time one more PoET holds the registration", async () => {
    const h = await setup([{ leavesPerRound: 30n }, { leavesPerRound: 60n }]);
    try {
      h.poets[1]!.faults.failNext(3, 503);
      const id = identity(1);
      const nipost = ready(await drive(h.clock, build(h, id)));
      assert.equal(nipost.leaves, 60n);
      const waiting = ofType(h.events, "waiting-for-round-end");
      assert.equal(waiting.length, 2);
      assert.deepEqual(waiting[0]!.poets, [h.poets[0]!.url]);
      assert.deepEqual(new Set(waiting[1]!.poets), new Set([h.poets[0]!.url, h.poets[1]!.url]));
      const registeredSecond = ofType(h.events, "registered").find(
        (e) => e.poet === h.poets[1]!.url,
      )!;
      assert.ok(waiting[1]!.at.getTime() >= registeredSecond.at.getTime());
    } finally {
      await h.close();
    }
  });
});
