import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { ConfigError } from "../src/errors.js";
import { openNodeState } from "../src/storage/index.js";
import { filled } from "./helpers/storage-go-db.js";
import { tempDir } from "./helpers/temp-dir.js";

const tmp = tempDir("storage-u64-");

const EDGES: ReadonlyArray<[bigint, bigint]> = [
  [0n, 0n],
  [(1n << 63n) - 1n, 9223372036854775807n],
  [1n << 63n, -9223372036854775808n],
  [(1n << 64n) - 1n, -1n],
];

describe("u64 columns", () => {
  it("round-trip 0, 2^63−1, 2^63 and 2^64−1 as bigint, stored as Go's signed int64", async () => {
    const file = tmp.file("edges.sql");
    {
      await using state = await openNodeState(file, { create: true });
      for (const [i, [value]] of EDGES.entries()) {
        const nodeId = filled(32, i + 1);
        await state.challenges.add(nodeId, {
          publishEpoch: 2 ** 32 - 1,
          sequence: value,
          prevAtx: filled(32, 0),
          positioningAtx: filled(32, 0),
          initialPost: { nonce: 0, indices: new Uint8Array([1]), pow: value },
        });
        await state.nipost.add(nodeId, {
          post: { nonce: 2 ** 32 - 1, indices: new Uint8Array([1]), pow: value },
          numUnits: 0,
          vrfNonce: value,
          membership: { nodes: [], leafIndex: value },
          poetProofRef: filled(32, 7),
          labelsPerUnit: value,
        });
      }
      for (const [i, [value]] of EDGES.entries()) {
        const nodeId = filled(32, i + 1);
        const challenge = await state.challenges.get(nodeId);
        assert.equal(challenge?.challenge.sequence, value);
        assert.equal(challenge?.challenge.initialPost?.pow, value);
        assert.equal(challenge?.challenge.publishEpoch, 2 ** 32 - 1);
        const nipost = await state.nipost.get(nodeId);
        assert.equal(nipost?.post.pow, value);
        assert.equal(nipost?.vrfNonce, value);
        assert.equal(nipost?.labelsPerUnit, value);
        assert.equal(nipost?.membership.leafIndex, value);
        assert.equal(nipost?.post.nonce, 2 ** 32 - 1);
      }
    }
    const db = new Database(file, { readonly: true });
    db.defaultSafeIntegers(true);
    for (const [i, [, stored]] of EDGES.entries()) {
      const row = db
        .prepare(
          "select typeof(post_pow) t, post_pow, vrf_nonce, labels_per_unit from nipost where id = ?",
        )
        .get(filled(32, i + 1)) as Record<string, unknown>;
      assert.deepEqual(row, {
        t: "integer",
        post_pow: stored,
        vrf_nonce: stored,
        labels_per_unit: stored,
      });
      const challenge = db
        .prepare("select sequence, post_pow from challenge where id = ?")
        .get(filled(32, i + 1));
      assert.deepEqual(challenge, { sequence: stored, post_pow: stored });
    }
    db.close();
  });

  it("refuses values outside [0, 2^64) and u32 values outside [0, 2^32) with a ConfigError", async () => {
    await using state = await openNodeState(tmp.file("range.sql"), { create: true });
    const base = {
      publishEpoch: 1,
      sequence: 0n,
      prevAtx: filled(32, 0),
      positioningAtx: filled(32, 0),
    };
    for (const [sequence, field] of [
      [1n << 64n, "challenge.sequence"],
      [-1n, "challenge.sequence"],
    ] as const) {
      await assert.rejects(state.challenges.add(filled(32, 1), { ...base, sequence }), (err) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.setting, field);
        return true;
      });
    }
    await assert.rejects(
      state.challenges.add(filled(32, 1), { ...base, publishEpoch: 2 ** 32 }),
      ConfigError,
    );
    await assert.rejects(state.challenges.add(filled(31, 1), base), (err) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.setting, "nodeId");
      return true;
    });
    assert.equal(await state.challenges.get(filled(32, 1)), undefined);
  });
});
