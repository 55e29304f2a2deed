import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import { after, describe, it } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { ProofResponseSchema } from "../src/gen/rpc/api/v1/api_pb.js";
import { membershipRoot } from "../src/membership/index.js";
import { ManualClock } from "../src/testing/index.js";
import { type MockPoet, startMockPoet } from "../src/testing/mock-poet.js";
import type { PowParameters } from "../src/testing/pow-check.js";
import { verifyPoetProofSync } from "../src/verify/index.js";
import {
  type Exchange,
  type GrpcExchange,
  type HttpExchange,
  transcripts,
  unb64,
} from "./helpers/client-fixtures.js";

interface ServerConfig {
  name: string;
  command: string[];
  env: { POET_PRIVATE_KEY: string };
  files: Record<string, string>;
  genesis_time: string;
  schedule_seconds: { epoch_duration: number; phase_shift: number; cycle_gap: number };
}

const config = JSON.parse(
  fs.readFileSync(new URL("./fixtures/real-server/server-config.json", import.meta.url), "utf8"),
) as { servers: ServerConfig[] };

/** Exchanges with a part of the real server the mock does not serve (its operator port). */
const NOT_SERVED = new Set(["B-grpc-config-reload-trusted-keys"]);

function flag(server: ServerConfig, name: string): string | undefined {
  const prefix = `--${name}=`;
  return server.command.find((arg) => arg.startsWith(prefix))?.slice(prefix.length);
}

function initialPowParams(exchanges: Exchange[]): PowParameters {
  for (const e of exchanges) {
    if (e.kind !== "http") continue;
    if (e.request.path === "/v1/pow_params" && e.response.status === 200) {
      const { powParams } = JSON.parse(e.response.body) as {
        powParams: { difficulty: number; challenge: string };
      };
      return { difficulty: powParams.difficulty, challenge: unb64(powParams.challenge) };
    }
    const body = e.request.body ? (JSON.parse(e.request.body) as Record<string, unknown>) : {};
    const params = (body.powParams ?? body.pow_params) as
      | { difficulty: number; challenge: string }
      | undefined;
    if (params) return { difficulty: params.difficulty, challenge: unb64(params.challenge) };
  }
  throw new Error("no PoW parameters in the capture");
}

