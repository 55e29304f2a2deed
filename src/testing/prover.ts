/**
 * @module testing/prover
 *
 * A PoET prover for tests and the mock PoET: it does the sequential work for a statement and a
 * leaf count and extracts the proof exactly as the reference prover does, so its proofs are real
 * (docs/protocol.md §5.1–§5.3). For the statements and leaf counts of the reference vectors it
 * reproduces their roots, proven leaves and proof nodes byte for byte.
 *
 * How it works, and what it keeps in memory:
 * - Sequential work: label `i` is `LH(BE64(i) ‖ parked nodes)`, where the parked nodes are the
 *   roots of the complete subtrees to the left of leaf `i` (one per set bit of `i`). They are
 *   kept on a stack of at most 64 nodes that is updated after each label, like a binary counter.
 *   All labels are kept (32 bytes per leaf): the proof nodes depend on the root, so they can only
 *   be chosen once every label exists.
 * - The root is folded from the final stack, padding missing right siblings with 32 zero bytes.
 * - The Fiat–Shamir indices of that root say which labels are proven; the proof nodes the
 *   validator will ask for are then read in one bottom-up pass that rebuilds the tree in the
 *   labels' own buffer, one level at a time. Peak memory is therefore `32 · (leaves + 1)` bytes.
 * Labels cost 400 SHA-256 each, so a million leaves take minutes in JavaScript; tests should use
 * small counts (the mock PoET proves rounds of a few hundred leaves).
 */
import { equalBytes } from "../bytes.js";
import { ConfigError, PoetError } from "../errors.js";
import type { PoswHasher } from "../verify/hasher.js";
import {
  collectTreeNodes,
  defaultPoswHasher,
  fiatShamirIndices,
  partialTreeProofPositions,
  resolveSecurityParam,
  treeHeight,
} from "../verify/index.js";
import type { PoetProof } from "../wire/index.js";

/** The most leaves {@link prove} accepts: 32 bytes each must fit in memory. */
export const MAX_PROVER_LEAVES = 2 ** 25;

/** Options of {@link prove}. */
export interface ProveOptions {
  /** `T`, the number of leaves opened; 150 by default. */
  securityParam?: number | undefined;
  /** The SHA-256 implementation; the pure-JS one by default. */
  hasher?: PoswHasher | undefined;
}

/**
 * Builds a real PoET proof of `leaves` leaves of sequential work over `statement`.
 *
 * @param statement the round's statement (its membership root).
 * @param leaves the number of leaves, from 1 to {@link MAX_PROVER_LEAVES}.
 * @throws {ConfigError} for a leaf count out of range or a bad security parameter.
 * @example
 * ```ts
 * import { prove } from "spacemesh-poet-client/testing";
 * const proof = prove(membershipRoot(members), 300);
 * verifyPoetProofSync(proof, membershipRoot(members)); // passes
 * ```
 */
export function prove(
  statement: Uint8Array,
  leaves: bigint | number,
  options: ProveOptions = {},
): PoetProof {
  const width = Number(leaves);
  if (!Number.isSafeInteger(width) || width < 1 || width > MAX_PROVER_LEAVES) {
    throw new ConfigError(
      "leaves",
      `the prover needs from 1 to ${MAX_PROVER_LEAVES} leaves, got ${String(leaves)}`,
    );
  }
  const securityParam = resolveSecurityParam(options.securityParam);
  const hasher = options.hasher ?? defaultPoswHasher();
  const height = treeHeight(BigInt(width));

  const labels = new Uint8Array(32 * (width + 1));
  const parked = Array.from({ length: height + 1 }, () => new Uint8Array(32));
  sequentialWork(statement, width, hasher, labels, parked);
  const root = foldRoot(statement, width, height, hasher, parked);

  const indices = fiatShamirIndices(root, BigInt(width), securityParam, hasher);
  const provenLeaves = indices.map((index) => {
    const offset = 32 * Number(index);
    return labels.slice(offset, offset + 32);
  });
  const parent = new Uint8Array(32);
  const tree = collectTreeNodes(
    labels,
    width,
    partialTreeProofPositions(indices, height),
    (level, count) => {
      for (let p = 0; p < Math.ceil(count / 2); p++) {
        hasher.merkle(
          statement,
          level.subarray(64 * p, 64 * p + 32),
          level.subarray(64 * p + 32, 64 * p + 64),
          parent,
        );
        level.set(parent, 32 * p);
      }
    },
  );
  if (!equalBytes(tree.root, root)) {
    throw new PoetError("internal", "the prover's two computations of the root disagree");
  }
  return { root, provenLeaves, proofNodes: tree.nodes, leaves: BigInt(width) };
}

/** Computes every label into `labels`, leaving on `parked` the stack after the last one. */
function sequentialWork(
  statement: Uint8Array,
  width: number,
  hasher: PoswHasher,
  labels: Uint8Array,
  parked: Uint8Array[],
): void {
  const input = new Uint8Array(8 + 32 * parked.length);
  const view = new DataView(input.buffer);
  const batch = [input];
  const carry = new Uint8Array(32);
  const parent = new Uint8Array(32);
  for (let i = 0; i < width; i++) {
    view.setUint32(0, Math.floor(i / 0x1_0000_0000));
    view.setUint32(4, i >>> 0);
    let length = 8;
    for (let h = 0; i >>> h !== 0; h++) {
      if ((i >>> h) & 1) {
        input.set(parked[h]!, length);
        length += 32;
      }
    }
    batch[0] = input.subarray(0, length);
    const label = labels.subarray(32 * i, 32 * i + 32);
    hasher.labels(statement, batch, label);
    // Park the new leaf: merge it with the complete left subtrees it completes.
    carry.set(label);
    let h = 0;
    while ((i >>> h) & 1) {
      hasher.merkle(statement, parked[h]!, carry, parent);
      carry.set(parent);
      h++;
    }
    parked[h]!.set(carry);
  }
}

/** The root from the parked stack after `width` leaves: missing right siblings are zeros. */
function foldRoot(
  statement: Uint8Array,
  width: number,
  height: number,
  hasher: PoswHasher,
  parked: Uint8Array[],
): Uint8Array {
  if (width === 2 ** height) return parked[height]!.slice();
  const zero = new Uint8Array(32);
  let tail: Uint8Array | undefined;
  for (let h = 0; h < height; h++) {
    const next = new Uint8Array(32);
    if (Math.floor(width / 2 ** h) % 2 === 1) {
      hasher.merkle(statement, parked[h]!, tail ?? zero, next);
      tail = next;
    } else if (tail !== undefined) {
      hasher.merkle(statement, tail, zero, next);
      tail = next;
    }
  }
  return tail!;
}
