/**
 * @module storage
 *
 * The node state in SQLite: go-spacemesh's `local.sql` with its `challenge`, `poet_registration`,
 * `nipost` and `poet_certificates` tables, byte-compatible with the Go node, plus our own tables of
 * verified proofs and member lists in a companion file beside it, behind typed repositories (docs/node-client.md §1.4, §1.8, §1.11, §2.6);
 * or the same tables in PostgreSQL ({@link openPostgresState}) behind the same repositories.
 */
export type { CertificateRepository, PoetCertificate } from "./certificate-repository.js";
export { challengeHashCandidates, computedChallengeHash } from "./challenge-hash.js";
export type {
  ChallengeRecord,
  ChallengeRepository,
  ChallengeWriteOptions,
  InitialPost,
  NipostChallenge,
} from "./challenge-repository.js";
export { companionPath } from "./companion-file.js";
export type { CheckOptions, Inconsistency, InconsistencyKind } from "./consistency-check.js";
export type { NodeStateCopyReport } from "./copy-node-state.js";
export { compareNodeStates, copyNodeState } from "./copy-node-state.js";
export type {
  Lease,
  LeaseAcquireOptions,
  LeaseAcquireResult,
  LeaseRenewManyResult,
  LeaseRenewOptions,
  LeaseRepository,
} from "./lease-repository.js";
export { leaseIsLive, MAX_LEASE_HOLDER_LENGTH } from "./lease-repository.js";
export {
  MEMBER_CHUNK_BYTES,
  type MemberList,
  type MemberListInput,
  type MemberListRepository,
  type StoredMemberList,
} from "./member-list-repository.js";
export { MIGRATION_LOCK_TABLE, MIGRATION_TABLE, NODE_STATE_SCHEMA_VERSION } from "./migrations.js";
export type {
  NipostRecord,
  NipostRepository,
  PostProof,
  StoredNipost,
} from "./nipost-repository.js";
export { NODE_STATE_FILE_NAMES, resolveNodeStateFile } from "./node-state-file.js";
export type {
  NodeStateRepositories,
  OpenNodeStateOptions,
  ResetResult,
} from "./open-node-state.js";
export { NodeState, openNodeState } from "./open-node-state.js";
export type { OpenPostgresStateOptions } from "./postgres/open-postgres-state.js";
export { DEFAULT_POSTGRES_SCHEMA, openPostgresState } from "./postgres/open-postgres-state.js";
export type { PgPool, PgPoolClient, PgQueryConfig } from "./postgres/postgres-pool.js";
export type {
  ProofClaim,
  ProofClaimOptions,
  ProofClaimOutcome,
  ProofClaimRepository,
  ProofClaimResult,
} from "./proof-claim-repository.js";
export type { PoetRegistration, RegistrationRepository } from "./registration-repository.js";
export type { NodeStateTables } from "./schema.js";
export type { SqliteConnection, SqliteConnectionStatement } from "./sqlite-connection.js";
export type { StoreOutageStatus } from "./store-outage.js";
export type { SubmitIntent, SubmitIntentRepository } from "./submit-intent-repository.js";
export type {
  VerifiedProof,
  VerifiedProofInput,
  VerifiedProofRepository,
} from "./verified-proof-repository.js";
