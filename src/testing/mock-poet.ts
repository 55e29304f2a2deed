/**
 * @module testing/mock-poet
 *
 * A PoET server for tests and demos: the real server's API, checks, rounds and proofs
 * (docs/protocol.md §1–§4), with rounds of seconds instead of two weeks, on loopback.
 *
 * One `PoetService` implementation serves it in one of two layouts:
 *
 * - `"one-port"` (the default, for convenience): the REST gateway JSON (`/v1/...`, what
 *   go-spacemesh uses), gRPC over HTTP/2 cleartext and Connect (`/rpc.api.v1.PoetService/...`,
 *   HTTP/1.1 or HTTP/2) all on one port, so one URL works with every protocol.
 * - `"real-server"`: like the real server (docs/protocol.md §1.5) — the REST gateway on one port,
 *   HTTP/1.1 only; gRPC on another, HTTP/2 only, answering an unknown service or method the way
 *   grpc-go does; no Connect anywhere. A client configured with the wrong port or protocol fails
 *   here as it would against a real PoET.
 *
 * Rounds follow the real schedule formulas
 * (§3.1) driven by an injected {@link Clock}; with a `ManualClock` a test moves time forward and
 * the next request sees the round closed, proven and the PoW challenge rotated. Proofs are real,
 * built by the TypeScript prover over the membership root of the round's members, with a
 * configurable number of leaves so that proving takes milliseconds and several mocks can give
 * different tick counts.
 *
 * Faults (down, hang, slow, 5xx bursts, 429 with `Retry-After`, wrong service key, invalid or
 * empty proofs, a member left out, oversize responses) are switched on `mock.faults` while it runs;
 * `restart()` drops every connection and listens again on the same port with the state kept.
 * `stop()` ends every connection, HTTP/2 sessions included, and leaves no timer behind.
 */

import type { Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ed25519 } from "@noble/curves/ed25519.js";
import type { AbortOptions } from "../abort-options.js";
import { type Clock, systemClock } from "../clock.js";
import { ConfigError, throwIfAborted } from "../errors.js";
import { PoetService } from "../gen/rpc/api/v1/api_pb.js";
import { RoundSchedule } from "../schedule/index.js";
import { resolveSecurityParam } from "../verify/index.js";
import { MockPoetFaults } from "./faults.js";
import {
  createMockPoetService,
  type MockCertifierConfig,
  type MockPoetHandlers,
} from "./mock-poet-service.js";
import { MockPoetRounds, type MockRound } from "./mock-poet-state.js";
import { type PowParameters, PowVerifier } from "./pow-check.js";
import { createRestGateway, MAX_REQUEST_BYTES } from "./rest-gateway.js";
import { signingSeed } from "./signing-key.js";
import {
  type NodeServerRequest,
  type NodeServerResponse,
  SinglePortServer,
  sendResponse,
} from "./single-port-server.js";

/** Settings of {@link startMockPoet}; every one has a loopback-friendly default. */
export interface MockPoetOptions extends AbortOptions {
  /** Start of epoch 0. Default: the clock's now when the mock starts. */
  genesis?: Date;
  /** Epoch (round cycle) length in ms. Default 4000. */
  epochDurationMs?: number;
  /** Round start offset from the epoch start, in ms. Default 1000. */
  phaseShiftMs?: number;
  /** Idle gap between a round's end and the next start, in ms. Default 2000. */
  cycleGapMs?: number;
  /**
   * The service's ed25519 key: a 32-byte seed or the 64-byte Go form `seed ‖ pub`
   * (`POET_PRIVATE_KEY`). Default: random.
   */
  serviceKey?: Uint8Array;
  /** The certifier advertised and trusted. Default: none (Info shows an empty certifier). */
  certifier?: MockCertifierConfig;
  /** PoW difficulty in leading zero bits. Default 0 (any nonce; the params must still match). */
  powDifficulty?: number;
  /** The initial PoW challenge. Default: 32 random bytes. */
  powChallenge?: Uint8Array;
  /** Most registrations per round. Default 2^32. */
  maxRoundMembers?: number;
  /**
   * Leaves proven per second of round execution (the mock's tick rate); a round proves at least
   * 150 leaves. When unset, 100 per second capped at 1024 per round, because the TypeScript
   * prover is synchronous and takes a fraction of a millisecond per leaf.
   */
  leavesPerSecond?: number;
  /** Exact leaves per round, overriding {@link leavesPerSecond}. */
  leavesPerRound?: bigint | number | ((round: number) => bigint);
  /**
   * `T`, the leaves each proof opens (`prove`'s `securityParam`). Default 150, the network's. A
   * test that verifies with a smaller `securityParam` (`verifyPoetProof`'s) can have rounds of
   * as few leaves, which costs the mock and the verifier a fraction of the time.
   */
  securityParam?: number;
  /** Drives rounds and certificate expiry. Default: the system clock. */
  clock?: Clock;
  /**
   * `"one-port"` (default): REST, gRPC and Connect on one port. `"real-server"`: the REST gateway
   * (HTTP/1.1) and gRPC (HTTP/2) on separate ports and no Connect, as a real PoET serves them.
   */
  layout?: MockPoetLayout;
  /** Port to bind on 127.0.0.1 (the REST gateway's in the real-server layout). Default 0 (any free port). */
  port?: number;
  /** The gRPC port in the real-server layout. Default 0 (any free port). */
  grpcPort?: number;
}

