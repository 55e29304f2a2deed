import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { StorageError } from "../src/errors.js";
import { type NodeState, openNodeState } from "../src/storage/index.js";
import { fromHex, loadProofVectors, proofOf } from "./helpers/proof-vectors.js";
import { filled } from "./helpers/storage-go-db.js";
import { tempDir } from "./helpers/temp-dir.js";

const { file: dbFile } = tempDir("storage-repos-");
const vectors = loadProofVectors("test/fixtures/poet-proofs.json");

const A = filled(32, 0xa);
const B = filled(32, 0xb);
const challenge = {
  publishEpoch: 40,
  sequence: 3n,
  prevAtx: filled(32, 1),
  positioningAtx: filled(32, 2),
};
const registration = (nodeId: Uint8Array, address: string, hash = filled(32, 0xcc)) => ({
  nodeId,
  hash,
  address,
  roundId: "39",
  roundEnd: new Date(1_750_000_000_000),
});

function isStorageError(kind: string, table?: string) {
  return (err: unknown) => {
    assert.ok(err instanceof StorageError, String(err));
    assert.equal(err.kind, kind);
    if (table !== undefined) assert.equal(err.table, table);
    return true;
  };
}

async function withState(fn: (state: NodeState, file: string) => Promise<void>): Promise<void> {
  const file = dbFile();
  const state = await openNodeState(file, { create: true });
  try {
    await fn(state, file);
  } finally {
    await state.close();
  }
}

describe("registrations", () => {
  it("adds, lists, gets, updates, deletes and clears per identity", () =>
    withState(async (state) => {
      await state.registrations.add(registration(A, "https://poet-b"));
      await state.registrations.addMany([
        registration(A, "https://poet-a"),
        registration(B, "https://poet-a"),
      ]);
      assert.deepEqual(
        (await state.registrations.listFor(A)).map((r) => r.address),
        ["https://poet-a", "https://poet-b"],
      );
      assert.deepEqual(
        await state.registrations.get(B, "https://poet-a"),
        registration(B, "https://poet-a"),
      );
      assert.equal((await state.registrations.list()).length, 3);

      const moved = { ...registration(A, "https://poet-a"), roundId: "40" };
      assert.equal(await state.registrations.update(moved), true);
      assert.equal((await state.registrations.get(A, "https://poet-a"))?.roundId, "40");
      assert.equal(
        await state.registrations.update({ ...moved, hash: filled(32, 1) }),
        false,
        "another challenge's registration is not updated",
      );

      assert.equal(await state.registrations.delete(A, "https://poet-b"), true);
      assert.equal(await state.registrations.delete(A, "https://poet-b"), false);
      assert.equal(await state.registrations.clear(A), 1);
      assert.deepEqual(await state.registrations.listFor(A), []);
      assert.equal((await state.registrations.listFor(B)).length, 1);
    }));

  it("refuses a duplicate (identity, address) with kind duplicate and keeps addMany all-or-nothing", () =>
    withState(async (state) => {
      await state.registrations.add(registration(A, "https://poet-a"));
      await assert.rejects(
        state.registrations.add(registration(A, "https://poet-a", filled(32, 1))),
        isStorageError("duplicate", "poet_registration"),
      );
      await assert.rejects(
        state.registrations.addMany([
          registration(A, "https://poet-b"),
          registration(A, "https://poet-a"),
        ]),
        isStorageError("duplicate"),
      );
      assert.deepEqual(
        (await state.registrations.listFor(A)).map((r) => r.address),
        ["https://poet-a"],
      );
    }));

  it("deletes the registrations of an older challenge", () =>
    withState(async (state) => {
      await state.registrations.addMany([
        registration(A, "https://poet-a", filled(32, 1)),
        registration(A, "https://poet-b", filled(32, 2)),
      ]);
      const stale = await state.registrations.deleteStale(A, filled(32, 2));
      assert.deepEqual(
        stale.map((r) => r.address),
        ["https://poet-a"],
      );
      assert.deepEqual(
        (await state.registrations.listFor(A)).map((r) => r.address),
        ["https://poet-b"],
      );
    }));
});

