// The placeholders the guides' examples leave to the reader: what a node already has (its logger,
// keys, PoST service, UI) and what an earlier example on the same page set up (`manager`, `poet`).
// scripts/check-doc-examples.ts type-checks every example with these in scope.
import type {
  CertifyCallback,
  Logger,
  NiPost,
  NipostChallenge,
  NodeState,
  PoetClient,
  PoetServerConfig,
  PostProvider,
  PostResult,
  RegistrationEvent,
  RegistrationManager,
  Signer,
} from "spacemesh-poet-client";
import type { ManualClock, MockPoet } from "spacemesh-poet-client/testing";

interface PostProof {
  nonce: number;
  indices: Uint8Array;
  pow: bigint;
  numUnits: number;
  vrfNonce: bigint;
  labelsPerUnit: bigint;
}

declare global {
  // the node's own parts
  const logger: Logger;
  const log: Logger;
  const seed: Uint8Array;
  const publicKey: Uint8Array;
  const keyId: string;
  const keystore: { signEd25519(keyId: string, message: Uint8Array): Promise<Uint8Array> };
  const postService: {
    prove(challenge: Uint8Array, options: { signal: AbortSignal }): Promise<PostResult>;
    generateProof(
      nodeId: Uint8Array,
      challenge: Uint8Array,
      options: { signal: AbortSignal },
    ): Promise<PostProof>;
  };
  const provePost: PostProvider;
  const certifyWithPost: CertifyCallback;
  const ui: { show(event: RegistrationEvent): void };
  const metrics: { ticks: { set(value: number): void } };
  function publishAtx(nipost: NiPost): Promise<void>;
  function scheduleNext(at: Date): void;
  // one identity's cycle
  const signer: Signer;
  const challenge: NipostChallenge;
  // the fields of the next NiPoST challenge, as the node knows them
  const publishEpoch: number;
  const sequence: bigint;
  const prevAtx: Uint8Array;
  const positioningAtx: Uint8Array;
  const previous: { sequence: bigint; id: Uint8Array };
  const hash: Uint8Array;
  const challengeHash: Uint8Array;
  const challengeA: Uint8Array;
  const challengeB: Uint8Array;
  const signal: AbortSignal;
  // set up by an earlier example on the page
  const manager: RegistrationManager;
  const state: NodeState;
  const client: PoetClient;
  const phaseShiftMs: number;
  const cycleGapMs: number;
  const newPoets: PoetServerConfig[];
  const newPhase: { phaseShiftMs: number; cycleGapMs: number };
  const clock: ManualClock;
  const genesis: Date;
  const poet: MockPoet;
}