async function startLike(server: ServerConfig, exchanges: Exchange[], clock: ManualClock) {
  const certifierPubkey = flag(server, "certifier-pubkey");
  const maxMembers = flag(server, "max-round-members");
  return startMockPoet({
    // The real server's layout: the REST gateway and gRPC on separate ports, no Connect.
    layout: "real-server",
    clock,
    genesis: new Date(server.genesis_time),
    epochDurationMs: server.schedule_seconds.epoch_duration * 1000,
    phaseShiftMs: server.schedule_seconds.phase_shift * 1000,
    cycleGapMs: server.schedule_seconds.cycle_gap * 1000,
    serviceKey: unb64(server.env.POET_PRIVATE_KEY),
    powDifficulty: Number(flag(server, "pow-difficulty") ?? 0),
    powChallenge: initialPowParams(exchanges).challenge,
    leavesPerRound: 256,
    ...(maxMembers ? { maxRoundMembers: Number(maxMembers) } : {}),
    ...(certifierPubkey
      ? {
          certifier: {
            url: flag(server, "certifier-url") ?? "",
            pubkey: unb64(certifierPubkey),
            trustedKeys: Object.values(server.files).map(unb64),
          },
        }
      : {}),
  });
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function sendHttp(poet: MockPoet, e: HttpExchange): Promise<Reply> {
  const headers: Record<string, string> = { ...e.request.headers };
  delete headers.Host;
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${poet.url}${e.request.path}`,
      { method: e.request.method, headers, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end(e.request.body ?? undefined);
  });
}

interface GrpcReply {
  status: string;
  message: string;
  payload: Buffer;
}

function sendGrpc(poet: MockPoet, e: GrpcExchange): Promise<GrpcReply> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(poet.grpcUrl);
    session.on("error", reject);
    const stream = session.request({
      ":method": "POST",
      ":path": e.request.headers[":path"] ?? "",
      "content-type": "application/grpc",
      te: "trailers",
    });
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => {
      headers = h;
    });
    stream.on("trailers", (t) => {
      trailers = t;
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => {
      session.close();
      const data = Buffer.concat(chunks);
      const status = String(trailers["grpc-status"] ?? headers["grpc-status"] ?? "");
      const message = decodeURIComponent(
        String(trailers["grpc-message"] ?? headers["grpc-message"] ?? ""),
      );
      resolve({ status, message, payload: data.length >= 5 ? data.subarray(5) : data });
    });
    stream.on("error", reject);
    stream.end(Buffer.from(e.request.body_hex, "hex"));
  });
}

/** The JSON "shape": same types and keys everywhere; array lengths may differ. */
function assertSameShape(actual: unknown, expected: unknown, path: string): void {
  const kind = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);
  assert.equal(kind(actual), kind(expected), `type of ${path}`);
  if (Array.isArray(actual) && Array.isArray(expected)) {
    if (actual.length > 0 && expected.length > 0) {
      assertSameShape(actual[0], expected[0], `${path}[0]`);
    }
  } else if (kind(actual) === "object") {
    const a = actual as Record<string, unknown>;
    const b = expected as Record<string, unknown>;
    assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), `keys of ${path}`);
    for (const key of Object.keys(b)) assertSameShape(a[key], b[key], `${path}.${key}`);
  }
}

function durationSeconds(text: string): number {
  return Number(text.replace(/s$/, ""));
}

interface ProofJson {
  proof: {
    proof: { root: string; provenLeaves: string[]; proofNodes: string[] };
    members: string[];
    leaves: string;
  };
  pubkey: string;
}

function checkHttp(e: HttpExchange, reply: Reply): void {
  const expected = e.response;
  assert.equal(reply.status, expected.status, `${e.name}: status (${reply.body})`);
  assert.equal(reply.headers["content-type"], expected.content_type, `${e.name}: content type`);
  assert.equal(
    reply.headers["www-authenticate"] ?? null,
    expected.www_authenticate,
    `${e.name}: Www-Authenticate`,
  );
  const grpcMetadata = expected.headers.some(([name]) => name === "Grpc-Metadata-Content-Type");
  assert.equal(reply.headers["grpc-metadata-content-type"] !== undefined, grpcMetadata, e.name);
  const actual = JSON.parse(reply.body) as Record<string, unknown>;
  const wanted = JSON.parse(expected.body) as Record<string, unknown>;
  if (expected.status !== 200) {
    assert.deepEqual(actual, wanted, `${e.name}: error body`);
    return;
  }
  assertSameShape(actual, wanted, e.name);
  if (e.request.path === "/v1/info" || e.request.path === "/v1/pow_params") {
    assert.deepEqual(actual, wanted, `${e.name}: body`);
  } else if (e.request.path === "/v1/submit") {
    assert.equal(actual.roundId, wanted.roundId, `${e.name}: roundId`);
    const drift =
      durationSeconds(actual.roundEnd as string) - durationSeconds(wanted.roundEnd as string);
    assert.ok(Math.abs(drift) < 1, `${e.name}: roundEnd ${actual.roundEnd} vs ${wanted.roundEnd}`);
  } else {
    const got = actual as unknown as ProofJson;
    const want = wanted as unknown as ProofJson;
    assert.deepEqual(got.proof.members, want.proof.members, `${e.name}: members`);
    assert.equal(got.pubkey, want.pubkey, `${e.name}: pubkey`);
    const members = got.proof.members.map(unb64);
    verifyPoetProofSync(
      {
        root: unb64(got.proof.proof.root),
        provenLeaves: got.proof.proof.provenLeaves.map(unb64),
        proofNodes: got.proof.proof.proofNodes.map(unb64),
        leaves: BigInt(got.proof.leaves),
      },
      membershipRoot(members),
    );
  }
}

function checkGrpc(e: GrpcExchange, reply: GrpcReply): void {
  const expected = e.response;
  const status = String(expected.trailers?.["grpc-status"] ?? expected.headers["grpc-status"]);
  const message = decodeURIComponent(
    String(expected.trailers?.["grpc-message"] ?? expected.headers["grpc-message"] ?? ""),
  );
  assert.equal(reply.status, status, `${e.name}: grpc-status`);
  assert.equal(reply.message, message, `${e.name}: grpc-message`);
  if (expected.message_hex === null) return;
  const path = e.request.headers[":path"] ?? "";
  if (path.endsWith("/Proof")) {
    const got = fromBinary(ProofResponseSchema, reply.payload);
    const want = fromBinary(ProofResponseSchema, Buffer.from(expected.message_hex, "hex"));
    assert.deepEqual(
      got.proof?.members.map((m) => Buffer.from(m).toString("hex")),
      want.proof?.members.map((m) => Buffer.from(m).toString("hex")),
    );
    assert.equal(Buffer.from(got.pubkey).toString("hex"), Buffer.from(want.pubkey).toString("hex"));
    assert.ok((got.proof?.proof?.provenLeaves.length ?? 0) > 0);
  } else {
    assert.equal(reply.payload.toString("hex"), expected.message_hex, `${e.name}: message bytes`);
  }
}

for (const server of config.servers) {
  const exchanges = transcripts.filter((e) => e.server === server.name);
  describe(`the mock PoET configured like real server ${server.name}`, () => {
    const first = exchanges[0];
    assert.ok(first);
    const clock = new ManualClock(Date.parse(first.sent_at_utc));
    let poet: MockPoet | undefined;
    let lastPow: PowParameters | undefined;
    after(() => poet?.stop());

    for (const e of exchanges) {
      if (NOT_SERVED.has(e.name)) continue;
      it(`answers ${e.name} like the real server`, async () => {
        poet ??= await startLike(server, exchanges, clock);
        await clock.set(Date.parse(e.sent_at_utc));
        if (e.kind === "http" && e.request.path === "/v1/pow_params") {
          // Proof roots differ from the capture, so the rotated challenge is taken from it.
          const { powParams } = JSON.parse(e.response.body) as {
            powParams: { difficulty: number; challenge: string };
          };
          const captured = {
            difficulty: powParams.difficulty,
            challenge: unb64(powParams.challenge),
          };
          poet.state.powParams();
          poet.state.setPowParams(captured, lastPow);
          lastPow = captured;
        }
        if (e.kind === "http") checkHttp(e, await sendHttp(poet, e));
        else checkGrpc(e, await sendGrpc(poet, e));
      });
    }
  });
}
