import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { StorageError } from "../src/errors.js";
import { companionPath } from "../src/storage/companion-file.js";
import { NODE_STATE_SCHEMA_VERSION, openNodeState } from "../src/storage/index.js";
import {
  createGoDatabase,
  filled,
  GO_USER_VERSION,
  goAddCertificate,
  goAddChallenge,
  goAddNipost,
  goAddPoetRegistration,
  goUpdatePoetProofRef,
  typesAndBytes,
} from "./helpers/storage-go-db.js";
import { tempDir } from "./helpers/temp-dir.js";

const { file: dbFile } = tempDir("storage-compat-");

function hex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "hex"));
}

// A SCALE MerkleProof written out by hand: compact(2) ‖ 2 × 32-byte node ‖ compact(leafIndex = 3).
const MEMBERSHIP_NODES = [filled(32, 0xa1), filled(32, 0xa2)];
const MEMBERSHIP_SCALE = new Uint8Array([
  0x08,
  ...MEMBERSHIP_NODES[0]!,
  ...MEMBERSHIP_NODES[1]!,
  0x0c,
]);
const GO_ZERO_TIME_UNIX = -62135596800n;

const A = filled(32, 0x0a);
const B = filled(32, 0x0b);

const CHALLENGE_COLUMNS = [
  "epoch",
  "sequence",
  "prev_atx",
  "pos_atx",
  "commit_atx",
  "post_nonce",
  "post_indices",
  "post_pow",
  "poet_proof_ref",
  "poet_proof_membership",
];
const NIPOST_COLUMNS = [
  "post_nonce",
  "post_indices",
  "post_pow",
  "num_units",
  "vrf_nonce",
  "poet_proof_membership",
  "poet_proof_ref",
  "labels_per_unit",
];

function schemaOf(db: Database.Database): Record<string, string> {
  const rows = db.prepare("select name, sql from sqlite_master where sql is not null").all() as {
    name: string;
    sql: string;
  }[];
  return Object.fromEntries(rows.map((r) => [r.name, r.sql]));
}

