import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AbortedError } from "../src/errors.js";
import type { NodeStateRepositories } from "../src/storage/index.js";
import {
  build,
  drive,
  driveTo,
  type Harness,
  hex,
  identity,
  nextChallenge,
  ofType,
  ready,
  schedule,
  settledFlag,
  setup,
  until,
} from "./registration-harness.js";

/** The phase of the PoETs switched to: rounds start 40 s into each epoch instead of 20 s. */
const NEW_PHASE = { phaseShiftMs: 40_000, cycleGapMs: 10_000 };

/** One `state.transaction` call: when it ran and the deletions made through it. */
interface TxLog {
  at: number;
  deleted: string[];
}

/** Records every transaction of the node state and the deletions made inside it. */
function spyTransactions(h: Harness): TxLog[] {
  const log: TxLog[] = [];
  const original = h.state.transaction.bind(h.state);
  const watch = <R extends object>(repo: R, name: string, entry: TxLog): R =>
    new Proxy(repo, {
      get(target, prop) {
        const value = Reflect.get(target, prop);
        if (typeof value !== "function") return value;
        if (prop !== "delete") return value.bind(target);
        return (...args: unknown[]) => {
          const nodeId = args[0] instanceof Uint8Array ? hex(args[0]).slice(0, 8) : "?";
          entry.deleted.push(`${name} ${nodeId}${args[1] === undefined ? "" : ` ${args[1]}`}`);
          return value.apply(target, args);
        };
      },
    });
  h.state.transaction = ((fn: (tx: NodeStateRepositories) => Promise<unknown>, options) => {
    const entry: TxLog = { at: h.clock.now(), deleted: [] };
    log.push(entry);
    return original(
      (tx) =>
        fn(
          new Proxy(tx, {
            get(target, prop) {
              const value = Reflect.get(target, prop);
              if (prop === "registrations" || prop === "nipost") {
                return watch(value as object, prop, entry);
              }
              return typeof value === "function" ? value.bind(target) : value;
            },
          }),
        ),
      options,
    );
  }) as typeof h.state.transaction;
  return log;
}

/**
 * Two PoETs: the first runs the node's phase and is the only one configured; the second runs
 * {@link NEW_PHASE}. Identity `a` registers for round 0 (publish epoch 1) before it starts.
 */
async function oldPhaseRegistered() {
  const h = await setup([{ leavesPerRound: 30n }, { leavesPerRound: 60n, ...NEW_PHASE }]);
  const poets = h.managerOptions().poets;
  await h.manager.close();
  const manager = await h.restart({ poets: poets.slice(0, 1) });
  const a = identity(1);
  const runA = build(h, a, manager);
  // A failing assertion closes the manager, which rejects the run: keep that from hiding it.
  runA.catch(() => {});
  await driveTo(h.clock, schedule.roundStart(0).getTime() - 10_000);
  return { h, manager, poets, a, runA };
}

