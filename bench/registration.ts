/**
 * Registration throughput: 1,000 identities × 5 mock PoETs on loopback, through the whole cycle
 * (register → round end → one proof download and verification per PoET → best proof and
 * membership proof per identity → PoST stand-in → NiPoST row), on a real SQLite file.
 *
 * Time comes from a `ManualClock` that only moves when the system is quiet, so the figures are
 * the real cost of the work, not of waiting. Prints figures; asserts nothing.
 *
 *   node --import tsx bench/registration.ts [identities] [poets]
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { createEd25519Signer } from "../src/auth/index.js";
import { createPoetClient } from "../src/client/index.js";
import { ManualClock } from "../src/clock.js";
import {
  adaptPoetClient,
  type RegistrationEvent,
  RegistrationManager,
  type RegistrationPoetClient,
} from "../src/registration/index.js";
import { RoundSchedule } from "../src/schedule/index.js";
import { openNodeState } from "../src/storage/index.js";
import { startMockPoet } from "../src/testing/index.js";

const IDENTITIES = Number(process.argv[2] ?? 1000);
const POETS = Number(process.argv[3] ?? 5);
const T0 = Date.parse("2024-01-01T00:00:00Z");
const schedule = new RoundSchedule({
  genesis: new Date(T0),
  epochDurationMs: 3_600_000,
  phaseShiftMs: 1_200_000,
  cycleGapMs: 600_000,
});

const clock = new ManualClock(T0);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "registration-bench-"));
const state = await openNodeState(path.join(dir, "node_state.sql"));
const mocks = await Promise.all(
  Array.from({ length: POETS }, (_, i) =>
    startMockPoet({
      clock,
      genesis: new Date(T0),
      epochDurationMs: schedule.epochDurationMs,
      phaseShiftMs: schedule.phaseShiftMs,
      cycleGapMs: schedule.cycleGapMs,
      leavesPerRound: BigInt(1000 + 500 * i),
    }),
  ),
);
const calls = { info: 0, submit: 0, proof: 0 };
const counted = (client: RegistrationPoetClient): RegistrationPoetClient => ({
  info: (o) => {
    calls.info++;
    return client.info(o);
  },
  register: (r, o) => {
    calls.submit++;
    return client.register(r, o);
  },
  proof: (id, o) => {
    calls.proof++;
    return client.proof(id, o);
  },
  close: () => client.close?.(),
});

let lastEventAt = performance.now();
const counts = new Map<string, number>();
const manager = new RegistrationManager({
  schedule,
  poets: mocks.map((m) => ({ url: m.url, pubkey: m.info.servicePubkey })),
  state,
  genesisId: new Uint8Array(20).fill(1),
  clock,
  tickSize: 100n,
  requestTimeoutMs: 3_600_000,
  proofCutoffMs: 60_000,
  maxConcurrentSubmits: 64,
  createClient: (poet) =>
    counted(
      adaptPoetClient(createPoetClient({ url: poet.address, clock, servicePubkey: poet.pubkey }), {
        clock,
      }),
    ),
  post: async () => ({
    post: { nonce: 1, indices: Uint8Array.of(1, 2, 3), pow: 2n },
    numUnits: 4,
    vrfNonce: 5n,
    labelsPerUnit: 1024n,
  }),
  onEvent: (e: RegistrationEvent) => {
    lastEventAt = performance.now();
    counts.set(e.type, (counts.get(e.type) ?? 0) + 1);
  },
});

const identities = Array.from({ length: IDENTITIES }, () => {
  const signer = createEd25519Signer(new Uint8Array(randomBytes(32)));
  manager.addIdentity(signer);
  return {
    signer,
    challenge: {
      publishEpoch: 1,
      sequence: 0n,
      prevAtx: new Uint8Array(32),
      positioningAtx: new Uint8Array(randomBytes(32)),
    },
    hash: new Uint8Array(randomBytes(32)),
  };
});

const marks: Record<string, number> = {};
const start = performance.now();
const all = Promise.all(
  identities.map((id) =>
    manager.buildNiPost({
      nodeId: id.signer.nodeId,
      challenge: { challenge: id.challenge, hash: id.hash },
    }),
  ),
);
let finished = false;
all.then(
  () => {
    finished = true;
  },
  () => {
    finished = true;
  },
);

// Registration needs no time to pass: wait for every submit, then move the clock to the round
// start and to just after the round end, and wait for the NiPoSTs. If the work stalls for a
// while (it should not), nudge the clock by a second.
async function settle(until: () => boolean): Promise<void> {
  while (!until() && !finished) {
    await new Promise((r) => setTimeout(r, 20));
    if (performance.now() - lastEventAt > 5_000) {
      await clock.advance(1_000);
      lastEventAt = performance.now();
    }
  }
}
await settle(() => (counts.get("registered") ?? 0) >= IDENTITIES * POETS);
marks.registered = performance.now() - start;
await clock.set(schedule.roundStart(0));
marks.roundEnd = performance.now();
await clock.set(schedule.roundEnd(0).getTime() + schedule.proofQueryJitter().maxMs + 1);
await settle(() => finished);
const total = performance.now() - start;
const outcomes = await all;
const ready = outcomes.filter((o) => o.kind === "ready").length;
const proofPhase = marks.roundEnd === undefined ? Number.NaN : performance.now() - marks.roundEnd;

const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
console.log(`registration bench: ${IDENTITIES} identities × ${POETS} mock PoETs (loopback, REST)`);
console.log(`  NiPoSTs ready           ${ready}/${IDENTITIES}`);
console.log(`  all registered after    ${fmt(marks.registered ?? Number.NaN)}`);
console.log(
  `  submit throughput       ${(((IDENTITIES * POETS) / (marks.registered ?? Number.NaN)) * 1000).toFixed(0)} registrations/s`,
);
console.log(
  `  round end → NiPoSTs     ${fmt(proofPhase)} (download, verify, select, PoST stand-in, rows)`,
);
console.log(`  whole cycle             ${fmt(total)}`);
console.log(
  `  PoET calls              info ${calls.info}, submit ${calls.submit}, proof ${calls.proof} (${POETS} PoETs)`,
);
console.log(`  events                  ${[...counts].map(([k, v]) => `${k} ${v}`).join(", ")}`);
await manager.close();
await Promise.all(mocks.map((m) => m.stop()));
await state.close();
fs.rmSync(dir, { recursive: true, force: true });
