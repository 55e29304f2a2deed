/**
 * @module registration/repair-before-resuming
 *
 * What the registration manager does with the node state before its first cycle resumes
 * (docs/node-client.md §1.11, §4, §8): prune the submit intents past their proof deadline,
 * `check()` every table the library has, `repair()` what it reports, and tell the operator about
 * each row deleted — `state-repaired` for an identity's rows,
 * `cache-dropped` for a cached proof or member list (downloaded again when needed).
 */
import type { AbortOptions } from "../abort-options.js";
import { toHex } from "../bytes.js";
import type { Clock } from "../clock.js";
import type { Inconsistency, NodeState } from "../storage/index.js";
import type { RegistrationEvent } from "./events.js";

const CACHES = new Set<Inconsistency["table"]>(["poet_client_proof", "poet_client_members"]);

/** The problem, in the words of a `state-repaired` event. */
function problemOf(item: Inconsistency): string {
  switch (item.kind) {
    case "registration-hash-mismatch":
    case "registration-without-challenge":
      return `the registration at ${item.address} belongs to another challenge: ${item.detail}`;
    case "intent-hash-mismatch":
    case "intent-without-challenge":
      return `the submit intent at ${item.address} belongs to another challenge: ${item.detail}`;
    case "nipost-ref-mismatch":
    case "nipost-without-challenge":
      return item.detail;
    case "corrupt-row":
      return `a damaged ${item.table} row: ${item.detail}`;
  }
}

/**
 * Runs `state.check()` and `state.repair()` and emits one event per row deleted. Rejects with
 * the `StorageError` of a check or repair that could not run.
 *
 * @example
 * ```ts
 * await repairBeforeResuming(state, clock, (event) => ui.show(event), { signal });
 * ```
 */
export async function repairBeforeResuming(
  state: NodeState,
  clock: Clock,
  emit: (event: RegistrationEvent) => void,
  options: AbortOptions = {},
): Promise<void> {
  // Intents past their proof deadline can lead nowhere, whichever identity left them.
  await state.intents.pruneExpired(new Date(clock.now()), { signal: options.signal });
  const problems = await state.check({ signal: options.signal });
  if (problems.length === 0) return;
  await state.repair(problems, { signal: options.signal });
  for (const item of problems) {
    const at = new Date(clock.now());
    if (CACHES.has(item.table)) {
      emit({
        type: "cache-dropped",
        at,
        table: item.table,
        poet: item.address,
        roundId: undefined,
        problem: item.detail,
      });
      continue;
    }
    emit({
      type: "state-repaired",
      at,
      nodeId: item.nodeId,
      problem: problemOf(item),
      action: `deleted the ${item.table} row of ${toHex(item.nodeId)} before resuming`,
    });
  }
}