/** How a mock PoET lays out its protocols on ports; see {@link MockPoetOptions.layout}. */
export type MockPoetLayout = "one-port" | "real-server";

/** What `/v1/info` says, in the library's units. */
export interface MockPoetInfo {
  servicePubkey: Uint8Array;
  phaseShiftMs: number;
  cycleGapMs: number;
  /** `undefined` when no certifier key is configured. */
  certifier: { url: string; pubkey: Uint8Array } | undefined;
}

/** A view of a mock's rounds and PoW parameters, brought up to date with the clock on each call. */
export interface MockPoetState {
  /** The round open for registration now. */
  openRound(): number;
  /** Every round seen so far, with registrations, statement and proof. */
  rounds(): MockRound[];
  /** One round by number. */
  round(round: number): MockRound | undefined;
  /** The PoW parameters served now. */
  powParams(): PowParameters;
  /** Replaces the PoW parameters (e.g. to replay a capture); `previous` stays accepted too. */
  setPowParams(current: PowParameters, previous?: PowParameters): void;
}

/** A running mock PoET. */
export interface MockPoet extends AsyncDisposable {
  readonly layout: MockPoetLayout;
  /**
   * `http://127.0.0.1:<port>`: in the one-port layout REST, gRPC and Connect all live here; in the
   * real-server layout this is the REST gateway ({@link restUrl}).
   */
  readonly url: string;
  /** The port of {@link url}. */
  readonly port: number;
  /** The REST gateway's URL. */
  readonly restUrl: string;
  /** The gRPC URL (the same as {@link url} in the one-port layout). */
  readonly grpcUrl: string;
  /** The Connect URL; `undefined` in the real-server layout, which has no Connect. */
  readonly connectUrl: string | undefined;
  /**
   * The URL that serves `protocol`.
   *
   * @throws {ConfigError} for `"connect"` in the real-server layout.
   */
  urlFor(protocol: "rest" | "grpc" | "connect"): string;
  readonly info: MockPoetInfo;
  readonly clock: Clock;
  readonly schedule: RoundSchedule;
  readonly faults: MockPoetFaults;
  readonly state: MockPoetState;
  /** The service methods, callable directly (no network). */
  readonly handlers: MockPoetHandlers;
  /** Drops every connection and listens again on the same port(s); rounds and registrations stay. */
  restart(): Promise<void>;
  /** Stops the mock and ends every connection. */
  stop(): Promise<void>;
  /** Same as {@link stop}. */
  close(): Promise<void>;
}

const DEFAULT_LEAVES_PER_SECOND = 100;
const MIN_LEAVES = 150n;
const DEFAULT_MAX_LEAVES = 1024n;

function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

