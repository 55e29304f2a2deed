/**
 * @module verify/partial-tree
 *
 * Rebuilds the root of a Merkle tree from some of its leaves and the sibling nodes that a proof
 * supplies, and records for every proven leaf the "parking snapshot" the label check needs
 * (docs/protocol.md §5.4). The same walk validates membership proofs (§4.3), only with a
 * different node hash, so the hash is a parameter.
 *
 * The walk must consume proof nodes exactly as the reference validator does, because the order
 * of `proofNodes` is defined by it and nothing else:
 * - Each proven leaf climbs from height 0. At each height its sibling is either the subtree that
 *   holds the next proven leaf (computed recursively, stopping at the current height) or the next
 *   proof node.
 * - The top of the tree is not derived from the leaf count: the outermost climb goes on while
 *   proof nodes remain and stops when it needs one and none is left. Extra or missing nodes
 *   therefore show up only as a different root, and proven leaves the walk never reached show
 *   up only as fewer snapshots than leaves — both are for the caller to check.
 * - A snapshot has one entry per height climbed: the left sibling where the leaf's ancestor is a
 *   right child, `null` where it is a left child. When a left child is hashed with a right
 *   subtree that held proven leaves, the left child is the parked node of all of them.
 *
 * Which node is hashed with which depends only on the indices and the number of proof nodes, never
 * on their values, so the walk runs in two passes. The first walks the tree without hashing and
 * writes a plan: every node gets a slot number (proven leaves, then proof nodes, then the parents
 * in the order the walk forms them), every parent an operation `(left, right, parent)` and a level
 * one above its higher child. The second pass computes the parents into one preallocated arena of
 * 32-byte slots: one operation at a time in walk order, or, when the hasher has a batch form, a
 * level at a time, so that a SIMD kernel hashes the independent parents of a level together
 * without a call per hash. Snapshots and the root are views into the arena; nothing is allocated
 * per node.
 *
 * Leaf indices are u64. Instead of shifting `bigint` positions at every height, the walk keeps each
 * index as two 32-bit halves and asks two questions of them: the bit of a leaf at a height (is its
 * ancestor a left or a right child there?) and the highest bit where two leaves differ (the height
 * at which their ancestors are siblings). Above height 63 every position is 0 and the walk keeps
 * climbing on proof nodes alone, as the reference does.
 */
import { ProofVerificationError } from "../errors.js";
import type { NodePlan } from "./hasher.js";

/** Parent of two nodes: `HASH(left, right)` as a fresh array (the simple form of {@link TreeHasher}). */
export type NodeHash = (left: Uint8Array, right: Uint8Array) => Uint8Array;

/** How the parents of a tree are computed. */
export interface TreeHasher {
  /** `out[0..32) = HASH(left, right)`. */
  parent(left: Uint8Array, right: Uint8Array, out: Uint8Array): void;
  /** Optional batch form: computes every operation of `plan` over `arena` (see {@link NodePlan}). */
  parents?(arena: Uint8Array, plan: NodePlan): void;
}

/**
 * The parked (left-sibling) nodes seen on one proven leaf's path, one entry per height climbed,
 * `null` where the path's node is a left child.
 */
export type ParkingSnapshot = (Uint8Array | null)[];

/** What {@link validatePartialTree} rebuilt. */
export interface PartialTree {
  /** The root the proof leads to; the proof is valid when it equals the expected root. */
  root: Uint8Array;
  /** One snapshot per proven leaf the walk reached, in index order. */
  snapshots: ParkingSnapshot[];
  /** Height of the rebuilt root above the leaves. */
  height: number;
}

const NODE = 32;

/**
 * A partial tree walked but not hashed (the first pass of {@link validatePartialTree}). Slots
 * number the nodes: the proven leaves `0 … L−1`, the proof nodes the walk used `L … given−1`, and
 * parent `k` at `given + k`. Parents are in the order the walk formed them, which puts every parent
 * after both of its children, so any prefix of them can be computed on its own.
 */