describe("node state on a go-spacemesh database", () => {
  it("leaves go-spacemesh's file exactly as it was and keeps its own tables in the companion", async () => {
    const file = dbFile();
    const go = createGoDatabase(file);
    const before = schemaOf(go);
    go.close();

    const state = await openNodeState(file, { create: true });
    assert.equal(state.goSchemaVersion, GO_USER_VERSION);
    assert.equal(state.schemaVersion, NODE_STATE_SCHEMA_VERSION);
    await state.close();

    const db = new Database(file, { readonly: true });
    const afterOpen = schemaOf(db);
    assert.equal(db.pragma("user_version", { simple: true }), GO_USER_VERSION);
    for (const [name, ddl] of Object.entries(before)) assert.equal(afterOpen[name], ddl, name);
    const added = Object.keys(afterOpen).filter((name) => !(name in before));
    assert.deepEqual(added, []);
    assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
    db.close();
    const companion = new Database(companionPath(file), { readonly: true });
    const ours = Object.keys(schemaOf(companion));
    assert.ok(ours.length > 0);
    for (const name of ours) assert.match(name, /^poet_client_/);
    companion.close();
  });

  it("reads the rows the Go node wrote", async () => {
    const file = dbFile();
    const go = createGoDatabase(file);
    const ref = filled(32, 0xee);
    goAddChallenge(go, {
      id: A,
      epoch: 31,
      sequence: (1n << 63n) + 5n,
      prevAtx: filled(32, 1),
      posAtx: filled(32, 2),
      commitAtx: filled(32, 3),
      post: { nonce: 4_000_000_000, indices: hex("0102030405"), pow: (1n << 64n) - 1n },
    });
    goUpdatePoetProofRef(go, A, ref, MEMBERSHIP_SCALE);
    goAddChallenge(go, {
      id: B,
      epoch: 32,
      sequence: 7n,
      prevAtx: filled(32, 4),
      posAtx: filled(32, 5),
    });
    goAddPoetRegistration(go, {
      id: A,
      hash: filled(32, 0xcc),
      address: "https://mainnet-poet-1.spacemesh.network",
      roundId: "30",
      roundEndUnix: 1_737_547_200n,
    });
    goAddPoetRegistration(go, {
      id: A,
      hash: filled(32, 0xcc),
      address: "https://poet-110.spacemesh.network",
      roundId: "30",
      roundEndUnix: GO_ZERO_TIME_UNIX,
    });
    goAddNipost(go, {
      id: A,
      nonce: 9,
      indices: hex("aabbcc"),
      pow: 1n << 63n,
      numUnits: 16,
      vrfNonce: (1n << 64n) - 2n,
      membershipScale: MEMBERSHIP_SCALE,
      ref,
      labelsPerUnit: 4_294_967_296n,
    });
    goAddCertificate(go, {
      nodeId: A,
      certifierId: filled(32, 0xce),
      certificate: hex("20ce01"),
      signature: filled(64, 0x51),
    });
    go.close();

    await using state = await openNodeState(file, { create: true });
    const a = await state.challenges.get(A);
    assert.ok(a);
    assert.deepEqual(a.challenge, {
      publishEpoch: 31,
      sequence: (1n << 63n) + 5n,
      prevAtx: filled(32, 1),
      positioningAtx: filled(32, 2),
      commitmentAtx: filled(32, 3),
      initialPost: { nonce: 4_000_000_000, indices: hex("0102030405"), pow: (1n << 64n) - 1n },
    });
    assert.deepEqual(a.poetProofRef, ref);
    assert.deepEqual(a.membership, { nodes: MEMBERSHIP_NODES, leafIndex: 3n });
    assert.equal(a.hash, undefined);

    const b = await state.challenges.get(B);
    assert.deepEqual(b?.challenge, {
      publishEpoch: 32,
      sequence: 7n,
      prevAtx: filled(32, 4),
      positioningAtx: filled(32, 5),
    });
    assert.equal(b?.poetProofRef, undefined);
    assert.equal(b?.membership, undefined);

    const registrations = await state.registrations.listFor(A);
    assert.deepEqual(
      registrations.map((r) => [r.address, r.roundId, r.roundEnd.getTime()]),
      [
        ["https://mainnet-poet-1.spacemesh.network", "30", 1_737_547_200_000],
        ["https://poet-110.spacemesh.network", "30", Number(GO_ZERO_TIME_UNIX) * 1000],
      ],
    );
    assert.deepEqual(registrations[0]?.hash, filled(32, 0xcc));

    const nipost = await state.nipost.get(A);
    assert.deepEqual(nipost, {
      nodeId: A,
      post: { nonce: 9, indices: hex("aabbcc"), pow: 1n << 63n },
      numUnits: 16,
      vrfNonce: (1n << 64n) - 2n,
      membership: { nodes: MEMBERSHIP_NODES, leafIndex: 3n },
      poetProofRef: ref,
      labelsPerUnit: 4_294_967_296n,
    });
    const certificate = await state.certificates.get(A, filled(32, 0xce));
    assert.deepEqual(certificate?.certificate, hex("20ce01"));
    assert.deepEqual(certificate?.signature, filled(64, 0x51));
  });

  it("writes rows with the same SQLite types and bytes as the Go node", async () => {
    const file = dbFile();
    const go = createGoDatabase(file);
    const ref = filled(32, 0xee);
    const challenge = {
      epoch: 31,
      sequence: (1n << 63n) + 5n,
      prevAtx: filled(32, 1),
      posAtx: filled(32, 2),
      commitAtx: filled(32, 3),
      post: { nonce: 77, indices: hex("0102030405"), pow: (1n << 64n) - 1n },
    };
    goAddChallenge(go, { id: A, ...challenge });
    goUpdatePoetProofRef(go, A, ref, MEMBERSHIP_SCALE);
    const registration = {
      hash: filled(32, 0xcc),
      address: "https://poet-110.spacemesh.network",
      roundId: "30",
      roundEndUnix: 1_737_547_200n,
    };
    goAddPoetRegistration(go, { id: A, ...registration });
    const nipost = {
      nonce: 9,
      indices: hex("aabbcc"),
      pow: 1n << 63n,
      numUnits: 16,
      vrfNonce: (1n << 64n) - 2n,
      membershipScale: MEMBERSHIP_SCALE,
      ref,
      labelsPerUnit: 1024n,
    };
    goAddNipost(go, { id: A, ...nipost });
    goAddCertificate(go, {
      nodeId: A,
      certifierId: filled(32, 0xce),
      certificate: hex("20ce01"),
      signature: filled(64, 0x51),
    });
    go.close();

    {
      await using state = await openNodeState(file, { create: true });
      await state.challenges.add(B, {
        publishEpoch: challenge.epoch,
        sequence: challenge.sequence,
        prevAtx: challenge.prevAtx,
        positioningAtx: challenge.posAtx,
        commitmentAtx: challenge.commitAtx,
        initialPost: challenge.post,
      });
      await state.challenges.setPoetProof(B, ref, { nodes: MEMBERSHIP_NODES, leafIndex: 3n });
      await state.registrations.add({
        nodeId: B,
        hash: registration.hash,
        address: registration.address,
        roundId: registration.roundId,
        // Sub-second parts are dropped, as Go's Time.Unix() drops them.
        roundEnd: new Date(Number(registration.roundEndUnix) * 1000 + 999),
      });
      await state.nipost.add(B, {
        post: { nonce: nipost.nonce, indices: nipost.indices, pow: nipost.pow },
        numUnits: nipost.numUnits,
        vrfNonce: nipost.vrfNonce,
        membership: { nodes: MEMBERSHIP_NODES, leafIndex: 3n },
        poetProofRef: ref,
        labelsPerUnit: nipost.labelsPerUnit,
      });
      await state.certificates.put({
        nodeId: B,
        certifierId: filled(32, 0xce),
        certificate: hex("20ce01"),
        signature: filled(64, 0x51),
      });
    }

    const db = new Database(file, { readonly: true });
    const compare = (table: string, key: string, columns: string[]) => {
      const ours = typesAndBytes(db, table, key, B, columns);
      const theirs = typesAndBytes(db, table, key, A, columns);
      assert.equal(ours.length, 1, table);
      assert.deepEqual(ours, theirs, table);
    };
    compare("challenge", "id", CHALLENGE_COLUMNS);
    compare("poet_registration", "id", ["hash", "address", "round_id", "round_end"]);
    compare("nipost", "id", NIPOST_COLUMNS);
    compare("poet_certificates", "node_id", ["certifier_id", "certificate", "signature"]);
    for (const [table, key] of [
      ["challenge", "id"],
      ["poet_registration", "id"],
      ["nipost", "id"],
      ["poet_certificates", "node_id"],
    ] as const) {
      const row = db
        .prepare(`select typeof(${key}) t, hex(${key}) h from ${table} where ${key} = ?`)
        .get(B) as { t: string; h: string };
      assert.deepEqual(row, { t: "blob", h: Buffer.from(B).toString("hex").toUpperCase() }, table);
    }
    // The u64 values ≥ 2^63 are stored as negative int64, as Go stores them.
    const raw = db
      .prepare("select post_pow, vrf_nonce from nipost where id = ?")
      .safeIntegers(true)
      .get(B) as { post_pow: bigint; vrf_nonce: bigint };
    assert.equal(raw.post_pow, -(2n ** 63n));
    assert.equal(raw.vrf_nonce, -2n);
    db.close();
  });

  it("lets the operators' sqlite3 phase-switch procedure work on its own files", async () => {
    const file = dbFile();
    {
      await using state = await openNodeState(file, { create: true });
      await state.challenges.add(A, {
        publishEpoch: 3,
        sequence: 1n,
        prevAtx: filled(32, 1),
        positioningAtx: filled(32, 2),
      });
      await state.registrations.add({
        nodeId: A,
        hash: filled(32, 9),
        address: "http://poet-a",
        roundId: "2",
        roundEnd: new Date(1_700_000_000_000),
      });
    }
    const db = new Database(file);
    db.exec("delete from poet_registration; delete from nipost;");
    assert.equal(db.pragma("user_version", { simple: true }), 9);
    db.close();
    await using state = await openNodeState(file, { create: true });
    assert.deepEqual(await state.registrations.listFor(A), []);
    assert.ok(await state.challenges.get(A));
  });

  it("refuses a go-spacemesh file that predates the tables it needs, and leaves it untouched", async () => {
    const file = dbFile();
    const go = new Database(file);
    go.pragma("user_version = 2");
    go.exec("create table post (id CHAR(32) PRIMARY KEY)");
    const before = schemaOf(go);
    go.close();

    await assert.rejects(openNodeState(file, { create: true }), (err: unknown) => {
      assert.ok(err instanceof StorageError);
      assert.equal(err.kind, "migration-failed");
      assert.equal(err.table, "challenge");
      return true;
    });
    const db = new Database(file, { readonly: true });
    assert.deepEqual(schemaOf(db), before);
    assert.equal(db.pragma("user_version", { simple: true }), 2);
    db.close();
  });
});
