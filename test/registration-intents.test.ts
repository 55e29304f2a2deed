/**
 * Write-ahead submits (issue 14 point 1): an intent is stored before a submit leaves, the PoET's
 * answer writes the Go row and ends the intent in one transaction, and a crash between the two —
 * however long the node then stays down — costs nothing when the PoET holds the challenge.
 * Also: a late start after the proof cut-off asks every PoET that has not answered (point 2).
 * ManualClock, mock PoETs on loopback, the node state in a temp file; no wall-clock timing.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import { AbortedError } from "../src/errors.js";
import type { RegistrationEvent } from "../src/registration/index.js";
import { openNodeState, type PoetRegistration } from "../src/storage/index.js";
import { runClock } from "./helpers/clock-driver.js";
import { filled } from "./helpers/storage-go-db.js";
import { tempDir } from "./helpers/temp-dir.js";
import {
  build,
  drive,
  driveTo,
  type Harness,
  hex,
  type Identity,
  identity,
  ofType,
  ready,
  schedule,
  setup,
} from "./registration-harness.js";

const tmp = tempDir("registration-intents-");

/**
 * Starts `id`'s cycle and "kills" the process the moment `poet` has accepted the submit and before
 * our row is written: the confirmation never returns, the manager is closed and the node state
 * closed (as a dead process leaves them).
 */
async function crashAfterAccept(h: Harness, id: Identity, poet: string): Promise<void> {
  const intents = h.state.intents;
  const confirm = intents.confirm.bind(intents);
  let accepted = false;
  intents.confirm = async (registration: PoetRegistration, options) => {
    if (registration.address !== poet) return confirm(registration, options);
    accepted = true;
    // The process dies here: nothing after the PoET's answer reaches the file.
    return new Promise<boolean>(() => {});
  };
  const run = build(h, id);
  await runClock(h.clock, () => accepted);
  await Promise.all([assert.rejects(run, AbortedError), h.manager.close()]);
  await h.state.close();
  await h.reopenState();
}

function urlOf(h: Harness, i: number): string {
  return h.poets[i]!.url;
}

