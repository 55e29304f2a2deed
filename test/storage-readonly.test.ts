import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { StorageError } from "../src/errors.js";
import { companionPath } from "../src/storage/companion-file.js";
import { NODE_STATE_SCHEMA_VERSION, openNodeState } from "../src/storage/index.js";
import { encodeMembershipProof } from "../src/wire/index.js";
import {
  createGoDatabase,
  filled,
  GO_USER_VERSION,
  goAddCertificate,
  goAddChallenge,
  goAddNipost,
  goAddPoetRegistration,
  goUpdatePoetProofRef,
} from "./helpers/storage-go-db.js";
import { tempDir } from "./helpers/temp-dir.js";

const tmp = tempDir("poet-storage-readonly-");
const nodeId = filled(32, 0x01);

/** A go-spacemesh file with one row in each table the client shares. */
function goFile(name: string): string {
  const file = tmp.file(name);
  const db = createGoDatabase(file);
  goAddChallenge(db, {
    id: nodeId,
    epoch: 31,
    sequence: 7n,
    prevAtx: filled(32, 0xa1),
    posAtx: filled(32, 0xa2),
  });
  goAddPoetRegistration(db, {
    id: nodeId,
    hash: filled(32, 0x11),
    address: "https://poet-a.example",
    roundId: "30",
    roundEndUnix: 1727640000n,
  });
  const membershipScale = encodeMembershipProof({ nodes: [filled(32, 0x22)], leafIndex: 3n });
  goUpdatePoetProofRef(db, nodeId, filled(32, 0x44), membershipScale);
  goAddNipost(db, {
    id: nodeId,
    nonce: 5,
    indices: filled(8, 0x33),
    pow: 9n,
    numUnits: 4,
    vrfNonce: 77n,
    membershipScale,
    ref: filled(32, 0x44),
    labelsPerUnit: 1024n,
  });
  goAddCertificate(db, {
    nodeId,
    certifierId: filled(32, 0x55),
    certificate: filled(40, 0x66),
    signature: filled(64, 0x77),
  });
  db.close();
  return file;
}

/** What must not change: the file's bytes, its user_version and its schema. */
function fingerprint(file: string) {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const userVersion = db.pragma("user_version", { simple: true });
    const schema = db.prepare("select type, name, sql from sqlite_master order by name").all();
    db.close();
    return {
      sha256: createHash("sha256").update(fs.readFileSync(file)).digest("hex"),
      userVersion,
      schema,
    };
  } finally {
    if (db.open) db.close();
  }
}

async function rejectsReadonly(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof StorageError, String(err));
    assert.equal(err.kind, "readonly");
    return true;
  });
}

