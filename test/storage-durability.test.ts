import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { openNodeState } from "../src/storage/index.js";
import { nodeModule } from "./helpers/node-script.js";
import { filled } from "./helpers/storage-go-db.js";
import { tempDir } from "./helpers/temp-dir.js";

const tmp = tempDir("storage-durability-");

const registration = (nodeId: Uint8Array, i: number) => ({
  nodeId,
  hash: filled(32, 1),
  address: `https://poet-${i}`,
  roundId: "1",
  roundEnd: new Date(1000 * i),
});

describe("node state durability", () => {
  it("lets two connections to one file write concurrently without losing a row", async () => {
    const file = tmp.file("two.sql");
    const first = await openNodeState(file, { create: true });
    const second = await openNodeState(file, { create: true });
    const A = filled(32, 0xa);
    const B = filled(32, 0xb);
    await Promise.all([
      ...Array.from({ length: 40 }, (_, i) => first.registrations.add(registration(A, i))),
      ...Array.from({ length: 40 }, (_, i) =>
        second.transaction(async (tx) => {
          await tx.registrations.add(registration(B, i));
          await tx.members.put({
            address: `https://poet-${i}`,
            roundId: "1",
            members: [filled(32, i)],
            fetchedAt: new Date(0),
          });
        }),
      ),
    ]);
    assert.equal((await second.registrations.listFor(A)).length, 40);
    assert.equal((await first.registrations.listFor(B)).length, 40);
    assert.deepEqual((await first.members.get("https://poet-39", "1"))?.members, [filled(32, 39)]);
    await first.close();
    await second.close();
  });

  it("opens cleanly with the last committed state after the writer is killed with SIGKILL", async () => {
    const file = tmp.file("killed.sql");
    // Opened first, so that the parent's writes below compete with the child's.
    const parent = await openNodeState(file, { create: true });
    const writer = nodeModule("./helpers/storage-writer.ts", import.meta.url);
    const child = spawn(process.execPath, [...writer.loader, writer.file, file], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on("exit", (_code, signal) => resolve(signal)),
    );
    const KILL_AFTER = 25;
    let lastReported = -1;
    let parentWrites = 0;
    const P = filled(32, 0x70);
    try {
      for await (const line of createInterface({ input: child.stdout })) {
        const match = /^committed (\d+)$/.exec(line);
        if (match) {
          lastReported = Number(match[1]);
          // The parent keeps writing while the child does: both wait for each other's write lock.
          await parent.registrations.add(registration(P, parentWrites++));
          if (lastReported + 1 >= KILL_AFTER) {
            child.kill("SIGKILL");
            break;
          }
        }
      }
    } finally {
      // A failure above must not leave the writer running (and the test process waiting on it).
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    assert.equal(await exited, "SIGKILL");
    await parent.close();

    const check = new Database(file, { readonly: true });
    assert.equal(check.pragma("integrity_check", { simple: true }), "ok");
    check.close();

    await using state = await openNodeState(file, { create: true });
    assert.equal(
      (await state.registrations.listFor(P)).length,
      parentWrites,
      "every write of the other process is there",
    );
    const written = await state.registrations.listFor(filled(32, 0x77));
    const committed = written.map((r) => Number(r.roundId)).sort((a, b) => a - b);
    assert.ok(committed.length >= KILL_AFTER, `${committed.length} steps committed`);
    // Steps are whole and in order in the node's file: 0 … k−1.
    assert.deepEqual(
      committed,
      Array.from({ length: committed.length }, (_, i) => i),
    );
    // The member list lives in the companion file. SQLite commits the node's file first and the
    // companion after it (each file atomic, not both together: src/storage/companion-file.ts), so a
    // kill between the two leaves only the last step without its member list; never an earlier one.
    const last = committed.length - 1;
    for (const i of committed) {
      const members = await state.members.get(`https://poet-${i}`, String(i));
      if (i === last && members === undefined) continue;
      assert.equal(members?.members.length, 2000, `step ${i} has its member list`);
    }
    assert.equal(
      await state.members.get(`https://poet-${committed.length}`, String(committed.length)),
      undefined,
    );
  });
});
