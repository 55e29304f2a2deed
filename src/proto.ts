/**
 * The generated protobuf messages and the `PoetService` descriptor of the PoET API
 * (`proto/rpc/api/v1/api.proto`; see docs/protocol.md §1). Use them to speak to a PoET with your
 * own transport, or to build a server.
 *
 * ```ts
 * import { PoetService, ProofResponseSchema } from "spacemesh-poet-client/proto";
 * ```
 *
 * @module spacemesh-poet-client/proto
 */
export * from "./gen/rpc/api/v1/api_pb.js";
