/**
 * @module cli/proof-report
 *
 * How a {@link ProofReport} is shown: a block of fields for a person, or a JSON object whose
 * bytes are hex and whose 64-bit counts are decimal strings for a script. Shared by `verify` and
 * `fetch-proof` so that both describe a proof the same way.
 */
import { toHex } from "../bytes.js";
import { fields, toBase64 } from "./format.js";
import type { ProofReport } from "./proof-check.js";
import type { Style } from "./style.js";

/** The JSON shape of a report. */
export function reportJson(report: ProofReport): Record<string, unknown> {
  return {
    name: report.name,
    valid: report.valid,
    reason: report.reason,
    error: report.error,
    leaves: report.leaves,
    ticks: report.ticks,
    ref: report.ref,
    root: report.root,
    statement: report.statement,
    members: report.members,
    provenLeaves: report.provenLeaves,
    proofNodes: report.proofNodes,
    pubkey: report.pubkey,
    pubkeyMatches: report.pubkeyMatches,
    membership:
      report.membership === undefined
        ? undefined
        : report.membership.member
          ? {
              member: true,
              leafIndex: report.membership.leafIndex,
              nodes: report.membership.nodes,
              valid: report.membership.valid,
            }
          : { member: false },
    matchesExpectation: report.expected,
  };
}

/** A person-readable block for one report. */
export function reportText(report: ProofReport, style: Style): string {
  const verdict = report.valid
    ? style.green("valid")
    : style.red(`INVALID (${report.reason ?? "unknown"}): ${report.error ?? ""}`);
  const rows: [string, string][] = [
    ["proof", report.name],
    ["verification", verdict],
    ["leaves", report.leaves.toString()],
    ["ticks", style.bold(report.ticks.toString())],
    ["ref (PoST challenge)", report.ref === undefined ? "-" : toHex(report.ref)],
    ["root", toHex(report.root)],
    ["statement", report.statement.length === 0 ? "(empty)" : toHex(report.statement)],
    ["members", report.members === undefined ? "-" : String(report.members)],
    ["proven leaves / nodes", `${report.provenLeaves} / ${report.proofNodes}`],
  ];
  if (report.pubkey !== undefined) {
    const match =
      report.pubkeyMatches === undefined
        ? ""
        : report.pubkeyMatches
          ? style.green(" (matches)")
          : style.red(" (DOES NOT MATCH the expected key)");
    rows.push(["poet key", `${toBase64(report.pubkey)}${match}`]);
  }
  if (report.membership !== undefined) {
    rows.push([
      "challenge",
      report.membership.member
        ? `member at index ${report.membership.leafIndex}, path of ${report.membership.nodes.length} nodes ${report.membership.valid ? style.green("valid") : style.red("INVALID")}`
        : style.red("not a member of this round"),
    ]);
  }
  if (report.expected !== undefined) {
    rows.push([
      "expected outcome",
      report.expected ? style.green("matches") : style.red("DIFFERS from the file's expectation"),
    ]);
  }
  return fields(rows);
}
