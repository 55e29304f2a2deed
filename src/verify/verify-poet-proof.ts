/**
 * @module verify/verify-poet-proof
 *
 * Full verification of a PoET proof against its statement, with the verdicts of the reference
 * verifier (docs/protocol.md §5.5):
 * 1. the shape of the proof ({@link checkProofStructure}; no hashing),
 * 2. the Fiat–Shamir indices from the root ({@link fiatShamirIndices}),
 * 3. the partial Merkle tree rebuilt from the proven leaves and proof nodes must reach the root,
 *    and reach every proven leaf ({@link checkProofTree}),
 * 4. every proven leaf must be the label recomputed from its parked nodes ({@link checkLabels}).
 * Steps 1–3 cost a few thousand SHA-256 calls, step 4 sixty thousand; a failure stops at the first
 * step that fails, so a forged root or a wrong statement is rejected before any label is computed.
 *
 * The asynchronous form does the same work on the calling thread but gives the event loop a turn
 * between batches of labels and honours an `AbortSignal`; offloading to other threads is a matter
 * of passing a {@link PoswHasher} that does so, or of running the steps separately.
 */

import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { AbortOptions } from "../abort-options.js";
import { equalBytes } from "../bytes.js";
import { ProofVerificationError, throwIfAborted } from "../errors.js";
import type { PoetProof } from "../wire/index.js";
import { fiatShamirIndices } from "./fiat-shamir.js";
import type { PoswHasher } from "./hasher.js";
import { checkLabels, compareLabels, labelInputs } from "./labels.js";
import { resolveSecurityParam } from "./params.js";
import type { ParkingSnapshot, TreeHasher } from "./partial-tree.js";
import { validatePartialTree } from "./partial-tree.js";
import { checkProofStructure } from "./proof-structure.js";
import { defaultPoswHasher } from "./wasm/select-hasher.js";

/** Options of {@link verifyPoetProofSync}. */
export interface VerifyPoetProofOptions {
  /** `T`, the number of proven leaves; 150 (the network's value) by default. */
  securityParam?: number | undefined;
  /**
   * The SHA-256 implementation: the shared WebAssembly SIMD kernel by default (JavaScript where
   * the engine lacks SIMD); pass `new JsPoswHasher()` for the pure-JavaScript one. Every
   * implementation gives the same verdicts.
   */
  hasher?: PoswHasher | undefined;
}

/** Options of {@link verifyPoetProof}. */
export interface VerifyPoetProofAsyncOptions extends VerifyPoetProofOptions, AbortOptions {}

/**
 * Labels computed between two turns of the event loop in {@link verifyPoetProof}: about half a
 * millisecond with the SIMD kernel, and a multiple of its four lanes so that no lane idles.
 */
const LABELS_PER_TURN = 16;

/**
 * The Merkle parent of the sequential-work tree, `SHA256(statement ‖ left ‖ right)`, as a
 * {@link TreeHasher}; with the hasher's batch form when it has one.
 */
export function poswNodeHash(hasher: PoswHasher, statement: Uint8Array): TreeHasher {
  const tree: TreeHasher = {
    parent: (left, right, out) => hasher.merkle(statement, left, right, out),
  };
  if (hasher.merklePlan !== undefined) {
    tree.parents = (arena, plan) => hasher.merklePlan!(statement, arena, plan);
  }
  return tree;
}

/**
 * Step 3 of verification: rebuilds the partial tree from the proven leaves at `indices` and the
 * proof nodes, and returns the parking snapshot of every proven leaf.
 *
 * @throws {ProofVerificationError} `merkle-root-mismatch` when the rebuilt root is not the proof's
 *   root, `snapshot-count-mismatch` when the proof nodes ran out before every proven leaf was
 *   reached, `malformed` when the indices and leaves do not fit together.
 * @example
 * ```ts
 * const snapshots = checkProofTree(proof, statement, indices, hasher);
 * ```
 */
