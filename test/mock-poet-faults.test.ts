import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { ProofVerificationError } from "../src/errors.js";
import { PoetService } from "../src/gen/rpc/api/v1/api_pb.js";
import { membershipRoot } from "../src/membership/index.js";
import { ManualClock } from "../src/testing/index.js";
import { type MockPoet, type MockPoetOptions, startMockPoet } from "../src/testing/mock-poet.js";
import { solvePowSync } from "../src/testing/pow-check.js";
import { verifyPoetProofSync } from "../src/verify/index.js";

const GENESIS = Date.parse("2031-05-01T00:00:00Z");
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const unb64 = (text: string) => new Uint8Array(Buffer.from(text, "base64"));
const bytesOf = (label: string) => sha256(new TextEncoder().encode(label));

/** Epoch 4 s, phase shift 1 s, cycle gap 2 s: round 0 starts at +1 s and ends at +3 s. */
async function mock(options: MockPoetOptions = {}) {
  const clock = new ManualClock(GENESIS);
  const poet = await startMockPoet({
    clock,
    genesis: new Date(GENESIS),
    epochDurationMs: 4000,
    phaseShiftMs: 1000,
    cycleGapMs: 2000,
    leavesPerRound: 200,
    ...options,
  });
  return { clock, poet };
}

async function register(poet: MockPoet, label: string): Promise<Uint8Array> {
  const seed = bytesOf(`node:${label}`);
  const pubkey = ed25519.getPublicKey(seed);
  const challenge = bytesOf(`challenge:${label}`);
  const params = poet.state.powParams();
  const res = await fetch(`${poet.url}/v1/submit`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      nonce: solvePowSync(params, pubkey, challenge).toString(),
      powParams: { difficulty: params.difficulty, challenge: b64(params.challenge) },
      challenge: b64(challenge),
      pubkey: b64(pubkey),
      signature: b64(ed25519.sign(challenge, seed)),
    }),
  });
  assert.equal(res.status, 200, await res.text());
  return challenge;
}

interface ProofBody {
  proof: {
    proof: { root: string; provenLeaves: string[]; proofNodes: string[] };
    members: string[];
    leaves: string;
  };
  pubkey: string;
}

async function getProof(poet: MockPoet, round: number): Promise<ProofBody> {
  const res = await fetch(`${poet.url}/v1/proofs/${round}`);
  assert.equal(res.status, 200);
  return (await res.json()) as ProofBody;
}

function verify(body: ProofBody): void {
  verifyPoetProofSync(
    {
      root: unb64(body.proof.proof.root),
      provenLeaves: body.proof.proof.provenLeaves.map(unb64),
      proofNodes: body.proof.proof.proofNodes.map(unb64),
      leaves: BigInt(body.proof.leaves),
    },
    membershipRoot(body.proof.members.map(unb64)),
  );
}

/** Lets the event loop run until `condition` holds (no wall-clock waits). */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !condition(); i++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(condition(), "condition never held");
}

