/**
 * @module testing/mock-poet-service
 *
 * The one `PoetService` implementation behind every protocol the mock speaks (REST gateway, gRPC,
 * Connect), with the real server's behaviour (docs/protocol.md §1.4, §2, §3, §4).
 *
 * Submit runs the server's checks in the server's order, each failing with the server's gRPC
 * code and message: public key length, ed25519 signature over `prefix ‖ challenge`, hint length,
 * then the certificate when the request carries one (even an empty one — the real server never
 * falls back to PoW for such a request) or else the PoW, then the deadline against the open
 * round's end, then the member limit (checked before the duplicate test, so even a repeat gets 429
 * in a full round), then the one-challenge-per-key rule (identical repeat: same answer; different
 * challenge: 409). Info always carries a certifier object, empty when none is configured, as the
 * real binary does. Proof answers 404 `proof not found` until the round is proven, for any id the
 * server does not hold (`"abc"`, `""`, `"09"`).
 *
 * Errors are `ConnectError`s, so gRPC and Connect clients see the codes directly and the REST
 * gateway maps them to HTTP statuses.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Clock } from "../clock.js";
import {
  type InfoRequest,
  type InfoResponse,
  InfoResponseSchema,
  type PowParamsRequest,
  type PowParamsResponse,
  PowParamsResponseSchema,
  type ProofRequest,
  type ProofResponse,
  ProofResponseSchema,
  type SubmitRequest,
  type SubmitResponse,
  SubmitResponseSchema,
} from "../gen/rpc/api/v1/api_pb.js";
import type { RoundSchedule } from "../schedule/index.js";
import {
  PROOF_NOT_FOUND_MESSAGE,
  ROUND_FULL_MESSAGE,
  TOO_LATE_MESSAGE,
} from "../transport/index.js";
import { msToDuration } from "../wire/index.js";
import {
  CERTIFICATE_HINT_BYTES,
  certificateRejection,
  verifySignature,
} from "./certificate-check.js";
import type { MockPoetFaults } from "./faults.js";
import type { MockPoetRounds, MockRound } from "./mock-poet-state.js";
import type { PowVerifier } from "./pow-check.js";

/** The certifier a mock PoET advertises and trusts. */
export interface MockCertifierConfig {
  /** Advertised in `/v1/info` (default `""`). */
  url?: string;
  /** The configured certifier key: checked without a hint, advertised in `/v1/info`. */
  pubkey?: Uint8Array;
  /** Further trusted keys, matched only through a hint (the real server's trusted-keys dir). */
  trustedKeys?: readonly Uint8Array[];
}

/** Everything the service reads. */
export interface MockPoetServiceContext {
  clock: Clock;
  schedule: RoundSchedule;
  rounds: MockPoetRounds;
  pow: PowVerifier;
  faults: MockPoetFaults;
  servicePubkey: Uint8Array;
  certifier: MockCertifierConfig;
  maxRoundMembers: number;
}

/** The server's messages, exported for tests that compare text. */
export const SUBMIT_MESSAGES = {
  invalidPubkey: "invalid public key",
  invalidSignature: "invalid signature",
  invalidHint: "invalid certificate public key hint",
  tooLate: TOO_LATE_MESSAGE,
  full: ROUND_FULL_MESSAGE,
  conflict: "conflicting registration",
  proofNotFound: PROOF_NOT_FOUND_MESSAGE,
} as const;

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function authorize(ctx: MockPoetServiceContext, req: SubmitRequest): void {
  if (req.certificate !== undefined) {
    const reason = certificateRejection(
      req.certificate,
      req.pubkey,
      req.certificatePubkeyHint,
      ctx.certifier,
      ctx.clock.now(),
    );
    if (reason !== undefined) {
      throw new ConnectError(`invalid certificate\n${reason}`, Code.Unauthenticated);
    }
    return;
  }
  const rejection = ctx.pow.check(req.powParams, req.pubkey, req.challenge, req.nonce);
  if (rejection !== undefined) throw new ConnectError(rejection, Code.InvalidArgument);
}

