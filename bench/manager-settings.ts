/**
 * @module bench/manager-settings
 *
 * The `RegistrationManager` settings the registration benchmarks share (`bench/registration.ts`,
 * `bench/fleet.ts`): REST clients on the bench's `ManualClock`, wrapped so the bench can count
 * and track every PoET call, a PoST that answers at once, and timeouts and a lease long enough for
 * the clock's jump from the registrations to the round end.
 */
import { createPoetClient } from "../src/client/index.js";
import type { ManualClock } from "../src/clock.js";
import {
  adaptPoetClient,
  type RegistrationManagerOptions,
  type RegistrationPoetClient,
} from "../src/registration/index.js";

/**
 * The settings both benchmarks give the manager; `wrap` sees every PoET client it makes. `lib`
 * is where the clients come from (`bench/library.ts`; default the sources).
 *
 * @example
 * const manager = new RegistrationManager({
 *   ...benchManagerSettings(clock, (client) => client),
 *   schedule, poets, state, genesisId, clock,
 * });
 */
export function benchManagerSettings(
  clock: ManualClock,
  wrap: (client: RegistrationPoetClient) => RegistrationPoetClient,
  lib: {
    createPoetClient: typeof createPoetClient;
    adaptPoetClient: typeof adaptPoetClient;
  } = { createPoetClient, adaptPoetClient },
): Pick<
  RegistrationManagerOptions,
  | "tickSize"
  | "requestTimeoutMs"
  | "leaseTimeMs"
  | "proofCutoffMs"
  | "maxConcurrentSubmits"
  | "createClient"
  | "post"
> {
  return {
    tickSize: 100n,
    requestTimeoutMs: 3_600_000,
    // The clock jumps from the registrations to the round end: a lease shorter than the jump
    // would expire unrenewed and stop every identity, as it should in a process stalled that long.
    leaseTimeMs: 24 * 3_600_000,
    proofCutoffMs: 60_000,
    maxConcurrentSubmits: 64,
    createClient: (poet) =>
      wrap(
        lib.adaptPoetClient(
          lib.createPoetClient({ url: poet.address, clock, servicePubkey: poet.pubkey }),
          { clock },
        ),
      ),
    post: async () => ({
      post: { nonce: 1, indices: Uint8Array.of(1, 2, 3), pow: 2n },
      numUnits: 4,
      vrfNonce: 5n,
      labelsPerUnit: 1024n,
    }),
  };
}
