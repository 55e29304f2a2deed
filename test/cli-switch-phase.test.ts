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

  it("refuses to change an identity whose lease a running node holds, unless --force (exit 2)", async () => {
    const db = await fixture("lease.sql");
    const state = await openNodeState(db, { create: true });
    // A running node holds identity 1's lease until 00:30; identity 9 (nothing to change) too.
    for (const b of [1, 9]) {
      const got = await state.leases.acquire(id(b), {
        holder: `node@host-${b}`,
        at: new Date("2024-09-09T23:30:00Z"),
        ttlMs: 3_600_000,
      });
      assert.ok(got.held);
    }
    await state.close();
    const args = ["switch-phase", "--db", db, "--to", "https://new.example", ...laterPhase];
    const now = { now: "2024-09-10T00:00:00Z" };

    const refused = await cli(args, now);
    assert.equal(refused.code, 2);
    assert.match(refused.err, /"node@host-1" until 2024-09-10 00:30:00Z/);
    assert.match(refused.err, /stop the node first/);
    assert.doesNotMatch(refused.err, /host-9/);
    assert.equal((await registrations(db)).length, 2, "nothing was changed");

    const dry = await cli([...args, "--dry-run"], now);
    assert.equal(dry.code, 0, dry.err);
    assert.match(
      dry.out,
      /warning: identity 0101.* is held by "node@host-1" until 2024-09-10 00:30:00Z/,
    );
    assert.doesNotMatch(dry.out, /host-9/);
    const dryJson = JSON.parse((await cli([...args, "--dry-run", "--json"], now)).out);
    assert.deepEqual(
      dryJson.liveLeases.map((l: { holder: string; expiresAt: string }) => [l.holder, l.expiresAt]),
      [["node@host-1", "2024-09-10T00:30:00.000Z"]],
    );
    assert.equal((await registrations(db)).length, 2);

    const forced = await cli([...args, "--force"], now);
    assert.equal(forced.code, 0, forced.err);
    assert.match(forced.out, /applied anyway: --force/);
    assert.deepEqual(await registrations(db), []);
  });

  it("applies without --force once the lease has expired or was released", async () => {
    const args = (db: string) => [
      "switch-phase",
      "--db",
      db,
      "--to",
      "https://new.example",
      ...laterPhase,
    ];
    const now = { now: "2024-09-10T00:00:00Z" };
    // Expired: acquired for an hour at 23:00, so no longer live at 00:00 (the CLI's clock).
    const expired = await fixture("lease-expired.sql");
    let state = await openNodeState(expired, { create: true });
    const old = await state.leases.acquire(id(1), {
      holder: "node@host-1",
      at: new Date("2024-09-09T23:00:00Z"),
      ttlMs: 3_600_000,
    });
    assert.ok(old.held);
    await state.close();
    const r = await cli(args(expired), now);
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.out, /warning/);
    assert.deepEqual(await registrations(expired), []);

    // Released: the node stopped cleanly before its lease's expiry.
    const released = await fixture("lease-released.sql");
    state = await openNodeState(released, { create: true });
    const got = await state.leases.acquire(id(1), {
      holder: "node@host-1",
      at: new Date("2024-09-09T23:30:00Z"),
      ttlMs: 3_600_000,
    });
    assert.ok(got.held);
    assert.ok(await state.leases.release(got.lease));
    await state.close();
    const after = await cli(args(released), now);
    assert.equal(after.code, 0, after.err);
    assert.deepEqual(await registrations(released), []);
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
