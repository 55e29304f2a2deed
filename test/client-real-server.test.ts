import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  createPoetClient,
  type PoetClient,
  type PoetSubmitRequest,
  toSubmitRequest,
  WrongServiceKeyError,
} from "../src/client/index.js";
import {
  ConfigError,
  PoetRpcError,
  ProofNotReadyError,
  RegistrationRejectedError,
} from "../src/errors.js";
import { verifyRoundProof } from "../src/membership/index.js";
import { PoetService, type SubmitRequest, SubmitRequestSchema } from "../src/proto.js";
import { createRestTransport } from "../src/transport/index.js";
import { parsePoetJson } from "../src/wire/index.js";
import {
  type GrpcExchange,
  grpcExchanges,
  hex,
  httpExchange,
  httpExchanges,
  KEYS,
  realServerProofs,
  unb64,
  unhex,
} from "./helpers/client-fixtures.js";
import {
  type GrpcReplayer,
  type HttpReplayer,
  startGrpcReplayer,
  startHttpReplayer,
} from "./helpers/client-replay.js";

const SERVICE_KEYS: Record<string, string> = {
  A: KEYS.serviceA,
  B: KEYS.serviceB,
  C: KEYS.serviceC,
};

function toClientRequest(message: SubmitRequest): PoetSubmitRequest {
  return {
    prefix: message.prefix,
    challenge: message.challenge,
    pubkey: message.pubkey,
    signature: message.signature,
    ...(message.deadline
      ? {
          deadline: new Date(
            Number(message.deadline.seconds) * 1000 + message.deadline.nanos / 1e6,
          ),
        }
      : {}),
    ...(message.certificate ? { certificate: message.certificate } : {}),
    ...(message.certificatePubkeyHint.length > 0
      ? { certificatePubkeyHint: message.certificatePubkeyHint }
      : {}),
    ...(message.powParams ? { nonce: message.nonce, powParams: message.powParams } : {}),
  };
}

/** The kind a status and google.rpc.Status code must map to. */
function expectedKind(status: number, code: number, message: string): [string, boolean] {
  if (status === 400 && code === 9) return ["too-late", false];
  if (status === 400) return ["invalid-request", false];
  if (status === 401) return ["unauthorized", false];
  if (status === 404)
    return [message === "proof not found" ? "proof-not-found" : "not-found", false];
  if (status === 409) return ["conflicting-registration", false];
  if (status === 429) return ["round-full", true];
  if (status === 501) return ["unimplemented", false];
  throw new Error(`unexpected status ${status}`);
}

