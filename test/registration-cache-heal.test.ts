/**
 * Caches heal themselves (issue 14 point 4): a damaged cached proof, member list or verdict is
 * dropped and downloaded again with an event instead of failing every start; `check()` reads
 * every table the library has and `repair()` deletes what it reports; the manager runs both
 * before resuming; a wrong service key or an empty proof is final for that PoET and round.
 * ManualClock, mock PoETs on loopback, the node state in a temp file; no wall-clock timing.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import BetterSqlite3 from "better-sqlite3";
import { AbortedError } from "../src/errors.js";
import type { RegistrationEvent } from "../src/registration/index.js";
import { companionPath } from "../src/storage/index.js";
import {
  build,
  drive,
  type Harness,
  identity,
  ofType,
  ready,
  setup,
} from "./registration-harness.js";

/** Runs SQL on the companion file (our tables), the way an operator does with `sqlite3`. */
function operator(h: Harness, sql: string): void {
  const db = new BetterSqlite3(companionPath(h.dbPath));
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

/** Builds `id`'s NiPoST and stops the process when PoST starts: proof and members are cached. */
async function stopAtPost(h: Harness, id: ReturnType<typeof identity>): Promise<void> {
  let stopped = false;
  h.manager.onEvent((e) => {
    if (e.type === "post-started" && !stopped) {
      stopped = true;
      void h.manager.close();
    }
  });
  await assert.rejects(drive(h.clock, build(h, id)), AbortedError);
  assert.ok(stopped);
}

async function resume(h: Harness, id: ReturnType<typeof identity>) {
  const manager = await h.restart();
  manager.addIdentity(id.signer);
  const events: RegistrationEvent[] = [];
  manager.onEvent((e) => events.push(e));
  const outcome = await drive(h.clock, manager.buildNiPost({ nodeId: id.signer.nodeId }));
  return { nipost: ready(outcome), events };
}

describe("a restart reads the round from the cache", () => {
  it("even a round of more members than the old 65,536 limit: no second download", async () => {
    const h = await setup([{ leavesPerRound: 30n }]);
    try {
      const id = identity(1);
      const poet = h.poets[0];
      assert.ok(poet);
      // Other registrants of the round, as on mainnet, added while it is open.
      h.manager.onEvent((e) => {
        if (e.type !== "registered") return;
        const round = poet.state.round(0);
        assert.ok(round !== undefined && round.closed === undefined);
        for (let i = 0; i < 70_000; i++) {
          const key = new Uint8Array(32).fill(0xff);
          new DataView(key.buffer).setUint32(28, i);
          round.registrations.push({ pubkey: key, challenge: key });
        }
      });
      await stopAtPost(h, id);
      assert.equal(poet.state.round(0)?.proofsServed, 1);
      const { nipost, events } = await resume(h, id);
      assert.equal(nipost.leaves, 30n);
      const downloads = ofType(events, "proof-downloaded");
      assert.deepEqual(
        downloads.map((d) => [d.fromCache, d.members]),
        [[true, 70_001]],
      );
      assert.equal(poet.state.round(0)?.proofsServed, 1);
    } finally {
      await h.close();
    }
  });
});

describe("damaged cache rows", () => {
  it("a corrupt proof row: dropped with an event, downloaded again, NiPoST", async () => {
    const h = await setup([{ leavesPerRound: 30n }]);
    try {
      const id = identity(1);
      await stopAtPost(h, id);
      operator(h, "update poet_client_proof set proof = x'deadbeef'");
      const { nipost, events } = await resume(h, id);
      assert.equal(nipost.leaves, 30n);
      const dropped = ofType(events, "cache-dropped");
      assert.deepEqual(
        dropped.map((e) => e.table),
        ["poet_client_proof"],
      );
      const downloads = ofType(events, "proof-downloaded");
      assert.ok(
        downloads.some((d) => !d.fromCache),
        "downloaded again",
      );
      assert.deepEqual(h.postCalls.at(-1), nipost.proofRef);
      assert.deepEqual(await h.state.check(), []);
    } finally {
      await h.close();
    }
  });

  it("a corrupt member row: dropped with an event, downloaded again, NiPoST", async () => {
    const h = await setup([{ leavesPerRound: 30n }]);
    try {
      const id = identity(1);
      await stopAtPost(h, id);
      operator(h, "update poet_client_members set members = x'0102'");
      const { nipost, events } = await resume(h, id);
      assert.equal(nipost.leaves, 30n);
      assert.deepEqual(
        ofType(events, "cache-dropped").map((e) => e.table),
        ["poet_client_members"],
      );
      assert.ok(ofType(events, "proof-downloaded").some((d) => !d.fromCache));
      assert.deepEqual(await h.state.check(), []);
    } finally {
      await h.close();
    }
  });

  it("a member list with a chunk missing or cut short: dropped with an event, downloaded again, NiPoST", async () => {
    for (const damage of [
      "delete from poet_client_member_chunk",
      "update poet_client_member_chunk set bytes = substr(bytes, 1, 16)",
    ]) {
      const h = await setup([{ leavesPerRound: 30n }]);
      try {
        const id = identity(1);
        await stopAtPost(h, id);
        operator(h, damage);
        const { nipost, events } = await resume(h, id);
        assert.equal(nipost.leaves, 30n);
        const dropped = ofType(events, "cache-dropped");
        assert.deepEqual(
          dropped.map((e) => e.table),
          ["poet_client_members"],
          damage,
        );
        assert.match(dropped[0]?.problem ?? "", /chunk/);
        assert.ok(ofType(events, "proof-downloaded").some((d) => !d.fromCache));
        // Stored again, whole.
        assert.deepEqual(await h.state.check(), []);
        const stored = await h.state.members.read(nipost.poet as string, nipost.roundId as string);
        assert.equal(stored?.members.length, 1);
      } finally {
        await h.close();
      }
    }
  });

  it("a verdict that does not match its members: both dropped with events, fetched and verified again, NiPoST", async () => {
    const h = await setup([{ leavesPerRound: 30n }]);
    try {
      const id = identity(1);
      await stopAtPost(h, id);
      // Decodes fine (check() cannot see it), but is the verdict for no member list.
      operator(h, "update poet_client_proof set statement = zeroblob(32)");
      const { nipost, events } = await resume(h, id);
      assert.equal(nipost.leaves, 30n);
      assert.deepEqual(
        ofType(events, "cache-dropped")
          .map((e) => e.table)
          .sort(),
        ["poet_client_members", "poet_client_proof"],
      );
      const fresh = ofType(events, "proof-downloaded").filter((d) => !d.fromCache);
      assert.equal(fresh.length, 1);
      // The verdict stored again is the right one: a second start finds everything in the cache.
      await h.manager.close();
      h.postCalls.length = 0;
      const again = await resume(h, id);
      assert.deepEqual(again.nipost.proofRef, nipost.proofRef);
      assert.equal(ofType(again.events, "cache-dropped").length, 0);
    } finally {
      await h.close();
    }
  });

  it("check() reads every table (proofs, member lists, intents) and repair() deletes what it reports", async () => {
    const h = await setup([{ leavesPerRound: 30n }]);
    try {
      const id = identity(1);
      await stopAtPost(h, id);
      assert.deepEqual(await h.state.check(), []);
      operator(
        h,
        `update poet_client_proof set proof = x'deadbeef';
         update poet_client_members set members = x'0102';
         insert into poet_client_submit_intent (id, address, hash, round_id, round_end, proof_deadline, created_at)
           values (x'${Buffer.from(id.signer.nodeId).toString("hex")}', 'http://x', x'0102', '0', 0, 0, 0);`,
      );
      const found = await h.state.check();
      assert.deepEqual(found.map((f) => [f.kind, f.table]).sort(), [
        ["corrupt-row", "poet_client_members"],
        ["corrupt-row", "poet_client_proof"],
        ["corrupt-row", "poet_client_submit_intent"],
      ]);
      assert.equal(await h.state.repair(found), 3);
      assert.deepEqual(await h.state.check(), []);
      const { nipost } = await resume(h, id);
      assert.equal(nipost.leaves, 30n);
    } finally {
      await h.close();
    }
  });

  it("the manager reports intents of another challenge found before resuming, deletes them, and prunes expired ones", async () => {
    const h = await setup([{ leavesPerRound: 30n }]);
    try {
      const id = identity(1);
      await stopAtPost(h, id);
      operator(
        h,
        `insert into poet_client_submit_intent (id, address, hash, round_id, round_end, proof_deadline, created_at)
           values (x'${Buffer.from(id.signer.nodeId).toString("hex")}', 'http://x', zeroblob(32), '0', 0, 4102444800000, 0);
         insert into poet_client_submit_intent (id, address, hash, round_id, round_end, proof_deadline, created_at)
           values (x'${Buffer.from(id.signer.nodeId).toString("hex")}', 'http://old', x'${Buffer.from(id.hash).toString("hex")}', '0', 0, 1, 0);`,
      );
      const found = await h.state.check();
      assert.deepEqual(
        found.map((f) => f.kind),
        ["intent-hash-mismatch"],
      );
      const { events } = await resume(h, id);
      const repaired = ofType(events, "state-repaired");
      assert.equal(repaired.length, 1);
      assert.match(repaired[0]!.problem, /submit intent at http:\/\/x/);
      // The one past its proof deadline was pruned, without a repair.
      assert.equal((await h.state.intents.list()).length, 0);
    } finally {
      await h.close();
    }
  });
});

describe("proofs that can never serve", () => {
  for (const withKey of [true, false]) {
    it(`a proof with the wrong service key is final (${withKey ? "configured key" : "key from info"}): one attempt, an event, the other PoET's proof`, async () => {
      const h = await setup([{ leavesPerRound: 20n }, { leavesPerRound: 30n }]);
      try {
        if (!withKey) {
          await h.manager.close();
          await h.restart({
            poets: h.poets.map((m) => ({ url: m.url, protocol: "connect" as const })),
          });
        }
        h.poets[1]!.faults.wrongServiceKey = true;
        const id = identity(1);
        const nipost = ready(await drive(h.clock, build(h, id)));
        assert.equal(nipost.leaves, 20n);
        assert.equal(nipost.poet, h.poets[0]!.url);
        const bad = h.poets[1]!.url;
        const final = ofType(h.events, "proof-final").filter((e) => e.poet === bad);
        assert.equal(final.length, 1);
        assert.equal((final[0]!.error as { reason?: string }).reason, "wrong-service-key");
        // Asked once: a failed download (configured key) or a rejected proof (key from info).
        const answers = [
          ...ofType(h.events, "proof-fetch-failed"),
          ...ofType(h.events, "proof-rejected"),
        ].filter((e) => e.poet === bad);
        assert.equal(answers.length, 1);
        // Not polled until the deadline: PoST started as soon as both PoETs had answered.
        const started = ofType(h.events, "post-started")[0]!;
        const waiting = ofType(h.events, "waiting-for-round-end").at(-1)!;
        assert.ok(started.at.getTime() < waiting.cutoff.getTime());
      } finally {
        await h.close();
      }
    });
  }

  it("an empty proof is final: one attempt, an event, the other PoET's proof", async () => {
    const h = await setup([{ leavesPerRound: 20n }, { leavesPerRound: 30n }]);
    try {
      h.poets[1]!.faults.emptyProof = true;
      const id = identity(1);
      const nipost = ready(await drive(h.clock, build(h, id)));
      assert.equal(nipost.leaves, 20n);
      const bad = h.poets[1]!.url;
      assert.equal(ofType(h.events, "proof-final").filter((e) => e.poet === bad).length, 1);
      assert.equal(ofType(h.events, "proof-fetch-failed").filter((e) => e.poet === bad).length, 1);
      const started = ofType(h.events, "post-started")[0]!;
      const waiting = ofType(h.events, "waiting-for-round-end").at(-1)!;
      assert.ok(started.at.getTime() < waiting.cutoff.getTime());
    } finally {
      await h.close();
    }
  });
});
