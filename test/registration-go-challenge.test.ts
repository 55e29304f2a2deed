import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../src/errors.js";
import { nipostChallengeHash } from "../src/wire/index.js";
import { goSchemaCheck } from "./helpers/storage-go-db.js";
import { drive, hex, identity, ofType, ready, setup } from "./registration-harness.js";

describe("a challenge row go-spacemesh wrote (no recorded hash)", () => {
  it("resumes on its own: the hash is computed from the row and registered", async () => {
    const h = await setup([{ leavesPerRound: 30n }, { leavesPerRound: 50n }]);
    try {
      const id = identity(1);
      // Written without a hash, as the Go node writes its challenge rows.
      await h.state.challenges.add(id.signer.nodeId, id.challenge);
      assert.equal((await h.state.challenges.get(id.signer.nodeId))?.hash, undefined);
      h.manager.addIdentity(id.signer);
      const nipost = ready(
        await drive(h.clock, h.manager.buildNiPost({ nodeId: id.signer.nodeId })),
      );
      const expected = nipostChallengeHash(id.challenge);
      assert.equal(hex(nipost.challengeHash), hex(expected));
      assert.equal(nipost.leaves, 50n);
      const registered = ofType(h.events, "registered");
      assert.equal(registered.length, 2);
      assert.equal(
        hex((await h.state.challenges.get(id.signer.nodeId))?.hash as Uint8Array),
        hex(expected),
      );
      // A whole cycle and complete(): go-spacemesh still accepts the node's file.
      await h.manager.complete(id.signer.nodeId);
      for (const version of ["v1.7.0-v1.7.4", "v1.7.5+"] as const) {
        assert.equal(goSchemaCheck(h.dbPath, version), "", version);
      }
    } finally {
      await h.close();
    }
  });

  it("refuses the same challenge passed with another hash, with a ConfigError", async () => {
    const h = await setup([{}]);
    try {
      const id = identity(1);
      await h.state.challenges.add(id.signer.nodeId, id.challenge);
      h.manager.addIdentity(id.signer);
      await assert.rejects(
        h.manager.buildNiPost({
          nodeId: id.signer.nodeId,
          challenge: { challenge: id.challenge, hash: id.hash },
        }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.equal(err.setting, "challenge.hash");
          assert.match(err.message, new RegExp(hex(nipostChallengeHash(id.challenge))));
          return true;
        },
      );
      // Nothing was registered under the wrong hash.
      assert.deepEqual(await h.state.registrations.listFor(id.signer.nodeId), []);
    } finally {
      await h.close();
    }
  });
});
