import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DemoPoet } from "../src/cli/demo/demo-scenario.js";
import {
  DemoView,
  inspectCommand,
  keptStateHelp,
  stagedFailuresNotice,
} from "../src/cli/demo/demo-view.js";
import { memoryIo } from "../src/cli/io.js";
import { makeStyle } from "../src/cli/style.js";
import { ManualClock } from "../src/clock.js";
import { PoetRpcError } from "../src/errors.js";
import { RoundSchedule } from "../src/schedule/index.js";
import { openNodeState } from "../src/storage/index.js";
import type { MockPoet } from "../src/testing/index.js";
import { cli } from "./cli-helpers.js";
import { tempDir } from "./helpers/temp-dir.js";

const tmp = tempDir("poet-cli-demo-view-");
const T0 = Date.parse("2025-01-01T00:00:00Z");
// The demo's calendar for a 40 s epoch: round 0 starts at 12 s and ends at 44 s.
const schedule = new RoundSchedule({
  genesis: new Date(T0),
  epochDurationMs: 40_000,
  phaseShiftMs: 12_000,
  cycleGapMs: 8_000,
});
const nodeId = new Uint8Array(32).fill(9);

function demoPoet(name: string, port: number): DemoPoet {
  const mock = { url: `http://127.0.0.1:${port}` } as unknown as MockPoet;
  return { name, mock, leavesPerRound: 1000n, fault: undefined };
}

function pipeView(clock: ManualClock, poets: DemoPoet[]) {
  const io = memoryIo({ clock });
  const view = new DemoView({
    out: io.stdout,
    style: makeStyle(false),
    clock,
    schedule,
    poets,
    identities: [nodeId],
    live: false,
    quiet: false,
  });
  return { io, view };
}

describe("the demo's view in a pipe", () => {
  it("prints a countdown to the round end when nothing else happens", async () => {
    const clock = new ManualClock(T0 + 13_000);
    const { io, view } = pipeView(clock, [demoPoet("poet-a", 1)]);
    view.onEvent({
      type: "waiting-for-round-end",
      at: new Date(clock.now()),
      nodeId,
      publishEpoch: 1,
      round: 0,
      roundEnd: schedule.roundEnd(0),
      queryAt: schedule.roundEnd(0),
      cutoff: new Date(schedule.roundEnd(0).getTime() + 6_000),
      proofDeadline: schedule.publishEpochEnd(0),
      poets: ["http://127.0.0.1:1"],
    });
    assert.match(io.out(), /waits for round 0 to end at 2025-01-01 00:00:44Z \(in 31\.0s\)/);
    const before = io.out();
    view.draw(); // no silence yet: nothing printed
    assert.equal(io.out(), before);
    const lines: string[] = [];
    for (let t = 0; t < 30_000; t += 200) {
      await clock.advance(200);
      view.draw();
    }
    lines.push(...io.out().slice(before.length).trim().split("\n"));
    assert.ok(lines.length >= 4 && lines.length <= 7, lines.join("\n"));
    for (const line of lines) {
      assert.match(
        line,
        /round 0: executing, ends in \d+\.\ds; identities: 1 waiting for the round end/,
      );
    }
  });

  it("labels the failures the demo stages, and announces them", () => {
    const clock = new ManualClock(T0 + 1_000);
    const poets = [demoPoet("poet-a", 1), demoPoet("poet-c", 3)];
    const { io, view } = pipeView(clock, poets);
    const error = new PoetRpcError("connection refused", {
      server: "http://127.0.0.1:3",
      method: "GET /v1/info",
      kind: "network",
      retriable: true,
    });
    const failed = (poet: string) =>
      view.onEvent({
        type: "registration-failed",
        at: new Date(clock.now()),
        nodeId,
        publishEpoch: 1,
        round: 0,
        poet,
        error,
        nextAttemptAt: new Date(clock.now() + 1_000),
      });
    (poets[1] as DemoPoet).fault = "down";
    failed("http://127.0.0.1:3");
    assert.match(io.out(), /poet-c failed .*— staged: the demo made poet-c unreachable on purpose/);
    (poets[1] as DemoPoet).fault = undefined;
    view.message(stagedFailuresNotice("poet-c", 4_000));
    assert.match(io.out(), /staged failures: poet-c is unreachable for the first 4s/);
  });
});

describe("a kept demo state", () => {
  it("comes with the status command that reads it on the demo's calendar", async () => {
    const db = tmp.file("local.sql");
    const state = await openNodeState(db, { create: true });
    await state.challenges.add(
      nodeId,
      {
        publishEpoch: 1,
        sequence: 0n,
        prevAtx: new Uint8Array(32),
        positioningAtx: new Uint8Array(32).fill(1),
      },
      { hash: new Uint8Array(32).fill(2) },
    );
    await state.close();
    assert.match(
      keptStateHelp(db, schedule, 100n),
      /inspect it with:\n {2}poet-client status --db /,
    );
    const argv = inspectCommand(db, schedule, 100n).slice(1);
    const r = await cli([...argv, "--json"], { now: new Date(T0 + 5_000).toISOString() });
    assert.equal(r.code, 0, r.err);
    const body = JSON.parse(r.out);
    assert.equal(body.network, "custom");
    const next = body.identities[0].next;
    assert.equal(next.step, "register");
  });
});
