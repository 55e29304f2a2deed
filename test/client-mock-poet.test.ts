import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CertificateCache,
  type CertifyCallback,
  certify,
  createEd25519Signer,
  poetSigningPrefix,
  type Signer,
  type SubmitAuthorizedOptions,
  submitAuthorized,
} from "../src/auth/index.js";
import { createPoetClient, type PoetClient, WrongServiceKeyError } from "../src/client/index.js";
import type { Clock } from "../src/clock.js";
import { PoetRpcError, ProofNotReadyError } from "../src/errors.js";
import { verifyRoundProof } from "../src/membership/index.js";
import { ManualClock, startMockCertifier, startMockPoet } from "../src/testing/index.js";
import type { PoetProtocol } from "../src/transport/index.js";
import { hex } from "./helpers/bytes.js";

const GENESIS = Date.parse("2030-01-01T00:00:00Z");
const prefix = poetSigningPrefix(new Uint8Array(20).fill(9));
const nodes = [1, 2, 3].map((i) => createEd25519Signer(new Uint8Array(32).fill(i)));
const challengeOf = (i: number) => new Uint8Array(32).fill(0x40 + i);

/** Registers `nodes[i]` with its challenge `challengeOf(i)`. */
function submitAs(
  client: PoetClient,
  i: number,
  options: Omit<SubmitAuthorizedOptions, "client" | "signer" | "prefix" | "challenge"> = {},
) {
  return submitAuthorized({
    client,
    signer: nodes[i] as Signer,
    prefix,
    challenge: challengeOf(i),
    ...options,
  });
}

/** A certification callback that sends a (fake) PoST to the mock certifier over HTTP. */
function certifyAt(): CertifyCallback {
  return async ({ nodeId, certifier }, options) => {
    const answer = await certify(
      certifier.url,
      {
        proof: { nonce: 1, indices: Uint8Array.of(1, 2, 3), pow: 77n },
        metadata: {
          nodeId,
          commitmentAtxId: new Uint8Array(32),
          challenge: new Uint8Array(32),
          numUnits: 4,
        },
      },
      options,
    );
    return { data: answer.certificate, signature: answer.signature, pubkey: answer.pubKey };
  };
}