describe("the REST client against the captured real-server exchanges", () => {
  let replay: HttpReplayer;
  let client: PoetClient;

  before(async () => {
    replay = await startHttpReplayer();
    client = createPoetClient({ url: replay.url, infoTtlMs: 0, powParamsTtlMs: 0 });
  });
  after(async () => {
    await client.close();
    await replay.close();
  });

  it("reads every captured info answer, with an empty certifier read as none", async () => {
    const infos = httpExchanges.filter(
      (e) => e.request.path === "/v1/info" && e.response.status === 200,
    );
    assert.ok(infos.length >= 5);
    for (const e of infos) {
      replay.serve(e);
      const info = await client.info({ fresh: true });
      assert.equal(replay.received.at(-1)?.method, "GET");
      assert.equal(replay.received.at(-1)?.path, "/v1/info");
      assert.equal(hex(info.servicePubkey), SERVICE_KEYS[e.server], e.name);
      assert.equal(info.phaseShiftMs, 5000);
      assert.equal(info.cycleGapMs, 15000);
      if (e.server === "B") {
        assert.equal(info.certifier?.url, "http://127.0.0.1:18999/certify");
        assert.equal(hex(info.certifier?.pubkey ?? new Uint8Array()), KEYS.certifier1);
      } else {
        assert.equal(info.certifier, undefined, e.name);
      }
    }
  });

  it("refuses an info answer whose service key is not the configured one", async () => {
    const strict = createPoetClient({ url: replay.url, servicePubkey: unhex(KEYS.serviceB) });
    replay.serve(httpExchange("A-info"));
    await assert.rejects(strict.info(), (err: unknown) => {
      assert.ok(err instanceof WrongServiceKeyError);
      assert.ok(err instanceof RegistrationRejectedError);
      assert.equal(err.reason, "wrong-service-key");
      assert.equal(hex(err.actual), KEYS.serviceA);
      return true;
    });
    replay.serve(httpExchange("B-info"));
    assert.equal(hex((await strict.info()).servicePubkey), KEYS.serviceB);
    await strict.close();
  });

  it("reads every captured PoW parameter answer", async () => {
    const answers = httpExchanges.filter((e) => e.request.path === "/v1/pow_params");
    assert.ok(answers.length >= 3);
    for (const e of answers) {
      replay.serve(e);
      const params = await client.powParams({ fresh: true });
      const expected = JSON.parse(e.response.body).powParams;
      assert.equal(params.difficulty, 12);
      assert.deepEqual(params.challenge, unb64(expected.challenge));
    }
  });

  it("reads every captured submit answer: round ids, round ends and each error kind", async () => {
    const submits = httpExchanges.filter(
      (e) => e.request.method === "POST" && e.request.path === "/v1/submit",
    );
    assert.ok(submits.length >= 40);
    const transport = createRestTransport({ url: replay.url });
    const standIn = parsePoetJson(
      SubmitRequestSchema,
      httpExchange("A-submit-ok-round0-node0").request.body as string,
    );
    let viaClient = 0;
    for (const e of submits) {
      let message: SubmitRequest;
      try {
        message = parsePoetJson(SubmitRequestSchema, e.request.body as string);
      } catch {
        message = standIn; // malformed on purpose: any request gets the captured answer
      }
      let request: PoetSubmitRequest | undefined;
      try {
        request = toClientRequest(message);
        toSubmitRequest(request);
      } catch (err) {
        assert.ok(err instanceof ConfigError, e.name);
        request = undefined; // the client refuses it locally; check the answer through the transport
      }
      replay.serve(e);
      const call =
        request === undefined
          ? transport.unary(PoetService.method.submit, message)
          : client.submit(request, {
              retryUntil: new Date("2100-01-01T00:00:00Z"),
              maxAttempts: 1,
            });
      if (request !== undefined) viaClient++;
      const answer = JSON.parse(e.response.body);
      if (e.response.status === 200) {
        const result = (await call) as {
          roundId: string;
          untilRoundEndMs?: number;
          roundEnd?: unknown;
        };
        assert.equal(result.roundId, answer.roundId, e.name);
        if (request !== undefined) {
          const seconds = Number.parseFloat(answer.roundEnd);
          assert.ok(Math.abs((result.untilRoundEndMs as number) - seconds * 1000) < 1e-6, e.name);
        }
        continue;
      }
      const [kind, retriable] = expectedKind(e.response.status, answer.code, answer.message);
      await assert.rejects(call, (err: unknown) => {
        assert.ok(err instanceof PoetRpcError, e.name);
        assert.equal(err.kind, kind, e.name);
        assert.equal(err.retriable, retriable, e.name);
        assert.equal(err.httpStatus, e.response.status, e.name);
        assert.equal(err.grpcCode, answer.code, e.name);
        assert.ok(err.message.includes(answer.message), e.name);
        return true;
      });
    }
    assert.ok(viaClient >= 30);
    await transport.close();
  });

  it("writes submit bodies that parse to the same JSON as the captured go-spacemesh-style ones", async () => {
    for (const name of [
      "A-submit-ok-round0-node0",
      "B-submit-cert-ok-no-hint-no-expiry",
      "A-submit-ok-round2-node4",
    ]) {
      const e = httpExchange(name);
      const message = parsePoetJson(SubmitRequestSchema, e.request.body as string);
      replay.serve(e);
      await client.submit(toClientRequest(message));
      const sent = replay.received.at(-1);
      assert.equal(sent?.headers["content-type"], "application/json");
      assert.deepEqual(JSON.parse(sent?.body ?? ""), JSON.parse(e.request.body as string), name);
    }
  });

  it("does not retry a final answer even with a retry deadline", async () => {
    const before = replay.received.length;
    replay.serve(httpExchange("A-submit-conflict-different-challenge"));
    const message = parsePoetJson(
      SubmitRequestSchema,
      httpExchange("A-submit-conflict-different-challenge").request.body as string,
    );
    await assert.rejects(
      client.submit(toClientRequest(message), { retryUntil: new Date("2100-01-01T00:00:00Z") }),
      (err: unknown) => err instanceof PoetRpcError && err.kind === "conflicting-registration",
    );
    assert.equal(replay.received.length, before + 1);
  });

  it("reads every captured proof, and each verifies against the membership root of its members", async () => {
    const proofs = httpExchanges.filter(
      (e) => e.request.path.startsWith("/v1/proofs/") && e.response.status === 200,
    );
    assert.equal(proofs.length, 4);
    for (const e of proofs) {
      const roundId = e.request.path.slice("/v1/proofs/".length);
      const strict = createPoetClient({
        url: replay.url,
        servicePubkey: unhex(SERVICE_KEYS[e.server] as string),
      });
      replay.serve(e);
      const round = await strict.proof(roundId);
      await strict.close();
      assert.equal(replay.received.at(-1)?.path, `/v1/proofs/${roundId}`);
      const vector = realServerProofs.find((v) => v.server === e.server && v.round_id === roundId);
      assert.ok(vector, e.name);
      assert.equal(hex(round.pubkey), vector.service_pubkey);
      assert.equal(round.proof.leaves, BigInt(vector.leaves));
      assert.equal(hex(round.proof.root), vector.root);
      assert.deepEqual(round.members.map(hex), vector.members);
      const { statement } = await verifyRoundProof({ proof: round.proof, members: round.members });
      assert.equal(hex(statement), vector.statement, e.name);
    }
  });

  it("refuses a captured proof under another configured service key", async () => {
    const strict = createPoetClient({ url: replay.url, servicePubkey: unhex(KEYS.serviceB) });
    replay.serve(httpExchange("A-proof-0"));
    await assert.rejects(strict.proof("0"), WrongServiceKeyError);
    await strict.close();
  });

  it("reports 404 'proof not found' as not ready and 404 'Not Found' as a wrong path", async () => {
    for (const name of [
      "A-proof-0-before-round",
      "A-proof-nonnumeric-id",
      "A-proofs-no-id",
      "A-proof-3-open",
      "B-proof-0-in-progress",
    ]) {
      replay.serve(httpExchange(name));
      await assert.rejects(client.proof("7"), (err: unknown) => {
        assert.ok(err instanceof ProofNotReadyError, name);
        assert.equal(err.roundId, "7");
        return true;
      });
    }
    for (const name of ["A-unknown-path", "A-root-path"]) {
      replay.serve(httpExchange(name));
      await assert.rejects(client.proof("7"), (err: unknown) => {
        assert.ok(err instanceof PoetRpcError, name);
        assert.equal(err.kind, "not-found");
        assert.equal(err.retriable, false);
        return true;
      });
    }
  });

  it("percent-encodes the round id in the path", async () => {
    replay.serve(httpExchange("A-proof-nonnumeric-id"));
    await assert.rejects(client.proof("a/b c"), ProofNotReadyError);
    assert.equal(replay.received.at(-1)?.path, "/v1/proofs/a%2Fb%20c");
    await assert.rejects(client.proof(""), ConfigError);
  });

  it("reports the gateway's 501 for a wrong method as final", async () => {
    for (const name of ["A-wrong-method-delete-info", "A-wrong-method-get-submit"]) {
      replay.serve(httpExchange(name));
      await assert.rejects(client.info({ fresh: true }), (err: unknown) => {
        assert.ok(err instanceof PoetRpcError, name);
        assert.equal(err.kind, "unimplemented");
        assert.equal(err.retriable, false);
        assert.equal(err.grpcCode, 12);
        return true;
      });
    }
  });
});