describe("challenges", () => {
  it("records the challenge hash and forgets it when the row changes behind its back", () =>
    withState(async (state, file) => {
      await state.challenges.add(A, challenge, { hash: filled(32, 0xcc) });
      assert.deepEqual((await state.challenges.get(A))?.hash, filled(32, 0xcc));
      await assert.rejects(
        state.challenges.add(A, challenge),
        isStorageError("duplicate", "challenge"),
      );

      // Someone else (go-spacemesh, an operator) rewrites the row: the recorded hash no longer applies.
      const db = new Database(file);
      db.prepare("update challenge set sequence = 4 where id = ?").run(A);
      db.close();
      assert.equal((await state.challenges.get(A))?.hash, undefined);

      await state.challenges.setHash(A, filled(32, 0xdd));
      assert.deepEqual((await state.challenges.get(A))?.hash, filled(32, 0xdd));
      await state.challenges.update(A, { ...challenge, sequence: 5n });
      const updated = await state.challenges.get(A);
      assert.equal(updated?.challenge.sequence, 5n);
      assert.equal(updated?.hash, undefined);
      await assert.rejects(
        state.challenges.update(B, challenge),
        isStorageError("missing", "challenge"),
      );
      await assert.rejects(state.challenges.setHash(B, filled(32, 1)), isStorageError("missing"));
    }));

  it("stores and clears the selected proof, and refuses it for an identity without challenge", () =>
    withState(async (state) => {
      await state.challenges.add(A, challenge);
      const membership = { nodes: [filled(32, 5), filled(32, 6)], leafIndex: 2n };
      await state.challenges.setPoetProof(A, filled(32, 0xee), membership);
      const row = await state.challenges.get(A);
      assert.deepEqual(row?.poetProofRef, filled(32, 0xee));
      assert.deepEqual(row?.membership, membership);
      await assert.rejects(
        state.challenges.setPoetProof(B, filled(32, 0xee), membership),
        isStorageError("missing", "challenge"),
      );
      assert.equal(await state.challenges.clearPoetProof(A), true);
      assert.equal((await state.challenges.get(A))?.poetProofRef, undefined);
      assert.equal((await state.challenges.list()).length, 1);
      assert.equal(await state.challenges.delete(A), true);
      assert.equal(await state.challenges.get(A), undefined);
    }));
});

describe("nipost and certificates", () => {
  it("adds one NiPoST per identity and deletes it", () =>
    withState(async (state) => {
      const nipost = {
        post: { nonce: 1, indices: new Uint8Array([1, 2, 3]), pow: 7n },
        numUnits: 4,
        vrfNonce: 8n,
        membership: { nodes: [filled(32, 9)], leafIndex: 1n },
        poetProofRef: filled(32, 0xee),
        labelsPerUnit: 1024n,
      };
      await state.nipost.add(A, nipost);
      assert.deepEqual(await state.nipost.get(A), { nodeId: A, ...nipost });
      await assert.rejects(state.nipost.add(A, nipost), isStorageError("duplicate", "nipost"));
      assert.equal((await state.nipost.list()).length, 1);
      assert.equal(await state.nipost.delete(A), true);
      assert.equal(await state.nipost.get(A), undefined);
    }));

  it("replaces a certificate from the same certifier and keeps one per certifier", () =>
    withState(async (state) => {
      const cert = (certifier: number, byte: number) => ({
        nodeId: A,
        certifierId: filled(32, certifier),
        certificate: filled(40, byte),
        signature: filled(64, byte),
      });
      await state.certificates.put(cert(1, 1));
      await state.certificates.put(cert(1, 2));
      await state.certificates.put(cert(2, 3));
      assert.deepEqual(await state.certificates.get(A, filled(32, 1)), cert(1, 2));
      assert.equal((await state.certificates.listFor(A)).length, 2);
      assert.equal(await state.certificates.delete(A, filled(32, 1)), true);
      assert.equal(await state.certificates.clear(A), 1);
      assert.deepEqual(await state.certificates.listFor(A), []);
    }));
});

