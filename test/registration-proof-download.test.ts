import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StorageError } from "../src/errors.js";
import {
  build,
  drive,
  EPOCH_MS,
  hex,
  identity,
  ofType,
  ready,
  schedule,
  setup,
  T0,
} from "./registration-harness.js";

describe("RegistrationManager and proof downloads", () => {
  for (const protocol of ["rest", "connect"] as const) {
    it(`does not retry a proof over the size cap and names the cap in the outcome (${protocol})`, async () => {
      const h = await setup([{}]);
      await h.manager.close();
      await h.restart({
        maxProofResponseBytes: 50_000,
        poets: h.poets.map((m) => ({ url: m.url, pubkey: m.info.servicePubkey, protocol })),
      });
      try {
        h.poets[0]!.faults.oversizeBytes = 200_000;
        const outcome = await drive(h.clock, build(h, identity(1)));
        assert.equal(outcome.kind, "no-proof");
        if (outcome.kind !== "no-proof") return;
        // Final at the first answer: one failed fetch, no next attempt, long before the deadline.
        const failed = ofType(h.events, "proof-fetch-failed");
        assert.equal(failed.length, 1);
        assert.equal(failed[0]!.nextAttemptAt, undefined);
        assert.equal(failed[0]!.error.code, "rpc");
        assert.equal(outcome.expired, false);
        // Only a network failure, no proof failed verification: the outcome says `rpc`.
        assert.equal(outcome.error.code, "rpc");
        assert.ok(h.clock.now() < schedule.proofDeadline(0).getTime());
        assert.equal(outcome.failures.length, 1);
        assert.match(outcome.failures[0]!.error.message, /limit|larger|exceed/i);
        assert.ok(
          outcome.error.message.includes(outcome.failures[0]!.error.message),
          outcome.error.message,
        );
      } finally {
        await h.close();
      }
    });
  }

  it("uses a verified proof whose member list the store cannot take, with a warning", async () => {
    const warnings: string[] = [];
    const h = await setup([{}], {
      logger: {
        debug: () => {},
        info: () => {},
        error: () => {},
        warn: (_obj: unknown, msg?: string) => warnings.push(msg ?? ""),
      },
    });
    try {
      h.state.members.put = async () => {
        throw new StorageError("disk full", { kind: "io", table: "poet_client_member_chunk" });
      };
      const nipost = ready(await drive(h.clock, build(h, identity(1))));
      assert.equal(nipost.leaves, 15n);
      assert.deepEqual(
        ofType(h.events, "proof-downloaded").map((e) => e.fromCache),
        [false],
      );
      assert.ok(
        warnings.some((w) => /could not store the round's member list/.test(w)),
        warnings.join("\n"),
      );
    } finally {
      await h.close();
    }
  });

  it("keeps a small round's member list, and prunes lists whose round is past its deadline", async () => {
    const h = await setup([{}]);
    try {
      const old = { address: "http://old.example:1", roundId: "0", members: [new Uint8Array(32)] };
      await h.state.members.put({ ...old, fetchedAt: new Date(T0 - 100 * EPOCH_MS) });
      const recent = { ...old, address: "http://recent.example:1" };
      await h.state.members.put({ ...recent, fetchedAt: new Date(T0) });
      const id = identity(1);
      const nipost = ready(await drive(h.clock, build(h, id)));
      assert.equal(await h.state.members.get(old.address, old.roundId), undefined);
      assert.notEqual(await h.state.members.get(recent.address, recent.roundId), undefined);
      const stored = await h.state.members.get(nipost.poet as string, nipost.roundId as string);
      assert.ok(stored?.members.some((m) => hex(m) === hex(id.hash)));
    } finally {
      await h.close();
    }
  });
});
