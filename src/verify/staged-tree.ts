/**
 * @module verify/staged-tree
 *
 * A proof's partial tree hashed in stages (docs/protocol.md §5.4, §5.5), so that label work can
 * start before the Merkle work is done. The walk ({@link walkPartialTree}) forms parents in an
 * order where every parent follows its children and the subtrees of the leftmost leaves come
 * first; a leaf's parking snapshot holds only nodes left of it, so once a prefix of the parents is
 * hashed the snapshots of a prefix of the leaves are complete, and their labels can be computed
 * elsewhere while the rest of the tree is hashed here. Each stage is hashed a level at a time by the
 * hasher's batch form, as in {@link validatePartialTree}.
 *
 * Only a proof of the usual shape is staged: every leaf and proof node 32 bytes and every leaf
 * reached by the walk. Anything else is left to the sequential checks, which name what is wrong.
 */
import type { PoswHasher } from "./hasher.js";
import { levelPlan, packedArena, type TreeWalkResult, walkPartialTree } from "./partial-tree.js";

const NODE = 32;

type BatchHasher = PoswHasher & Required<Pick<PoswHasher, "merklePlan">>;

/**
 * A partial tree whose parents are computed a stage at a time.
 *
 * @example
 * ```ts
 * const tree = StagedTree.create(indices, proof.provenLeaves, proof.proofNodes, statement, hasher);
 * if (tree !== undefined) {
 *   tree.hashTo(tree.readyAfter(3)); // the first four snapshots are complete
 *   tree.hashTo(tree.opCount);
 *   const valid = equalBytes(tree.root(), proof.root);
 * }
 * ```
 */
export class StagedTree {
  readonly #walk: TreeWalkResult;
  readonly #arena: Uint8Array;
  readonly #statement: Uint8Array;
  readonly #hasher: BatchHasher;
  readonly #readyAfter: Int32Array;
  readonly #slotCapacity: number;
  #hashed = 0;

  private constructor(
    walk: TreeWalkResult,
    arena: Uint8Array,
    statement: Uint8Array,
    hasher: BatchHasher,
  ) {
    this.#walk = walk;
    this.#arena = arena;
    this.#statement = statement;
    this.#hasher = hasher;
    this.#slotCapacity = walk.given + walk.ops.length / 3;
    const ready = new Int32Array(walk.snapshots.length);
    let needed = 0;
    for (let j = 0; j < ready.length; j++) {
      for (const slot of walk.snapshots[j]!) {
        if (slot >= walk.given && slot - walk.given + 1 > needed) needed = slot - walk.given + 1;
      }
      ready[j] = needed;
    }
    this.#readyAfter = ready;
  }

  /**
   * Walks the tree of a proof of the usual shape; `undefined` when the proof is of another shape
   * (a leaf or node that is not 32 bytes, leaves the walk never reaches, bad indices) or the
   * hasher has no batch form.
   */
  static create(
    indices: readonly bigint[],
    leaves: readonly Uint8Array[],
    nodes: readonly Uint8Array[],
    statement: Uint8Array,
    hasher: PoswHasher,
  ): StagedTree | undefined {
    if (hasher.merklePlan === undefined) return undefined;
    let walk: TreeWalkResult;
    try {
      walk = walkPartialTree(indices, leaves.length, nodes.length);
    } catch {
      return undefined;
    }
    if (walk.snapshots.length !== leaves.length) return undefined;
    const arena = packedArena(walk, leaves, nodes);
    if (arena === undefined) return undefined;
    return new StagedTree(walk, arena, statement, hasher as BatchHasher);
  }

  /** Parents in the tree. */
  get opCount(): number {
    return this.#walk.ops.length / 3;
  }

  /** Parents computed so far, from the first. */
  get hashed(): number {
    return this.#hashed;
  }

  /** How many parents must be computed before the snapshots of leaves `0 … j` are complete. */
  readyAfter(j: number): number {
    return this.#readyAfter[j]!;
  }

  /** Computes parents up to (not including) `ops`, a level at a time. */
  hashTo(ops: number): void {
    const end = Math.min(ops, this.opCount);
    if (end <= this.#hashed) return;
    const stage = this.#walk.ops.subarray(3 * this.#hashed, 3 * end);
    this.#hasher.merklePlan(this.#statement, this.#arena, levelPlan(stage, this.#slotCapacity));
    this.#hashed = end;
  }

  /** The root the proof leads to (once every parent is computed). */
  root(): Uint8Array {
    const start = NODE * this.#walk.root;
    return this.#arena.subarray(start, start + NODE);
  }

  /** Length of leaf `j`'s label input, `BE64(index) ‖ parked nodes`. */
  inputLength(j: number): number {
    let length = 8;
    for (const slot of this.#walk.snapshots[j]!) if (slot >= 0) length += NODE;
    return length;
  }

  /** Writes leaf `j`'s label input (its snapshot must be complete) into `out`. */
  writeInput(j: number, index: bigint, out: Uint8Array): void {
    new DataView(out.buffer, out.byteOffset, 8).setBigUint64(0, index);
    let offset = 8;
    const arena = this.#arena;
    for (const slot of this.#walk.snapshots[j]!) {
      if (slot < 0) continue;
      out.set(arena.subarray(NODE * slot, NODE * slot + NODE), offset);
      offset += NODE;
    }
  }
}
