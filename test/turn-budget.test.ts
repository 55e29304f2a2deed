import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TurnBudget } from "../src/turn-budget.js";
import { turnCounter } from "./helpers/turn-counter.js";

describe("TurnBudget with a long queue", () => {
  it("grants ten thousand waiting steps in order, a budget per turn, each woken once", async () => {
    const budget = new TurnBudget(64);
    const counter = turnCounter();
    const order: number[] = [];
    const perTurn = new Map<number, number>();
    let wakeUps = 0;
    await Promise.all(
      Array.from({ length: 10_000 }, async (_, i) => {
        const wait = budget.take();
        if (wait !== undefined) {
          await wait;
          wakeUps++;
        }
        order.push(i);
        perTurn.set(counter.turn, (perTurn.get(counter.turn) ?? 0) + 1);
      }),
    );
    counter.stop();
    assert.deepEqual(
      order,
      Array.from({ length: 10_000 }, (_, i) => i),
    );
    assert.equal(Math.max(...perTurn.values()), 64);
    assert.equal(budget.turns, Math.ceil(10_000 / 64));
    // Every step but the first turn's waited, and each was resumed exactly once.
    assert.equal(wakeUps, 10_000 - 64);
  });

  it("lets a step run at once in a later turn when nobody waits", async () => {
    const budget = new TurnBudget(1);
    assert.equal(budget.take(), undefined);
    const waiting = budget.take();
    assert.ok(waiting instanceof Promise);
    await waiting;
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.equal(budget.take(), undefined);
  });

  it("weighs steps by their cost: a turn grants until the weights fill it, at least one step", async () => {
    const budget = new TurnBudget(100);
    const counter = turnCounter();
    const perTurn = new Map<number, number[]>();
    const costs = [40, 40, 40, 250, 10, 60, 60];
    await Promise.all(
      costs.map(async (cost) => {
        const wait = budget.take(cost);
        if (wait !== undefined) await wait;
        perTurn.set(counter.turn, [...(perTurn.get(counter.turn) ?? []), cost]);
      }),
    );
    counter.stop();
    // 40+40+40 overshoots once; 250 alone is over the budget but still runs; then 10+60+60.
    assert.deepEqual([...perTurn.values()], [[40, 40, 40], [250], [10, 60, 60]]);
    assert.equal(budget.turns, 3);
  });

  it("runs queued callbacks (no promise each) in order with awaited steps, a budget per turn", async () => {
    const budget = new TurnBudget(32);
    const counter = turnCounter();
    const order: number[] = [];
    const turnOf = new Map<number, number>();
    const perTurn = new Map<number, number>();
    const step = (i: number) => {
      order.push(i);
      turnOf.set(i, counter.turn);
      perTurn.set(counter.turn, (perTurn.get(counter.turn) ?? 0) + 1);
    };
    const done: Promise<void>[] = [];
    const awaited = (i: number) => i % 1000 === 999;
    for (let i = 0; i < 10_000; i++) {
      if (awaited(i)) {
        // Now and then a step that awaits its turn: it is granted in its place among the
        // callbacks (and runs in the same turn, once the turn's callbacks ran).
        done.push(
          (async () => {
            const wait = budget.take();
            if (wait !== undefined) await wait;
            step(i);
          })(),
        );
      } else {
        done.push(new Promise<void>((resolve) => budget.run(() => resolve(step(i)))));
      }
    }
    // Only the first turn's budget ran in the loop itself.
    assert.equal(order.length, 32);
    await Promise.all(done);
    counter.stop();
    assert.deepEqual(
      order.filter((i) => !awaited(i)),
      Array.from({ length: 10_000 }, (_, i) => i).filter((i) => !awaited(i)),
    );
    for (let i = 999; i < 10_000; i += 1000) assert.equal(turnOf.get(i), turnOf.get(i - 1));
    assert.equal(Math.max(...perTurn.values()), 32);
    assert.equal(budget.turns, Math.ceil(10_000 / 32));
  });
});
