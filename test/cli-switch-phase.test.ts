import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openNodeState } from "../src/storage/index.js";
import { cli } from "./cli-helpers.js";
import { goSchemaCheck } from "./helpers/storage-go-db.js";
import { tempDir } from "./helpers/temp-dir.js";

const tmp = tempDir("poet-cli-switch-");
const id = (b: number) => new Uint8Array(32).fill(b);

async function fixture(name: string): Promise<string> {
  const file = tmp.file(name);
  const state = await openNodeState(file, { create: true });
  await state.challenges.add(
    id(1),
    { publishEpoch: 31, sequence: 1n, prevAtx: id(0xa1), positioningAtx: id(0xa2) },
    { hash: id(0x11) },
  );
  await state.registrations.addMany(
    ["https://old-a.example", "https://old-b.example"].map((address) => ({
      nodeId: id(1),
      hash: id(0x11),
      address,
      roundId: "30",
      roundEnd: new Date("2024-09-29T20:00:00Z"),
    })),
  );
  await state.close();
  return file;
}

async function registrations(file: string): Promise<string[]> {
  const state = await openNodeState(file, { create: true });
  try {
    return (await state.registrations.list()).map((r) => r.address);
  } finally {
    await state.close();
  }
}

const laterPhase = ["--to-phase-shift", "300h", "--to-cycle-gap", "12h"];
const earlierPhase = ["--to-phase-shift", "120h", "--to-cycle-gap", "12h"];

describe("poet-client switch-phase", () => {
  it("explains a switch that is possible now and changes nothing with --dry-run", async () => {
    const db = await fixture("dry.sql");
    const r = await cli(
      [
        "switch-phase",
        "--db",
        db,
        "--to",
        "https://new.example",
        ...laterPhase,
        "--dry-run",
        "--json",
      ],
      { now: "2024-09-10T00:00:00Z" },
    );
    assert.equal(r.code, 0, r.err);
    const body = JSON.parse(r.out);
    assert.equal(body.applied, false);
    assert.deepEqual(body.lostPublishEpochs, []);
    const [one] = body.identities;
    assert.equal(one.mode, "now");
    assert.equal(one.safe, true);
    assert.deepEqual(one.removeRegistrations, ["https://old-a.example", "https://old-b.example"]);
    assert.equal((await registrations(db)).length, 2);
  });

  it("applies a safe switch in one transaction: the old registrations go, the challenge stays", async () => {
    const db = await fixture("apply.sql");
    const r = await cli(
      [
        "switch-phase",
        "--db",
        db,
        "--to",
        "https://new.example",
        "--to",
        "https://old-b.example",
        ...laterPhase,
      ],
      { now: "2024-09-10T00:00:00Z" },
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /no epoch is lost/);
    assert.match(r.out, /applied: 1 registration removed/);
    assert.deepEqual(await registrations(db), ["https://old-b.example"]);
    const state = await openNodeState(db, { create: true });
    assert.ok(await state.challenges.get(id(1)));
    await state.close();
    // go-spacemesh (both orderings of its open-time schema check) still accepts the file.
    for (const version of ["v1.7.0-v1.7.4", "v1.7.5+"] as const) {
      assert.equal(goSchemaCheck(db, version), "", version);
    }
  });

  it("names the lost publish epoch and refuses to apply without --accept-loss (exit 5)", async () => {
    const db = await fixture("lossy.sql");
    const now = { now: "2024-09-20T00:00:00Z" };
    const dry = await cli(
      [
        "switch-phase",
        "--db",
        db,
        "--to",
        "https://new.example",
        ...earlierPhase,
        "--dry-run",
        "--json",
      ],
      now,
    );
    assert.equal(dry.code, 0, dry.err);
    const plan = JSON.parse(dry.out);
    assert.equal(plan.identities[0].mode, "after-proof");
    assert.deepEqual(plan.lostPublishEpochs, [32]);
    assert.equal(plan.identities[0].switchAt, "2024-09-29T20:00:00.000Z");

    const refused = await cli(
      ["switch-phase", "--db", db, "--to", "https://new.example", ...earlierPhase],
      now,
    );
    assert.equal(refused.code, 5);
    assert.match(refused.out, /publish epoch 32 will have no ATX/);
    assert.match(refused.out, /refused/);

    const accepted = await cli(
      ["switch-phase", "--db", db, "--to", "https://new.example", ...earlierPhase, "--accept-loss"],
      now,
    );
    assert.equal(accepted.code, 0);
    assert.equal(
      (await registrations(db)).length,
      2,
      "after-proof keeps the current registrations",
    );
  });

  it("applies the same rule as switchPoets: a row no challenge uses goes, with its reason", async () => {
    const db = await fixture("orphan.sql");
    const state = await openNodeState(db, { create: true });
    await state.registrations.addMany([
      {
        nodeId: id(2),
        hash: id(0x22),
        address: "https://old-a.example",
        roundId: "30",
        roundEnd: new Date("2024-09-29T20:00:00Z"),
      },
    ]);
    await state.close();
    const now = { now: "2024-09-28T00:00:00Z" };
    const dry = await cli(
      ["switch-phase", "--db", db, "--to", "https://new.example", ...laterPhase, "--dry-run"],
      now,
    );
    assert.equal(dry.code, 0, dry.err);
    assert.match(
      dry.out,
      /would remove registration at https:\/\/old-a\.example \(round 30\): no challenge uses it/,
    );
    const r = await cli(
      ["switch-phase", "--db", db, "--to", "https://new.example", ...laterPhase, "--json"],
      now,
    );
    assert.equal(r.code, 0, r.err);
    const body = JSON.parse(r.out);
    assert.equal(body.removedRegistrations, 1);
    const [one, two] = body.identities;
    // Identity 1 keeps round 30, which runs in both phases; identity 2 has no challenge.
    assert.equal(one.mode, "after-proof");
    assert.deepEqual(one.removeRegistrations, []);
    assert.equal(two.mode, undefined);
    assert.deepEqual(two.removeRegistrations, ["https://old-a.example"]);
    assert.equal((await registrations(db)).length, 2);
  });

  it("requires --db and --to (exit 2)", async () => {
    assert.equal((await cli(["switch-phase", "--to", "https://x.example"])).code, 2);
    const db = await fixture("args.sql");
    assert.equal((await cli(["switch-phase", "--db", db])).code, 2);
    assert.equal(
      (
        await cli([
          "switch-phase",
          "--db",
          db,
          "--to",
          "https://x.example",
          "--to-phase-shift",
          "1h",
        ])
      ).code,
      2,
    );
  });
});
