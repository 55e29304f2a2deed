/**
 * @module bench/mainnet-round-data
 *
 * What the mainnet-round bench's server and client agree on without talking: the members of a
 * round of N (seeded, packed 32 bytes each), the challenge of the identity under test (one of
 * them), the schedule and the PoET's service key.
 */
import { RoundSchedule } from "../src/schedule/index.js";
import { sharedMembershipHasher } from "../src/verify/wasm/select-hasher.js";

export const T0 = Date.parse("2024-01-01T00:00:00Z");
export const schedule = new RoundSchedule({
  genesis: new Date(T0),
  epochDurationMs: 3_600_000,
  phaseShiftMs: 1_200_000,
  cycleGapMs: 600_000,
});
/** The service key of every bench PoET (its value does not matter; it must be 32 bytes). */
export const SERVICE_KEY = new Uint8Array(32).fill(7);

/** The first `words` words of the seeded xorshift128 stream, into `out` when given. */
function stream(words: number, out?: Uint32Array): number {
  let a = 0x9e3779b9;
  let b = 0x85ebca6b;
  let c = 0xc2b2ae35;
  let d = 0x27d4eb2f;
  for (let i = 0; i < words; i++) {
    const t = a ^ (a << 11);
    a = b;
    b = c;
    c = d;
    d = (d ^ (d >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    if (out !== undefined) out[i] = d;
  }
  return d;
}

/** N seeded pseudo-random 32-byte members, packed (xorshift128, so no crypto cost). */
export function packedMembers(n: number): Uint8Array {
  const out = new Uint8Array(32 * n);
  stream(8 * n, new Uint32Array(out.buffer));
  return out;
}

/** Member `index` of {@link packedMembers}, without building the others. */
export function memberAt(index: number): Uint8Array {
  const words = new Uint32Array(8);
  // One pass over the stream up to the member's last word, keeping its eight words.
  let a = 0x9e3779b9;
  let b = 0x85ebca6b;
  let c = 0xc2b2ae35;
  let d = 0x27d4eb2f;
  const first = 8 * index;
  for (let i = 0; i < first + 8; i++) {
    const t = a ^ (a << 11);
    a = b;
    b = c;
    c = d;
    d = (d ^ (d >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    if (i >= first) words[i - first] = d;
  }
  return new Uint8Array(words.buffer);
}

/** The position of the bench identity's challenge among N members. */
export const challengeIndex = (n: number): number => Math.floor(n / 3);

/** The membership root of packed members, level by level with the shared kernel. */
export function packedRoot(packed: Uint8Array): Uint8Array {
  const hasher = sharedMembershipHasher();
  let count = packed.length / 32;
  if (count === 1) return packed.slice(0, 32);
  let level = new Uint8Array(32 * (count + 1));
  level.set(packed);
  while (count > 1) {
    const pairs = Math.ceil(count / 2);
    if (count % 2 === 1) level.fill(0, 32 * count, 32 * (count + 1));
    const next = new Uint8Array(32 * (pairs + 1));
    hasher.hashPairs(level, pairs, next);
    level = next;
    count = pairs;
  }
  return level.slice(0, 32);
}
