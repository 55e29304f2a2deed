/**
 * The repositories' behaviour, one suite that every store passes: SQLite and PostgreSQL
 * (`helpers/node-state-stores.ts`).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StorageError } from "../src/errors.js";
import type { NodeState } from "../src/storage/index.js";
import { NODE_STATE_STORES, type OpenedStore } from "./helpers/node-state-stores.js";
import { fromHex, loadProofVectors, proofOf } from "./helpers/proof-vectors.js";
import { filled } from "./helpers/storage-go-db.js";

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

for (const store of NODE_STATE_STORES) {
  describe(store.name, () => {
    async function withState(
      fn: (state: NodeState, raw: OpenedStore["exec"]) => Promise<void>,
    ): Promise<void> {
      const opened = await store.open();
      try {
        await fn(opened.state, opened.exec);
      } finally {
        await opened.close();
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
        withState(async (state, raw) => {
          await state.challenges.add(A, challenge, { hash: filled(32, 0xcc) });
          assert.deepEqual((await state.challenges.get(A))?.hash, filled(32, 0xcc));
          await assert.rejects(
            state.challenges.add(A, challenge),
            isStorageError("duplicate", "challenge"),
          );

          // Someone else (go-spacemesh, an operator) rewrites the row: the recorded hash no longer applies.
          await raw("update challenge set sequence = 4 where id = $1", [A]);
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
          await assert.rejects(
            state.challenges.setHash(B, filled(32, 1)),
            isStorageError("missing"),
          );
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

    describe("NodeState.check and repair", () => {
      it("finds stale registrations, stale and orphaned NiPoSTs and corrupt rows, and repairs them", () =>
        withState(async (state, raw) => {
          const C = filled(32, 0xc);
          const D = filled(32, 0xd);
          const reg = (nodeId: Uint8Array, address: string, hash: Uint8Array) => ({
            nodeId,
            hash,
            address,
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
          await state.challenges.add(A, challenge, { hash: filled(32, 0x11) });
          await state.registrations.addMany([
            reg(A, "https://poet-a", filled(32, 0x11)),
            reg(A, "https://poet-b", filled(32, 0x22)),
            reg(B, "https://poet-a", filled(32, 0x33)),
          ]);
          await state.challenges.add(C, challenge);
          await state.challenges.setPoetProof(C, filled(32, 0xc1), { nodes: [], leafIndex: 0n });
          await state.nipost.add(C, nipost(filled(32, 0xc2)));
          await state.nipost.add(D, nipost(filled(32, 0xd1)));
          await raw("insert into poet_registration values ($1, $2, $3, $4, $5)", [
            filled(5, 0xf),
            filled(32, 1),
            "https://poet-a",
            "1",
            0n,
          ]);
          const found = await state.check({ challengeHash: () => filled(32, 0x55) });
          const summary = found
            .map((i) => `${i.kind} ${i.table} ${i.identity.slice(0, 4)} ${i.address ?? "-"}`)
            .sort();
          assert.deepEqual(summary, [
            "corrupt-row poet_registration 0f0f https://poet-a",
            "nipost-ref-mismatch nipost 0c0c -",
            "nipost-without-challenge nipost 0d0d -",
            "registration-hash-mismatch poet_registration 0a0a https://poet-b",
            "registration-without-challenge poet_registration 0b0b https://poet-a",
          ]);
          assert.equal(await state.repair(found), 5);
          assert.deepEqual(await state.check({ challengeHash: () => filled(32, 0x55) }), []);
          assert.deepEqual(
            (await state.registrations.listFor(A)).map((r) => r.address),
            ["https://poet-a"],
          );
          assert.ok(await state.challenges.get(C), "repair deletes the NiPoST, not the challenge");
        }));
    });

    describe("concurrent writers", () => {
      it("commits the writes of many identities that arrive together, a failing one alone", () =>
        withState(async (state) => {
          const ids = Array.from({ length: 64 }, (_, i) => filled(32, i + 1));
          const results = await Promise.allSettled([
            ...ids.map((id) =>
              state.transaction(async (tx) => {
                await tx.challenges.add(id, challenge, { hash: filled(32, 0xcc) });
                await tx.registrations.add(registration(id, "https://poet-a"));
              }),
            ),
            // The same identity twice in one batch: the second fails alone.
            state.challenges.add(ids[0] as Uint8Array, challenge),
          ]);
          assert.deepEqual(
            results.map((r) => r.status),
            [...ids.map(() => "fulfilled"), "rejected"],
          );
          assert.equal((await state.challenges.list()).length, ids.length);
          assert.equal((await state.registrations.list()).length, ids.length);
        }));
    });
  });
}
