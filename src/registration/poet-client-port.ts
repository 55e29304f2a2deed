/**
 * @module registration/poet-client-port
 *
 * The part of a PoET client the registration manager uses, in the manager's terms
 * (docs/protocol.md §1, §2, §6.1): the PoET's phase and key, one registration, one proof. The
 * library's `PoetClient` is adapted to it (see `client-adapter.ts`); a test or an embedding node
 * may also hand the manager anything that has this shape.
 */
import type { AbortOptions } from "../abort-options.js";
import type { Signer } from "../auth/signer.js";
import type { ProofSource } from "./proof-fetcher.js";

/** What the manager reads from a PoET's `info()`. */
export interface PoetServiceInfo {
  servicePubkey: Uint8Array;
  phaseShiftMs: number;
  cycleGapMs: number;
}

/** One identity's registration of a challenge. */
export interface RegisterRequest {
  signer: Signer;
  /** The signing prefix: genesis id ‖ 0x04 (docs/protocol.md §2.2). */
  prefix: Uint8Array;
  /** The 32-byte challenge hash. */
  challenge: Uint8Array;
  /** The proof deadline: the PoET refuses a round that would end after it. */
  deadline: Date;
}

/** A PoET's answer to a registration. */
export interface RegisterResult {
  roundId: string;
  /** Time from the PoET's answer to the end of the round, in ms. */
  roundEndMs: number;
}

/** A PoET as the registration manager uses it. */
export interface RegistrationPoetClient extends ProofSource {
  info(options?: AbortOptions): Promise<PoetServiceInfo>;
  register(request: RegisterRequest, options?: AbortOptions): Promise<RegisterResult>;
  close?(): void | Promise<void>;
}
