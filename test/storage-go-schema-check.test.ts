import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { StorageError } from "../src/errors.js";
import { companionPath, openNodeState } from "../src/storage/index.js";
import { encodeMemberList } from "../src/storage/member-list-codec.js";
import { nipostChallengeHash } from "../src/wire/index.js";
import {
  createGoDatabase,
  filled,
  GO_USER_VERSION,
  type GoSchemaCheckVersion,
  goAddChallenge,
  goAddPoetRegistration,
  goSchemaCheck,
} from "./helpers/storage-go-db.js";
import { tempDir } from "./helpers/temp-dir.js";

const tmp = tempDir("storage-go-schema-");
const VERSIONS: GoSchemaCheckVersion[] = ["v1.7.0-v1.7.4", "v1.7.5+"];

/** Asserts that go-spacemesh (both orderings of its check, default config) accepts `file`. */
function assertGoAccepts(file: string, after: string): void {
  for (const version of VERSIONS) {
    assert.equal(goSchemaCheck(file, version), "", `go-spacemesh ${version} after ${after}`);
  }
}

const nodeId = filled(32, 0xa1);
const challenge = {
  publishEpoch: 7,
  sequence: 3n,
  prevAtx: filled(32, 1),
  positioningAtx: filled(32, 2),
};
const proof = {
  root: filled(32, 1),
  provenLeaves: [filled(32, 2)],
  proofNodes: [filled(32, 3)],
  leaves: 2n,
};

/** Every kind of write the library makes, each followed by the Go node's check. */
async function exerciseLibrary(file: string): Promise<void> {
  {
    await using view = await openNodeState(file, { readonly: true });
    await view.registrations.listFor(nodeId);
  }
  assertGoAccepts(file, "a read-only open");
  await (await openNodeState(file)).close();
  assertGoAccepts(file, "a writable open without writes");

  await using state = await openNodeState(file);
  const hash = nipostChallengeHash(challenge);
  await state.challenges.add(nodeId, challenge, { hash });
  assertGoAccepts(file, "challenges.add");
  await state.registrations.add({
    nodeId,
    hash,
    address: "https://poet-a.example",
    roundId: "6",
    roundEnd: new Date(1_700_000_000_000),
  });
  assertGoAccepts(file, "registrations.add");
  const ref = await state.proofs.put({
    proof,
    address: "https://poet-a.example",
    roundId: "6",
    servicePubkey: filled(32, 4),
    statement: filled(32, 5),
    verifiedAt: new Date(0),
  });
  await state.members.put({
    address: "https://poet-a.example",
    roundId: "6",
    members: [hash],
    fetchedAt: new Date(0),
  });
  assertGoAccepts(file, "proofs.put and members.put");
  await state.challenges.setPoetProof(nodeId, ref, { nodes: [], leafIndex: 0n });
  await state.nipost.add(nodeId, {
    post: { nonce: 1, indices: Uint8Array.of(1, 2), pow: 3n },
    numUnits: 4,
    vrfNonce: 5n,
    labelsPerUnit: 6n,
    poetProofRef: ref,
    membership: { nodes: [], leafIndex: 0n },
  });
  await state.certificates.put({
    nodeId,
    certifierId: filled(32, 6),
    certificate: Uint8Array.of(1),
    signature: filled(64, 7),
  });
  assertGoAccepts(file, "setPoetProof, nipost.add and certificates.add");
  await state.repair(await state.check());
  await state.resetIdentity(nodeId);
  assertGoAccepts(file, "check, repair and resetIdentity");
}

describe("go-spacemesh's open-time schema check on the node's file", () => {
  it("accepts a v1.7.x file and refuses one with an extra object or another user_version", () => {
    const file = tmp.file("check.sql");
    createGoDatabase(file).close();
    assertGoAccepts(file, "nothing");
    const db = new Database(file);
    db.exec("create table poet_client_proof (ref blob)");
    db.close();
    for (const version of VERSIONS) assert.match(goSchemaCheck(file, version), /schema drift/);
    const other = tmp.file("check-version.sql");
    createGoDatabase(other, 11).close();
    for (const version of VERSIONS) assert.match(goSchemaCheck(other, version), /schema drift/);
  });

  it("accepts a go-spacemesh file after every library operation", async () => {
    const file = tmp.file("go.sql");
    createGoDatabase(file).close();
    await exerciseLibrary(file);
    assert.ok(fs.existsSync(companionPath(file)));
  });

  it("creates from nothing a file go-spacemesh v1.7 adopts, and keeps accepting it", async () => {
    const dir = path.join(tmp.dir, "new-node");
    fs.mkdirSync(dir);
    await (await openNodeState(dir, { create: true })).close();
    const file = path.join(dir, "local.sql");
    assertGoAccepts(file, "create");
    const db = new Database(file, { readonly: true });
    assert.equal(db.pragma("user_version", { simple: true }), GO_USER_VERSION);
    assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
    db.close();
    await exerciseLibrary(file);
    // The companion is beside it, under a name go-spacemesh never touches.
    const names = fs.readdirSync(dir);
    assert.ok(names.includes("local.poet-client.sql"), names.join(", "));
    for (const name of names) assert.doesNotMatch(name, /^local\.sql[-_](?!wal$|shm$)/);
  });
});