export interface TreeWalkResult {
  /** Three slots per parent, `(left, right, parent)`, in walk order. */
  readonly ops: Int32Array;
  /** Proven leaves plus the proof nodes the walk used. */
  readonly given: number;
  /** The root's slot. */
  readonly root: number;
  /** Height of the root above the leaves. */
  readonly height: number;
  /** Per proven leaf reached, its parking snapshot as slots (`-1` where a snapshot has `null`). */
  readonly snapshots: readonly (readonly number[])[];
}

/**
 * The first pass of {@link validatePartialTree}: which nodes are hashed with which, and the slots
 * of every snapshot. It depends on the indices and the number of proof nodes only.
 *
 * @throws {ProofVerificationError} (`malformed`) as {@link validatePartialTree} does.
 * @example
 * ```ts
 * const walk = walkPartialTree(indices, proof.provenLeaves.length, proof.proofNodes.length);
 * const plan = levelPlan(walk.ops, walk.given + walk.ops.length / 3);
 * ```
 */
export function walkPartialTree(
  indices: readonly bigint[],
  leafCount: number,
  nodeCount: number,
): TreeWalkResult {
  checkLeafIndices(indices, leafCount);
  const walk = new TreeWalk(indices, nodeCount);
  walk.climb(Number.POSITIVE_INFINITY);
  return walk.finish();
}

/**
 * Rebuilds a Merkle root from proven leaves and proof nodes, the way the reference validator does
 * (docs/protocol.md §5.4), and returns it with the parking snapshots of the leaves.
 *
 * @param indices the proven leaf indices, strictly ascending.
 * @param leaves the leaf values, one per index.
 * @param nodes the proof nodes, consumed front to back.
 * @param hash the parent function of the tree, or a {@link TreeHasher} that writes into buffers
 *   (and may hash a level of independent parents at once).
 * @throws {ProofVerificationError} (`malformed`) with the reference's wording when the index and
 *   leaf counts differ, there is no leaf, or the indices are not strictly ascending.
 * @example
 * ```ts
 * const { root, snapshots } = validatePartialTree(indices, proof.provenLeaves, proof.proofNodes,
 *   (l, r) => merkleHash(statement, l, r));
 * const valid = equalBytes(root, proof.root) && snapshots.length === indices.length;
 * ```
 */
export function validatePartialTree(
  indices: readonly bigint[],
  leaves: readonly Uint8Array[],
  nodes: readonly Uint8Array[],
  hash: NodeHash | TreeHasher,
): PartialTree {
  const walk = walkPartialTree(indices, leaves.length, nodes.length);
  const leafCount = leaves.length;
  const given = walk.given;
  const computed = walk.ops.length / 3;
  const hasher: TreeHasher = typeof hash === "function" ? wrapNodeHash(hash) : hash;

  // With a batch hasher and 32-byte given nodes the given nodes are copied into the arena too, so
  // that it reads every input from one place; otherwise the arena holds the parents only.
  const packed = hasher.parents !== undefined ? packedArena(walk, leaves, nodes) : undefined;
  const first = packed === undefined ? given : 0;
  const arena = packed ?? new Uint8Array(NODE * computed);
  const views: (Uint8Array | undefined)[] = new Array(given + computed);
  for (let slot = 0; slot < given; slot++) {
    views[slot] = slot < leafCount ? leaves[slot]! : nodes[slot - leafCount]!;
  }
  const view = (slot: number): Uint8Array => {
    let value = views[slot];
    if (value === undefined) {
      const start = NODE * (slot - first);
      value = arena.subarray(start, start + NODE);
      views[slot] = value;
    }
    return value;
  };
  if (packed !== undefined) {
    hasher.parents!(arena, levelPlan(walk.ops, given + computed));
  } else {
    // walk order puts every parent after its children
    const ops = walk.ops;
    for (let k = 0; k < computed; k++) {
      hasher.parent(view(ops[3 * k]!), view(ops[3 * k + 1]!), view(ops[3 * k + 2]!));
    }
  }
  const snapshots: ParkingSnapshot[] = new Array(walk.snapshots.length);
  for (let j = 0; j < snapshots.length; j++) {
    const slots = walk.snapshots[j]!;
    const snapshot: ParkingSnapshot = new Array(slots.length);
    for (let h = 0; h < slots.length; h++) {
      const slot = slots[h]!;
      snapshot[h] = slot < 0 ? null : view(slot);
    }
    snapshots[j] = snapshot;
  }
  return { root: view(walk.root), snapshots, height: walk.height };
}

