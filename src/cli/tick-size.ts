/**
 * @module cli/tick-size
 *
 * The `--tick-size` option: leaves per tick, mainnet's 9,331,200 by default (docs/protocol.md
 * §4.1), so that `ticks = leaves / tickSize` matches what the network credits.
 */
import { ConfigError } from "../errors.js";
import { MAINNET } from "../schedule/index.js";

/** The `parseArgs` declaration. */
export const TICK_SIZE_OPTION = { "tick-size": { type: "string" } } as const;

/** Help line. */
export const TICK_SIZE_HELP = "  --tick-size <n>        leaves per tick (default 9331200, mainnet)";

/** Parses `--tick-size`, defaulting to mainnet's. */
export function parseTickSize(text: string | undefined): bigint {
  if (text === undefined) return MAINNET.tickSize;
  if (!/^[1-9]\d{0,19}$/.test(text)) {
    throw new ConfigError(
      "--tick-size",
      `expected a positive integer, got ${JSON.stringify(text)}`,
    );
  }
  return BigInt(text);
}
