/**
 * `applyPoetSwitch` on a real SQLite node state: the one rule for changing PoETs, applied one
 * identity per transaction, each delete fenced by the identity's lease where this state holds it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LeaseLostError } from "../src/errors.js";
import { applyPoetSwitch } from "../src/registration/apply-poet-switch.js";
import { MAINNET } from "../src/schedule/index.js";
import { type NodeState, openNodeState } from "../src/storage/index.js";
import { tempDir } from "./helpers/temp-dir.js";

const tmp = tempDir("poet-apply-switch-");
const id = (b: number) => new Uint8Array(32).fill(b);
const HOUR = 3_600_000;
const from = MAINNET.schedule;
const later = from.withPhase({ phaseShiftMs: 300 * HOUR, cycleGapMs: 12 * HOUR });
const OLD = "https://old.example";
const NEW = "https://new.example";
/** Before round 30 starts in either phase: the plan is "now" for publish epoch 31. */
const AT = new Date("2024-09-10T00:00:00Z");

async function identityWithRows(state: NodeState, b: number, addresses: string[]): Promise<void> {
  await state.challenges.add(
    id(b),
    { publishEpoch: 31, sequence: 1n, prevAtx: id(0xa1), positioningAtx: id(0xa2) },
    { hash: id(0x10 + b) },
  );
  await state.registrations.addMany(
    addresses.map((address) => ({
      nodeId: id(b),
      hash: id(0x10 + b),
      address,
      roundId: "30",
      roundEnd: from.roundEnd(30),
    })),
  );
}

async function intentAt(state: NodeState, b: number, address: string): Promise<void> {
  await state.intents.record({
    nodeId: id(b),
    address,
    hash: id(0x10 + b),
    roundId: "30",
    roundEnd: from.roundEnd(30),
    proofDeadline: new Date(from.roundEnd(30).getTime() + 24 * HOUR),
    createdAt: AT,
  });
}

async function intentAddresses(state: NodeState, b: number): Promise<string[]> {
  return (await state.intents.listFor(id(b))).map((i) => i.address).sort();
}

async function addresses(state: NodeState, b: number): Promise<string[]> {
  return (await state.registrations.listFor(id(b))).map((r) => r.address).sort();
}

describe("applyPoetSwitch", () => {
  it("deletes what the plan deletes, per identity, and reports what it did", async () => {
    const state = await openNodeState(tmp.file("apply.sql"), { create: true });
    try {
      await identityWithRows(state, 1, [OLD, NEW]);
      await identityWithRows(state, 2, [NEW]);
      assert.equal((await state.registrations.list()).length, 3);
      const done = await applyPoetSwitch(state, { from, to: later, poets: [NEW], at: AT });
      assert.equal(done.registrationsDeleted, 1);
      assert.equal(done.nipostsDeleted, 0);
      assert.deepEqual(done.cleared, [id(1)]);
      assert.deepEqual(done.skipped, []);
      assert.deepEqual(await addresses(state, 1), [NEW]);
      assert.deepEqual(await addresses(state, 2), [NEW]);
      assert.deepEqual(
        done.plan.identities.map((i) => i.deleteRegistrations.map((r) => r.address)),
        [[OLD], []],
      );
      // Applying again finds nothing left to delete.
      const again = await applyPoetSwitch(state, { from, to: later, poets: [NEW], at: AT });
      assert.equal(again.registrationsDeleted, 0);
      assert.deepEqual(again.cleared, []);
    } finally {
      await state.close();
    }
  });

  it("deletes submit intents at the PoETs whose registrations go, and keeps the others", async () => {
    const state = await openNodeState(tmp.file("intents.sql"), { create: true });
    try {
      // Identity 1: registered at NEW, an unconfirmed submit at OLD and at NEW.
      await identityWithRows(state, 1, [NEW]);
      await intentAt(state, 1, OLD);
      await intentAt(state, 1, NEW);
      // Identity 2: only an unconfirmed submit at OLD (no registration row at all).
      await identityWithRows(state, 2, []);
      await intentAt(state, 2, OLD);
      const done = await applyPoetSwitch(state, { from, to: later, poets: [NEW], at: AT });
      assert.equal(done.registrationsDeleted, 0);
      assert.equal(done.intentsDeleted, 2);
      assert.deepEqual(done.cleared, [id(1), id(2)]);
      assert.deepEqual(await intentAddresses(state, 1), [NEW]);
      assert.deepEqual(await intentAddresses(state, 2), []);
      assert.deepEqual(await addresses(state, 1), [NEW]);
      assert.deepEqual(
        done.plan.identities.map((i) => i.deleteIntents.map((r) => r.address)),
        [[OLD], [OLD]],
      );
      assert.deepEqual(
        done.plan.identities.map((i) => i.keepIntents.map((r) => r.address)),
        [[NEW], []],
      );
      const again = await applyPoetSwitch(state, { from, to: later, poets: [NEW], at: AT });
      assert.equal(again.intentsDeleted, 0);
      assert.deepEqual(again.cleared, []);
    } finally {
      await state.close();
    }
  });

  it("leaves an identity whose lease this state lost to its new holder, and switches the others", async () => {
    const file = tmp.file("lease.sql");
    const a = await openNodeState(file, { create: true });
    const b = await openNodeState(file);
    try {
      await identityWithRows(a, 1, [OLD]);
      await identityWithRows(a, 2, [OLD]);
      // a holds identity 1's lease; it expires and b takes it over.
      const got = await a.leases.acquire(id(1), { holder: "A", at: new Date(0), ttlMs: 30_000 });
      assert.ok(got.held);
      const taken = await b.leases.acquire(id(1), {
        holder: "B",
        at: new Date(60_000),
        ttlMs: 30_000,
      });
      assert.ok(taken.held);

      const done = await applyPoetSwitch(a, { from, to: later, poets: [NEW], at: AT });
      assert.equal(done.skipped.length, 1);
      assert.deepEqual(done.skipped[0]?.nodeId, id(1));
      assert.ok(done.skipped[0]?.error instanceof LeaseLostError);
      assert.deepEqual(done.cleared, [id(2)]);
      assert.equal(done.registrationsDeleted, 1);
      // The fenced identity's rows are untouched; the other's went.
      assert.deepEqual(await addresses(a, 1), [OLD]);
      assert.deepEqual(await addresses(a, 2), []);
    } finally {
      await b.close();
      await a.close();
    }
  });

  it("keeps the stored rows when the switch is aborted before it starts", async () => {
    const state = await openNodeState(tmp.file("abort.sql"), { create: true });
    try {
      await identityWithRows(state, 1, [OLD]);
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(
        applyPoetSwitch(
          state,
          { from, to: later, poets: [NEW], at: AT },
          { signal: controller.signal },
        ),
      );
      assert.deepEqual(await addresses(state, 1), [OLD]);
    } finally {
      await state.close();
    }
  });
});