/**
 * An arena of 32-byte slots for a walked tree: the given nodes (proven leaves, then the proof nodes
 * the walk used) copied into their slots, and room for every parent after them. `undefined` when a
 * given node is not 32 bytes, since slots are fixed-size.
 *
 * @example
 * ```ts
 * const arena = packedArena(walk, proof.provenLeaves, proof.proofNodes);
 * if (arena !== undefined) hasher.parents(arena, levelPlan(walk.ops, arena.length / 32));
 * ```
 */
export function packedArena(
  walk: TreeWalkResult,
  leaves: readonly Uint8Array[],
  nodes: readonly Uint8Array[],
): Uint8Array | undefined {
  const arena = new Uint8Array(NODE * (walk.given + walk.ops.length / 3));
  for (let slot = 0; slot < walk.given; slot++) {
    const value = slot < leaves.length ? leaves[slot]! : nodes[slot - leaves.length]!;
    if (value.length !== NODE) return undefined;
    arena.set(value, NODE * slot);
  }
  return arena;
}

function wrapNodeHash(hash: NodeHash): TreeHasher {
  return { parent: (left, right, out) => out.set(hash(left, right)) };
}

/**
 * The walk of {@link validatePartialTree} without hashing: which node is hashed with which.
 * Slots: the leaves, then the proof nodes, then the parents in the order the walk forms them.
 */
class TreeWalk {
  readonly #count: number;
  readonly #nodeCount: number;
  readonly #high: Uint32Array;
  readonly #low: Uint32Array;
  #ops: Int32Array;
  #nextLeaf = 0;
  #nextNode = 0;
  /** Parents formed so far. */
  count = 0;
  /** Slot, height and snapshots (parked slots, `-1` for a left child) of the last climb. */
  root = 0;
  height = 0;
  snapshots: number[][] = [];

  constructor(indices: readonly bigint[], nodeCount: number) {
    const count = indices.length;
    this.#count = count;
    this.#nodeCount = nodeCount;
    this.#high = new Uint32Array(count);
    this.#low = new Uint32Array(count);
    for (let j = 0; j < count; j++) {
      const index = indices[j]!;
      this.#high[j] = Number((index >> 32n) & 0xffffffffn);
      this.#low[j] = Number(index & 0xffffffffn);
    }
    this.#ops = new Int32Array(3 * (count + nodeCount));
  }

  /** Climbs from the next leaf up to `stopHeight`, or until a proof node is needed and none is left. */
  climb(stopHeight: number): void {
    const start = this.#nextLeaf;
    const count = this.#count;
    let value = start;
    this.#nextLeaf++;
    let height = 0;
    let snapshots: number[][] = [[]];
    let rightSnapshots: number[][] = [];
    while (height !== stopHeight) {
      let sibling: number;
      if (this.#nextLeaf < count && this.#split(start, this.#nextLeaf) === height) {
        this.climb(height);
        sibling = this.root;
        rightSnapshots = this.snapshots;
      } else {
        if (this.#nextNode === this.#nodeCount) break;
        sibling = count + this.#nextNode;
        this.#nextNode++;
      }
      if (this.#bit(start, height) === 1) {
        for (const snapshot of snapshots) snapshot.push(sibling);
        value = this.#parent(sibling, value);
      } else {
        for (const snapshot of snapshots) snapshot.push(-1);
        if (rightSnapshots.length > 0) {
          for (const snapshot of rightSnapshots) snapshot.push(value);
          snapshots = snapshots.concat(rightSnapshots);
          rightSnapshots = [];
        }
        value = this.#parent(value, sibling);
      }
      height++;
    }
    this.root = value;
    this.height = height;
    this.snapshots = snapshots;
  }

  /** Closes the walk: parents are renumbered to follow the proof nodes actually used. */
  finish(): TreeWalkResult {
    const gap = this.#nodeCount - this.#nextNode;
    const firstParent = this.#count + this.#nodeCount;
    const ops = this.#ops;
    for (let i = 0; i < 3 * this.count; i++) if (ops[i]! >= firstParent) ops[i] = ops[i]! - gap;
    if (this.root >= firstParent) this.root -= gap;
    for (const snapshot of this.snapshots) {
      for (let h = 0; h < snapshot.length; h++) {
        if (snapshot[h]! >= firstParent) snapshot[h] = snapshot[h]! - gap;
      }
    }
    return {
      ops: ops.subarray(0, 3 * this.count),
      given: this.#count + this.#nextNode,
      root: this.root,
      height: this.height,
      snapshots: this.snapshots,
    };
  }

  #parent(left: number, right: number): number {
    const k = this.count;
    const ops = this.#ops;
    const slot = this.#count + this.#nodeCount + k;
    ops[3 * k] = left;
    ops[3 * k + 1] = right;
    ops[3 * k + 2] = slot;
    this.count = k + 1;
    return slot;
  }

