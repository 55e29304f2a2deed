/**
 * @module verify/partial-tree-proof
 *
 * The other side of `partial-tree.ts`: given a whole tree, which nodes prove a set of its leaves,
 * and in which order (docs/protocol.md §5.3, §4.3). The PoET prover and the membership proofs of
 * a node both need this; the test prover builds real proofs with it.
 *
 * The order is defined by the validator, so it is derived by running the validator's walk without
 * values: every time the walk would take the next proof node, the position of the sibling it
 * needs is recorded instead; the outermost climb stops at the tree's height. Values are then read
 * in a single bottom-up pass over the tree's levels, which needs only one level in memory at a
 * time (the caller's buffer, reduced in place). A position whose subtree holds no leaf is 32 zero
 * bytes, the padding rule of the reference tree (docs/protocol.md §4.2).
 */
import { ConfigError, PoetError } from "../errors.js";
import { checkLeafIndices } from "./partial-tree.js";

/** A node of a tree: its index within its level and the level's height above the leaves. */
export interface TreePosition {
  index: bigint;
  height: number;
}

/**
 * Replaces the first `ceil(width / 2)` nodes of `level` with the parents of its `width` nodes
 * (pairs `(2i, 2i+1)`); when `width` is odd the last node's right sibling, at `32 · width`, has
 * already been set to zeros.
 */
export type LevelReducer = (level: Uint8Array, width: number) => void;

/** The nodes a proof needs and the root, read from a whole tree. */
export interface TreeNodes {
  root: Uint8Array;
  /** The values of the requested positions, in request order. */
  nodes: Uint8Array[];
}

/**
 * The positions of the proof nodes that prove `indices` in a tree of height `treeHeight`, in the
 * order the validator of docs/protocol.md §5.4 consumes them.
 *
 * @throws {ConfigError} when the indices are not strictly ascending or do not fit the tree.
 * @example
 * ```ts
 * partialTreeProofPositions([4n, 6n], 3);
 * // [{ index: 5n, height: 0 }, { index: 7n, height: 0 }, { index: 0n, height: 2 }]
 * ```
 */
export function partialTreeProofPositions(
  indices: readonly bigint[],
  treeHeight: number,
): TreePosition[] {
  try {
    checkLeafIndices(indices, indices.length);
  } catch (err) {
    throw new ConfigError("indices", (err as Error).message, { cause: err });
  }
  const last = indices[indices.length - 1]!;
  if (indices[0]! < 0n || last >= 1n << BigInt(treeHeight)) {
    throw new ConfigError("indices", `${last} is outside a tree of height ${treeHeight}`);
  }
  const positions: TreePosition[] = [];
  let nextLeaf = 0;
  const climb = (stopHeight: number): void => {
    let position = indices[nextLeaf]!;
    nextLeaf++;
    for (let height = 0; height < stopHeight; height++) {
      const siblingPosition = position ^ 1n;
      if (nextLeaf < indices.length && indices[nextLeaf]! >> BigInt(height) === siblingPosition) {
        climb(height);
      } else {
        positions.push({ index: siblingPosition, height });
      }
      position >>= 1n;
    }
  };
  climb(treeHeight);
  return positions;
}

/**
 * Reads the requested nodes and the root of the tree whose leaves are packed in `level`, reducing
 * `level` in place one height at a time. `level` must hold `32 · (width + 1)` bytes (room for one
 * padding node) and is overwritten.
 *
 * @throws {ConfigError} when `width` is below 1 or `level` is too short.
 * @example
 * ```ts
 * const { root, nodes } = collectTreeNodes(packedLeaves, n, partialTreeProofPositions([3n], 4),
 *   (level, width) => hashLevelInPlace(level, width));
 * ```
 */
export function collectTreeNodes(
  level: Uint8Array,
  width: number,
  positions: readonly TreePosition[],
  reduce: LevelReducer,
): TreeNodes {
  if (!Number.isSafeInteger(width) || width < 1) {
    throw new ConfigError("width", `must be a positive integer, got ${width}`);
  }
  if (level.length < 32 * (width + 1)) {
    throw new ConfigError("level", `${level.length} bytes cannot hold ${width} nodes and padding`);
  }
  const byHeight = new Map<number, number[]>();
  positions.forEach((position, order) => {
    const list = byHeight.get(position.height);
    if (list === undefined) byHeight.set(position.height, [order]);
    else list.push(order);
  });
  const nodes: Uint8Array[] = new Array(positions.length);
  let found = 0;
  for (let height = 0, current = width; ; height++) {
    for (const order of byHeight.get(height) ?? []) {
      const index = positions[order]!.index;
      if (index < BigInt(current)) {
        const offset = 32 * Number(index);
        nodes[order] = level.slice(offset, offset + 32);
      } else {
        nodes[order] = new Uint8Array(32);
      }
      found++;
    }
    if (current === 1) break;
    if (current % 2 === 1) level.fill(0, 32 * current, 32 * current + 32);
    reduce(level, current);
    current = Math.ceil(current / 2);
  }
  if (found !== positions.length) {
    throw new PoetError("internal", "a requested position lies above the root");
  }
  return { root: level.slice(0, 32), nodes };
}

/** `ceil(log2(width))`: the height of a tree with `width` leaves (0 for one leaf). */
export function treeHeight(width: bigint): number {
  return width <= 1n ? 0 : (width - 1n).toString(2).length;
}
