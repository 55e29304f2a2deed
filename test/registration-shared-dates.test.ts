/**
 * One `Date` per instant (`registration/shared-dates.ts`): the same object for the same instant,
 * the right instant always, and only the most recent instants kept.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SharedDates } from "../src/registration/shared-dates.js";

describe("SharedDates", () => {
  it("hands out one Date per instant", () => {
    const dates = new SharedDates();
    const roundEnd = Date.UTC(2026, 11, 6, 8);
    const a = dates.at(roundEnd);
    assert.equal(a.getTime(), roundEnd);
    assert.equal(dates.at(roundEnd), a);
    assert.notEqual(dates.at(roundEnd + 1), a);
    assert.equal(dates.at(roundEnd + 1).getTime(), roundEnd + 1);
  });

  it("keeps the most recent instants only, and still answers the right instant after", () => {
    const dates = new SharedDates();
    const first = dates.at(0);
    for (let ms = 1; ms <= 1_000; ms++) assert.equal(dates.at(ms).getTime(), ms);
    const again = dates.at(0);
    assert.equal(again.getTime(), 0);
    assert.notEqual(again, first, "the oldest instant was let go");
    assert.equal(dates.at(1_000), dates.at(1_000));
  });
});