/** Runs Submit's checks and registration; returns the round number. */
function submit(ctx: MockPoetServiceContext, req: SubmitRequest): number {
  if (req.pubkey.length !== 32) {
    throw new ConnectError(SUBMIT_MESSAGES.invalidPubkey, Code.InvalidArgument);
  }
  if (!verifySignature(req.signature, concat(req.prefix, req.challenge), req.pubkey)) {
    throw new ConnectError(SUBMIT_MESSAGES.invalidSignature, Code.InvalidArgument);
  }
  const hint = req.certificatePubkeyHint;
  if (hint.length > 0 && hint.length !== CERTIFICATE_HINT_BYTES) {
    throw new ConnectError(SUBMIT_MESSAGES.invalidHint, Code.InvalidArgument);
  }
  authorize(ctx, req);
  ctx.rounds.sync();
  const open = ctx.rounds.openRound();
  if (req.deadline !== undefined) {
    const endNs = BigInt(ctx.schedule.roundEnd(open).getTime()) * 1_000_000n;
    const deadlineNs = req.deadline.seconds * 1_000_000_000n + BigInt(req.deadline.nanos);
    if (endNs > deadlineNs)
      throw new ConnectError(SUBMIT_MESSAGES.tooLate, Code.FailedPrecondition);
  }
  const outcome = ctx.rounds.register(req.pubkey, req.challenge, ctx.maxRoundMembers);
  if (outcome.kind === "full") throw new ConnectError(SUBMIT_MESSAGES.full, Code.ResourceExhausted);
  if (outcome.kind === "conflict") {
    throw new ConnectError(SUBMIT_MESSAGES.conflict, Code.AlreadyExists);
  }
  return outcome.round;
}

function flipped(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  if (out.length > 0) out[out.length - 1] = (out[out.length - 1] as number) ^ 0x01;
  return out;
}

function proofResponse(ctx: MockPoetServiceContext, round: MockRound): ProofResponse {
  const { faults } = ctx;
  const members = [...(round.closed?.members ?? [])];
  if (faults.oversizeBytes > 0) {
    const extra = Math.ceil(faults.oversizeBytes / 32) + 1;
    for (let i = 0; i < extra; i++) members.push(new Uint8Array(32));
  }
  const pubkey = faults.wrongServiceKey ? flipped(ctx.servicePubkey) : ctx.servicePubkey;
  if (faults.emptyProof || round.proof === undefined) {
    return create(ProofResponseSchema, {
      proof: { proof: { root: new Uint8Array(0) }, members, leaves: 0n },
      pubkey,
    });
  }
  const { root, provenLeaves, proofNodes, leaves } = round.proof;
  const served = [...provenLeaves];
  const first = served[0];
  if (faults.invalidProof && first !== undefined) served[0] = flipped(first);
  return create(ProofResponseSchema, {
    proof: { proof: { root, provenLeaves: served, proofNodes: [...proofNodes] }, members, leaves },
    pubkey,
  });
}

/**
 * The four methods of the PoET API, callable without a request context; the object is also a
 * `ServiceImpl<typeof PoetService>` for `@connectrpc/connect`'s router.
 */
export interface MockPoetHandlers {
  powParams(request?: PowParamsRequest): PowParamsResponse;
  info(request?: InfoRequest): InfoResponse;
  submit(request: SubmitRequest): SubmitResponse;
  proof(request: ProofRequest): ProofResponse;
}

/**
 * Builds the `PoetService` implementation of a mock PoET.
 *
 * @example
 * ```ts
 * const impl = createMockPoetService(context); // also a ServiceImpl<typeof PoetService>
 * const handler = connectNodeAdapter({ routes: (router) => router.service(PoetService, impl) });
 * ```
 */
export function createMockPoetService(ctx: MockPoetServiceContext): MockPoetHandlers {
  return {
    powParams() {
      ctx.rounds.sync();
      const { challenge, difficulty } = ctx.pow.current;
      return create(PowParamsResponseSchema, { powParams: { challenge, difficulty } });
    },
    info() {
      ctx.rounds.sync();
      return create(InfoResponseSchema, {
        servicePubkey: ctx.servicePubkey,
        phaseShift: msToDuration(ctx.schedule.phaseShiftMs),
        cycleGap: msToDuration(ctx.schedule.cycleGapMs),
        certifier: {
          url: ctx.certifier.url ?? "",
          pubkey: ctx.certifier.pubkey ?? new Uint8Array(0),
        },
      });
    },
    submit(req) {
      const round = submit(ctx, req);
      const endMs = ctx.schedule.roundEnd(round).getTime();
      return create(SubmitResponseSchema, {
        roundId: String(round),
        roundEnd: msToDuration(endMs - ctx.clock.now()),
      });
    },
    proof(req) {
      ctx.rounds.sync();
      const round = ctx.rounds.byId(req.roundId);
      const servable =
        round !== undefined &&
        (round.proof !== undefined || (ctx.faults.emptyProof && round.closed !== undefined));
      if (!servable) throw new ConnectError(SUBMIT_MESSAGES.proofNotFound, Code.NotFound);
      const response = proofResponse(ctx, round);
      round.proofsServed = (round.proofsServed ?? 0) + 1;
      return response;
    },
  };
}
