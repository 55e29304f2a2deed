import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { StorageError } from "../src/errors.js";
import { companionPath } from "../src/storage/companion-file.js";
import { openNodeState } from "../src/storage/index.js";
import {
  createGoDatabase,
  filled,
  goAddChallenge,
  goAddNipost,
  goAddPoetRegistration,
  goUpdatePoetProofRef,
} from "./helpers/storage-go-db.js";
import { tempDir } from "./helpers/temp-dir.js";

const { file: dbFile } = tempDir("storage-consistency-");

const A = filled(32, 0xa);
const B = filled(32, 0xb);
const C = filled(32, 0xc);
const hexOf = (b: Uint8Array) => Buffer.from(b).toString("hex");
const challenge = {
  publishEpoch: 40,
  sequence: 3n,
  prevAtx: filled(32, 1),
  positioningAtx: filled(32, 2),
};
const MEMBERSHIP_SCALE = new Uint8Array([0x00, 0x00]); // no nodes, leaf index 0

function corruptError(table: string, column: string, identity?: Uint8Array) {
  return (err: unknown) => {
    assert.ok(err instanceof StorageError, String(err));
    assert.equal(err.kind, "corrupt");
    assert.equal(err.table, table);
    assert.equal(err.column, column);
    if (identity) assert.equal(err.identity, hexOf(identity));
    return true;
  };
}

describe("corrupt values", () => {
  it("are reported with table, column and identity instead of being returned", async () => {
    const file = dbFile();
    const go = createGoDatabase(file);
    goAddChallenge(go, {
      id: A,
      epoch: 1,
      sequence: 1n,
      prevAtx: filled(31, 1),
      posAtx: filled(32, 2),
    });
    goAddChallenge(go, {
      id: B,
      epoch: 1,
      sequence: 1n,
      prevAtx: filled(32, 1),
      posAtx: filled(32, 2),
    });
    goUpdatePoetProofRef(go, B, filled(32, 0xee), new Uint8Array([0x08, 1, 2, 3]));
    goAddChallenge(go, {
      id: C,
      epoch: 1,
      sequence: 1n,
      prevAtx: filled(32, 1),
      posAtx: filled(32, 2),
    });
    go.prepare("update challenge set sequence = 'many' where id = ?").run(C);
    goAddPoetRegistration(go, {
      id: A,
      hash: filled(16, 1),
      address: "https://poet-a",
      roundId: "1",
      roundEndUnix: 0n,
    });
    go.prepare(
      "insert into poet_certificates (node_id, certifier_id, certificate, signature) values (?, ?, ?, ?)",
    ).run(A, filled(33, 1), filled(4, 1), filled(64, 1));
    go.close();

    await using state = await openNodeState(file, { create: true });
    await assert.rejects(state.challenges.get(A), corruptError("challenge", "prev_atx", A));
    await assert.rejects(
      state.challenges.get(B),
      corruptError("challenge", "poet_proof_membership", B),
    );
    await assert.rejects(state.challenges.get(C), corruptError("challenge", "sequence", C));
    await assert.rejects(
      state.registrations.listFor(A),
      corruptError("poet_registration", "hash", A),
    );
    await assert.rejects(
      state.certificates.listFor(A),
      corruptError("poet_certificates", "certifier_id", A),
    );
  });

  it("include a stored proof whose bytes no longer hash to its ref", async () => {
    const file = dbFile();
    const proof = {
      root: filled(32, 1),
      provenLeaves: [filled(32, 2)],
      proofNodes: [filled(32, 3)],
      leaves: 2n,
    };
    {
      await using state = await openNodeState(file, { create: true });
      const ref = await state.proofs.put({
        proof,
        address: "https://poet-a",
        roundId: "1",
        servicePubkey: filled(32, 4),
        statement: filled(32, 5),
        verifiedAt: new Date(0),
      });
      const db = new Database(companionPath(file));
      const bytes = db.prepare("select proof from poet_client_proof").get() as { proof: Buffer };
      const last = bytes.proof.length - 1;
      bytes.proof[last] = (bytes.proof[last] ?? 0) ^ 1;
      db.prepare("update poet_client_proof set proof = ?").run(bytes.proof);
      db.close();
      await assert.rejects(state.proofs.get(ref), corruptError("poet_client_proof", "proof"));
    }
  });
});

