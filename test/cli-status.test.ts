import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { openNodeState } from "../src/storage/index.js";
import { cli } from "./cli-helpers.js";
import {
  createGoDatabase,
  GO_USER_VERSION,
  goAddChallenge,
  goAddPoetRegistration,
} from "./helpers/storage-go-db.js";
import { tempDir } from "./helpers/temp-dir.js";

const tmp = tempDir("poet-cli-status-");
const id = (b: number) => new Uint8Array(32).fill(b);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

const challenge = (publishEpoch: number) => ({
  publishEpoch,
  sequence: 1n,
  prevAtx: id(0xa1),
  positioningAtx: id(0xa2),
});

async function fixture(name: string): Promise<string> {
  const file = tmp.file(name);
  const state = await openNodeState(file, { create: true });
  try {
    // identity 1: registered at two PoETs for round 30 (publish epoch 31), waiting for the round end
    await state.challenges.add(id(1), challenge(31), { hash: id(0x11) });
    await state.registrations.addMany([
      {
        nodeId: id(1),
        hash: id(0x11),
        address: "https://poet-a.example",
        roundId: "30",
        roundEnd: new Date("2024-09-29T20:00:00Z"),
      },
      {
        nodeId: id(1),
        hash: id(0x11),
        address: "https://poet-b.example",
        roundId: "30",
        roundEnd: new Date("2024-09-29T20:00:01Z"),
      },
    ]);
    // identity 2: a registration made for another challenge (stale row)
    await state.challenges.add(id(2), challenge(31), { hash: id(0x22) });
    await state.registrations.add({
      nodeId: id(2),
      hash: id(0x99),
      address: "https://poet-a.example",
      roundId: "30",
      roundEnd: new Date("2024-09-29T20:00:00Z"),
    });
  } finally {
    await state.close();
  }
  return file;
}