describe("openNodeState with readonly", () => {
  it("leaves a go-spacemesh file byte-for-byte unchanged and reads its rows", async () => {
    const file = goFile("go-read.sql");
    const before = fingerprint(file);
    const state = await openNodeState(file, { readonly: true });
    try {
      assert.equal(state.readonly, true);
      assert.equal(state.goSchemaVersion, GO_USER_VERSION);
      assert.equal(state.schemaVersion, 0);
      const challenge = await state.challenges.get(nodeId);
      assert.equal(challenge?.challenge.publishEpoch, 31);
      assert.equal(challenge?.challenge.sequence, 7n);
      assert.equal(challenge?.hash, undefined);
      assert.deepEqual(challenge?.poetProofRef, filled(32, 0x44));
      assert.equal(challenge?.membership?.leafIndex, 3n);
      assert.equal((await state.challenges.list()).length, 1);
      const [registration] = await state.registrations.listFor(nodeId);
      assert.equal(registration?.address, "https://poet-a.example");
      assert.equal(registration?.roundId, "30");
      assert.equal((await state.nipost.get(nodeId))?.numUnits, 4);
      assert.equal((await state.certificates.listFor(nodeId)).length, 1);
      // Our tables are absent: their repositories read as empty.
      assert.equal(await state.proofs.get(filled(32, 0x44)), undefined);
      assert.equal(await state.proofs.has(filled(32, 0x44)), false);
      assert.deepEqual(await state.proofs.findByRound("https://poet-a.example", "30"), []);
      assert.equal(await state.members.get("https://poet-a.example", "30"), undefined);
      assert.deepEqual(await state.check(), []);
    } finally {
      await state.close();
    }
    const after = fingerprint(file);
    assert.deepEqual(after, before);
    assert.equal(after.userVersion, GO_USER_VERSION);
    assert.ok(
      !after.schema.some((r) => String((r as { name: unknown }).name).startsWith("poet_client")),
    );
  });

  it("rejects every write with kind readonly and changes nothing", async () => {
    const file = goFile("go-write.sql");
    const before = fingerprint(file);
    const state = await openNodeState(file, { readonly: true });
    try {
      const ref = filled(32, 0x44);
      await rejectsReadonly(
        state.challenges.add(filled(32, 2), {
          publishEpoch: 1,
          sequence: 0n,
          prevAtx: filled(32, 0),
          positioningAtx: filled(32, 3),
        }),
      );
      await rejectsReadonly(state.challenges.setHash(nodeId, filled(32, 9)));
      await rejectsReadonly(
        state.challenges.setPoetProof(nodeId, ref, { nodes: [], leafIndex: 0n }),
      );
      await rejectsReadonly(state.challenges.clearPoetProof(nodeId));
      await rejectsReadonly(state.challenges.delete(nodeId));
      await rejectsReadonly(state.registrations.delete(nodeId, "https://poet-a.example"));
      await rejectsReadonly(state.registrations.clear(nodeId));
      await rejectsReadonly(state.nipost.delete(nodeId));
      await rejectsReadonly(state.proofs.delete(ref));
      await rejectsReadonly(state.proofs.pruneVerifiedBefore(new Date(0)));
      await rejectsReadonly(
        state.members.put({
          address: "https://poet-a.example",
          roundId: "30",
          members: [filled(32, 1)],
          fetchedAt: new Date(0),
        }),
      );
      await rejectsReadonly(state.members.pruneFetchedBefore(new Date(0)));
      await rejectsReadonly(state.resetIdentity(nodeId));
      await rejectsReadonly(state.repair([]));
      await rejectsReadonly(state.transaction(async () => 1));
      assert.equal((await state.challenges.list()).length, 1);
    } finally {
      await state.close();
    }
    assert.deepEqual(fingerprint(file), before);
  });

  it("reads our tables when the file has them", async () => {
    const file = tmp.file("ours.sql");
    const writable = await openNodeState(file, { create: true });
    const challenge = {
      publishEpoch: 3,
      sequence: 1n,
      prevAtx: filled(32, 1),
      positioningAtx: filled(32, 2),
    };
    await writable.challenges.add(nodeId, challenge, { hash: filled(32, 0x99) });
    await writable.members.put({
      address: "https://poet-a.example",
      roundId: "2",
      members: [filled(32, 5)],
      fetchedAt: new Date(1000),
    });
    await writable.close();
    const before = fingerprint(file);
    const state = await openNodeState(file, { readonly: true });
    try {
      assert.equal(state.schemaVersion, NODE_STATE_SCHEMA_VERSION);
      assert.deepEqual((await state.challenges.get(nodeId))?.hash, filled(32, 0x99));
      assert.deepEqual((await state.members.get("https://poet-a.example", "2"))?.members, [
        filled(32, 5),
      ]);
    } finally {
      await state.close();
    }
    assert.deepEqual(fingerprint(file), before);
  });

  it("reads while go-spacemesh keeps the file open in WAL mode", async () => {
    const file = goFile("go-live.sql");
    const go = new Database(file);
    try {
      goAddPoetRegistration(go, {
        id: nodeId,
        hash: filled(32, 0x11),
        address: "https://poet-b.example",
        roundId: "30",
        roundEndUnix: 1727640001n,
      });
      const state = await openNodeState(file, { readonly: true });
      try {
        assert.equal((await state.registrations.listFor(nodeId)).length, 2);
      } finally {
        await state.close();
      }
      const { n } = go
        .prepare("select count(*) as n from sqlite_master where name like 'poet_client%'")
        .get() as { n: number };
      assert.equal(n, 0);
    } finally {
      go.close();
    }
  });

  it("refuses a database migrated by a newer release", async () => {
    const file = tmp.file("newer.sql");
    await (await openNodeState(file, { create: true })).close();
    const db = new Database(companionPath(file));
    db.prepare("insert into poet_client_migration (name, timestamp) values (?, ?)").run(
      "9999_future",
      "2030-01-01T00:00:00.000Z",
    );
    db.close();
    await assert.rejects(openNodeState(file, { readonly: true }), (err: unknown) => {
      assert.ok(err instanceof StorageError);
      assert.equal(err.kind, "schema-too-new");
      return true;
    });
  });

  it("refuses a file that does not exist, without creating it", async () => {
    const file = tmp.file("absent.sql");
    await assert.rejects(openNodeState(file, { readonly: true }), (err: unknown) => {
      assert.ok(err instanceof StorageError);
      assert.equal(err.kind, "missing");
      assert.match(err.message, /absent\.sql/);
      return true;
    });
    assert.equal(fs.existsSync(file), false);
  });

  it("refuses a SQLite file without the node tables (kind missing)", async () => {
    const file = tmp.file("other.sql");
    const db = new Database(file);
    db.exec("create table something (x)");
    db.close();
    await assert.rejects(openNodeState(file, { readonly: true }), (err: unknown) => {
      assert.ok(err instanceof StorageError);
      assert.equal(err.kind, "missing");
      assert.equal(err.table, "challenge");
      return true;
    });
  });
});