  /** Bit of leaf `j`'s index at height `h`: 1 where its ancestor is a right child. */
  #bit(j: number, h: number): number {
    if (h < 32) return (this.#low[j]! >>> h) & 1;
    return h < 64 ? (this.#high[j]! >>> (h - 32)) & 1 : 0;
  }

  /** The height at which the ancestors of leaves `j < k` are siblings: their highest differing bit. */
  #split(j: number, k: number): number {
    const x = this.#high[j]! ^ this.#high[k]!;
    return x !== 0 ? 63 - Math.clz32(x) : 31 - Math.clz32(this.#low[j]! ^ this.#low[k]!);
  }
}

/**
 * Orders operations by level (one above the higher of their two inputs; nodes not formed by these
 * operations, given or computed earlier, are level 0), keeping walk order within a level, and
 * returns where each level ends: the form a batch hasher takes ({@link TreeHasher.parents}).
 *
 * @param ops three slots per operation, `(left, right, parent)`, each parent after its children.
 * @param slotCapacity one more than the highest slot any operation names.
 * @example
 * ```ts
 * hasher.parents(arena, levelPlan(walk.ops, walk.given + walk.ops.length / 3));
 * ```
 */
export function levelPlan(ops: Int32Array, slotCapacity: number): NodePlan {
  const count = ops.length / 3;
  const level = new Int32Array(slotCapacity);
  const opLevel = new Int32Array(count);
  let top = 0;
  for (let k = 0; k < count; k++) {
    const l = level[ops[3 * k]!]!;
    const r = level[ops[3 * k + 1]!]!;
    const value = (l > r ? l : r) + 1;
    level[ops[3 * k + 2]!] = value;
    opLevel[k] = value;
    if (value > top) top = value;
  }
  const starts = new Int32Array(top + 2);
  for (let k = 0; k < count; k++) starts[opLevel[k]! + 1]!++;
  for (let l = 1; l <= top + 1; l++) starts[l]! += starts[l - 1]!;
  const levelEnds: number[] = [];
  for (let l = 1; l <= top; l++) levelEnds.push(starts[l + 1]!);
  const sorted = new Int32Array(3 * count);
  for (let k = 0; k < count; k++) {
    const at = 3 * starts[opLevel[k]!]!++;
    sorted[at] = ops[3 * k]!;
    sorted[at + 1] = ops[3 * k + 1]!;
    sorted[at + 2] = ops[3 * k + 2]!;
  }
  return { ops: sorted, levelEnds };
}

/**
 * The reference's preconditions on a leaf set: as many leaves as indices, at least one, indices
 * strictly ascending.
 */
export function checkLeafIndices(indices: readonly bigint[], leafCount: number): void {
  if (indices.length !== leafCount) {
    throw new ProofVerificationError(
      "malformed",
      `number of leaves (${leafCount}) must equal number of indices (${indices.length})`,
    );
  }
  if (leafCount === 0) {
    throw new ProofVerificationError("malformed", "at least one leaf is required for validation");
  }
  for (let j = 1; j < indices.length; j++) {
    if (indices[j]! < indices[j - 1]!) {
      throw new ProofVerificationError("malformed", "leafIndices are not sorted");
    }
  }
  for (let j = 1; j < indices.length; j++) {
    if (indices[j] === indices[j - 1]) {
      throw new ProofVerificationError("malformed", "leafIndices contain duplicates");
    }
  }
}