function leavesFunction(options: MockPoetOptions, executionMs: number): (round: number) => bigint {
  const fixed = options.leavesPerRound;
  if (typeof fixed === "function") return fixed;
  if (fixed !== undefined) {
    if (typeof fixed === "number" && !Number.isSafeInteger(fixed)) {
      throw new ConfigError("leavesPerRound", `must be an integer, got ${fixed}`);
    }
    const leaves = BigInt(fixed);
    if (leaves < 1n) throw new ConfigError("leavesPerRound", `must be at least 1, got ${leaves}`);
    return () => leaves;
  }
  const rate = options.leavesPerSecond;
  if (rate !== undefined && !(rate > 0)) {
    throw new ConfigError("leavesPerSecond", `must be positive, got ${rate}`);
  }
  const computed = BigInt(Math.round(((rate ?? DEFAULT_LEAVES_PER_SECOND) * executionMs) / 1000));
  let leaves = computed < MIN_LEAVES ? MIN_LEAVES : computed;
  if (rate === undefined && leaves > DEFAULT_MAX_LEAVES) leaves = DEFAULT_MAX_LEAVES;
  return () => leaves;
}

/**
 * The gRPC port's answer to a path that names no method of `PoetService`: what grpc-go sends, a
 * trailers-only `Unimplemented` with "unknown service …" or "unknown method … for service …".
 */
function answerUnknownGrpcMethod(req: NodeServerRequest, res: NodeServerResponse): void {
  const [, service = "", method = ""] = /^\/([^/]*)\/?([^/?]*)/.exec(req.url ?? "") ?? [];
  const message =
    service === PoetService.typeName
      ? `unknown method ${method} for service ${service}`
      : `unknown service ${service}`;
  sendResponse(res, 200, "", "application/grpc", [
    ["grpc-status", "12"],
    ["grpc-message", encodeURIComponent(message)],
  ]);
}

/**
 * Starts a mock PoET on `127.0.0.1` that speaks REST, gRPC and Connect on one port, or (with
 * `layout: "real-server"`) the REST gateway and gRPC on separate ports, as a real PoET does.
 *
 * @example
 * ```ts
 * import { ManualClock, startMockPoet } from "spacemesh-poet-client/testing";
 *
 * const clock = new ManualClock(Date.parse("2024-01-01T00:00:00Z"));
 * await using poet = await startMockPoet({ clock, epochDurationMs: 4000, phaseShiftMs: 1000, cycleGapMs: 2000 });
 * const info = await fetch(`${poet.url}/v1/info`).then((r) => r.json());
 * await clock.advance(3000); // round 0 has ended: GET /v1/proofs/0 now returns its proof
 *
 * await using real = await startMockPoet({ clock, layout: "real-server" });
 * createPoetClient({ url: real.restUrl });                    // what public PoETs serve
 * createPoetClient({ url: real.grpcUrl, protocol: "grpc" });  // gRPC has its own port
 * ```
 */
