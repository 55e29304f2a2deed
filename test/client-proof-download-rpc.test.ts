import assert from "node:assert/strict";
import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { createPoetClient } from "../src/client/index.js";
import { ManualClock } from "../src/clock.js";
import { PoetRpcError, ProofNotReadyError } from "../src/errors.js";
import {
  MerkleProofSchema,
  PoetProofSchema,
  ProofResponseSchema,
} from "../src/gen/rpc/api/v1/api_pb.js";
import { PackedMembers } from "../src/wire/index.js";
import { prng } from "./helpers/prng.js";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const KEY = new Uint8Array(32).fill(7);
const PATH = "/rpc.api.v1.PoetService/Proof";

function proofMessage(count: number): { message: Buffer; members: Uint8Array[] } {
  const random = prng(count);
  const members = Array.from({ length: count }, () =>
    Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256)),
  );
  const message = toBinary(
    ProofResponseSchema,
    create(ProofResponseSchema, {
      proof: create(PoetProofSchema, {
        proof: create(MerkleProofSchema, { root: new Uint8Array(32) }),
        members,
        leaves: 10n,
      }),
      pubkey: KEY,
    }),
  );
  return { message: Buffer.from(message), members };
}

function envelope(message: Uint8Array, length = message.length): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(length, 1);
  return Buffer.concat([head, message]);
}

/** Waits, turning the event loop, until `condition` holds. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100_000; i++) {
    if (condition()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** What the test serves: the answer's head, then pieces of body it writes itself. */
interface Answer {
  status: number;
  headers: Record<string, string | number>;
  /** Writes a piece of the body. */
  write(bytes: Uint8Array): void;
  /** Ends the answer (gRPC: with these trailers). */
  end(trailers?: Record<string, string>): void;
}

/** A server speaking raw gRPC (HTTP/2) or Connect (HTTP/1.1) whose answers the test writes. */
interface RawServer {
  url: string;
  /** The request being served, set when it arrives; the test answers it. */
  next: Promise<(status: number, headers: Record<string, string | number>) => Answer>;
  close(): Promise<void>;
}

