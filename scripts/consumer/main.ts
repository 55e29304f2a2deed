// A consumer of the packed tarball: compiled with `strict` and `skipLibCheck: false` against the
// package's published declarations only, then run. One full registration cycle against two mock
// PoETs, driven by a ManualClock so that it takes no wall-clock waiting.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createEd25519Signer,
  type NiPostOutcome,
  openNodeState,
  PoetError,
  RegistrationManager,
  RoundSchedule,
} from "spacemesh-poet-client";
import { PoetService } from "spacemesh-poet-client/proto";
import { ManualClock, startMockPoet } from "spacemesh-poet-client/testing";

const genesis = new Date("2024-01-01T00:00:00Z");
const calendar = { epochDurationMs: 60_000, phaseShiftMs: 20_000, cycleGapMs: 10_000 };
const schedule = new RoundSchedule({ genesis, ...calendar });
const clock = new ManualClock(genesis.getTime());
const dir = mkdtempSync(join(tmpdir(), "consumer-state-"));

const poets = await Promise.all(
  [200n, 400n].map((leavesPerRound) =>
    startMockPoet({ clock, genesis, ...calendar, leavesPerRound }),
  ),
);
const state = await openNodeState(join(dir, "local.sql"), { create: true });
const signer = createEd25519Signer(new Uint8Array(32).fill(1));
const manager = new RegistrationManager({
  schedule,
  poets: poets.map((p) => ({ url: p.url, pubkey: p.info.servicePubkey })),
  genesisId: new Uint8Array(20).fill(7),
  state,
  signers: [signer],
  clock,
  tickSize: 100n,
  proofCutoffMs: 5_000,
  post: async () => ({
    post: { nonce: 1, indices: Uint8Array.of(1, 2, 3), pow: 2n },
    numUnits: 4,
    vrfNonce: 3n,
    labelsPerUnit: 1024n,
  }),
});

try {
  let outcome: NiPostOutcome | undefined;
  const running = manager
    .buildNiPost({
      nodeId: signer.nodeId,
      challenge: {
        challenge: {
          publishEpoch: 1,
          sequence: 0n,
          prevAtx: new Uint8Array(32),
          positioningAtx: new Uint8Array(32).fill(2),
        },
        hash: new Uint8Array(32).fill(3),
      },
    })
    .then((o) => {
      outcome = o;
    });
  for (let step = 0; outcome === undefined && step < 2_000; step++) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    await clock.advance(500);
  }
  await running;
  if (outcome?.kind !== "ready") throw new Error(`expected a NiPoST, got ${outcome?.kind}`);
  if (outcome.nipost.proofRef.length !== 32) throw new Error("no proof reference");
  if (!(new PoetError("internal", "x") instanceof Error)) throw new Error("PoetError");
  if (PoetService.typeName !== "rpc.api.v1.PoetService") throw new Error("no service descriptor");
  console.log(`consumer: NiPoST ready with ${outcome.nipost.ticks} ticks`);
} finally {
  await manager.close();
  await Promise.all(poets.map((p) => p.stop()));
  await state.close();
  rmSync(dir, { recursive: true, force: true });
}
