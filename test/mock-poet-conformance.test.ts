import assert from "node:assert/strict";
import * as http from "node:http";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { hasLeadingZeroBits, powMessage } from "../src/auth/pow.js";
import { ripemd256 } from "../src/auth/ripemd256.js";
import { PoetService, SubmitRequestSchema } from "../src/gen/rpc/api/v1/api_pb.js";
import { membershipRoot } from "../src/membership/index.js";
import { ManualClock } from "../src/testing/index.js";
import { type MockPoet, startMockPoet } from "../src/testing/mock-poet.js";
import { type PowParameters, solvePowSync } from "../src/testing/pow-check.js";
import { verifyPoetProofSync } from "../src/verify/index.js";
import { encodeCertificate } from "../src/wire/index.js";

const GENESIS = Date.parse("2030-01-01T00:00:00Z");
const PREFIX = new Uint8Array([...sha256(new TextEncoder().encode("genesis")).subarray(0, 20), 4]);
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const unb64 = (text: string) => new Uint8Array(Buffer.from(text, "base64"));

function seed(label: string): Uint8Array {
  return sha256(new TextEncoder().encode(label));
}

interface Node {
  seed: Uint8Array;
  pubkey: Uint8Array;
}

function node(label: string): Node {
  const s = seed(`node:${label}`);
  return { seed: s, pubkey: ed25519.getPublicKey(s) };
}

function challengeOf(label: string): Uint8Array {
  return seed(`challenge:${label}`);
}

function signed(n: Node, challenge: Uint8Array) {
  const message = new Uint8Array([...PREFIX, ...challenge]);
  return {
    prefix: b64(PREFIX),
    challenge: b64(challenge),
    pubkey: b64(n.pubkey),
    signature: b64(ed25519.sign(message, n.seed)),
  };
}

function powBody(n: Node, challenge: Uint8Array, params: PowParameters, extra = {}) {
  const nonce = solvePowSync(params, n.pubkey, challenge);
  return {
    nonce: nonce.toString(),
    powParams: { difficulty: params.difficulty, challenge: b64(params.challenge) },
    ...signed(n, challenge),
    ...extra,
  };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: Record<string, unknown>;
}

