import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  authorize,
  CertificateCache,
  checkPow,
  createEd25519Signer,
  type SubmitAuthorizedOptions,
  submitAuthorized,
} from "../src/auth/index.js";
import type { PoetClient, PoetInfo, PoetSubmitRequest, PowParams } from "../src/client/index.js";
import { ManualClock } from "../src/clock.js";
import { AbortedError, PoetRpcError } from "../src/errors.js";
import { encodeCertificate } from "../src/wire/index.js";
import { hex } from "./helpers/bytes.js";

const signer = createEd25519Signer(new Uint8Array(32).fill(1));
const certifierSigner = createEd25519Signer(new Uint8Array(32).fill(2));
const certifier = { url: "http://certifier.test", pubkey: certifierSigner.nodeId };
const prefix = new Uint8Array(21).fill(4);
const challenge = new Uint8Array(32).fill(6);
const NOW = Date.parse("2030-01-01T00:00:00Z");

/** How the fake PoET refuses a submit, as the REST gateway reports it. */
const REFUSALS = {
  unauthorized: {
    message: "HTTP 401: invalid certificate\nsignature mismatch",
    kind: "unauthorized",
    httpStatus: 401,
    grpcCode: 16,
  },
  "stale-pow": {
    message: "HTTP 400: invalid proof of work parameters",
    kind: "invalid-request",
    httpStatus: 400,
    grpcCode: 3,
  },
  conflict: {
    message: "HTTP 409: conflicting registration",
    kind: "conflicting-registration",
    httpStatus: 409,
    grpcCode: 6,
  },
} as const;

type Answer = "ok" | keyof typeof REFUSALS;

/** A PoET client double that records every submit and answers from a script. */
function fakePoet(options: { certifier?: boolean; answers: Answer[] }) {
  const submitted: PoetSubmitRequest[] = [];
  let powFetches = 0;
  const params: PowParams[] = [
    { challenge: new Uint8Array(32).fill(0x11), difficulty: 6 },
    { challenge: new Uint8Array(32).fill(0x22), difficulty: 6 },
  ];
  const info: PoetInfo = {
    servicePubkey: new Uint8Array(32),
    phaseShiftMs: 5000,
    cycleGapMs: 15000,
    ...(options.certifier ? { certifier } : {}),
  };
  const target = { server: "http://poet.test", method: "Submit" };
  const client: PoetClient = {
    url: "http://poet.test",
    protocol: "rest",
    info: async () => info,
    powParams: async (o) => {
      powFetches++;
      return o?.fresh ? (params[1] as PowParams) : (params[0] as PowParams);
    },
    submit: async (request) => {
      submitted.push(request);
      const answer = options.answers.shift() ?? "ok";
      if (answer !== "ok") {
        const { message, ...refusal } = REFUSALS[answer];
        throw new PoetRpcError(message, { ...target, ...refusal, retriable: false });
      }
      return { roundId: "7", untilRoundEndMs: 1000, roundEnd: new Date(NOW + 1000) };
    },
    proof: async () => {
      throw new Error("unused");
    },
    close: async () => {},
    [Symbol.asyncDispose]: async () => {},
  };
  return { client, submitted, powFetches: () => powFetches };
}

function certifyWith(expiration?: bigint) {
  let calls = 0;
  const certify = async ({ nodeId }: { nodeId: Uint8Array }) => {
    calls++;
    const data = encodeCertificate(
      expiration === undefined
        ? { pubkey: nodeId }
        : { pubkey: nodeId, expiration: expiration + BigInt(calls) },
    );
    return { data, signature: await certifierSigner.sign(data), pubkey: certifierSigner.nodeId };
  };
  return { certify, calls: () => calls };
}

/** Submits the test challenge through `client` as the test signer. */
function submit(
  client: PoetClient,
  options: Omit<SubmitAuthorizedOptions, "client" | "signer" | "prefix" | "challenge"> = {},
) {
  return submitAuthorized({ client, signer, prefix, challenge, ...options });
}

function isPow(request: PoetSubmitRequest | undefined): boolean {
  return request !== undefined && request.nonce !== undefined && request.certificate === undefined;
}

