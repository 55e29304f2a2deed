/**
 * @module membership
 *
 * The membership tree of a PoET round: its root (the statement), the proofs a node builds that
 * its challenge is a member, their validation, the index of a round's members, and the check of
 * a round's proof against the statement rebuilt from its members (docs/protocol.md §4.2, §4.3,
 * §5.5). Pure: no I/O, no clock. Built on `verify/` (the hashers, the partial-tree walk), which
 * never imports from here.
 */
export {
  createBlake3MembershipHasher,
  MEMBERSHIP_NODE_PREFIX,
  membershipNodeHash,
} from "../verify/blake3-hasher.js";
export type { MemberIndexOptions } from "./member-index.js";
export { MemberIndex } from "./member-index.js";
export type {
  MembershipMultiPath,
  MembershipPath,
  MembershipTreeOptions,
  SliceOptions,
} from "./membership-tree.js";
export {
  BOTTOM_HEIGHT,
  findMember,
  MembershipTree,
  membershipMultiProof,
  membershipProof,
  membershipRoot,
  Slicer,
} from "./membership-tree.js";
export type {
  RoundProof,
  RoundVerification,
  VerifyRoundProofAsyncOptions,
  VerifyRoundProofOptions,
} from "./round-proof.js";
export { verifyRoundProof, verifyRoundProofSync } from "./round-proof.js";
export { verifyMembership } from "./verify-membership.js";
