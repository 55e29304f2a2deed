import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { describe, it } from "node:test";
import { runCli } from "../src/cli/cli.js";
import { memoryIo } from "../src/cli/io.js";
import { systemClock } from "../src/clock.js";

const root = path.join(import.meta.dirname, "..");
const ESC = String.fromCharCode(27);

function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
      cwd: root,
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

describe("poet-client demo", { concurrency: true }, () => {
  it("runs the whole cycle on a compressed schedule and exits 0 with a NiPoST per identity", async () => {
    const r = await run(["demo", "--epoch", "5s", "--identities", "2", "--json"]);
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
    const r = await run(["demo", "--epoch", "5s", "--identities", "1"]);
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /registered at poet-/);
    assert.match(r.out, /proof of round 0 downloaded and verified/);
    assert.match(r.out, /NiPoST ready/);
    assert.match(r.out, /chosen proofs/);
    assert.ok(!r.out.includes("\u001b["), "no escape codes in a pipe");
  });

  it("redraws a live view in place when stdout is a terminal", async () => {
    const io = memoryIo({ clock: systemClock, isTTY: true });
    const code = await runCli(["demo", "--epoch", "4s", "--identities", "1"], io);
    assert.equal(code, 0, io.err());
    const out = io.out();
    assert.ok(out.includes("\u001b[?25l"), "hides the cursor while drawing");
    assert.ok(new RegExp(`${ESC}\\[\\d+F${ESC}\\[J`).test(out), "moves up and clears to redraw");
    assert.ok(out.includes("\u001b[?25h"), "shows the cursor again");
    assert.match(out, /PoETs/);
    assert.match(out, /chosen proofs/);
  });

  it("exits 2 for an epoch too short to be meaningful", async () => {
    const r = await run(["demo", "--epoch", "1s"]);
    assert.equal(r.code, 2);
    assert.match(r.err, /--epoch/);
  });
});