export function checkProofTree(
  proof: PoetProof,
  statement: Uint8Array,
  indices: readonly bigint[],
  hasher: PoswHasher = defaultPoswHasher(),
): ParkingSnapshot[] {
  let tree: ReturnType<typeof validatePartialTree>;
  try {
    tree = validatePartialTree(
      indices,
      proof.provenLeaves,
      proof.proofNodes,
      poswNodeHash(hasher, statement),
    );
  } catch (err) {
    if (!(err instanceof ProofVerificationError)) throw err;
    throw new ProofVerificationError(
      "malformed",
      `error while validating merkle proof: ${err.message}`,
      { cause: err },
    );
  }
  if (!equalBytes(tree.root, proof.root)) {
    throw new ProofVerificationError(
      "merkle-root-mismatch",
      `merkle proof not valid: the proven leaves and ${proof.proofNodes.length} proof nodes ` +
        `lead to root ${bytesToHex(tree.root)}, not ${bytesToHex(proof.root)}`,
    );
  }
  if (tree.snapshots.length !== proof.provenLeaves.length) {
    throw new ProofVerificationError(
      "snapshot-count-mismatch",
      `the proof nodes ran out after ${tree.snapshots.length} of ` +
        `${proof.provenLeaves.length} proven leaves (leaf ${indices[tree.snapshots.length]} ` +
        "was never reached)",
    );
  }
  return tree.snapshots;
}

/**
 * Verifies a PoET proof against its statement (the round's membership root) on the calling
 * thread; returns when the proof is valid.
 *
 * @throws {ProofVerificationError} with a `reason` to branch on and a message that says where
 *   the proof is wrong.
 * @throws {ConfigError} when `securityParam` is not an integer from 1 to 255.
 * @example
 * ```ts
 * import { membershipRoot, verifyPoetProofSync } from "spacemesh-poet-client";
 * verifyPoetProofSync(proof, membershipRoot(members));
 * ```
 */
export function verifyPoetProofSync(
  proof: PoetProof,
  statement: Uint8Array,
  options: VerifyPoetProofOptions = {},
): void {
  const { hasher, indices, inputs } = checkUpToLabels(proof, statement, options);
  checkLabels(hasher, statement, indices, proof.provenLeaves, inputs);
}

/**
 * The steps before the labels, shared by both forms: shape checks, Fiat–Shamir indices and the
 * tree; returns the hasher, the indices and the label inputs.
 */
function checkUpToLabels(
  proof: PoetProof,
  statement: Uint8Array,
  options: VerifyPoetProofOptions,
): { hasher: PoswHasher; indices: bigint[]; inputs: Uint8Array[] } {
  const t = resolveSecurityParam(options.securityParam);
  checkProofStructure(proof, t);
  const hasher = options.hasher ?? defaultPoswHasher();
  const indices = fiatShamirIndices(proof.root, proof.leaves, t, hasher);
  const snapshots = checkProofTree(proof, statement, indices, hasher);
  return { hasher, indices, inputs: labelInputs(indices, snapshots) };
}

/**
 * Verifies a PoET proof against its statement (the round's membership root); resolves when the
 * proof is valid. The work is that of {@link verifyPoetProofSync}, split into batches of labels
 * so that the event loop keeps running, and it stops early when `signal` aborts.
 *
 * @throws {ProofVerificationError} with a `reason` to branch on (`malformed`, `empty-proof`,
 *   `wrong-leaf-count`, `too-few-leaves`, `merkle-root-mismatch`, `snapshot-count-mismatch`,
 *   `label-mismatch`) and a message that says where the proof is wrong.
 * @throws {AbortedError} when `signal` aborts.
 * @example
 * ```ts
 * import { ProofVerificationError, verifyPoetProof } from "spacemesh-poet-client";
 * try {
 *   await verifyPoetProof(proof, statement, { signal });
 * } catch (err) {
 *   if (err instanceof ProofVerificationError) console.warn(err.reason, err.message);
 * }
 * ```
 */
export async function verifyPoetProof(
  proof: PoetProof,
  statement: Uint8Array,
  options: VerifyPoetProofAsyncOptions = {},
): Promise<void> {
  const { signal } = options;
  throwIfAborted(signal);
  const { hasher, indices, inputs } = checkUpToLabels(proof, statement, options);
  for (let from = 0; from < inputs.length; from += LABELS_PER_TURN) {
    await yieldToEventLoop();
    throwIfAborted(signal);
    const batch = inputs.slice(from, from + LABELS_PER_TURN);
    const labels = new Uint8Array(32 * batch.length);
    hasher.labels(statement, batch, labels);
    compareLabels(labels, indices, proof.provenLeaves, from);
  }
}