describe("NodeState.check and repair", () => {
  it("finds stale registrations, stale and orphaned NiPoSTs and corrupt rows, and repairs them in one go", async () => {
    const file = dbFile();
    const D = filled(32, 0xd);
    const E = filled(32, 0xe);
    {
      await using state = await openNodeState(file, { create: true });
      // A: registered with the current challenge (fine) and with an older one (stale).
      await state.challenges.add(A, challenge, { hash: filled(32, 0x11) });
      await state.registrations.addMany([
        {
          nodeId: A,
          hash: filled(32, 0x11),
          address: "https://poet-a",
          roundId: "1",
          roundEnd: new Date(0),
        },
        {
          nodeId: A,
          hash: filled(32, 0x22),
          address: "https://poet-b",
          roundId: "1",
          roundEnd: new Date(0),
        },
      ]);
      // B: registrations but no challenge (the operator deleted it).
      await state.registrations.add({
        nodeId: B,
        hash: filled(32, 0x33),
        address: "https://poet-a",
        roundId: "1",
        roundEnd: new Date(0),
      });
      const nipost = (ref: Uint8Array) => ({
        post: { nonce: 1, indices: new Uint8Array([1]), pow: 1n },
        numUnits: 1,
        vrfNonce: 1n,
        membership: { nodes: [], leafIndex: 0n },
        poetProofRef: ref,
        labelsPerUnit: 1n,
      });
      // C: a NiPoST made for another proof than the challenge's.
      await state.challenges.add(C, challenge);
      await state.challenges.setPoetProof(C, filled(32, 0xc1), { nodes: [], leafIndex: 0n });
      await state.nipost.add(C, nipost(filled(32, 0xc2)));
      // D: a NiPoST left behind after the challenge was deleted.
      await state.nipost.add(D, nipost(filled(32, 0xd1)));
      // E: a challenge written by go-spacemesh (hash unknown to us) with a registration.
      await state.challenges.add(E, challenge);
      await state.registrations.add({
        nodeId: E,
        hash: filled(32, 0x44),
        address: "https://poet-a",
        roundId: "1",
        roundEnd: new Date(0),
      });
    }
    const db = new Database(file);
    db.prepare("insert into poet_registration values (?, ?, ?, ?, ?)").run(
      filled(5, 0xf),
      filled(32, 1),
      "https://poet-a",
      "1",
      0,
    );
    db.close();

    await using state = await openNodeState(file, { create: true });
    const found = await state.check({
      challengeHash: (c) => (c.sequence === 3n ? filled(32, 0x55) : filled(32, 0)),
    });
    const summary = found
      .map((i) => `${i.kind} ${i.table} ${i.identity.slice(0, 4)} ${i.address ?? "-"}`)
      .sort();
    assert.deepEqual(summary, [
      "corrupt-row poet_registration 0f0f https://poet-a",
      "nipost-ref-mismatch nipost 0c0c -",
      "nipost-without-challenge nipost 0d0d -",
      "registration-hash-mismatch poet_registration 0a0a https://poet-b",
      "registration-hash-mismatch poet_registration 0e0e https://poet-a",
      "registration-without-challenge poet_registration 0b0b https://poet-a",
    ]);
    for (const item of found) assert.ok(item.detail.length > 0);
    const stale = found.find(
      (i) => i.kind === "registration-hash-mismatch" && i.identity.startsWith("0a"),
    );
    assert.match(stale?.detail ?? "", new RegExp(hexOf(filled(32, 0x11))));

    assert.equal(await state.repair(found), 6);
    assert.deepEqual(await state.check({ challengeHash: () => filled(32, 0x55) }), []);
    assert.deepEqual(
      (await state.registrations.listFor(A)).map((r) => r.address),
      ["https://poet-a"],
    );
    assert.ok(await state.challenges.get(C), "repair deletes the NiPoST, not the challenge");
  });

  it("does not compare a go-spacemesh challenge whose hash it cannot know", async () => {
    const file = dbFile();
    const go = createGoDatabase(file);
    goAddChallenge(go, {
      id: A,
      epoch: 1,
      sequence: 1n,
      prevAtx: filled(32, 1),
      posAtx: filled(32, 2),
    });
    goUpdatePoetProofRef(go, A, filled(32, 0xee), MEMBERSHIP_SCALE);
    goAddPoetRegistration(go, {
      id: A,
      hash: filled(32, 0x11),
      address: "https://poet-a",
      roundId: "1",
      roundEndUnix: 0n,
    });
    goAddNipost(go, {
      id: A,
      nonce: 1,
      indices: filled(3, 1),
      pow: 1n,
      numUnits: 1,
      vrfNonce: 1n,
      membershipScale: MEMBERSHIP_SCALE,
      ref: filled(32, 0xee),
      labelsPerUnit: 1n,
    });
    go.close();
    await using state = await openNodeState(file, { create: true });
    assert.deepEqual(await state.check(), []);
  });
});
