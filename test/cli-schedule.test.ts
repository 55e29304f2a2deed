import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { foldLine } from "../src/cli/ics.js";
import { cli, icsUtc, parseIcs, prop } from "./cli-helpers.js";
import { tempDir } from "./helpers/temp-dir.js";

const tmp = tempDir("poet-cli-schedule-");

describe("poet-client schedule", () => {
  it("lists the mainnet rounds open from --from with every deadline in JSON", async () => {
    const r = await cli(["schedule", "--from", "2024-09-10T00:00:00Z", "--count", "2", "--json"]);
    assert.equal(r.code, 0, r.err);
    const body = JSON.parse(r.out);
    assert.equal(body.network, "mainnet");
    assert.equal(body.rounds.length, 2);
    const [r30, r31] = body.rounds;
    assert.equal(r30.round, 30);
    assert.equal(r30.roundId, "30");
    assert.equal(r30.registrationOpens, "2024-09-02T08:00:00.000Z");
    assert.equal(r30.registrationDeadline, "2024-09-16T08:00:00.000Z");
    assert.equal(r30.roundEnd, "2024-09-29T20:00:00.000Z");
    assert.equal(r30.cycleGapEnd, "2024-09-30T08:00:00.000Z");
    assert.equal(r30.proofDeadline, "2024-10-03T20:00:00.000Z");
    assert.equal(r30.publishEpoch, 31);
    assert.equal(r31.round, 31);
    assert.equal(body.schedule.phaseShiftMs, 240 * 3_600_000);
  });

  it("uses the injected clock when --from is not given", async () => {
    const r = await cli(["schedule", "--count", "1", "--json"], { now: "2024-09-20T00:00:00Z" });
    assert.equal(r.code, 0);
    const body = JSON.parse(r.out);
    assert.equal(body.openRound, 31);
    assert.equal(body.rounds[0].round, 31);
  });

  it("accepts a custom calendar", async () => {
    const r = await cli([
      "schedule",
      "--genesis",
      "2025-01-01T00:00:00Z",
      "--epoch",
      "1h",
      "--phase-shift",
      "30m",
      "--cycle-gap",
      "5m",
      "--from",
      "2025-01-01T00:00:00Z",
      "--count",
      "2",
      "--json",
    ]);
    assert.equal(r.code, 0, r.err);
    const body = JSON.parse(r.out);
    assert.equal(body.network, "custom");
    assert.equal(body.rounds[0].round, 0);
    assert.equal(body.rounds[0].roundStart, "2025-01-01T00:30:00.000Z");
    assert.equal(body.rounds[0].roundEnd, "2025-01-01T01:25:00.000Z");
  });

  it("prints a table without colour when stdout is not a terminal", async () => {
    const r = await cli(["schedule", "--count", "3"]);
    assert.equal(r.code, 0);
    assert.match(r.out, /registration closes/);
    assert.match(r.out, /2024-09-16 08:00:00Z/);
    assert.ok(!r.out.includes("\u001b["));
  });

  it("colours on a terminal unless NO_COLOR is set", async () => {
    const coloured = await cli(["schedule", "--count", "1"], { isTTY: true });
    assert.ok(coloured.out.includes("\u001b["));
    const plain = await cli(["schedule", "--count", "1"], { isTTY: true, env: { NO_COLOR: "1" } });
    assert.ok(!plain.out.includes("\u001b["));
  });

  it("writes an iCalendar file that parses, with CRLF lines and UTC times", async () => {
    const file = tmp.file("rounds.ics");
    const r = await cli([
      "schedule",
      "--from",
      "2024-09-10T00:00:00Z",
      "--count",
      "3",
      "--ics",
      file,
    ]);
    assert.equal(r.code, 0, r.err);
    const text = fs.readFileSync(file, "utf8");
    assert.ok(text.startsWith("BEGIN:VCALENDAR\r\n"));
    assert.doesNotMatch(text.replace(/\r\n/g, ""), /[\r\n]/, "every line ends with CRLF");
    const calendar = parseIcs(text);
    assert.equal(calendar.name, "VCALENDAR");
    assert.equal(prop(calendar, "VERSION"), "2.0");
    assert.ok(prop(calendar, "PRODID"));
    const events = calendar.children.filter((c) => c.name === "VEVENT");
    assert.equal(events.length, 9);
    const uids = new Set(events.map((e) => prop(e, "UID")));
    assert.equal(uids.size, 9, "UIDs are unique");
    for (const e of events) {
      assert.ok(prop(e, "DTSTAMP")?.endsWith("Z"));
      const start = prop(e, "DTSTART");
      assert.ok(start?.endsWith("Z"), "times are UTC");
      const end = prop(e, "DTEND");
      if (end !== undefined) assert.ok(icsUtc(end) > icsUtc(start as string));
    }
    const registration = events.find((e) =>
      prop(e, "SUMMARY")?.includes("register for PoET round 30"),
    );
    assert.ok(registration);
    assert.equal(
      icsUtc(prop(registration, "DTEND") as string).toISOString(),
      "2024-09-16T08:00:00.000Z",
    );
    assert.equal(registration.children[0]?.name, "VALARM");
    const gap = events.find((e) => prop(e, "SUMMARY")?.includes("round 30 ends"));
    assert.equal(icsUtc(prop(gap!, "DTSTART") as string).toISOString(), "2024-09-29T20:00:00.000Z");
    assert.equal(icsUtc(prop(gap!, "DTEND") as string).toISOString(), "2024-09-30T08:00:00.000Z");
    assert.match(prop(gap!, "DESCRIPTION") ?? "", /\\,/, "commas in text are escaped");
  });

  it("folds long lines at 75 octets without splitting a UTF-8 character", () => {
    const folded = foldLine(`DESCRIPTION:${"é".repeat(100)}`);
    for (const line of folded.split("\r\n")) assert.ok(Buffer.byteLength(line) <= 75);
    assert.equal(
      folded
        .split("\r\n")
        .map((l, i) => (i === 0 ? l : l.slice(1)))
        .join(""),
      `DESCRIPTION:${"é".repeat(100)}`,
    );
  });

  it("exits 2 on a malformed option and says which", async () => {
    const r = await cli(["schedule", "--epoch", "two weeks", "--genesis", "2025-01-01"]);
    assert.equal(r.code, 2);
    assert.match(r.err, /--epoch/);
    const unknown = await cli(["schedule", "--bogus"]);
    assert.equal(unknown.code, 2);
    const count = await cli(["schedule", "--count", "-1"]);
    assert.equal(count.code, 2);
  });

  it("exits 1 when the calendar file cannot be written", async () => {
    const r = await cli(["schedule", "--ics", path.join(tmp.dir, "missing-dir", "x.ics")]);
    assert.equal(r.code, 1);
    assert.match(r.err, /cannot write/);
  });

  it("prints its help with the exit codes", async () => {
    const r = await cli(["schedule", "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.out, /Usage: poet-client schedule/);
    assert.match(r.out, /Exit codes:/);
  });
});

describe("poet-client", () => {
  it("lists its commands and exit codes with --help", async () => {
    const r = await cli(["--help"]);
    assert.equal(r.code, 0);
    for (const name of [
      "info",
      "schedule",
      "status",
      "fetch-proof",
      "verify",
      "switch-phase",
      "demo",
    ]) {
      assert.match(r.out, new RegExp(`\\n  ${name} `));
    }
    assert.match(r.out, /3 {2}verification failed/);
  });

  it("exits 2 on an unknown command", async () => {
    const r = await cli(["frobnicate"]);
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown command/);
  });
});
