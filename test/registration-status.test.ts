import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { build, drive, identity, ready, setup } from "./registration-harness.js";

describe("RegistrationManager.status()", () => {
  it("reports the step the cycle takes, in the words of planNextStep", async () => {
    const h = await setup([{ leavesPerRound: 30n }]);
    try {
      const id = identity(1);
      h.manager.addIdentity(id.signer);
      assert.equal(h.manager.status()[0]?.next, undefined);
      // The step as status() shows it whenever an event arrives, without repeats.
      const seen: string[] = [];
      h.manager.onEvent(() => {
        const step = h.manager.status()[0]?.next?.step;
        if (step !== undefined && seen.at(-1) !== step) seen.push(step);
      });
      ready(await drive(h.clock, build(h, id)));
      assert.deepEqual(seen, [
        "register",
        "wait-for-round-end",
        "fetch-proofs",
        "post",
        "publish-atx",
      ]);
      const next = h.manager.status()[0]?.next;
      assert.equal(next?.step, "publish-atx");
      assert.equal(next?.round, 0);
    } finally {
      await h.close();
    }
  });
});