describe("write-ahead submits", () => {
  it("records the intent before the submit and clears it with the Go row", async () => {
    const h = await setup([{ leavesPerRound: 30n }]);
    try {
      const id = identity(1);
      const seen: { step: string; atPoet: number; intents: number }[] = [];
      const intents = h.state.intents;
      const recordMany = intents.recordMany.bind(intents);
      const confirm = intents.confirm.bind(intents);
      const look = async (step: string) =>
        seen.push({
          step,
          atPoet: h.poets[0]!.state.round(0)?.registrations.length ?? 0,
          intents: (await intents.listFor(id.signer.nodeId)).length,
        });
      intents.recordMany = async (list, options) => {
        await recordMany(list, options);
        await look("recorded");
      };
      intents.confirm = async (registration, options) => {
        await look("accepted");
        return confirm(registration, options);
      };
      const nipost = ready(await drive(h.clock, build(h, id)));
      // Durable before the PoET saw the request; still there when its answer came.
      assert.deepEqual(seen, [
        { step: "recorded", atPoet: 0, intents: 1 },
        { step: "accepted", atPoet: 1, intents: 1 },
      ]);
      assert.equal(nipost.leaves, 30n);
      assert.equal((await h.state.intents.list()).length, 0);
      assert.equal((await h.state.registrations.listFor(id.signer.nodeId)).length, 1);
      assert.equal(ofType(h.events, "submit-intent-confirmed").length, 0);
    } finally {
      await h.close();
    }
  });

  it("a crash between the PoET's accept and our row, down past the round end: the NiPoST uses that PoET's proof and the Go row is written", async () => {
    const h = await setup([{ leavesPerRound: 30n }]);
    try {
      const id = identity(1);
      await crashAfterAccept(h, id, urlOf(h, 0));
      assert.equal((await h.state.registrations.listFor(id.signer.nodeId)).length, 0);
      const [intent] = await h.state.intents.listFor(id.signer.nodeId);
      assert.equal(intent?.roundId, "0");
      assert.equal(hex(intent!.hash), hex(id.hash));
      assert.equal(h.poets[0]!.state.round(0)?.registrations.length, 1);
      // Down for the whole round, and past its end.
      await driveTo(h.clock, schedule.roundEnd(0).getTime() + 5_000);
      const manager = await h.restart();
      manager.addIdentity(id.signer);
      const events: RegistrationEvent[] = [];
      manager.onEvent((e) => events.push(e));
      const nipost = ready(await drive(h.clock, manager.buildNiPost({ nodeId: id.signer.nodeId })));
      assert.equal(nipost.poet, urlOf(h, 0));
      assert.equal(nipost.leaves, 30n);
      assert.equal(nipost.roundId, "0");
      assert.equal(ofType(events, "window-missed").length, 0);
      const confirmed = ofType(events, "submit-intent-confirmed");
      assert.equal(confirmed.length, 1);
      assert.equal(confirmed[0]?.poet, urlOf(h, 0));
      const rows = await h.state.registrations.listFor(id.signer.nodeId);
      assert.deepEqual(
        rows.map((r) => [r.address, r.roundId, hex(r.hash)]),
        [[urlOf(h, 0), "0", hex(id.hash)]],
      );
      assert.equal((await h.state.intents.list()).length, 0);
      assert.deepEqual(h.postCalls.at(-1), nipost.proofRef);
      // Submitted once: the PoET was never asked again.
      assert.equal(h.poets[0]!.state.round(0)?.registrations.length, 1);
    } finally {
      await h.close();
    }
  });

  it("a crash with one PoET confirmed and one not: both proofs compete and the better one wins", async () => {
    const h = await setup([{ leavesPerRound: 30n }, { leavesPerRound: 50n }]);
    try {
      const id = identity(1);
      await crashAfterAccept(h, id, urlOf(h, 1));
      await driveTo(h.clock, schedule.roundStart(0).getTime() + 1_000);
      const manager = await h.restart();
      manager.addIdentity(id.signer);
      const nipost = ready(await drive(h.clock, manager.buildNiPost({ nodeId: id.signer.nodeId })));
      assert.equal(nipost.poet, urlOf(h, 1));
      assert.equal(nipost.leaves, 50n);
      const rows = await h.state.registrations.listFor(id.signer.nodeId);
      assert.deepEqual(rows.map((r) => r.address).sort(), [urlOf(h, 0), urlOf(h, 1)].sort());
    } finally {
      await h.close();
    }
  });

  it("drops an intent whose challenge is not among the round's members, with an event, and goes on as before", async () => {
    const h = await setup([{ leavesPerRound: 30n }]);
    try {
      const id = identity(1);
      await crashAfterAccept(h, id, urlOf(h, 0));
      h.poets[0]!.faults.omitChallenge(id.hash);
      await driveTo(h.clock, schedule.roundEnd(0).getTime() + 5_000);
      const manager = await h.restart();
      manager.addIdentity(id.signer);
      const events: RegistrationEvent[] = [];
      manager.onEvent((e) => events.push(e));
      const outcome = await drive(h.clock, manager.buildNiPost({ nodeId: id.signer.nodeId }));
      assert.equal(outcome.kind, "window-missed");
      const dropped = ofType(events, "submit-intent-dropped");
      assert.equal(dropped.length, 1);
      assert.equal(dropped[0]?.reason, "not-a-member");
      assert.equal(dropped[0]?.poet, urlOf(h, 0));
      assert.equal((await h.state.intents.list()).length, 0);
      assert.equal((await h.state.registrations.list()).length, 0);
      assert.equal(h.postCalls.length, 0);
    } finally {
      await h.close();
    }
  });

  it("resubmits an unconfirmed intent before the round start (the PoET answers 200 again)", async () => {
    const h = await setup([{ leavesPerRound: 30n }]);
    try {
      const id = identity(1);
      await crashAfterAccept(h, id, urlOf(h, 0));
      const manager = await h.restart();
      const nipost = ready(await drive(h.clock, build(h, id, manager)));
      assert.equal(nipost.leaves, 30n);
      assert.equal((await h.state.intents.list()).length, 0);
      assert.equal((await h.state.registrations.listFor(id.signer.nodeId)).length, 1);
      assert.equal(h.poets[0]!.state.round(0)?.registrations.length, 1);
    } finally {
      await h.close();
    }
  });

  it("drops the intents of a replaced challenge with it, and prunes intents past their proof deadline", async () => {
    const file = tmp.file();
    const state = await openNodeState(file, { create: true });
    try {
      const nodeId = filled(32, 1);
      const intent = (address: string, deadline: number) => ({
        nodeId,
        address,
        hash: filled(32, 9),
        roundId: "3",
        roundEnd: new Date(1_000),
        proofDeadline: new Date(deadline),
        createdAt: new Date(500),
      });
      await state.intents.record(intent("http://a", 10_000));
      await state.intents.record(intent("http://b", 20_000));
      await state.intents.record({ ...intent("http://c", 20_000), nodeId: filled(32, 2) });
      assert.equal(await state.intents.pruneExpired(new Date(15_000)), 1);
      assert.deepEqual(
        (await state.intents.list()).map((i) => i.address),
        ["http://b", "http://c"],
      );
      await state.resetIdentity(nodeId);
      assert.deepEqual(
        (await state.intents.list()).map((i) => i.address),
        ["http://c"],
      );
    } finally {
      await state.close();
    }
  });

  it("commits the intents, and the confirmations, of submits that complete together in one transaction", async () => {
    const file = tmp.file();
    const database = new BetterSqlite3(file);
    database.defaultSafeIntegers(true);
    const log: string[] = [];
    const kysely = new Kysely({
      dialect: new SqliteDialect({ database }),
      log: (event) => {
        log.push(event.query.sql);
      },
    });
    const state = await openNodeState(kysely, { create: true });
    try {
      const commits = () => log.filter((q) => q === "commit").length;
      const submits = Array.from({ length: 12 }, (_, i) => ({
        nodeId: filled(32, i + 1),
        address: `http://poet-${i % 3}`,
        hash: filled(32, 100 + i),
        roundId: "7",
        roundEnd: new Date(60_000),
      }));
      const before = commits();
      await Promise.all(
        submits.map((s) =>
          state.intents.record({
            ...s,
            proofDeadline: new Date(90_000),
            createdAt: new Date(1_000),
          }),
        ),
      );
      assert.equal(commits() - before, 1, "twelve intents, one transaction");
      const middle = commits();
      const written = await Promise.all(submits.map((s) => state.intents.confirm(s)));
      assert.deepEqual(
        written,
        submits.map(() => true),
      );
      assert.equal(commits() - middle, 1, "twelve confirmations, one transaction");
      assert.equal((await state.intents.list()).length, 0);
      assert.equal((await state.registrations.list()).length, 12);
      // A confirmation for a row that exists keeps the row and still ends the intent.
      await state.intents.record({
        ...submits[0]!,
        proofDeadline: new Date(90_000),
        createdAt: new Date(2_000),
      });
      assert.equal(await state.intents.confirm({ ...submits[0]!, roundId: "8" }), false);
      assert.equal(
        (await state.registrations.get(submits[0]!.nodeId, "http://poet-0"))?.roundId,
        "7",
      );
      assert.equal((await state.intents.list()).length, 0);
    } finally {
      await state.close();
      await kysely.destroy();
    }
  });
});