for (const protocol of ["rest", "grpc", "connect"] as PoetProtocol[]) {
  // REST and gRPC against the real server's layout (separate ports); Connect, which real PoETs do
  // not serve, against the one-port layout.
  const layout = protocol === "connect" ? "one-port" : "real-server";
  describe(`the PoET client over ${protocol} against the mock PoET`, () => {
    it("registers three nodes with proof of work, waits for the round and verifies the proof", async () => {
      const clock = new ManualClock(GENESIS);
      await using poet = await startMockPoet({ layout, clock, powDifficulty: 6 });
      await using client = createPoetClient({
        url: poet.urlFor(protocol),
        protocol,
        clock,
        servicePubkey: poet.info.servicePubkey,
      });
      const info = await client.info();
      assert.equal(info.phaseShiftMs, 1000);
      assert.equal(info.cycleGapMs, 2000);
      assert.equal(info.certifier, undefined);

      const results = [];
      for (const i of nodes.keys()) {
        results.push(
          await submitAs(client, i, {
            deadline: poet.schedule.roundEnd(0),
            retryUntil: poet.schedule.roundStart(0),
            clock,
          }),
        );
      }
      assert.deepEqual(
        results.map((r) => [r.roundId, r.authorization]),
        [
          ["0", "pow"],
          ["0", "pow"],
          ["0", "pow"],
        ],
      );
      assert.equal(results[0]?.roundEnd.getTime(), poet.schedule.roundEnd(0).getTime());

      await assert.rejects(client.proof("0"), ProofNotReadyError);
      await clock.set(poet.schedule.roundEnd(0));
      const round = await client.proof("0");
      assert.equal(hex(round.pubkey), hex(poet.info.servicePubkey));
      assert.equal(round.members.length, 3);
      const { memberIndex } = await verifyRoundProof({
        proof: round.proof,
        members: round.members,
        challenge: challengeOf(1),
      });
      assert.notEqual(memberIndex, undefined);

      // The PoW challenge rotated to the proof's root; the client's cached parameters are now
      // one rotation old and still accepted, two rotations old are not.
      assert.equal(hex((await client.powParams({ fresh: true })).challenge), hex(round.proof.root));
    });

    it("registers with a certificate from the advertised certifier", async () => {
      const clock = new ManualClock(GENESIS);
      await using certifier = await startMockCertifier({ clock });
      await using poet = await startMockPoet({
        layout,
        clock,
        certifier: { url: certifier.url, pubkey: certifier.pubkey },
        powDifficulty: 6,
      });
      await using client = createPoetClient({ url: poet.urlFor(protocol), protocol, clock });
      const info = await client.info();
      assert.equal(hex(info.certifier?.pubkey ?? new Uint8Array()), hex(certifier.pubkey));
      const result = await submitAs(client, 0, { certify: certifyAt(), clock });
      assert.equal(result.authorization, "certificate");
      assert.equal(certifier.requests.length, 1);
      assert.equal(poet.state.round(0)?.registrations.length, 1);
    });

    it("re-certifies after the PoET refuses an expired certificate, then falls back to proof of work", async () => {
      const poetClock = new ManualClock(GENESIS);
      // The node and its certifier run an hour behind the PoET, so that a certificate looks
      // valid to the node and has expired for the PoET.
      let skewMs = -3_600_000;
      const nodeClock: Clock = {
        now: () => poetClock.now() + skewMs,
        sleep: (ms, o) => poetClock.sleep(ms, o),
      };
      let refuse = false;
      await using certifier = await startMockCertifier({
        clock: nodeClock,
        certificateExpirationMs: 600_000,
        rule: () => (refuse ? "no more certificates" : true),
      });
      await using poet = await startMockPoet({
        layout,
        clock: poetClock,
        certifier: { url: certifier.url, pubkey: certifier.pubkey },
        powDifficulty: 6,
      });
      await using client = createPoetClient({
        url: poet.urlFor(protocol),
        protocol,
        clock: poetClock,
      });
      const certificates = new CertificateCache({ clock: nodeClock, renewBeforeMs: 0 });

      // 401 (expired at the PoET) → re-certify, now on the PoET's time → accepted.
      const first = await submitAs(client, 1, {
        certificates,
        clock: poetClock,
        certify: async (request, options) => {
          if (certifier.requests.length === 1) skewMs = 0;
          return certifyAt()(request, options);
        },
      });
      assert.equal(first.authorization, "certificate");
      assert.equal(certifier.requests.length, 2);

      // A stale certificate again, and the certifier refuses to issue another: proof of work.
      skewMs = -3_600_000;
      const result = await submitAs(client, 2, {
        certificates,
        clock: poetClock,
        certify: async (request, options) => {
          if (certifier.requests.length === 3) refuse = true;
          return certifyAt()(request, options);
        },
      });
      assert.equal(result.authorization, "pow");
      assert.equal(certifier.requests.length, 4);
    });

    it("detects a proof carrying another service key", async () => {
      const clock = new ManualClock(GENESIS);
      await using poet = await startMockPoet({ layout, clock });
      await using client = createPoetClient({
        url: poet.urlFor(protocol),
        protocol,
        clock,
        servicePubkey: poet.info.servicePubkey,
      });
      await submitAs(client, 0, { clock });
      await clock.set(poet.schedule.roundEnd(0));
      poet.faults.wrongServiceKey = true;
      await assert.rejects(client.proof("0"), WrongServiceKeyError);
      await using other = createPoetClient({
        url: poet.urlFor(protocol),
        protocol,
        clock,
        servicePubkey: new Uint8Array(32),
      });
      await assert.rejects(other.info(), WrongServiceKeyError);
    });

    it("retries a PoET that fails with 5xx until it accepts", async () => {
      const clock = new ManualClock(GENESIS);
      await using poet = await startMockPoet({ layout, clock });
      await using client = createPoetClient({
        url: poet.urlFor(protocol),
        protocol,
        clock,
        retryDelayMs: 10,
        random: () => 0,
      });
      const params = await client.powParams();
      poet.faults.failNext(2, 503);
      const pending = submitAs(client, 0, { retryUntil: new Date(GENESIS + 60_000), clock });
      let settled = false;
      pending
        .finally(() => {
          settled = true;
        })
        .catch(() => {});
      let pauses = 0;
      while (!settled) {
        for (let i = 0; i < 10_000 && !settled && clock.nextWakeup() !== clock.now() + 10; i++) {
          await new Promise((r) => setImmediate(r));
        }
        if (settled) break;
        pauses++;
        assert.ok(pauses <= 2, "more pauses than failures");
        await clock.advance(10);
      }
      const result = await pending;
      assert.equal(pauses, 2);
      assert.equal(result.roundId, "0");
      assert.ok(params.challenge.length > 0);
    });

    it("caps oversize proofs, times out a hanging PoET and reports a PoET that is down", async () => {
      const clock = new ManualClock(GENESIS);
      await using poet = await startMockPoet({ layout, clock });
      await using client = createPoetClient({
        url: poet.urlFor(protocol),
        protocol,
        clock,
        maxResponseBytes: 20_000,
        maxProofResponseBytes: 20_000,
        timeoutMs: 5_000,
      });
      await submitAs(client, 0, { clock });
      await clock.set(poet.schedule.roundEnd(0));
      poet.faults.oversizeBytes = 100_000;
      await assert.rejects(
        client.proof("0"),
        (err: unknown) =>
          err instanceof PoetRpcError && err.kind === "response-too-large" && !err.retriable,
      );
      poet.faults.oversizeBytes = 0;
      assert.equal((await client.proof("0")).members.length, 1);

      poet.faults.hang = true;
      const hanging = client.info({ fresh: true });
      for (let i = 0; i < 10_000 && poet.faults.hanging === 0; i++)
        await new Promise((r) => setImmediate(r));
      assert.equal(poet.faults.hanging, 1);
      await clock.advance(5_000);
      await assert.rejects(
        hanging,
        (err: unknown) => err instanceof PoetRpcError && err.kind === "timeout" && err.retriable,
      );
      poet.faults.hang = false;

      await poet.faults.down();
      await assert.rejects(
        client.info({ fresh: true }),
        (err: unknown) => err instanceof PoetRpcError && err.retriable,
      );
      await poet.faults.up();
      assert.equal((await client.info({ fresh: true })).cycleGapMs, 2000);
    });

    it("reports the mock's refusals with the real server's kinds", async () => {
      const clock = new ManualClock(GENESIS);
      await using poet = await startMockPoet({ layout, clock });
      await using client = createPoetClient({ url: poet.urlFor(protocol), protocol, clock });
      const signer = nodes[0] as (typeof nodes)[number];
      await submitAuthorized({ client, signer, prefix, challenge: challengeOf(0), clock });
      await assert.rejects(
        submitAuthorized({ client, signer, prefix, challenge: challengeOf(1), clock }),
        (err: unknown) =>
          err instanceof PoetRpcError && err.kind === "conflicting-registration" && !err.retriable,
      );
      await assert.rejects(
        submitAs(client, 1, { deadline: new Date(GENESIS), clock }),
        (err: unknown) => err instanceof PoetRpcError && err.kind === "too-late",
      );
    });
  });
}