describe("verified proofs and member lists", () => {
  it("files a proof under the Go reference's proof ref and finds it by round", () =>
    withState(async (state) => {
      for (const v of vectors.slice(0, 12)) {
        const ref = await state.proofs.put({
          proof: proofOf(v),
          address: "https://poet-a",
          roundId: v.name,
          servicePubkey: filled(32, 0x77),
          statement: fromHex(v.statement),
          verifiedAt: new Date(1_750_000_000_123),
        });
        assert.equal(Buffer.from(ref).toString("hex"), v.proof_ref, v.name);
      }
      const v = vectors[11]!;
      const stored = await state.proofs.get(fromHex(v.proof_ref!));
      assert.deepEqual(stored?.proof, proofOf(v));
      assert.equal(stored?.verifiedAt.getTime(), 1_750_000_000_123);
      assert.equal(await state.proofs.has(fromHex(v.proof_ref!)), true);
      assert.equal(await state.proofs.has(filled(32, 0)), false);
      const [found] = await state.proofs.findByRound("https://poet-a", v.name);
      assert.deepEqual(found?.ref, fromHex(v.proof_ref!));
      assert.deepEqual(await state.proofs.findByRound("https://poet-b", v.name), []);
      assert.equal(await state.proofs.delete(fromHex(v.proof_ref!)), true);
      assert.equal(await state.proofs.pruneVerifiedBefore(new Date(1_750_000_000_124)), 11);
    }));

  it("keeps member lists of any member length per PoET and round", () =>
    withState(async (state) => {
      const members = [filled(32, 1), filled(31, 2), new Uint8Array(), filled(40, 3)];
      await state.members.put({
        address: "https://poet-a",
        roundId: "39",
        members,
        statement: filled(32, 9),
        fetchedAt: new Date(1000),
      });
      assert.deepEqual(await state.members.get("https://poet-a", "39"), {
        address: "https://poet-a",
        roundId: "39",
        members,
        statement: filled(32, 9),
        fetchedAt: new Date(1000),
      });
      await state.members.put({
        address: "https://poet-a",
        roundId: "39",
        members: [],
        fetchedAt: new Date(2000),
      });
      assert.deepEqual((await state.members.get("https://poet-a", "39"))?.members, []);
      assert.equal(await state.members.get("https://poet-a", "40"), undefined);
      assert.equal(await state.members.pruneFetchedBefore(new Date(2001)), 1);
      assert.equal(await state.members.delete("https://poet-a", "39"), false);
    }));
});

describe("NodeState.transaction", () => {
  it("commits every write of the callback together, through tx or through the state itself", () =>
    withState(async (state) => {
      await state.transaction(async (tx) => {
        await tx.challenges.add(A, challenge);
        await state.registrations.add(registration(A, "https://poet-a"));
        assert.ok(await state.challenges.get(A), "reads inside see the transaction's writes");
      });
      assert.ok(await state.challenges.get(A));
      assert.equal((await state.registrations.listFor(A)).length, 1);
    }));

  it("rolls every write back when the callback throws", () =>
    withState(async (state) => {
      await assert.rejects(
        state.transaction(async (tx) => {
          await tx.challenges.add(A, challenge);
          await tx.registrations.add(registration(A, "https://poet-a"));
          throw new Error("step failed");
        }),
        /step failed/,
      );
      assert.equal(await state.challenges.get(A), undefined);
      assert.deepEqual(await state.registrations.listFor(A), []);
      // The connection is usable afterwards.
      await state.challenges.add(A, challenge);
    }));

  it("rolls back when the signal aborts before the commit", () =>
    withState(async (state) => {
      const controller = new AbortController();
      await assert.rejects(
        state.transaction(
          async (tx) => {
            await tx.challenges.add(A, challenge);
            controller.abort();
          },
          { signal: controller.signal },
        ),
      );
      assert.equal(await state.challenges.get(A), undefined);
    }));

  it("resets an identity (registrations, nipost, challenge) in one go and keeps its certificates", () =>
    withState(async (state) => {
      await state.challenges.add(A, challenge, { hash: filled(32, 0xcc) });
      await state.registrations.addMany([
        registration(A, "https://poet-a"),
        registration(A, "https://poet-b"),
      ]);
      await state.nipost.add(A, {
        post: { nonce: 1, indices: new Uint8Array([1]), pow: 1n },
        numUnits: 1,
        vrfNonce: 1n,
        membership: { nodes: [], leafIndex: 0n },
        poetProofRef: filled(32, 0xee),
        labelsPerUnit: 1n,
      });
      await state.certificates.put({
        nodeId: A,
        certifierId: filled(32, 1),
        certificate: filled(8, 1),
        signature: filled(64, 1),
      });
      assert.deepEqual(await state.resetIdentity(A), {
        registrations: 2,
        nipost: true,
        challenge: true,
      });
      assert.equal(await state.challenges.get(A), undefined);
      assert.equal(await state.nipost.get(A), undefined);
      assert.equal((await state.certificates.listFor(A)).length, 1);
      // A new challenge does not inherit the old hash.
      await state.challenges.add(A, challenge);
      assert.equal((await state.challenges.get(A))?.hash, undefined);
    }));
});