describe("poet-client status", () => {
  it("reports each identity's registrations, next step and inconsistencies as JSON (exit 5)", async () => {
    const db = await fixture("state-1.sql");
    const r = await cli(["status", "--db", db, "--json"], { now: "2024-09-20T00:00:00Z" });
    assert.equal(r.code, 5, r.err);
    const body = JSON.parse(r.out);
    assert.equal(body.ok, false);
    assert.equal(body.identities.length, 2);
    const [one, two] = body.identities;
    assert.equal(one.nodeId, hex(id(1)));
    assert.equal(one.publishEpoch, 31);
    assert.equal(one.round, 30);
    assert.deepEqual(
      one.registrations.map((x: { poet: string; roundId: string }) => [x.poet, x.roundId]),
      [
        ["https://poet-a.example", "30"],
        ["https://poet-b.example", "30"],
      ],
    );
    assert.equal(one.next.step, "wait-for-round-end");
    assert.equal(one.next.at, "2024-09-29T20:00:01.000Z");
    assert.deepEqual(one.problems, []);
    assert.equal(two.nodeId, hex(id(2)));
    assert.equal(two.registrations[0].forCurrentChallenge, false);
    assert.equal(two.next.step, "repair");
    assert.ok(
      body.inconsistencies.some((i: { kind: string }) => i.kind === "registration-hash-mismatch"),
    );
  });

  it("flags PoETs that are configured but missing, and registrations at unconfigured PoETs", async () => {
    const file = tmp.file("state-2.sql");
    const state = await openNodeState(file, { create: true });
    await state.challenges.add(id(3), challenge(31), { hash: id(0x33) });
    await state.registrations.add({
      nodeId: id(3),
      hash: id(0x33),
      address: "https://poet-a.example",
      roundId: "30",
      roundEnd: new Date("2024-09-29T20:00:00Z"),
    });
    await state.close();
    const before = await cli(
      [
        "status",
        "--db",
        file,
        "--poet",
        "https://poet-a.example",
        "--poet",
        "https://poet-c.example",
        "--json",
      ],
      { now: "2024-09-10T00:00:00Z" },
    );
    assert.equal(before.code, 0, before.err);
    const id3 = JSON.parse(before.out).identities[0];
    assert.deepEqual(id3.missingPoets, ["https://poet-c.example"]);
    assert.equal(id3.next.step, "register-missing");
    assert.equal(id3.next.at, "2024-09-16T08:00:00.000Z");

    const moved = await cli(
      ["status", "--db", file, "--poet", "https://poet-c.example", "--json"],
      {
        now: "2024-09-10T00:00:00Z",
      },
    );
    assert.equal(moved.code, 5);
    assert.match(JSON.parse(moved.out).identities[0].problems[0], /not among the configured/);
  });

  it("says the proofs are due once the round has ended, and prints plain text", async () => {
    const db = await fixture("state-3.sql");
    const r = await cli(["status", "--db", db], { now: "2024-09-30T00:00:00Z" });
    assert.equal(r.code, 5);
    assert.match(r.out, /identity 0101/);
    assert.match(r.out, /round 30 ended: fetch, verify and choose a proof/);
    assert.match(r.out, /for another challenge/);
  });

  it("never calls an identity whose only submit is an unconfirmed intent window-missed", async () => {
    const db = tmp.file("state-intent.sql");
    const state = await openNodeState(db, { create: true });
    await state.challenges.add(id(3), challenge(31), { hash: id(0x33) });
    await state.intents.record({
      nodeId: id(3),
      address: "https://poet-a.example",
      hash: id(0x33),
      roundId: "30",
      roundEnd: new Date("2024-09-29T20:00:00Z"),
      proofDeadline: new Date("2024-10-10T00:00:00Z"),
      createdAt: new Date("2024-09-15T00:00:00Z"),
    });
    await state.close();
    const r = await cli(["status", "--db", db, "--json"], { now: "2024-09-30T00:00:00Z" });
    const [three] = JSON.parse(r.out).identities;
    assert.equal(three.next.step, "fetch-proofs", three.next.description);
  });

  it("shows who holds each identity's lease and until when", async () => {
    const db = await fixture("state-lease.sql");
    const state = await openNodeState(db);
    const got = await state.leases.acquire(id(1), {
      holder: "node-a@host-1:4711:0badcafe",
      at: new Date("2024-09-20T00:00:00Z"),
      ttlMs: 30_000,
    });
    assert.ok(got.held);
    await state.leases.acquire(id(2), {
      holder: "node-b@host-2:99:12345678",
      at: new Date("2024-09-19T00:00:00Z"),
      ttlMs: 30_000,
    });
    await state.close();
    const r = await cli(["status", "--db", db, "--json"], { now: "2024-09-20T00:00:10Z" });
    const [one, two] = JSON.parse(r.out).identities;
    assert.deepEqual(one.lease, {
      state: "held",
      holder: "node-a@host-1:4711:0badcafe",
      token: "1",
      expiresAt: "2024-09-20T00:00:30.000Z",
    });
    assert.equal(two.lease.state, "expired");
    const text = await cli(["status", "--db", db], { now: "2024-09-20T00:00:10Z" });
    assert.match(text.out, /lease: +held by node-a@host-1:4711:0badcafe until .*token 1/);
    assert.match(text.out, /lease: +expired at .*last held by node-b@host-2:99:12345678/);
  });

  it("reports an empty database as healthy", async () => {
    const file = tmp.file("empty.sql");
    await (await openNodeState(file, { create: true })).close();
    const r = await cli(["status", "--db", file]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /no identities/);
  });

  it("leaves a go-spacemesh database byte-for-byte unchanged", async () => {
    const file = tmp.file("go-node.sql");
    const go = createGoDatabase(file);
    goAddChallenge(go, {
      id: id(4),
      epoch: 31,
      sequence: 2n,
      prevAtx: id(0xa1),
      posAtx: id(0xa2),
    });
    goAddPoetRegistration(go, {
      id: id(4),
      hash: id(0x44),
      address: "https://poet-a.example",
      roundId: "30",
      roundEndUnix: 1727640000n,
    });
    go.close();
    const snapshot = () => {
      const db = new Database(file, { readonly: true });
      const userVersion = db.pragma("user_version", { simple: true });
      const schema = db.prepare("select type, name, sql from sqlite_master order by name").all();
      db.close();
      const sha256 = createHash("sha256").update(fs.readFileSync(file)).digest("hex");
      return { sha256, userVersion, schema };
    };
    const before = snapshot();
    const r = await cli(["status", "--db", file, "--json"], { now: "2024-09-20T00:00:00Z" });
    assert.equal(r.code, 0, r.err);
    const body = JSON.parse(r.out);
    assert.equal(body.identities.length, 1);
    assert.equal(body.identities[0].nodeId, hex(id(4)));
    assert.equal(body.identities[0].registrations[0].roundId, "30");
    const after = snapshot();
    assert.deepEqual(after, before);
    assert.equal(after.userVersion, GO_USER_VERSION);
  });

  it("refuses a database file that does not exist instead of creating it (exit 1)", async () => {
    const file = tmp.file("nope.sql");
    const r = await cli(["status", "--db", file]);
    assert.equal(r.code, 1);
    assert.equal(fs.existsSync(file), false);
    assert.match(r.err, /no such file/);
  });

  it("requires --db (exit 2)", async () => {
    const r = await cli(["status"]);
    assert.equal(r.code, 2);
    assert.match(r.err, /--db/);
  });

  it("takes the node's data directory with --data-dir and finds local.sql in it", async () => {
    const dir = path.join(tmp.dir, "node_data");
    fs.mkdirSync(dir);
    const go = createGoDatabase(path.join(dir, "local.sql"));
    goAddChallenge(go, { id: id(5), epoch: 31, sequence: 2n, prevAtx: id(0xa1), posAtx: id(0xa2) });
    go.close();
    const r = await cli(["status", "--data-dir", dir, "--json"], { now: "2024-09-20T00:00:00Z" });
    assert.equal(r.code, 0, r.err);
    const body = JSON.parse(r.out);
    assert.equal(body.identities[0].nodeId, hex(id(5)));
    // The hash of a row go-spacemesh wrote is computed from it.
    assert.equal(typeof body.identities[0].challengeHash, "string");
    const empty = path.join(tmp.dir, "empty_data");
    fs.mkdirSync(empty);
    const missing = await cli(["status", "--data-dir", empty]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.err, /local\.sql and node_state\.sql/);
    assert.deepEqual(fs.readdirSync(empty), []);
  });
});