describe("the gRPC client against the captured real-server exchanges", () => {
  let replay: GrpcReplayer;
  let client: PoetClient;
  const grpc = (name: string): GrpcExchange => {
    const found = grpcExchanges.find((e) => e.name === name);
    assert.ok(found, name);
    return found;
  };

  before(async () => {
    replay = await startGrpcReplayer();
    client = createPoetClient({ url: replay.url, protocol: "grpc", infoTtlMs: 0 });
  });
  after(async () => {
    await client.close();
    await replay.close();
  });

  it("sends the captured request bytes and reads the info answers", async () => {
    replay.serve(grpc("A-grpc-info"));
    const a = await client.info({ fresh: true });
    assert.equal(replay.received.at(-1)?.path, "/rpc.api.v1.PoetService/Info");
    assert.equal(replay.received.at(-1)?.bodyHex, "0000000000");
    assert.equal(hex(a.servicePubkey), KEYS.serviceA);
    assert.equal(a.phaseShiftMs, 5000);
    assert.equal(a.certifier, undefined);
    replay.serve(grpc("B-grpc-info"));
    const b = await client.info({ fresh: true });
    assert.equal(b.certifier?.url, "http://127.0.0.1:18999/certify");
    assert.equal(hex(b.certifier?.pubkey ?? new Uint8Array()), KEYS.certifier1);
  });

  it("reads the PoW parameters", async () => {
    replay.serve(grpc("A-grpc-pow-params"));
    const params = await client.powParams({ fresh: true });
    assert.equal(params.difficulty, 12);
    assert.equal(
      hex(params.challenge),
      "1b2b5160cb717a5ab1b96b18cc7ece7c01e3911a9c6df7fb673f7c668fd12916",
    );
  });

  it("reads a trailers-only NotFound as a proof that is not ready", async () => {
    replay.serve(grpc("A-grpc-proof-not-found"));
    await assert.rejects(client.proof("1"), ProofNotReadyError);
    assert.equal(replay.received.at(-1)?.bodyHex, "00000000030a0131");
  });

  it("reads the empty round's proof", async () => {
    replay.serve(grpc("C-grpc-proof-0-empty-round"));
    const round = await client.proof("0");
    assert.equal(round.members.length, 0);
    assert.equal(hex(round.pubkey), KEYS.serviceC);
    const vector = realServerProofs.find((v) => v.server === "C");
    assert.equal(round.proof.leaves, BigInt(vector?.leaves ?? 0));
    await verifyRoundProof({ proof: round.proof, members: round.members });
  });

  it("reads Unauthenticated with a percent-encoded multi-line message", async () => {
    const e = grpc("B-grpc-submit-unknown-hint");
    const message = fromBinary(SubmitRequestSchema, unhex(e.request.message_hex));
    replay.serve(e);
    await assert.rejects(client.submit(toClientRequest(message)), (err: unknown) => {
      assert.ok(err instanceof PoetRpcError);
      assert.equal(err.kind, "unauthorized");
      assert.equal(err.grpcCode, 16);
      assert.ok(err.message.includes("invalid certificate\nno matching cert public keys"));
      return true;
    });
    assert.equal(
      replay.received.at(-1)?.bodyHex.slice(10),
      hex(toBinary(SubmitRequestSchema, message)),
    );
    assert.equal(replay.received.at(-1)?.bodyHex.slice(10), e.request.message_hex);
  });

  it("reads InvalidArgument as an invalid request", async () => {
    const e = grpc("B-grpc-submit-invalid-pubkey");
    replay.serve(e);
    const good = parsePoetJson(
      SubmitRequestSchema,
      httpExchange("A-submit-ok-round0-node0").request.body as string,
    );
    await assert.rejects(client.submit(toClientRequest(good)), (err: unknown) => {
      assert.ok(err instanceof PoetRpcError);
      assert.equal(err.kind, "invalid-request");
      assert.equal(err.grpcCode, 3);
      return true;
    });
  });
});
