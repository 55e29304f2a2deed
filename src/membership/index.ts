/**
 * @module membership
 *
 * The membership tree of a PoET round: its root (the statement), the proofs a node builds that
 * its challenge is a member, and their validation (docs/protocol.md §4.2, §4.3). Pure: no I/O,
 * no clock.
 */
export {
  createBlake3MembershipHasher,
  MEMBERSHIP_NODE_PREFIX,
  membershipNodeHash,
} from "./blake3-hasher.js";
export type {
  MembershipMultiPath,
  MembershipPath,
  MembershipTreeOptions,
} from "./membership-tree.js";
export {
  findMember,
  membershipMultiProof,
  membershipProof,
  membershipRoot,
} from "./membership-tree.js";
export { verifyMembership } from "./verify-membership.js";