describe("openNodeState by data directory", () => {
  it("finds local.sql, else node_state.sql, and refuses a directory with neither", async () => {
    const dir = path.join(tmp.dir, "data-dir");
    fs.mkdirSync(dir);
    await assert.rejects(openNodeState(dir), (err: unknown) => {
      assert.ok(err instanceof StorageError);
      assert.equal(err.kind, "missing");
      assert.match(err.message, /data-dir/);
      assert.match(err.message, /local\.sql and node_state\.sql/);
      return true;
    });
    assert.deepEqual(fs.readdirSync(dir), []);

    createGoDatabase(path.join(dir, "node_state.sql")).close();
    {
      await using state = await openNodeState(dir, { readonly: true });
      assert.equal(state.goSchemaVersion, GO_USER_VERSION);
    }
    const go = createGoDatabase(path.join(dir, "local.sql"));
    goAddChallenge(go, {
      id: nodeId,
      epoch: 7,
      sequence: 3n,
      prevAtx: challenge.prevAtx,
      posAtx: challenge.positioningAtx,
    });
    go.close();
    await using state = await openNodeState(dir, { readonly: true });
    assert.ok(await state.challenges.get(nodeId), "read from local.sql, not node_state.sql");
  });

  it("refuses a path that does not exist, naming it, unless create: true", async () => {
    const file = path.join(tmp.dir, "typo", "local.sql");
    fs.mkdirSync(path.dirname(file));
    await assert.rejects(openNodeState(file), (err: unknown) => {
      assert.ok(err instanceof StorageError);
      assert.equal(err.kind, "missing");
      assert.ok(err.message.includes(file));
      return true;
    });
    assert.equal(fs.existsSync(file), false);
    await (await openNodeState(file, { create: true })).close();
    assert.equal(fs.existsSync(file), true);
  });
});

describe("challenge rows go-spacemesh wrote", () => {
  it("resolve to BLAKE3(0x00 ‖ SCALE(NIPostChallengeV1)) in the consistency check", async () => {
    const file = tmp.file("go-rows.sql");
    const go = createGoDatabase(file);
    goAddChallenge(go, {
      id: nodeId,
      epoch: 7,
      sequence: 3n,
      prevAtx: challenge.prevAtx,
      posAtx: challenge.positioningAtx,
    });
    goAddPoetRegistration(go, {
      id: nodeId,
      hash: nipostChallengeHash(challenge),
      address: "https://poet-a.example",
      roundId: "6",
      roundEndUnix: 1_700_000_000n,
    });
    goAddPoetRegistration(go, {
      id: nodeId,
      hash: filled(32, 0xee), // an older challenge's
      address: "https://poet-b.example",
      roundId: "5",
      roundEndUnix: 1_690_000_000n,
    });
    go.close();
    await using state = await openNodeState(file, { readonly: true });
    const problems = await state.check();
    assert.deepEqual(
      problems.map((p) => [p.kind, p.detail.includes("poet-b")]),
      [["registration-hash-mismatch", true]],
    );
    assert.equal((await state.challenges.get(nodeId))?.hash, undefined);
  });
});