async function grpcServer(): Promise<RawServer> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    // A client that stops reading early (a cap) resets its stream: not this test's concern.
    s.on("error", () => {});
    s.on("close", () => sessions.delete(s));
  });
  let arrived: (answer: (s: number, h: Record<string, string | number>) => Answer) => void;
  const raw: RawServer = {
    url: "",
    next: new Promise(() => {}),
    close: async () => {
      for (const s of sessions) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
  const expect = () => {
    raw.next = new Promise((r) => {
      arrived = r;
    });
  };
  expect();
  server.on("stream", (stream, headers) => {
    assert.equal(headers[":path"], PATH);
    stream.on("error", () => {});
    stream.resume();
    const answer = arrived;
    expect();
    answer((status, head) => {
      const trailersOnly = "grpc-status" in head;
      stream.respond(
        { ":status": status, ...head },
        trailersOnly ? { endStream: true } : { waitForTrailers: true },
      );
      let trailers: Record<string, string> = { "grpc-status": "0" };
      stream.on("wantTrailers", () => stream.sendTrailers(trailers));
      return {
        status,
        headers: head,
        write: (bytes) => stream.write(bytes),
        end: (t) => {
          if (t !== undefined) trailers = t;
          stream.end();
        },
      };
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  raw.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return raw;
}

async function connectServer(): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const server = http.createServer();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  let arrived: (answer: (s: number, h: Record<string, string | number>) => Answer) => void;
  const raw: RawServer = {
    url: "",
    next: new Promise(() => {}),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
  const expect = () => {
    raw.next = new Promise((r) => {
      arrived = r;
    });
  };
  expect();
  server.on("request", (req, res) => {
    assert.equal(req.url, PATH);
    assert.equal(req.headers["content-type"], "application/proto");
    req.resume();
    const answer = arrived;
    expect();
    answer((status, head) => {
      res.writeHead(status, head);
      return { status, headers: head, write: (bytes) => res.write(bytes), end: () => res.end() };
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  raw.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return raw;
}

for (const protocol of ["grpc", "connect"] as const) {
  describe(`proof downloads over ${protocol}, streamed`, () => {
    let server: RawServer;
    const okHeaders =
      protocol === "grpc"
        ? { "content-type": "application/grpc+proto" }
        : { "content-type": "application/proto" };
    /** The body of a whole answer carrying `message`. */
    const framed = (message: Uint8Array) => (protocol === "grpc" ? envelope(message) : message);

    before(async () => {
      server = protocol === "grpc" ? await grpcServer() : await connectServer();
    });
    after(async () => {
      await server.close();
    });

    it("packs the members of a slow transfer that keeps making progress, however long it takes", async () => {
      const clock = new ManualClock(0);
      const client = createPoetClient({
        url: server.url,
        protocol,
        clock,
        proofTimeoutMs: 10_000,
        servicePubkey: KEY,
      });
      const { message, members } = proofMessage(300);
      const body = framed(message);
      let received = 0;
      const next = server.next;
      const download = client.proof("1", { onProgress: (n) => (received = n) });
      const answer = (await next)(200, {
        ...okHeaders,
        ...(protocol === "connect" ? { "content-length": body.length } : {}),
      });
      // 20 pieces, 7 s of clock apart: 140 s in all, 14 times the limit, never 10 s of silence.
      // Pieces are cut anywhere: inside the envelope's head, a tag, a member.
      const pieces = 20;
      const size = Math.ceil(body.length / pieces);
      const offset = protocol === "grpc" ? 5 : 0;
      for (let i = 0; i < pieces; i++) {
        const end = Math.min(body.length, (i + 1) * size);
        answer.write(body.subarray(i * size, end));
        await until(() => received >= end - offset, `piece ${i}`);
        if (end < body.length) await clock.advance(7_000);
      }
      answer.end();
      const round = await download;
      assert.equal(clock.now(), 19 * 7_000);
      assert.ok(round.members instanceof PackedMembers);
      assert.deepEqual(round.members.map(hex), members.map(hex));
      assert.equal(round.proof.leaves, 10n);
      await client.close();
    });

    it("fails with a retriable timeout when the server goes silent", async () => {
      const clock = new ManualClock(0);
      const client = createPoetClient({ url: server.url, protocol, clock, proofTimeoutMs: 10_000 });
      const body = framed(proofMessage(100).message);
      let received = 0;
      const next = server.next;
      const download = client.proof("1", { onProgress: (n) => (received = n) });
      const answer = (await next)(200, okHeaders);
      answer.write(body.subarray(0, 1000));
      await until(() => received > 0, "the first piece");
      await clock.advance(9_999);
      let settled = false;
      download.catch(() => {}).finally(() => (settled = true));
      await new Promise((r) => setImmediate(r));
      assert.equal(settled, false);
      await clock.advance(1);
      await assert.rejects(download, (err: unknown) => {
        assert.ok(err instanceof PoetRpcError, String(err));
        assert.equal(err.kind, "timeout");
        assert.equal(err.retriable, true);
        assert.match(err.message, /no data for 10000 ms/);
        return true;
      });
      await client.close();
    });

    it("refuses an answer over the proof cap as soon as its size is known, as final", async () => {
      const clock = new ManualClock(0);
      const client = createPoetClient({
        url: server.url,
        protocol,
        clock,
        maxProofResponseBytes: 4_000,
      });
      const { message } = proofMessage(200);
      const next = server.next;
      const download = client.proof("1");
      // gRPC announces the message's length in its envelope; Connect in Content-Length, or not
      // at all (then the bytes are counted).
      const answer = (await next)(200, okHeaders);
      answer.write(protocol === "grpc" ? envelope(message).subarray(0, 5) : message);
      await assert.rejects(download, (err: unknown) => {
        assert.ok(err instanceof PoetRpcError, String(err));
        assert.equal(err.kind, "response-too-large");
        assert.equal(err.retriable, false);
        assert.match(err.message, /over the 4000-byte limit/);
        return true;
      });
      answer.end();
      await client.close();
    });

    it("tells a proof that is not ready yet (an error answer) from a malformed one", async () => {
      const clock = new ManualClock(0);
      const client = createPoetClient({ url: server.url, protocol, clock });
      let next = server.next;
      const notReady = client.proof("1");
      if (protocol === "grpc") {
        (await next)(200, {
          "content-type": "application/grpc",
          "grpc-status": "5",
          "grpc-message": "proof not found",
        });
      } else {
        const answer = (await next)(404, { "content-type": "application/json" });
        answer.write(
          Buffer.from(JSON.stringify({ code: "not_found", message: "proof not found" })),
        );
        answer.end();
      }
      await assert.rejects(notReady, ProofNotReadyError);

      next = server.next;
      const broken = client.proof("1");
      const answer = (await next)(200, okHeaders);
      // A member tag whose length runs past the end of the proof field around it.
      const bad = Uint8Array.of(0x0a, 3, 0x12, 32, 0);
      answer.write(protocol === "grpc" ? envelope(bad) : bad);
      answer.end();
      await assert.rejects(broken, (err: unknown) => {
        assert.ok(err instanceof PoetRpcError, String(err));
        assert.equal(err.kind, "bad-response");
        assert.equal(err.retriable, false);
        assert.match(err.message, /runs past the end of the proof/);
        return true;
      });
      await client.close();
    });
  });
}

describe("proof downloads over grpc, streamed: trailers", () => {
  it("takes an error status sent in the trailers after a message as the answer", async () => {
    const server = await grpcServer();
    const client = createPoetClient({
      url: server.url,
      protocol: "grpc",
      clock: new ManualClock(0),
    });
    const next = server.next;
    const download = client.proof("1");
    const answer = (await next)(200, { "content-type": "application/grpc+proto" });
    answer.write(envelope(proofMessage(3).message));
    answer.end({ "grpc-status": "14", "grpc-message": "going away" });
    await assert.rejects(download, (err: unknown) => {
      assert.ok(err instanceof PoetRpcError, String(err));
      assert.equal(err.kind, "unavailable");
      assert.equal(err.retriable, true);
      return true;
    });
    await client.close();
    await server.close();
  });
});
