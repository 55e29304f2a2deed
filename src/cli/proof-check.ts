/**
 * @module cli/proof-check
 *
 * What `verify` and `fetch-proof` tell an operator about a proof: whether it verifies
 * (docs/protocol.md §5.5), its leaves and ticks (§4.1), its reference — the PoST challenge a node
 * derives from it (§4.3) — and, given a challenge, whether and where it is a member and whether
 * its membership path checks out. Failures are values here, not exceptions, so that one report
 * can hold several proofs and the command chooses the exit code.
 */

import type { AbortOptions } from "../abort-options.js";
import { equalBytes } from "../bytes.js";
import { PoetError, ProofVerificationError } from "../errors.js";
import {
  findMember,
  membershipProof,
  membershipRoot,
  verifyMembership,
  verifyRoundProof,
} from "../membership/index.js";
import { proofRef, verifyPoetProof } from "../verify/index.js";

import type { ProofInput } from "./proof-file.js";

/** The outcome of checking one proof. */
export interface ProofReport {
  name: string;
  valid: boolean;
  /** Why it is invalid (a {@link ProofVerificationError} reason or another error code). */
  reason: string | undefined;
  error: string | undefined;
  leaves: bigint;
  ticks: bigint;
  /** blake3 of the SCALE proof: the PoST challenge. */
  ref: Uint8Array | undefined;
  root: Uint8Array;
  statement: Uint8Array;
  members: number | undefined;
  provenLeaves: number;
  proofNodes: number;
  pubkey: Uint8Array | undefined;
  /** Whether `pubkey` equals the expected key, when one was given. */
  pubkeyMatches: boolean | undefined;
  /** Membership of the given challenge, when one was given. */
  membership:
    | { member: false }
    | { member: true; leafIndex: number; nodes: Uint8Array[]; valid: boolean }
    | undefined;
  /** Whether the outcome matches the file's expectation (test vectors only). */
  expected: boolean | undefined;
}

/** What to check beyond the proof itself. */
export interface ProofCheckOptions extends AbortOptions {
  tickSize: bigint;
  challenge?: Uint8Array | undefined;
  expectedPubkey?: Uint8Array | undefined;
  securityParam?: number | undefined;
}

/**
 * Verifies `input` and gathers everything an operator wants to know about it.
 *
 * @example
 * ```ts
 * const report = await checkProof(readProofFile("round-30.json")[0]!, { tickSize: 9_331_200n });
 * report.valid; report.ticks;
 * ```
 */
export async function checkProof(
  input: ProofInput,
  options: ProofCheckOptions,
): Promise<ProofReport> {
  const { proof, members } = input;
  // Without a statement it is the members' root, except for members that are not all 32 bytes:
  // those are left to verifyRoundProof, which refuses them as `bad-members`.
  const oddMembers =
    input.statement === undefined && members !== undefined && members.some((m) => m.length !== 32);
  const statement =
    input.statement ??
    (members === undefined || oddMembers ? new Uint8Array(0) : membershipRoot(members));

  let valid = true;
  let reason: string | undefined;
  let error: string | undefined;
  try {
    const securityParam = options.securityParam ?? input.securityParam;
    const verifyOptions = {
      ...(securityParam === undefined ? {} : { securityParam }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    };
    if (oddMembers) await verifyRoundProof({ proof, members }, verifyOptions);
    else await verifyPoetProof(proof, statement, verifyOptions);
  } catch (err) {
    if (err instanceof ProofVerificationError) {
      reason = err.reason;
    } else if (err instanceof PoetError && err.code !== "aborted") {
      reason = err.code;
    } else {
      throw err;
    }
    valid = false;
    error = (err as Error).message;
  }

  let ref: Uint8Array | undefined;
  try {
    ref = proofRef(proof);
  } catch {
    ref = undefined; // a proof over the SCALE limits has no reference
  }

  let membership: ProofReport["membership"];
  if (options.challenge !== undefined) {
    const list = members ?? [];
    const challenge = options.challenge;
    const leafIndex = findMember(list, challenge);
    if (leafIndex === undefined) {
      membership = { member: false };
      if (valid) {
        valid = false;
        reason = "missing-member";
        error = "the challenge is not among the round's members";
      }
    } else {
      const path = membershipProof(list, leafIndex);
      const ok = verifyMembership(statement, [leafIndex], [challenge], path.nodes);
      membership = { member: true, leafIndex, nodes: path.nodes, valid: ok };
    }
  }

  const pubkeyMatches =
    options.expectedPubkey === undefined || input.pubkey === undefined
      ? undefined
      : equalBytes(options.expectedPubkey, input.pubkey);

  return {
    name: input.name,
    valid,
    reason,
    error,
    leaves: proof.leaves,
    ticks: options.tickSize > 0n ? proof.leaves / options.tickSize : 0n,
    ref,
    root: proof.root,
    statement,
    members: input.members?.length,
    provenLeaves: proof.provenLeaves.length,
    proofNodes: proof.proofNodes.length,
    pubkey: input.pubkey,
    pubkeyMatches,
    membership,
    expected: input.expectValid === undefined ? undefined : input.expectValid === valid,
  };
}
