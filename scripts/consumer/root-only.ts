// A consumer of the root entry point alone, compiled with only the ES and Node lib types (no DOM):
// the root's declarations need nothing beyond them.
import {
  MAINNET,
  membershipRoot,
  openNodeState,
  type SqliteConnection,
} from "spacemesh-poet-client";

const round = MAINNET.schedule.openRound(new Date("2025-01-01T00:00:00Z"));
const root: Uint8Array = membershipRoot([new Uint8Array(32)]);
const open: (target: SqliteConnection) => Promise<unknown> = openNodeState;
console.log(`consumer: round ${round}, root of ${root.length} bytes, ${typeof open}`);