function request(url: string, method: string, path: string, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}${path}`,
      {
        method,
        headers:
          body === undefined
            ? {}
            : { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) },
        agent: false,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => {
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {}
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const submit = (poet: MockPoet, body: unknown) =>
  request(poet.url, "POST", "/v1/submit", typeof body === "string" ? body : JSON.stringify(body));

function assertStatus(reply: Reply, status: number, code: number, message: string) {
  assert.equal(reply.status, status, reply.text);
  assert.deepEqual(reply.json, { code, message, details: [] });
  assert.equal(reply.headers["content-type"], "application/json");
}

describe("the mock PoET over REST", () => {
  let clock: ManualClock;
  let poet: MockPoet;
  const certifierSeed = seed("certifier");
  const certifierKey = ed25519.getPublicKey(certifierSeed);
  const trustedSeed = seed("trusted");
  const trustedKey = ed25519.getPublicKey(trustedSeed);

  before(async () => {
    clock = new ManualClock(GENESIS);
    poet = await startMockPoet({
      layout: "real-server",
      clock,
      genesis: new Date(GENESIS),
      epochDurationMs: 4000,
      phaseShiftMs: 1000,
      cycleGapMs: 2000,
      powDifficulty: 6,
      leavesPerRound: 300,
      serviceKey: seed("service"),
      certifier: { url: "http://certifier.test", pubkey: certifierKey, trustedKeys: [trustedKey] },
    });
  });
  after(() => poet.stop());

  it("serves /v1/info with every field, durations as protojson strings", async () => {
    const reply = await request(poet.url, "GET", "/v1/info");
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.json, {
      servicePubkey: b64(ed25519.getPublicKey(seed("service"))),
      phaseShift: "1s",
      cycleGap: "2s",
      certifier: { url: "http://certifier.test", pubkey: b64(certifierKey) },
    });
    assert.equal(reply.headers["content-type"], "application/json");
    assert.equal(reply.headers["grpc-metadata-content-type"], "application/grpc");
  });

  it("accepts a GET with a {} body the way go-spacemesh sends it", async () => {
    const reply = await request(poet.url, "GET", "/v1/pow_params", "{}");
    assert.equal(reply.status, 200);
    const params = reply.json.powParams as { difficulty: number; challenge: string };
    assert.equal(params.difficulty, 6);
    assert.equal(unb64(params.challenge).length, 32);
  });

  it("answers unknown paths with 404 Not Found and wrong methods with 501", async () => {
    assertStatus(await request(poet.url, "GET", "/v1/unknown"), 404, 5, "Not Found");
    assertStatus(await request(poet.url, "GET", "/"), 404, 5, "Not Found");
    assertStatus(await request(poet.url, "DELETE", "/v1/info"), 501, 12, "Method Not Allowed");
    assertStatus(await request(poet.url, "GET", "/v1/submit"), 501, 12, "Method Not Allowed");
    assertStatus(await request(poet.url, "PUT", "/v1/submit", "{}"), 501, 12, "Method Not Allowed");
  });

  it("reports malformed JSON with the gateway's messages", async () => {
    assertStatus(await submit(poet, '{"pubkey": '), 400, 3, "unexpected EOF");
    assertStatus(
      await submit(poet, '{"pubkey":"!!!"}'),
      400,
      3,
      'proto: (line 1:11): invalid value for bytes field pubkey: "!!!"',
    );
    assertStatus(
      await submit(poet, '{"nonce":{}}'),
      400,
      3,
      "proto: (line 1:10): invalid value for uint64 field nonce: {",
    );
    assertStatus(
      await submit(poet, "{x}"),
      400,
      3,
      "invalid character 'x' looking for beginning of object key string",
    );
  });

  it("checks the public key, the signature and the hint first, in that order", async () => {
    assertStatus(await submit(poet, "{}"), 400, 3, "invalid public key");
    assertStatus(await submit(poet, ""), 400, 3, "invalid public key");
    const n = node("order");
    const body = signed(n, challengeOf("order"));
    assertStatus(
      await submit(poet, { ...body, pubkey: b64(n.pubkey.subarray(0, 31)) }),
      400,
      3,
      "invalid public key",
    );
    assertStatus(
      await submit(poet, { ...body, signature: b64(new Uint8Array(64)) }),
      400,
      3,
      "invalid signature",
    );
    assertStatus(await submit(poet, { ...body, prefix: "" }), 400, 3, "invalid signature");
    assertStatus(
      await submit(poet, { ...body, certificatePubkeyHint: b64(new Uint8Array(5)) }),
      400,
      3,
      "invalid certificate public key hint",
    );
  });

  it("demands PoW parameters that match exactly and a hash with enough zero bits", async () => {
    const n = node("pow");
    const challenge = challengeOf("pow");
    const params = poet.state.powParams();
    assertStatus(
      await submit(poet, signed(n, challenge)),
      400,
      3,
      "invalid proof of work parameters",
    );
    const good = powBody(n, challenge, params);
    assertStatus(
      await submit(poet, { ...good, powParams: { ...good.powParams, difficulty: 7 } }),
      400,
      3,
      "invalid proof of work parameters",
    );
    let weak = 0n;
    while (weak === BigInt(good.nonce) || isGoodNonce(n, challenge, params, weak)) weak++;
    assertStatus(
      await submit(poet, { ...good, nonce: weak.toString() }),
      400,
      3,
      "invalid proof of work: invalid leading zero bits",
    );
  });

  it("rejects certificates with 401, a reason and a Www-Authenticate header", async () => {
    const n = node("cert");
    const challenge = challengeOf("cert");
    const data = encodeCertificate({ pubkey: n.pubkey, expiration: BigInt(GENESIS / 1000 - 60) });
    const expired = {
      ...signed(n, challenge),
      certificate: { data: b64(data), signature: b64(ed25519.sign(data, certifierSeed)) },
    };
    const reply = await submit(poet, expired);
    assertStatus(
      reply,
      401,
      16,
      "invalid certificate\ncertificate expired at 2029-12-31 23:59:00 +0000 UTC",
    );
    assert.equal(
      reply.headers["www-authenticate"],
      "invalid certificate certificate expired at 2029-12-31 23:59:00 +0000 UTC",
    );
    assertStatus(
      await submit(poet, { ...expired, certificatePubkeyHint: b64(certifierKey.subarray(0, 4)) }),
      401,
      16,
      "invalid certificate\ninvalid certificate",
    );
    assertStatus(
      await submit(poet, { ...expired, certificatePubkeyHint: b64(new Uint8Array(4)) }),
      401,
      16,
      "invalid certificate\nno matching cert public keys",
    );
    const other = encodeCertificate({ pubkey: node("other").pubkey });
    assertStatus(
      await submit(poet, {
        ...signed(n, challenge),
        certificate: { data: b64(other), signature: b64(ed25519.sign(other, certifierSeed)) },
      }),
      401,
      16,
      "invalid certificate\npubkey mismatch",
    );
    assertStatus(
      await submit(poet, { ...powBody(n, challenge, poet.state.powParams()), certificate: {} }),
      401,
      16,
      "invalid certificate\nsignature mismatch",
    );
  });

  it("accepts certificates from the configured key and, through a hint, from trusted keys", async () => {
    for (const [label, key, hint] of [
      ["no-hint", certifierSeed, undefined],
      ["trusted", trustedSeed, trustedKey.subarray(0, 4)],
    ] as const) {
      const n = node(label);
      const data = encodeCertificate({
        pubkey: n.pubkey,
        expiration: BigInt(GENESIS / 1000 + 3600),
      });
      const reply = await submit(poet, {
        ...signed(n, challengeOf(label)),
        certificate: { data: b64(data), signature: b64(ed25519.sign(data, key)) },
        ...(hint ? { certificatePubkeyHint: b64(hint) } : {}),
      });
      assert.equal(reply.status, 200, reply.text);
      assert.equal(reply.json.roundId, "0");
    }
  });

  it("refuses a deadline before the open round's end with FailedPrecondition", async () => {
    const n = node("late");
    const challenge = challengeOf("late");
    const deadline = new Date(GENESIS + 2999).toISOString();
    assertStatus(
      await submit(poet, powBody(n, challenge, poet.state.powParams(), { deadline })),
      400,
      9,
      "too late to register for the desired round",
    );
    const onTime = new Date(GENESIS + 3000).toISOString();
    const ok = await submit(
      poet,
      powBody(n, challenge, poet.state.powParams(), { deadline: onTime }),
    );
    assert.equal(ok.status, 200, ok.text);
  });

  it("registers once per key: the same challenge again is 200, another one is 409", async () => {
    const n = node("dup");
    const first = await submit(poet, powBody(n, challengeOf("dup"), poet.state.powParams()));
    assert.equal(first.status, 200);
    assert.deepEqual(first.json, { roundId: "0", roundEnd: "3s" });
    const again = await submit(poet, powBody(n, challengeOf("dup"), poet.state.powParams()));
    assert.deepEqual(again.json, first.json);
    assertStatus(
      await submit(poet, powBody(n, challengeOf("dup-2"), poet.state.powParams())),
      409,
      6,
      "conflicting registration",
    );
  });

  it("returns 404 until the round is proven, then a proof over its members in key order", async () => {
    assertStatus(await request(poet.url, "GET", "/v1/proofs/0"), 404, 5, "proof not found");
    assertStatus(await request(poet.url, "GET", "/v1/proofs/abc"), 404, 5, "proof not found");
    assertStatus(await request(poet.url, "GET", "/v1/proofs/"), 404, 5, "proof not found");
    await clock.set(GENESIS + 1000);
    assertStatus(await request(poet.url, "GET", "/v1/proofs/0"), 404, 5, "proof not found");
    const before = poet.state.powParams();
    await clock.set(GENESIS + 3000);
    const reply = await request(poet.url, "GET", "/v1/proofs/0");
    assert.equal(reply.status, 200, reply.text);
    const body = reply.json as {
      proof: {
        proof: { root: string; provenLeaves: string[]; proofNodes: string[] };
        members: string[];
        leaves: string;
      };
      pubkey: string;
    };
    assert.equal(body.proof.leaves, "300");
    assert.equal(body.pubkey, b64(poet.info.servicePubkey));
    const registered = poet.state.round(0)?.registrations ?? [];
    const sorted = [...registered].sort((a, b) => Buffer.compare(a.pubkey, b.pubkey));
    assert.deepEqual(
      body.proof.members,
      sorted.map((r) => b64(r.challenge)),
    );
    const members = body.proof.members.map(unb64);
    const proof = {
      root: unb64(body.proof.proof.root),
      provenLeaves: body.proof.proof.provenLeaves.map(unb64),
      proofNodes: body.proof.proof.proofNodes.map(unb64),
      leaves: BigInt(body.proof.leaves),
    };
    verifyPoetProofSync(proof, membershipRoot(members));
    assertStatus(await request(poet.url, "GET", "/v1/proofs/00"), 404, 5, "proof not found");
    const rotated = poet.state.powParams();
    assert.deepEqual(rotated.challenge, proof.root);
    assert.deepEqual(poet.state.round(0)?.proof?.root, proof.root);
    const n = node("previous-params");
    const late = await submit(poet, powBody(n, challengeOf("prev"), before));
    assert.equal(late.status, 200, late.text);
    assert.equal(late.json.roundId, "1");
  });

  it("proves a round without members, and rejects PoW params two rotations old", async () => {
    const twoBack = poet.state.round(0)?.proof ? { ...poet.state.powParams() } : undefined;
    assert.ok(twoBack);
    await clock.set(GENESIS + 4000 + 3000);
    await clock.set(GENESIS + 8000 + 3000);
    const empty = await request(poet.url, "GET", "/v1/proofs/2");
    assert.equal(empty.status, 200, empty.text);
    const body = empty.json as { proof: { members: unknown[]; leaves: string } };
    assert.deepEqual(body.proof.members, []);
    const proof = poet.state.round(2)?.proof;
    assert.ok(proof);
    verifyPoetProofSync(proof, new Uint8Array(0));
    assertStatus(
      await submit(poet, powBody(node("stale"), challengeOf("stale"), twoBack)),
      400,
      3,
      "invalid proof of work parameters",
    );
  });
});

function isGoodNonce(n: Node, challenge: Uint8Array, params: PowParameters, nonce: bigint) {
  const digest = ripemd256(
    powMessage(
      { powChallenge: params.challenge, nodeId: n.pubkey, poetChallenge: challenge },
      nonce,
    ),
  );
  return hasLeadingZeroBits(digest, params.difficulty);
}

describe("the mock PoET's member limit", () => {
  it("answers 429 once the round is full, even to a member repeating its submit", async () => {
    const clock = new ManualClock(GENESIS);
    await using poet = await startMockPoet({ clock, maxRoundMembers: 1, leavesPerRound: 200 });
    const a = node("limit-a");
    const first = powBody(a, challengeOf("limit-a"), poet.state.powParams());
    assert.equal((await submit(poet, first)).status, 200);
    assertStatus(
      await submit(poet, powBody(node("limit-b"), challengeOf("limit-b"), poet.state.powParams())),
      429,
      8,
      "maximum number of round members reached",
    );
    assertStatus(await submit(poet, first), 429, 8, "maximum number of round members reached");
  });

  it("shows an empty certifier object when none is configured", async () => {
    await using poet = await startMockPoet({ clock: new ManualClock(GENESIS) });
    const reply = await request(poet.url, "GET", "/v1/info");
    assert.deepEqual(reply.json.certifier, { url: "", pubkey: "" });
    assert.equal(poet.info.certifier, undefined);
  });
});

describe("the mock PoET over gRPC and Connect", () => {
  let poet: MockPoet;
  const clock = new ManualClock(GENESIS);
  before(async () => {
    poet = await startMockPoet({
      clock,
      genesis: new Date(GENESIS),
      epochDurationMs: 4000,
      phaseShiftMs: 1000,
      cycleGapMs: 2000,
      powDifficulty: 4,
      leavesPerRound: 256,
    });
  });
  after(() => poet.stop());

  for (const [name, transport] of [
    ["gRPC over HTTP/2", () => createGrpcTransport({ baseUrl: poet.url })],
    [
      "Connect over HTTP/1.1",
      () => createConnectTransport({ baseUrl: poet.url, httpVersion: "1.1" }),
    ],
    ["Connect over HTTP/2", () => createConnectTransport({ baseUrl: poet.url, httpVersion: "2" })],
  ] as const) {
    it(`serves every method with the same codes over ${name}`, async () => {
      const client = createClient(PoetService, transport());
      const info = await client.info({});
      assert.deepEqual(new Uint8Array(info.servicePubkey), poet.info.servicePubkey);
      assert.equal(info.phaseShift?.seconds, 1n);
      assert.equal(info.certifier?.url, "");
      const { powParams } = await client.powParams({});
      assert.ok(powParams);
      await assert.rejects(client.proof({ roundId: "7" }), (error: unknown) => {
        const e = ConnectError.from(error);
        return e.code === Code.NotFound && e.rawMessage === "proof not found";
      });
      await assert.rejects(client.submit({ pubkey: new Uint8Array(31) }), (error: unknown) => {
        const e = ConnectError.from(error);
        return e.code === Code.InvalidArgument && e.rawMessage === "invalid public key";
      });
      const n = node(`rpc-${name}`);
      const challenge = challengeOf(name);
      const body = signed(n, challenge);
      await assert.rejects(
        client.submit({
          prefix: unb64(body.prefix),
          challenge,
          pubkey: n.pubkey,
          signature: unb64(body.signature),
          certificate: {},
        }),
        (error: unknown) => {
          const e = ConnectError.from(error);
          return (
            e.code === Code.Unauthenticated &&
            e.rawMessage === "invalid certificate\nno matching cert public keys"
          );
        },
      );
      const nonce = solvePowSync(
        { challenge: powParams.challenge, difficulty: powParams.difficulty },
        n.pubkey,
        challenge,
      );
      const ok = await client.submit(
        create(SubmitRequestSchema, {
          nonce,
          powParams,
          prefix: unb64(body.prefix),
          challenge,
          pubkey: n.pubkey,
          signature: unb64(body.signature),
        }),
      );
      assert.equal(ok.roundId, String(poet.state.openRound()));
    });
  }

  it("serves proofs over gRPC that verify against their members' root", async () => {
    await clock.set(GENESIS + 3000);
    const client = createClient(PoetService, createGrpcTransport({ baseUrl: poet.url }));
    const { proof, pubkey } = await client.proof({ roundId: "0" });
    assert.deepEqual(new Uint8Array(pubkey), poet.info.servicePubkey);
    assert.ok(proof?.proof);
    assert.equal(proof.members.length, 3);
    verifyPoetProofSync(
      {
        root: proof.proof.root,
        provenLeaves: proof.proof.provenLeaves,
        proofNodes: proof.proof.proofNodes,
        leaves: proof.leaves,
      },
      membershipRoot(proof.members),
    );
  });
});