describe("files of earlier releases, with our tables inside the node's file", () => {
  /** A go-spacemesh file into which an earlier release put its poet_client_* tables and rows. */
  function earlierReleaseFile(file: string): void {
    const db = createGoDatabase(file);
    db.exec(`
      create table "poet_client_migration" ("name" varchar(255) not null primary key, "timestamp" varchar(255) not null);
      create table "poet_client_migration_lock" ("id" varchar(255) not null primary key, "is_locked" integer default 0 not null);
      create table "poet_client_challenge" ("id" blob not null primary key, "hash" blob not null, "fingerprint" blob not null) without rowid;
      create table "poet_client_proof" ("ref" blob not null primary key, "proof" blob not null, "leaves" integer not null, "address" text not null, "round_id" text not null, "service_pubkey" blob not null, "statement" blob not null, "verified_at" integer not null) without rowid;
      create index "poet_client_proof_round" on "poet_client_proof" ("address", "round_id");
      create table "poet_client_members" ("address" text not null, "round_id" text not null, "member_count" integer not null, "members" blob not null, "statement" blob, "fetched_at" integer not null, constraint "poet_client_members_pk" primary key ("address", "round_id")) without rowid;
      insert into poet_client_migration values ('0001_poet_client_tables', '2025-01-01T00:00:00.000Z');
      insert into poet_client_migration_lock values ('migration_lock', 0);
    `);
    db.prepare(
      "insert into poet_client_members (address, round_id, member_count, members, statement, fetched_at) values (?, ?, ?, ?, ?, ?)",
    ).run(
      "https://poet-a.example",
      "6",
      2n,
      encodeMemberList([filled(32, 8), filled(32, 9)]),
      null,
      0n,
    );
    db.close();
  }

  it("are read in place by a read-only open, which moves nothing", async () => {
    const file = tmp.file("earlier-ro.sql");
    earlierReleaseFile(file);
    {
      await using state = await openNodeState(file, { readonly: true });
      const list = await state.members.get("https://poet-a.example", "6");
      assert.equal(list?.members.length, 2);
    }
    assert.equal(fs.existsSync(companionPath(file)), false);
    for (const version of VERSIONS) assert.match(goSchemaCheck(file, version), /schema drift/);
  });

  it("are moved into the companion by a writable open, rows and all, and Go accepts the file", async () => {
    const file = tmp.file("earlier.sql");
    earlierReleaseFile(file);
    {
      await using state = await openNodeState(file);
      const list = await state.members.get("https://poet-a.example", "6");
      assert.equal(list?.members.length, 2);
      assert.deepEqual(list?.members[1], new Uint8Array(32).fill(9));
    }
    assertGoAccepts(file, "moving our tables out");
    const companion = new Database(companionPath(file), { readonly: true });
    const tables = (
      companion
        .prepare("select name from sqlite_master where type in ('table', 'index') order by name")
        .all() as { name: string }[]
    ).map((r) => r.name);
    assert.deepEqual(
      tables.filter((t) => !t.startsWith("sqlite_")),
      [
        "poet_client_challenge",
        "poet_client_lease",
        "poet_client_member_chunk",
        "poet_client_member_chunk_fetched",
        "poet_client_members",
        "poet_client_migration",
        "poet_client_migration_lock",
        "poet_client_proof",
        "poet_client_proof_claim",
        "poet_client_proof_round",
        "poet_client_submit_intent",
      ],
    );
    companion.close();
    // Opening again finds nothing left to move and changes nothing.
    await (await openNodeState(file)).close();
    assertGoAccepts(file, "a second writable open");
  });

  it("keep the companion's rows when both files have a table", async () => {
    const file = tmp.file("both.sql");
    createGoDatabase(file).close();
    {
      await using state = await openNodeState(file);
      await state.members.put({
        address: "https://poet-b.example",
        roundId: "6",
        members: [filled(32, 1)],
        fetchedAt: new Date(0),
      });
    }
    // An earlier release, run afterwards on the same file, put its tables back into it.
    const db = new Database(file);
    db.exec(
      `create table "poet_client_members" ("address" text not null, "round_id" text not null, "member_count" integer not null, "members" blob not null, "statement" blob, "fetched_at" integer not null, constraint "poet_client_members_pk" primary key ("address", "round_id")) without rowid`,
    );
    db.prepare(
      "insert into poet_client_members (address, round_id, member_count, members, statement, fetched_at) values (?, ?, ?, ?, ?, ?)",
    ).run("https://poet-a.example", "6", 1n, encodeMemberList([filled(32, 7)]), null, 0n);
    db.close();
    await using state = await openNodeState(file);
    assert.equal((await state.members.get("https://poet-a.example", "6"))?.members.length, 1);
    assert.equal((await state.members.get("https://poet-b.example", "6"))?.members.length, 1);
    assertGoAccepts(file, "merging a table both files had");
  });
});