describe("authorization", () => {
  it("uses proof of work when the PoET advertises no certifier", async () => {
    const poet = fakePoet({ answers: [] });
    const { certify, calls } = certifyWith();
    const auth = await authorize({
      client: poet.client,
      nodeId: signer.nodeId,
      challenge,
      certify,
    });
    assert.equal(auth.kind, "pow");
    assert.equal(calls(), 0);
    if (auth.kind === "pow") {
      assert.ok(
        checkPow(
          {
            powChallenge: auth.powParams.challenge,
            nodeId: signer.nodeId,
            poetChallenge: challenge,
          },
          6,
          auth.nonce,
        ),
      );
    }
  });

  it("uses proof of work when the node has no way to certify", async () => {
    const poet = fakePoet({ certifier: true, answers: [] });
    const auth = await authorize({ client: poet.client, nodeId: signer.nodeId, challenge });
    assert.equal(auth.kind, "pow");
  });

  it("registers with a certificate and the certifier's hint when both sides can", async () => {
    const poet = fakePoet({ certifier: true, answers: ["ok"] });
    const { certify } = certifyWith();
    const result = await submit(poet.client, { certify, clock: new ManualClock(NOW) });
    assert.equal(result.authorization, "certificate");
    assert.equal(result.roundId, "7");
    const [request] = poet.submitted;
    assert.ok(request?.certificate);
    assert.equal(
      hex(request.certificatePubkeyHint as Uint8Array),
      hex(certifierSigner.nodeId.subarray(0, 4)),
    );
    assert.equal(request.nonce, undefined);
  });

  it("falls back to proof of work when certification fails", async () => {
    const poet = fakePoet({ certifier: true, answers: ["ok"] });
    const result = await submit(poet.client, {
      certify: async () => {
        throw new PoetRpcError("HTTP 403: invalid proof", {
          server: certifier.url,
          method: "POST /certify",
          kind: "unauthorized",
          retriable: false,
        });
      },
    });
    assert.equal(result.authorization, "pow");
    assert.ok(isPow(poet.submitted[0]));
  });

  it("re-certifies once after a 401 and registers with the new certificate", async () => {
    const poet = fakePoet({ certifier: true, answers: ["unauthorized", "ok"] });
    const { certify, calls } = certifyWith(BigInt(NOW / 1000 + 86_400));
    const result = await submit(poet.client, { certify, clock: new ManualClock(NOW) });
    assert.equal(result.authorization, "certificate");
    assert.equal(calls(), 2);
    assert.equal(poet.submitted.length, 2);
    assert.notDeepEqual(poet.submitted[0]?.certificate?.data, poet.submitted[1]?.certificate?.data);
  });

  it("goes 401 → re-certify → 401 → proof of work, without a certificate in the last request", async () => {
    const poet = fakePoet({ certifier: true, answers: ["unauthorized", "unauthorized", "ok"] });
    const { certify, calls } = certifyWith();
    const result = await submit(poet.client, { certify });
    assert.equal(result.authorization, "pow");
    assert.equal(calls(), 2);
    assert.equal(poet.submitted.length, 3);
    assert.ok(poet.submitted[0]?.certificate);
    assert.ok(poet.submitted[1]?.certificate);
    assert.ok(isPow(poet.submitted[2]));
    assert.equal(poet.submitted[2]?.certificatePubkeyHint, undefined);
  });

  it("uses proof of work when re-certification after a 401 fails", async () => {
    const poet = fakePoet({ certifier: true, answers: ["unauthorized", "ok"] });
    let calls = 0;
    const certify = async ({ nodeId }: { nodeId: Uint8Array }) => {
      if (++calls > 1) throw new Error("certifier overloaded");
      const data = encodeCertificate({ pubkey: nodeId });
      return { data, signature: await certifierSigner.sign(data) };
    };
    const result = await submit(poet.client, { certify });
    assert.equal(result.authorization, "pow");
    assert.ok(isPow(poet.submitted[1]));
  });

  it("renews an expiring certificate before submitting instead of waiting for a 401", async () => {
    const clock = new ManualClock(NOW);
    const certificates = new CertificateCache({ clock, renewBeforeMs: 3_600_000 });
    const { certify, calls } = certifyWith(BigInt(NOW / 1000 + 2 * 3600));
    const first = fakePoet({ certifier: true, answers: ["ok"] });
    await submit(first.client, { certify, certificates, clock });
    const again = fakePoet({ certifier: true, answers: ["ok"] });
    await submit(again.client, { certify, certificates, clock });
    assert.equal(calls(), 1);
    await clock.advance(90 * 60_000);
    const later = fakePoet({ certifier: true, answers: ["ok"] });
    await submit(later.client, { certify, certificates, clock });
    assert.equal(calls(), 2);
    assert.equal(later.submitted.length, 1);
  });

  it("solves again with fresh parameters when the PoW challenge rotated", async () => {
    const poet = fakePoet({ answers: ["stale-pow", "ok"] });
    const result = await submit(poet.client);
    assert.equal(result.authorization, "pow");
    assert.equal(hex(poet.submitted[1]?.powParams?.challenge as Uint8Array), "22".repeat(32));
  });

  it("passes other refusals through unchanged", async () => {
    const poet = fakePoet({ answers: ["conflict"] });
    await assert.rejects(
      submit(poet.client),
      (err: unknown) => err instanceof PoetRpcError && err.kind === "conflicting-registration",
    );
    assert.equal(poet.submitted.length, 1);
  });

  it("stops with AbortedError when cancelled", async () => {
    const poet = fakePoet({ answers: [] });
    await assert.rejects(submit(poet.client, { signal: AbortSignal.abort() }), AbortedError);
  });
});