describe("RegistrationManager.switchPoets", () => {
  it('with when: "safe" waits for the planned instant, keeps the running round, then clears stale rows in one transaction', async () => {
    const { h, manager, poets, a, runA } = await oldPhaseRegistered();
    try {
      const [oldPoet, newPoet] = [h.poets[0]!.url, h.poets[1]!.url];
      // Identity b registers for round 1 at the old PoET while round 0 runs.
      await driveTo(h.clock, schedule.roundStart(0).getTime() + 25_000);
      const b = identity(2);
      const runB = build(h, b, manager);
      await until(() => ofType(h.events, "waiting-for-round-end").length >= 2);
      assert.deepEqual(
        (await h.state.registrations.listFor(b.signer.nodeId)).map((r) => r.roundId),
        ["1"],
      );

      const plan = await manager.planPhaseSwitch({ to: NEW_PHASE });
      assert.ok(plan.safe);
      assert.equal(plan.mode, "after-proof");
      assert.equal(plan.keepRound, 0);
      const switchAt = schedule.roundEnd(0).getTime();
      assert.equal(plan.switchAt.getTime(), switchAt);

      const log = spyTransactions(h);
      const switching = manager.switchPoets({
        poets: poets.slice(1),
        phase: NEW_PHASE,
        when: "safe",
      });
      const switched = settledFlag(switching);

      // Just before the planned instant nothing has changed.
      await driveTo(h.clock, switchAt - 1);
      assert.ok(!switched());
      assert.equal(ofType(h.events, "poets-switched").length, 0);
      assert.deepEqual(manager.poets, [oldPoet]);
      assert.deepEqual(manager.schedule.phaseShiftMs, schedule.phaseShiftMs);
      assert.equal((await h.state.registrations.listFor(a.signer.nodeId)).length, 1);
      assert.equal((await h.state.registrations.listFor(b.signer.nodeId)).length, 1);
      assert.ok(log.every((t) => t.deleted.length === 0));

      // At the planned instant (without moving the clock further) the switch applies.
      await driveTo(h.clock, switchAt);
      await until(switched);
      assert.equal(h.clock.now(), switchAt);
      const result = await switching;
      assert.equal(result.appliedAt.getTime(), switchAt);
      assert.deepEqual(result.poets, [newPoet]);
      assert.equal(result.registrationsDeleted, 1);
      assert.equal(result.nipostsDeleted, 0);
      assert.deepEqual(result.cleared.map(hex), [hex(b.signer.nodeId)]);
      const events = ofType(h.events, "poets-switched");
      assert.equal(events.length, 1);
      assert.equal(events[0]!.at.getTime(), switchAt);
      assert.deepEqual(events[0]!.poets, [newPoet]);
      assert.deepEqual(events[0]!.cleared.map(hex), [hex(b.signer.nodeId)]);
      assert.deepEqual(manager.poets, [newPoet]);
      assert.equal(manager.schedule.phaseShiftMs, NEW_PHASE.phaseShiftMs);
      // b's registration for the round that had not started went, in one transaction at the
      // switch instant; a's registration of the running round stayed.
      const deleting = log.filter((t) => t.deleted.length > 0);
      assert.equal(deleting.length, 1);
      assert.equal(deleting[0]!.at, switchAt);
      assert.deepEqual(deleting[0]!.deleted, [
        `registrations ${hex(b.signer.nodeId).slice(0, 8)} ${oldPoet}`,
      ]);
      assert.deepEqual(
        (await h.state.registrations.listFor(a.signer.nodeId)).map((r) => r.address),
        [oldPoet],
      );

      // a still gets its NiPoST from round 0 at the old PoET.
      const first = ready(await drive(h.clock, runA));
      assert.equal(first.poet, oldPoet);
      assert.equal(first.roundId, "0");
      assert.equal(first.leaves, 30n);

      // The next registrations go to the new PoET, in the new phase.
      await manager.complete(a.signer.nodeId);
      const second = ready(await drive(h.clock, build(h, nextChallenge(a, 2), manager)));
      assert.equal(second.poet, newPoet);
      assert.equal(second.roundId, "1");
      assert.equal(second.leaves, 60n);
      const nipostB = ready(await drive(h.clock, runB));
      assert.equal(nipostB.poet, newPoet);
      assert.equal(nipostB.roundId, "1");
      assert.equal(h.poets[1]!.state.round(1)?.registrations.length, 2);
      assert.equal(h.poets[0]!.state.round(1)?.registrations.length, 1);
      assert.equal(h.poets[1]!.state.round(0)?.registrations.length ?? 0, 0);
    } finally {
      await h.close();
    }
  });

  it('with when: "now" clears the stale rows at once, without waiting on the clock', async () => {
    const { h, manager, poets, a, runA } = await oldPhaseRegistered();
    try {
      const [oldPoet, newPoet] = [h.poets[0]!.url, h.poets[1]!.url];
      const now = h.clock.now();
      const log = spyTransactions(h);
      const result = await manager.switchPoets({
        poets: poets.slice(1),
        phase: NEW_PHASE,
        when: "now",
      });
      assert.equal(h.clock.now(), now);
      assert.equal(result.appliedAt.getTime(), now);
      assert.equal(result.registrationsDeleted, 1);
      assert.deepEqual(result.cleared.map(hex), [hex(a.signer.nodeId)]);
      const deleting = log.filter((t) => t.deleted.length > 0);
      assert.equal(deleting.length, 1);
      assert.deepEqual(deleting[0]!.deleted, [
        `registrations ${hex(a.signer.nodeId).slice(0, 8)} ${oldPoet}`,
      ]);
      const events = ofType(h.events, "poets-switched");
      assert.equal(events.length, 1);
      assert.equal(events[0]!.at.getTime(), now);
      assert.deepEqual(manager.poets, [newPoet]);
      // The same challenge is registered in the new phase's round 0, which has not started.
      const nipost = ready(await drive(h.clock, runA));
      assert.equal(nipost.poet, newPoet);
      assert.equal(nipost.roundId, "0");
      assert.deepEqual(
        (await h.state.registrations.listFor(a.signer.nodeId)).map((r) => r.address),
        [newPoet],
      );
    } finally {
      await h.close();
    }
  });

  it('rejects with AbortedError and leaves the state untouched when a "safe" switch is aborted while it waits', async () => {
    const { h, manager, poets, a, runA } = await oldPhaseRegistered();
    try {
      const oldPoet = h.poets[0]!.url;
      await driveTo(h.clock, schedule.roundStart(0).getTime() + 5_000);
      const controller = new AbortController();
      const switching = manager.switchPoets(
        { poets: poets.slice(1), phase: NEW_PHASE, when: "safe" },
        { signal: controller.signal },
      );
      const rejected = assert.rejects(switching, AbortedError);
      await driveTo(h.clock, schedule.roundEnd(0).getTime() - 10_000);
      controller.abort();
      await rejected;
      assert.deepEqual(manager.poets, [oldPoet]);
      assert.equal(manager.schedule.phaseShiftMs, schedule.phaseShiftMs);
      // Past the instant the switch would have applied, nothing changes either.
      const nipost = ready(await drive(h.clock, runA));
      assert.equal(nipost.poet, oldPoet);
      assert.equal(ofType(h.events, "poets-switched").length, 0);
      assert.deepEqual(
        (await h.state.registrations.listFor(a.signer.nodeId)).map((r) => r.address),
        [oldPoet],
      );
    } finally {
      await h.close();
    }
  });

  it('rejects with AbortedError and leaves the state untouched when the manager is closed while a "safe" switch waits', async () => {
    const { h, manager, poets, a, runA } = await oldPhaseRegistered();
    try {
      const oldPoet = h.poets[0]!.url;
      await driveTo(h.clock, schedule.roundStart(0).getTime() + 5_000);
      const before = await h.state.registrations.listFor(a.signer.nodeId);
      const challenge = await h.state.challenges.get(a.signer.nodeId);
      const switching = manager.switchPoets({
        poets: poets.slice(1),
        phase: NEW_PHASE,
        when: "safe",
      });
      const rejected = assert.rejects(switching, AbortedError);
      await driveTo(h.clock, schedule.roundEnd(0).getTime() - 10_000);
      await Promise.all([rejected, assert.rejects(runA, AbortedError), manager.close()]);
      assert.equal(h.clock.pending, 0);
      assert.equal(ofType(h.events, "poets-switched").length, 0);
      assert.deepEqual(manager.poets, [oldPoet]);
      assert.deepEqual(await h.state.registrations.listFor(a.signer.nodeId), before);
      assert.deepEqual(await h.state.challenges.get(a.signer.nodeId), challenge);
      await assert.rejects(
        manager.switchPoets({ poets: poets.slice(1), when: "safe" }),
        AbortedError,
      );
    } finally {
      await h.close();
    }
  });
});
