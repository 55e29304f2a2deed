import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ed25519 } from "@noble/curves/ed25519.js";
import { ManualClock } from "../src/clock.js";
import { SubmitRequestSchema } from "../src/gen/rpc/api/v1/api_pb.js";
import type { MockPoet } from "../src/testing/index.js";
import { startMockPoet } from "../src/testing/index.js";
import { cli } from "./cli-helpers.js";
import { tempDir } from "./helpers/temp-dir.js";

const tmp = tempDir("poet-cli-poet-");
const HOUR = 3_600_000;
// A mock on the mainnet calendar (its rounds are cheap: leaves are fixed).
const genesis = new Date("2023-07-14T08:00:00Z");
const now = "2024-09-30T00:00:00Z"; // round 30 ended at 2024-09-29 20:00, round 31 is open
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("poet-client info and fetch-proof against a mock PoET", () => {
  const clock = new ManualClock(Date.parse("2024-09-15T00:00:00Z"));
  let poet: MockPoet;
  const challenge = new Uint8Array(32).fill(7);

  before(async () => {
    poet = await startMockPoet({
      clock,
      genesis,
      epochDurationMs: 336 * HOUR,
      phaseShiftMs: 240 * HOUR,
      cycleGapMs: 12 * HOUR,
      leavesPerRound: 1_000n,
    });
    // one registration in round 30, submitted straight to the service (PoW difficulty 0)
    const seed = new Uint8Array(32).fill(1);
    const pow = poet.handlers.powParams().powParams;
    poet.handlers.submit(
      create(SubmitRequestSchema, {
        pubkey: ed25519.getPublicKey(seed),
        challenge,
        signature: ed25519.sign(challenge, seed),
        nonce: 0n,
        ...(pow === undefined ? {} : { powParams: pow }),
      }),
    );
  });
  after(async () => {
    await poet.stop();
  });

  it("prints a PoET's key, phase, certifier and open round (JSON)", async () => {
    const r = await cli(["info", poet.url, "--json"], { now });
    assert.equal(r.code, 0, r.err);
    const body = JSON.parse(r.out);
    assert.equal(body.servicePubkey, hex(poet.info.servicePubkey));
    assert.equal(body.phaseShiftMs, 240 * HOUR);
    assert.equal(body.cycleGapMs, 12 * HOUR);
    assert.equal(body.phaseMatchesNetwork, true);
    assert.equal(body.certifier, null);
    assert.equal(body.openRound, 31);
    assert.equal(body.registrationDeadline, "2024-09-30T08:00:00.000Z");
    assert.equal(body.executingRound, null);
  });

  it("exits 5 when the PoET's key is not the expected one", async () => {
    const r = await cli(["info", poet.url, "--pubkey", "00".repeat(32)], { now });
    assert.equal(r.code, 5);
    assert.match(r.out, /DIFFERS/);
  });

  it("exits 1 when the PoET cannot be reached", async () => {
    const r = await cli(["info", "http://127.0.0.1:1", "--timeout", "2s"], { now });
    assert.equal(r.code, 1);
    assert.match(r.err, /poet-client info:/);
  });

  it("downloads, verifies and saves a round's proof; verify reads the saved file", async () => {
    await clock.set(Date.parse(now));
    const out = tmp.file("round-30.json");
    const r = await cli(
      [
        "fetch-proof",
        poet.url,
        "30",
        "--out",
        out,
        "--challenge",
        hex(challenge),
        "--tick-size",
        "100",
        "--json",
      ],
      { now },
    );
    assert.equal(r.code, 0, r.err + r.out);
    const body = JSON.parse(r.out);
    assert.equal(body.valid, true);
    assert.equal(body.leaves, "1000");
    assert.equal(body.ticks, "10");
    assert.equal(body.members, 1);
    assert.equal(body.membership.member, true);
    assert.match(body.ref, /^[0-9a-f]{64}$/);
    const again = await cli(["verify", out, "--json"]);
    assert.equal(again.code, 0, again.err);
    assert.equal(JSON.parse(again.out).ref, body.ref);
  });

  it("exits 4 when the proof of the round is not published yet", async () => {
    const r = await cli(["fetch-proof", poet.url, "31"], { now });
    assert.equal(r.code, 4, r.err);
    assert.match(r.err, /not available yet|proof not found/);
  });

  it("exits 3 when the PoET serves a proof that does not verify", async () => {
    poet.faults.invalidProof = true;
    try {
      const r = await cli(["fetch-proof", poet.url, "30", "--json"], { now });
      assert.equal(r.code, 3, r.err);
      assert.equal(JSON.parse(r.out).valid, false);
    } finally {
      poet.faults.invalidProof = false;
    }
  });

  it("exits 2 for a malformed round id", async () => {
    assert.equal((await cli(["fetch-proof", poet.url, "thirty"])).code, 2);
  });
});
