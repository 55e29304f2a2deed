import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { runCli } from "../src/cli/cli.js";
import { demoLeaves } from "../src/cli/demo/demo-scenario.js";
import { memoryIo } from "../src/cli/io.js";
import { ManualClock } from "../src/clock.js";
import { driveClock } from "./helpers/clock-driver.js";
import { nodeModule } from "./helpers/node-script.js";
import { prng } from "./helpers/prng.js";

const ESC = String.fromCharCode(27);

/**
 * Runs `poet-client demo` in this process on a `ManualClock` with seeded randomness, stepping the
 * clock from one timer to the next once the mock PoETs' sockets are quiet: the run takes the same
 * course however busy the machine is.
 */
async function demo(args: string[], options: { isTTY?: boolean; seed: number }) {
  const clock = new ManualClock(Date.parse("2026-01-01T00:00:00Z"));
  const io = memoryIo({
    clock,
    env: { NO_COLOR: "1" },
    isTTY: options.isTTY ?? false,
    random: prng(options.seed),
  });
  const code = await driveClock(clock, runCli(["demo", ...args], io));
  return { code, out: io.out(), err: io.err() };
}

/** The real entry point in a child process (only for what needs no clock). */
function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const main = nodeModule("../src/cli/main.ts", import.meta.url);
    const child = spawn(process.execPath, [...main.loader, main.file, ...args], {
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out, err }));
  });
}

describe("poet-client demo", () => {
  it("runs the whole cycle on a compressed schedule and exits 0 with a NiPoST per identity", async () => {
    const r = await demo(["--epoch", "5s", "--identities", "2", "--json"], { seed: 1 });
    assert.equal(r.code, 0, r.err + r.out);
    const body = JSON.parse(r.out);
    assert.equal(body.ok, true);
    assert.equal(body.poets.length, 3);
    assert.equal(body.identities.length, 2);
    for (const identity of body.identities) {
      assert.equal(identity.outcome, "ready");
      assert.match(identity.ref, /^[0-9a-f]{64}$/);
      assert.ok(BigInt(identity.ticks) > 0n);
      assert.match(identity.poet, /^poet-[abc]$/);
    }
  });

  it("prints plain progress lines and the final table when stdout is not a terminal", async () => {
    const r = await demo(["--epoch", "5s", "--identities", "1"], { seed: 2 });
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /registered at poet-/);
    assert.match(r.out, /proof of round 0 downloaded and verified/);
    assert.match(r.out, /NiPoST ready/);
    assert.match(r.out, /chosen proofs/);
    assert.ok(!r.out.includes("\u001b["), "no escape codes in a pipe");
  });

  it("redraws a live view in place when stdout is a terminal", async () => {
    const r = await demo(["--epoch", "4s", "--identities", "1"], { isTTY: true, seed: 3 });
    assert.equal(r.code, 0, r.err);
    const out = r.out;
    assert.ok(out.includes("\u001b[?25l"), "hides the cursor while drawing");
    assert.ok(new RegExp(`${ESC}\\[\\d+F${ESC}\\[J`).test(out), "moves up and clears to redraw");
    assert.ok(out.includes("\u001b[?25h"), "shows the cursor again");
    assert.match(out, /PoETs/);
    assert.match(out, /chosen proofs/);
  });

  it("proves fewer leaves on a shorter epoch than the default, never under 150", () => {
    const cases: [bigint, number, bigint][] = [
      [4_000n, 40_000, 4_000n],
      [4_000n, 3_600_000, 4_000n],
      [4_000n, 20_000, 2_000n],
      [4_000n, 5_000, 500n],
      [2_500n, 5_000, 312n],
      [1_500n, 5_000, 187n],
      [1_500n, 4_000, 150n],
      [1_500n, 1_000, 150n],
    ];
    for (const [at40s, epochMs, leaves] of cases) {
      assert.equal(
        demoLeaves(at40s, epochMs),
        leaves,
        `${at40s} leaves at 40 s, epoch ${epochMs} ms`,
      );
    }
  });

  it("exits 2 for an epoch too short to be meaningful", async () => {
    const r = await run(["demo", "--epoch", "1s"]);
    assert.equal(r.code, 2);
    assert.match(r.err, /--epoch/);
  });
});
