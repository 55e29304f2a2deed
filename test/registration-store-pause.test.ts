/**
 * What ends an identity's cycle while the node state's store blips (docs/embedding.md, "When the
 * store blips"): a PoET set change during the cycle's pause for the store, or while the NiPoST row
 * is written again, restarts the cycle from the node state like any other step — `buildNiPost`
 * does not fail for it, and the PoST result in hand is not thrown away (PoST runs once). Real
 * SQLite node state whose calls fail on the test's say-so (test/helpers/blipping-state.ts), mock
 * PoETs on loopback, `ManualClock`.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { blippingState } from "./helpers/blipping-state.js";
import { runClock } from "./helpers/clock-driver.js";
import { recordingLogger } from "./helpers/recording-logger.js";
import {
  build,
  drive,
  driveTo,
  identity,
  ofType,
  ready,
  schedule,
  setup,
} from "./registration-harness.js";

describe("a PoET set change while the store blips", () => {
  it("restarts the cycle from a pause for the store instead of ending buildNiPost", async () => {
    let down = false;
    const h = await setup([{ leavesPerRound: 30n }, { leavesPerRound: 50n }]);
    try {
      const poets = h.managerOptions().poets;
      await h.manager.close();
      const state = blippingState(h.state, (path) => down && !path.startsWith("leases."));
      const manager = await h.restart({ state });
      const id = identity(1);
      const run = build(h, id, manager);
      await driveTo(h.clock, schedule.roundStart(0).getTime() + 1_000);
      assert.equal(ofType(h.events, "registered").length, 2);

      // The store goes down; past the round end, the cycle's next read fails and it pauses.
      down = true;
      await runClock(h.clock, () => ofType(h.events, "store-failed").length > 0);
      down = false;
      // The operator applies a PoET set (the same one) while the cycle sleeps its pause.
      await manager.switchPoets({ poets });

      const nipost = ready(await drive(h.clock, run));
      assert.equal(nipost.leaves, 50n);
      assert.equal(h.postCalls.length, 1);
    } finally {
      await h.close();
    }
  });

  it("keeps the PoST result when the change comes while the NiPoST row is written again", async () => {
    let down = false;
    const h = await setup([{ leavesPerRound: 30n }, { leavesPerRound: 50n }]);
    try {
      const poets = h.managerOptions().poets;
      await h.manager.close();
      const state = blippingState(h.state, (path) => down && path === "nipost.add");
      const manager = await h.restart({ state });
      const id = identity(1);
      down = true;
      const run = build(h, id, manager);
      // PoST runs; its row cannot be written, and is tried again after a pause.
      await runClock(h.clock, () => h.postCalls.length === 1);
      down = false;
      await manager.switchPoets({ poets });

      const nipost = ready(await drive(h.clock, run));
      assert.equal(nipost.leaves, 50n);
      assert.equal(h.postCalls.length, 1, "PoST ran again after the cycle restarted");
      assert.ok((await h.state.nipost.get(id.signer.nodeId)) !== undefined);
    } finally {
      await h.close();
    }
  });
});

describe("submit intents that could not be written before the round start", () => {
  it("end the registrations without a warning per identity and PoET", async () => {
    const logger = recordingLogger();
    const h = await setup([{ leavesPerRound: 30n }, { leavesPerRound: 50n }]);
    try {
      await h.manager.close();
      const roundStart = schedule.roundStart(0).getTime();
      const state = blippingState(
        h.state,
        (path) => path.startsWith("intents.") && h.clock.now() < roundStart,
      );
      const manager = await h.restart({ state, logger });
      const ids = [identity(1), identity(1), identity(1)];
      const outcomes = await drive(h.clock, Promise.all(ids.map((id) => build(h, id, manager))));
      assert.deepEqual(
        outcomes.map((o) => o.kind),
        ["window-missed", "window-missed", "window-missed"],
      );
      // No submit left without its intent.
      for (const poet of h.poets) assert.equal(poet.state.round(0)?.registrations.length ?? 0, 0);
      // Nothing was written, so nothing is dropped (no delete sent to a store that is down).
      assert.deepEqual(
        logger.lines.filter((l) => /submit intent/.test(l.message)).map((l) => l.message),
        [],
      );
    } finally {
      await h.close();
    }
  });
});
