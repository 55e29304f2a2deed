/**
 * Failover of a fleet (issue 18 point 4): three worker processes, each a registration manager
 * given all 30 identities, on one PostgreSQL node state, against three mock PoETs on loopback. The
 * workers are killed with SIGKILL one after another at seeded instants of the cycle — in the
 * registration window, during the round, while proofs are fetched and PoST runs — either while they
 * wait or in the middle of their next action, and restarted after a seeded outage
 * (test/helpers/crash/fleet.ts). Time is the parent's `ManualClock`, which the workers follow over
 * IPC: nothing here waits on the wall clock, except generous limits that only fail a stuck run.
 *
 * Asserted: every identity gets its NiPoST, on the best proof among the PoETs that hold its
 * challenge; no PoET sees a second challenge of an identity; no identity is submitted to a PoET by
 * two live workers; no duplicate PoST work; `state.check()` is empty; PostgreSQL detected no
 * deadlock between the workers (each is given the identities in an order of its own); and every
 * identity a victim
 * held and had not built is taken over by another worker within the lease time. The takeover times
 * are printed as a diagnostic.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { describe, it } from "node:test";
import { assertClean, figures, formatFigures } from "./helpers/crash/figures.js";
import { FLEET_LEASE_MS, type FleetResult, runFleet } from "./helpers/crash/fleet.js";
import { postgresDatabase } from "./helpers/postgres-database.js";
import { tempDir } from "./helpers/temp-dir.js";

const tmp = tempDir("fleet-failover-");
const SEED = 1818;

function describeTakeovers(r: FleetResult): string {
  const clock = r.takeovers.map((t) => t.clockMs ?? Number.NaN).sort((a, b) => a - b);
  const wall = r.takeovers.map((t) => t.wallMs ?? Number.NaN).sort((a, b) => a - b);
  const median = (xs: number[]) => xs[Math.floor(xs.length / 2)];
  const ms = (x: number | undefined) => (x === undefined ? "-" : String(Math.round(x)));
  return (
    `takeover (death → another worker's first write, the lease-taken-over): ${r.takeovers.length} identities, ` +
    `clock ms min ${ms(clock[0])} median ${ms(median(clock))} max ${ms(clock.at(-1))} (lease ${FLEET_LEASE_MS} ms); ` +
    `harness wall ms median ${ms(median(wall))} max ${ms(wall.at(-1))}`
  );
}

describe("fleet failover: worker processes on one PostgreSQL state", () => {
  it("finishes every identity on the best proof when the workers are killed one after another", async (t) => {
    const url = await postgresDatabase();
    const dir = tmp.file("fleet");
    fs.mkdirSync(dir);
    const r = await runFleet(dir, { seed: SEED, url, workers: 3, identities: 30 });
    t.diagnostic(`fleet failover, seed ${SEED}: ${formatFigures(figures([r]))}`);
    t.diagnostic(
      `kills: ${r.fleetKills.map((k) => `worker ${k.child} ${k.window}/${k.how} at +${k.at - Date.UTC(2024, 0, 1)} ms holding ${k.orphans} unbuilt`).join("; ")}; ` +
        `workers started ${r.workersStarted}; leases taken by worker ${JSON.stringify(r.leasesBy)}; PostgreSQL deadlocks ${r.deadlocks}`,
    );
    t.diagnostic(describeTakeovers(r));

    assertClean(r, "fleet failover");
    // Workers given the identities in orders of their own never lock each other in a cycle.
    assert.equal(r.deadlocks, 0, "PostgreSQL detected deadlocks between the workers");
    assert.deepEqual(r.missed, [], "every identity registered in time");
    assert.deepEqual(r.unfinished, [], "every NiPoST row was returned by a worker");
    assert.equal(r.outcomes.length, 30);
    for (const o of r.outcomes) assert.equal(o.kind, "ready", `${o.kind}: ${o.error}`);
    // One kill in each window of the cycle struck, and each left identities to take over.
    assert.deepEqual(
      r.fleetKills.map((k) => k.window),
      ["registration", "round", "proof-and-post"],
    );
    assert.ok(r.takeovers.length > 0);
    for (const x of r.takeovers) {
      assert.notEqual(x.by, undefined, `identity ${x.nodeId.slice(0, 8)} was never taken over`);
      assert.ok(
        (x.clockMs as number) <= FLEET_LEASE_MS,
        `identity ${x.nodeId.slice(0, 8)} taken over ${x.clockMs} ms after its holder's death`,
      );
    }
  });
});
