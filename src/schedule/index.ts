/**
 * @module schedule
 *
 * The PoET round calendar, the mainnet preset, phase-switch planning (timing, and which rows a PoET change deletes) and the pacing of proof
 * queries: pure arithmetic over
 * instants, no clock and no I/O (docs/protocol.md §3).
 */
export type { NetworkPreset, PoetServerConfig } from "./mainnet.js";
export { MAINNET } from "./mainnet.js";
export type { PhaseSwitchInput, PhaseSwitchPlan } from "./phase-switch.js";
export { planPhaseSwitch } from "./phase-switch.js";
export type {
  PoetSwitchIdentityPlan,
  PoetSwitchIdentityRows,
  PoetSwitchInput,
  PoetSwitchPlan,
  PoetSwitchRowDecision,
} from "./poet-switch.js";
export { planPoetSwitch } from "./poet-switch.js";
export type { PacedSchedule, ProofPacing, ProofPacingOptions } from "./proof-pacing.js";
export { DEFAULT_PROOF_GRACE_MS, proofPacing } from "./proof-pacing.js";
export type { RoundScheduleOptions, RoundTimes } from "./round-schedule.js";
export { RoundSchedule } from "./round-schedule.js";