export async function startMockPoet(options: MockPoetOptions = {}): Promise<MockPoet> {
  throwIfAborted(options.signal);
  const clock = options.clock ?? systemClock;
  const schedule = new RoundSchedule({
    genesis: options.genesis ?? new Date(clock.now()),
    epochDurationMs: options.epochDurationMs ?? 4000,
    phaseShiftMs: options.phaseShiftMs ?? 1000,
    cycleGapMs: options.cycleGapMs ?? 2000,
  });
  const seed = signingSeed(options.serviceKey, "serviceKey");
  const servicePubkey = ed25519.getPublicKey(seed);
  const difficulty = options.powDifficulty ?? 0;
  if (!Number.isInteger(difficulty) || difficulty < 0 || difficulty > 256) {
    throw new ConfigError("powDifficulty", `must be an integer in 0..256, got ${difficulty}`);
  }
  const maxRoundMembers = options.maxRoundMembers ?? 2 ** 32;
  if (!(maxRoundMembers >= 0)) {
    throw new ConfigError("maxRoundMembers", `must not be negative, got ${maxRoundMembers}`);
  }
  const pow = new PowVerifier({
    challenge: options.powChallenge?.slice() ?? randomBytes(32),
    difficulty,
  });
  const layout = options.layout ?? "one-port";
  if (layout !== "one-port" && layout !== "real-server") {
    throw new ConfigError("layout", `${JSON.stringify(layout)} is not one-port or real-server`);
  }
  const stopped = new AbortController();
  const servers: SinglePortServer[] = [];
  const faults = new MockPoetFaults({
    clock,
    stopped: stopped.signal,
    listener: {
      down: async () => {
        await Promise.all(servers.map((s) => s.down()));
      },
      up: async () => {
        if (stopped.signal.aborted) return;
        await Promise.all(servers.map((s) => s.listen()));
      },
    },
  });
  const rounds = new MockPoetRounds({
    schedule,
    clock,
    pow,
    leavesFor: leavesFunction(options, schedule.epochDurationMs - schedule.cycleGapMs),
    // A bad value is refused here, not met as a round the prover silently skips.
    securityParam: resolveSecurityParam(options.securityParam),
    omitted: () => faults.omitted,
  });
  const certifier = options.certifier ?? {};
  const handlers = createMockPoetService({
    clock,
    schedule,
    rounds,
    pow,
    faults,
    servicePubkey,
    certifier,
    maxRoundMembers,
  });
  const faultInterceptor: Interceptor = (next) => async (req) => {
    await faults.beforeRequest(req.signal);
    return next(req);
  };
  const rest = createRestGateway({ handlers, faults });
  const serveRest = (req: NodeServerRequest, res: NodeServerResponse) => {
    rest(req, res).catch(() => res.destroy());
  };
  let restServer: SinglePortServer;
  let grpcServer: SinglePortServer;
  if (layout === "one-port") {
    const rpc = connectNodeAdapter({
      routes: (router) => router.service(PoetService, handlers),
      interceptors: [faultInterceptor],
      readMaxBytes: MAX_REQUEST_BYTES,
    });
    const rpcPrefix = `/${PoetService.typeName}/`;
    restServer = new SinglePortServer(
      (req, res) => {
        if ((req.url ?? "").startsWith(rpcPrefix)) rpc(req, res);
        else serveRest(req, res);
      },
      { port: options.port ?? 0 },
    );
    grpcServer = restServer;
    servers.push(restServer);
  } else {
    const grpcOnly = connectNodeAdapter({
      routes: (router) => router.service(PoetService, handlers),
      interceptors: [faultInterceptor],
      readMaxBytes: MAX_REQUEST_BYTES,
      grpc: true,
      grpcWeb: false,
      connect: false,
      fallback: (req, res) => answerUnknownGrpcMethod(req, res as NodeServerResponse),
    });
    restServer = new SinglePortServer(serveRest, { port: options.port ?? 0, versions: "1.1" });
    grpcServer = new SinglePortServer(grpcOnly, { port: options.grpcPort ?? 0, versions: "2" });
    servers.push(restServer, grpcServer);
  }
  try {
    for (const s of servers) await s.listen();
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    throw err;
  }
  const restUrl = `http://${restServer.host}:${restServer.port}`;
  const grpcUrl = `http://${grpcServer.host}:${grpcServer.port}`;
  const connectUrl = layout === "one-port" ? restUrl : undefined;

  const stop = async () => {
    stopped.abort();
    await Promise.all(servers.map((s) => s.close()));
  };
  const info: MockPoetInfo = {
    servicePubkey,
    phaseShiftMs: schedule.phaseShiftMs,
    cycleGapMs: schedule.cycleGapMs,
    certifier:
      certifier.pubkey !== undefined && certifier.pubkey.length > 0
        ? { url: certifier.url ?? "", pubkey: certifier.pubkey }
        : undefined,
  };
  const state: MockPoetState = {
    openRound: () => {
      rounds.sync();
      return rounds.openRound();
    },
    rounds: () => {
      rounds.sync();
      return rounds.list();
    },
    round: (round) => {
      rounds.sync();
      return rounds.get(round);
    },
    powParams: () => {
      rounds.sync();
      return pow.current;
    },
    setPowParams: (current, previous) => pow.restore(current, previous),
  };
  return {
    layout,
    url: restUrl,
    port: restServer.port,
    restUrl,
    grpcUrl,
    connectUrl,
    urlFor: (protocol) => {
      if (protocol === "rest") return restUrl;
      if (protocol === "grpc") return grpcUrl;
      if (connectUrl === undefined) {
        throw new ConfigError(
          "protocol",
          "the real-server layout serves no Connect, like a real PoET",
        );
      }
      return connectUrl;
    },
    info,
    clock,
    schedule,
    faults,
    state,
    handlers,
    restart: async () => {
      await Promise.all(servers.map((s) => s.down()));
      if (stopped.signal.aborted) return;
      for (const s of servers) await s.listen();
    },
    stop,
    close: stop,
    [Symbol.asyncDispose]: stop,
  };
}
