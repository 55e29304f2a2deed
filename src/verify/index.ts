/**
 * @module verify
 *
 * Verification of PoET proofs of sequential work, byte for byte like the reference verifier
 * (docs/protocol.md §5), split into steps that can run separately: shape checks, Fiat–Shamir
 * indices, partial-tree validation with parking snapshots, label inputs and label checks. The hashers of both trees (the PoSW tree and the membership
 * tree) live here too, so that `membership/` builds on `verify/` and never the other way. Pure:
 * no I/O, no clock.
 */
export {
  createBlake3MembershipHasher,
  MEMBERSHIP_NODE_PREFIX,
  membershipNodeHash,
} from "./blake3-hasher.js";
export { fiatShamirIndices } from "./fiat-shamir.js";
export type { MembershipHasher, NodePlan, PoswHasher } from "./hasher.js";
export { JsPoswHasher } from "./js-hasher.js";
export { checkLabels, compareLabels, labelInputs } from "./labels.js";
export {
  LABEL_HASH_NESTING_DEPTH,
  MAX_PROOF_NODES,
  NODE_BYTES,
  resolveSecurityParam,
  SECURITY_PARAM,
} from "./params.js";
export type { NodeHash, ParkingSnapshot, PartialTree, TreeHasher } from "./partial-tree.js";
export { checkLeafIndices, validatePartialTree } from "./partial-tree.js";
export type { LevelReducer, TreeNodes, TreePosition } from "./partial-tree-proof.js";
export {
  collectTreeNodes,
  partialTreeProofPositions,
  treeHeight,
} from "./partial-tree-proof.js";
export { proofRef } from "./proof-ref.js";
export { checkProofStructure } from "./proof-structure.js";
export { compressBlock, SHA256_IV } from "./sha256-block.js";
export type {
  VerifyPoetProofAsyncOptions,
  VerifyPoetProofOptions,
} from "./verify-poet-proof.js";
export {
  checkProofTree,
  poswNodeHash,
  verifyPoetProof,
  verifyPoetProofSync,
} from "./verify-poet-proof.js";
export { defaultPoswHasher } from "./wasm/index.js";