describe("a late start after the proof cut-off", () => {
  it("asks every PoET that has not answered and replaces a worse stored choice", async () => {
    const h = await setup([{ leavesPerRound: 20n }, { leavesPerRound: 26n }]);
    try {
      const id = identity(1);
      // PoET 1 is down when the proofs come out: PoET 0's 200-leaf proof is chosen, then the
      // process stops before PoST.
      let stopped = false;
      h.manager.onEvent((e) => {
        if (e.type === "best-proof-selected" && !stopped) {
          stopped = true;
          void h.manager.close();
        }
      });
      const run = build(h, id);
      await runClock(h.clock, () => (h.poets[1]!.state.round(0)?.registrations.length ?? 0) > 0);
      await h.poets[1]!.faults.down();
      await assert.rejects(drive(h.clock, run), AbortedError);
      assert.ok(stopped);
      const choice = await h.state.challenges.get(id.signer.nodeId);
      assert.ok(choice?.poetProofRef !== undefined);
      // Back after the cut-off, with PoET 1 up again.
      await h.poets[1]!.faults.up();
      const registrations = await h.state.registrations.listFor(id.signer.nodeId);
      assert.equal(registrations.length, 2);
      const lastEnd = Math.max(...registrations.map((r) => r.roundEnd.getTime()));
      await driveTo(h.clock, lastEnd + 20_000 + 1_000);
      const manager = await h.restart();
      manager.addIdentity(id.signer);
      const events: RegistrationEvent[] = [];
      manager.onEvent((e) => events.push(e));
      const nipost = ready(await drive(h.clock, manager.buildNiPost({ nodeId: id.signer.nodeId })));
      assert.equal(nipost.leaves, 26n);
      assert.equal(nipost.poet, urlOf(h, 1));
      const selected = ofType(events, "best-proof-selected");
      assert.equal(selected.length, 1);
      assert.equal(selected[0]?.replaces?.leaves, 20n);
      assert.deepEqual(h.postCalls, [nipost.proofRef]);
      // PoET 0 had answered (its proof is stored): not downloaded again.
      const downloads = ofType(events, "proof-downloaded");
      assert.deepEqual(
        downloads.filter((d) => !d.fromCache).map((d) => d.poet),
        [urlOf(h, 1)],
      );
    } finally {
      await h.close();
    }
  });

  it("on a first run after the cut-off, waits for every PoET (bounded) instead of the first answer", async () => {
    const h = await setup([{ leavesPerRound: 20n }, { leavesPerRound: 26n }]);
    try {
      const id = identity(1);
      // Registered at both, then the process stops before any proof was asked.
      const run = build(h, id);
      await runClock(h.clock, () =>
        h.poets.every((p) => (p.state.round(0)?.registrations.length ?? 0) > 0),
      );
      await driveTo(h.clock, schedule.roundStart(0).getTime() + 1_000);
      await Promise.all([assert.rejects(run, AbortedError), h.manager.close()]);
      const registrations = await h.state.registrations.listFor(id.signer.nodeId);
      assert.equal(registrations.length, 2);
      const lastEnd = Math.max(...registrations.map((r) => r.roundEnd.getTime()));
      // Back after the cut-off (last round end + 20 s), before the proof deadline.
      await driveTo(h.clock, lastEnd + 25_000);
      assert.ok(h.clock.now() < schedule.proofDeadline(0).getTime());
      // PoET 1 answers a clock second late: the first answer must not end the wait.
      h.poets[1]!.faults.delayMs = 1_000;
      const manager = await h.restart();
      const nipost = ready(await drive(h.clock, build(h, id, manager)));
      assert.equal(nipost.leaves, 26n);
      assert.equal(nipost.poet, urlOf(h, 1));
    } finally {
      await h.close();
    }
  });
});