describe("the mock PoET's fault injection", () => {
  it("goes down with connection refused and comes back on the same port", async () => {
    const { poet } = await mock();
    await using _ = poet;
    await poet.faults.down();
    await assert.rejects(fetch(`${poet.url}/v1/info`), (error: Error) => {
      const cause = (error as { cause?: { code?: string } }).cause;
      return cause?.code === "ECONNREFUSED";
    });
    await poet.faults.up();
    assert.equal((await fetch(`${poet.url}/v1/info`)).status, 200);
  });

  it("holds requests while hanging and releases them when switched off", async () => {
    const { poet } = await mock();
    await using _ = poet;
    poet.faults.hang = true;
    let settled = false;
    const pending = fetch(`${poet.url}/v1/info`).then((res) => {
      settled = true;
      return res.status;
    });
    await until(() => poet.faults.hanging === 1);
    assert.equal(settled, false);
    poet.faults.hang = false;
    assert.equal(await pending, 200);
  });

  it("delays responses on the mock's clock", async () => {
    const { poet, clock } = await mock();
    await using _ = poet;
    poet.faults.delayMs = 5000;
    let settled = false;
    const pending = fetch(`${poet.url}/v1/pow_params`).then((res) => {
      settled = true;
      return res.status;
    });
    await until(() => clock.pending === 1);
    assert.equal(settled, false);
    await clock.advance(5000);
    assert.equal(await pending, 200);
  });

  it("answers a burst of 5xx over REST and gRPC, then recovers", async () => {
    const { poet } = await mock();
    await using _ = poet;
    poet.faults.failNext(2);
    const rest = await fetch(`${poet.url}/v1/info`);
    assert.equal(rest.status, 503);
    assert.deepEqual(await rest.json(), { code: 14, message: "service unavailable", details: [] });
    const client = createClient(PoetService, createGrpcTransport({ baseUrl: poet.url }));
    await assert.rejects(
      client.info({}),
      (e: unknown) => ConnectError.from(e).code === Code.Unavailable,
    );
    assert.equal((await fetch(`${poet.url}/v1/info`)).status, 200);
    poet.faults.failNext(1, 500);
    assert.equal((await fetch(`${poet.url}/v1/info`)).status, 500);
  });

  it("rate-limits with 429 and Retry-After", async () => {
    const { poet } = await mock();
    await using _ = poet;
    poet.faults.rateLimitNext(2, 2500);
    const res = await fetch(`${poet.url}/v1/pow_params`);
    assert.equal(res.status, 429);
    assert.equal(res.headers.get("retry-after"), "3");
    assert.equal(((await res.json()) as { code: number }).code, 8);
    const client = createClient(PoetService, createGrpcTransport({ baseUrl: poet.url }));
    await assert.rejects(client.powParams({}), (e: unknown) => {
      const error = ConnectError.from(e);
      return error.code === Code.ResourceExhausted && error.metadata.get("retry-after") === "3";
    });
  });

  it("serves proofs under a wrong service key, or that fail verification", async () => {
    const { poet, clock } = await mock();
    await using _ = poet;
    await register(poet, "a");
    await clock.set(GENESIS + 3000);
    verify(await getProof(poet, 0));
    poet.faults.wrongServiceKey = true;
    const wrongKey = await getProof(poet, 0);
    assert.notEqual(wrongKey.pubkey, b64(poet.info.servicePubkey));
    poet.faults.wrongServiceKey = false;
    poet.faults.invalidProof = true;
    const invalid = await getProof(poet, 0);
    assert.throws(() => verify(invalid), ProofVerificationError);
  });

  it("leaves an omitted challenge out of the round, with a proof that still verifies", async () => {
    const { poet, clock } = await mock();
    await using _ = poet;
    const kept = await register(poet, "kept");
    const dropped = await register(poet, "dropped");
    poet.faults.omitChallenge(dropped);
    await clock.set(GENESIS + 3000);
    const body = await getProof(poet, 0);
    assert.deepEqual(body.proof.members, [b64(kept)]);
    verify(body);
  });

  it("serves an empty proof (leaves 0) as soon as the round starts", async () => {
    const { poet, clock } = await mock();
    await using _ = poet;
    const challenge = await register(poet, "empty");
    poet.faults.emptyProof = true;
    assert.equal((await fetch(`${poet.url}/v1/proofs/0`)).status, 404);
    await clock.set(GENESIS + 1000);
    const body = await getProof(poet, 0);
    assert.equal(body.proof.leaves, "0");
    assert.equal(body.proof.proof.root, "");
    assert.deepEqual(body.proof.proof.provenLeaves, []);
    assert.deepEqual(body.proof.members, [b64(challenge)]);
  });

  it("pads proof responses past a size when asked for an oversize body", async () => {
    const { poet, clock } = await mock();
    await using _ = poet;
    await clock.set(GENESIS + 3000);
    poet.faults.oversizeBytes = 1 << 20;
    const res = await fetch(`${poet.url}/v1/proofs/0`);
    assert.ok((await res.arrayBuffer()).byteLength > 1 << 20);
  });

  it("keeps rounds and registrations across a restart on the same port", async () => {
    const { poet, clock } = await mock();
    await using _ = poet;
    const challenge = await register(poet, "restart");
    const port = poet.port;
    await poet.restart();
    assert.equal(poet.port, port);
    await clock.set(GENESIS + 3000);
    assert.deepEqual((await getProof(poet, 0)).proof.members, [b64(challenge)]);
  });

  it("stops with open HTTP/2 sessions and hanging requests", async () => {
    const { poet } = await mock();
    const client = createClient(PoetService, createGrpcTransport({ baseUrl: poet.url }));
    await client.info({});
    poet.faults.hang = true;
    const hung = client.info({}).catch((e: unknown) => ConnectError.from(e).code);
    const rest = fetch(`${poet.url}/v1/info`).catch(() => "refused");
    await until(() => poet.faults.hanging === 2);
    await poet.stop();
    assert.equal(typeof (await hung), "number");
    assert.equal(await rest, "refused");
    await assert.rejects(fetch(`${poet.url}/v1/info`));
  });
});
