/**
 * The CLI on a fleet's PostgreSQL state: `migrate-state` copies a node's SQLite state into it and
 * verifies the copy, `status` reads it by URL, and a password in the URL is never printed.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { displayTarget, postgresTarget } from "../src/cli/node-state-file.js";
import { compareNodeStates, openNodeState, openPostgresState } from "../src/storage/index.js";
import { cli } from "./cli-helpers.js";
import { postgresDatabase } from "./helpers/postgres-database.js";
import { fromHex, loadProofVectors, proofOf } from "./helpers/proof-vectors.js";
import { filled } from "./helpers/storage-go-db.js";
import { tempDir } from "./helpers/temp-dir.js";

const tmp = tempDir("poet-cli-postgres-");
const vectors = loadProofVectors("test/fixtures/poet-proofs.json");
const id = (b: number) => filled(32, b);

const challenge = (publishEpoch: number, sequence: bigint) => ({
  publishEpoch,
  sequence,
  prevAtx: id(0xa1),
  positioningAtx: id(0xa2),
});

/** A SQLite node state with a row in every table. */
async function sqliteFixture(name: string): Promise<string> {
  const file = tmp.file(name);
  await using state = await openNodeState(file, { create: true });
  await state.challenges.add(id(1), challenge(31, (1n << 64n) - 1n), { hash: id(0x11) });
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
  await state.challenges.add(id(2), challenge(31, 1n << 63n), { hash: id(0x22) });
  await state.challenges.setPoetProof(id(2), id(0xee), { nodes: [id(5)], leafIndex: 3n });
  await state.nipost.add(id(2), {
    post: { nonce: 7, indices: new Uint8Array([1, 2, 3]), pow: (1n << 64n) - 2n },
    numUnits: 4,
    vrfNonce: 1n << 63n,
    membership: { nodes: [id(5)], leafIndex: 3n },
    poetProofRef: id(0xee),
    labelsPerUnit: 1024n,
  });
  await state.certificates.put({
    nodeId: id(1),
    certifierId: id(0xce),
    certificate: filled(40, 1),
    signature: filled(64, 2),
  });
  const v = vectors[3]!;
  await state.proofs.put({
    proof: proofOf(v),
    address: "https://poet-a.example",
    roundId: "30",
    servicePubkey: id(0x77),
    statement: fromHex(v.statement),
    verifiedAt: new Date(1_750_000_000_123),
  });
  await state.members.put({
    address: "https://poet-a.example",
    roundId: "30",
    members: [id(0x11), filled(31, 3), new Uint8Array()],
    statement: id(9),
    fetchedAt: new Date(1000),
  });
  return file;
}

describe("poet-client migrate-state", () => {
  it("copies every row of a SQLite state into PostgreSQL and verifies the copy", async () => {
    const file = await sqliteFixture("source-1.sql");
    const url = `${await postgresDatabase()}?schema=fleet`;
    const r = await cli(["migrate-state", "--db", file, "--to", url, "--json"]);
    assert.equal(r.code, 0, r.err);
    const body = JSON.parse(r.out);
    assert.equal(body.ok, true);
    assert.deepEqual(body.copied, {
      challenges: 2,
      registrations: 2,
      niposts: 1,
      certificates: 1,
      proofs: 1,
      memberLists: 1,
    });
    assert.deepEqual(body.differences, []);

    // The copy as the library reads it, and the source untouched.
    await using from = await openNodeState(file, { readonly: true });
    await using to = await openPostgresState({ ...postgresTarget(url), readonly: true });
    assert.deepEqual(await compareNodeStates(from, to), []);
    assert.equal((await to.challenges.get(id(1)))?.challenge.sequence, (1n << 64n) - 1n);
    assert.deepEqual((await to.challenges.get(id(1)))?.hash, id(0x11));
    assert.equal((await to.nipost.get(id(2)))?.vrfNonce, 1n << 63n);

    // `status` reads the fleet's state by URL and sees what it sees in the file.
    const fromFile = await cli(["status", "--db", file, "--json"], { now: "2024-09-20T00:00:00Z" });
    const fromPostgres = await cli(["status", "--db", url, "--json"], {
      now: "2024-09-20T00:00:00Z",
    });
    assert.equal(fromPostgres.code, fromFile.code, fromPostgres.err);
    assert.deepEqual(JSON.parse(fromPostgres.out).identities, JSON.parse(fromFile.out).identities);

    // A second copy into the same state is refused: states are never merged.
    const again = await cli(["migrate-state", "--db", file, "--to", url]);
    assert.equal(again.code, 1);
    assert.match(again.err, /already holds identities/);
  });

  it("reports a difference that compareNodeStates finds", async () => {
    const file = await sqliteFixture("source-2.sql");
    const url = await postgresDatabase();
    const r = await cli(["migrate-state", "--db", file, "--to", url]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /verified: the copy holds exactly the source's rows/);
    await using from = await openNodeState(file, { readonly: true });
    await using to = await openPostgresState({ connection: url });
    await to.registrations.delete(id(1), "https://poet-b.example");
    await to.members.put({
      address: "https://poet-a.example",
      roundId: "30",
      members: [],
      fetchedAt: new Date(1000),
    });
    assert.deepEqual(await compareNodeStates(from, to), [
      `registration ${Buffer.from(id(1)).toString("hex")} https://poet-b.example: only in the first state`,
      "member list https://poet-a.example round 30: differs",
    ]);
  });
});

describe("PostgreSQL URLs in the CLI", () => {
  it("take the schema from the URL and never show the password", () => {
    assert.deepEqual(
      postgresTarget("postgres://u:secret@db:5432/fleet?schema=w1&sslmode=require"),
      {
        connection: "postgres://u:secret@db:5432/fleet?sslmode=require",
        schema: "w1",
      },
    );
    assert.equal(
      displayTarget("postgresql://u:secret@db/fleet?schema=w1"),
      "postgresql://u:***@db/fleet?schema=w1",
    );
    assert.equal(displayTarget("/var/lib/node/local.sql"), "/var/lib/node/local.sql");
  });

  it("status says what is wrong with a server it cannot reach", async () => {
    const url = new URL(await postgresDatabase());
    url.port = "1";
    url.password = "hunter2";
    const r = await cli(["status", "--db", url.toString()]);
    assert.equal(r.code, 1);
    assert.ok(r.err.length > 0);
    assert.doesNotMatch(r.err + r.out, /hunter2/);
  });
});
