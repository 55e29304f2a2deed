/**
 * @module registration/jitter
 *
 * The random delay a node adds after a round end before asking for the proof, so that thousands
 * of nodes do not ask a PoET in the same second (docs/node-client.md §1.1, §7 item 5), is drawn
 * like every other random pause: by `drawJitter` of `src/retry-policy.ts`, from an injected
 * {@link RandomSource} so that tests are deterministic. This file only keeps the old import path
 * working; new code imports `../retry-policy.js`.
 */
export { drawJitter, type RandomSource } from "../retry-policy.js";
