/**
 * @module verify/labels
 *
 * The last step of verification: every proven leaf must be the label the PoET had to compute
 * sequentially (docs/protocol.md §5.1, §5.5 step 5). Label `i` is
 * `LH(BE64(i) ‖ parked nodes of i, lowest first)`, where the parked nodes are the non-null
 * entries of the leaf's parking snapshot and `LH` is 400 chained SHA-256 salted with the
 * statement.
 *
 * The step is split in three so that the expensive middle can run anywhere: {@link labelInputs}
 * turns snapshots into the per-label input bytes (cheap, plain data that can be sent to another
 * thread), a {@link PoswHasher} turns inputs into labels (99% of a verification), and
 * {@link compareLabels} checks them against the proof. {@link checkLabels} does all three here.
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { equalBytes } from "../bytes.js";
import { ProofVerificationError } from "../errors.js";
import type { PoswHasher } from "./hasher.js";
import type { ParkingSnapshot } from "./partial-tree.js";

/**
 * The input of each label: `BE64(index) ‖ parked nodes`, in snapshot order.
 *
 * @example
 * ```ts
 * const inputs = labelInputs(indices, snapshots);
 * const labels = new Uint8Array(32 * inputs.length);
 * hasher.labels(statement, inputs, labels);
 * ```
 */
export function labelInputs(
  indices: readonly bigint[],
  snapshots: readonly ParkingSnapshot[],
): Uint8Array[] {
  return snapshots.map((snapshot, j) => {
    const input = new Uint8Array(labelInputLength(snapshot));
    writeLabelInput(indices[j]!, snapshot, input);
    return input;
  });
}

/**
 * The length of a label input: 8 bytes of index and the snapshot's parked nodes.
 *
 * @example
 * ```ts
 * const input = new Uint8Array(labelInputLength(snapshot));
 * ```
 */
export function labelInputLength(snapshot: ParkingSnapshot): number {
  let length = 8;
  for (const node of snapshot) if (node !== null) length += node.length;
  return length;
}

/**
 * Writes the label input `BE64(index) ‖ parked nodes` of a leaf into `out`, which holds
 * {@link labelInputLength} bytes.
 *
 * @example
 * ```ts
 * writeLabelInput(indices[j], snapshots[j], job.input(j));
 * ```
 */
export function writeLabelInput(index: bigint, snapshot: ParkingSnapshot, out: Uint8Array): void {
  new DataView(out.buffer, out.byteOffset, 8).setBigUint64(0, index);
  let offset = 8;
  for (const node of snapshot) {
    if (node === null) continue;
    out.set(node, offset);
    offset += node.length;
  }
}

/**
 * Compares computed labels with the proven leaves. `computed` holds the labels of
 * `indices[from …]` back to back, 32 bytes each; the check starts there.
 *
 * @throws {ProofVerificationError} (`label-mismatch`) at the first leaf that differs, naming its
 *   position among the proven leaves and its leaf index.
 * @example
 * ```ts
 * compareLabels(labels, indices, proof.provenLeaves);
 * ```
 */
export function compareLabels(
  computed: Uint8Array,
  indices: readonly bigint[],
  provenLeaves: readonly Uint8Array[],
  from = 0,
): void {
  const count = Math.floor(computed.length / 32);
  for (let k = 0; k < count; k++) {
    const j = from + k;
    const expected = computed.subarray(32 * k, 32 * k + 32);
    const actual = provenLeaves[j];
    if (actual === undefined || !equalBytes(expected, actual)) {
      throw new ProofVerificationError(
        "label-mismatch",
        `label at index ${j} (leaf ${indices[j]}) incorrect - expected: ${bytesToHex(expected)} ` +
          `actual: ${actual === undefined ? "none" : bytesToHex(actual)}`,
      );
    }
  }
}

/**
 * Recomputes the label of every proven leaf with `hasher` and compares it with the proof.
 *
 * @throws {ProofVerificationError} (`label-mismatch`) at the first wrong label.
 * @example
 * ```ts
 * checkLabels(new JsPoswHasher(), statement, indices, proof.provenLeaves,
 *   labelInputs(indices, snapshots));
 * ```
 */
export function checkLabels(
  hasher: PoswHasher,
  statement: Uint8Array,
  indices: readonly bigint[],
  provenLeaves: readonly Uint8Array[],
  inputs: readonly Uint8Array[],
): void {
  const labels = new Uint8Array(32 * inputs.length);
  hasher.labels(statement, inputs, labels);
  compareLabels(labels, indices, provenLeaves);
}
