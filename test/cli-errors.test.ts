import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, it } from "node:test";
import { EXIT_CODE_TABLE, EXIT_CODES_HELP } from "../src/cli/exit-codes.js";
import { proofResponseJson } from "../src/cli/proof-file.js";
import { ConfigError } from "../src/errors.js";
import { startMockPoet } from "../src/testing/index.js";
import { type CliResult, cli } from "./cli-helpers.js";
import { fromHex, loadProofVectors, type ProofVector, proofOf } from "./helpers/proof-vectors.js";
import { tempDir } from "./helpers/temp-dir.js";

const tmp = tempDir("poet-cli-errors-");

/** The error's one line on stderr: no newline inside, no control character, the command once. */
function assertOneLine(r: CliResult, command: string): string {
  const text = r.err;
  assert.ok(text.endsWith("\n"), JSON.stringify(text));
  const line = text.slice(0, -1);
  assert.ok(!line.includes("\n"), `more than one line: ${JSON.stringify(text)}`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters must not reach the terminal
  assert.doesNotMatch(line, /[\u0000-\u0008\u000b-\u001f\u007f\ufffd]/, "control characters");
  const prefix = command === "" ? "poet-client: " : `poet-client ${command}: `;
  assert.ok(line.startsWith(prefix), line);
  assert.ok(!line.slice(prefix.length).startsWith(`${command}:`), `repeated prefix: ${line}`);
  return line;
}

function savedProof(name: string): string {
  const real = loadProofVectors("test/fixtures/real-server/poet-proofs-real-server.json");
  const v = real.find((p) => (p.members?.length ?? 0) > 1) ?? (real[0] as ProofVector);
  const file = tmp.file(name);
  const json = proofResponseJson(
    proofOf(v),
    (v.members ?? []).map(fromHex),
    fromHex(v.service_pubkey ?? ""),
  );
  fs.writeFileSync(file, JSON.stringify(json));
  return file;
}

describe("poet-client usage errors", () => {
  it("names the flag, not the library's option name, on one line", async () => {
    const r = await cli(["schedule", "--phase-shift", "400h"]);
    assert.equal(r.code, 2);
    const line = assertOneLine(r, "schedule");
    assert.match(line, /--phase-shift: must be/);
    assert.doesNotMatch(line, /phaseShiftMs/);
  });

  it("names switch-phase's own flags for a target phase that cannot work", async () => {
    const r = await cli([
      "switch-phase",
      "--db",
      tmp.file("switch.sql"),
      "--to",
      "http://127.0.0.1:1",
      "--to-phase-shift",
      "400h",
      "--to-cycle-gap",
      "12h",
    ]);
    assert.equal(r.code, 2);
    const line = assertOneLine(r, "switch-phase");
    assert.match(line, /--to-phase-shift: must be/);
    assert.doesNotMatch(line, /phaseShiftMs/);
  });

  it("words unknown options and missing values itself, without parseArgs's quotes", async () => {
    const unknown = await cli(["info", "--nope", "http://127.0.0.1:1"]);
    assert.equal(unknown.code, 2);
    assert.match(assertOneLine(unknown, "info"), /--nope: unknown option/);
    assert.doesNotMatch(unknown.err, /'/);
    const missing = await cli(["fetch-proof", "http://127.0.0.1:1", "3", "--out"]);
    assert.equal(missing.code, 2);
    assert.match(assertOneLine(missing, "fetch-proof"), /--out: expects a value/);
  });

  it("says which argument is missing, without repeating the command", async () => {
    const r = await cli(["info"]);
    assert.equal(r.code, 2);
    assert.match(assertOneLine(r, "info"), /^poet-client info: missing <url> \(see/);
  });

  it("honours --json for usage errors too", async () => {
    const r = await cli(["schedule", "--count", "lots", "--json"]);
    assert.equal(r.code, 2);
    const body = JSON.parse(r.out);
    assert.equal(body.ok, false);
    assert.equal(body.error.code, "config");
    assert.equal(body.error.exitCode, 2);
    assert.match(body.error.message, /--count/);
    assertOneLine(r, "schedule");
    const unknownCommand = await cli(["frobnicate", "--json"]);
    assert.equal(unknownCommand.code, 2);
    assert.equal(JSON.parse(unknownCommand.out).ok, false);
    assert.match(assertOneLine(unknownCommand, ""), /unknown command "frobnicate"/);
  });

  it("rejects a round id of -1 as an invalid round id, not as an option", async () => {
    const r = await cli(["fetch-proof", "http://127.0.0.1:1", "-1"]);
    assert.equal(r.code, 2);
    const line = assertOneLine(r, "fetch-proof");
    assert.match(line, /<round>: "-1" is not a valid round id/);
    assert.doesNotMatch(line, /option/);
  });

  it("rejects a negative duration as a value of its flag", async () => {
    const r = await cli(["info", "http://127.0.0.1:1", "--timeout", "-5s"]);
    assert.equal(r.code, 2);
    assert.match(assertOneLine(r, "info"), /--timeout: "-5s" is not a duration/);
  });

  it("rejects a word that cannot be a host without asking DNS", async () => {
    const r = await cli(["info", "not-a-url"]);
    assert.equal(r.code, 2);
    assert.match(assertOneLine(r, "info"), /<url>: "not-a-url" is not a PoET URL/);
    const status = await cli(["status", "--db", tmp.file("none.sql"), "--poet", "nope"]);
    assert.equal(status.code, 2);
    assert.match(assertOneLine(status, "status"), /--poet: "nope" is not a PoET URL/);
  });

  it("exits 2 (usage) for verify --security-param 0", async () => {
    const r = await cli(["verify", savedProof("param.json"), "--security-param", "0"]);
    assert.equal(r.code, 2);
    assert.match(assertOneLine(r, "verify"), /--security-param: must be at least 1/);
  });
});

describe("poet-client runtime errors", () => {
  let poetUrl = "";
  let stop: () => Promise<void> = async () => {};
  before(async () => {
    const poet = await startMockPoet({
      epochDurationMs: 4000,
      phaseShiftMs: 1000,
      cycleGapMs: 2000,
    });
    poetUrl = poet.url;
    stop = () => poet.stop();
  });
  after(() => stop());

  it("exits 5 for a PoET key other than the expected one, in info and verify alike", async () => {
    const other = "00".repeat(32);
    const info = await cli(["info", poetUrl, "--pubkey", other]);
    const verify = await cli(["verify", savedProof("key.json"), "--pubkey", other]);
    assert.equal(info.code, 5, info.err);
    assert.equal(verify.code, 5, verify.err);
  });

  it("says in one line that an https URL met a plain-http server", async () => {
    const r = await cli(["info", poetUrl.replace("http://", "https://"), "--timeout", "10s"]);
    assert.equal(r.code, 1);
    const line = assertOneLine(r, "info");
    assert.match(line, /does not speak TLS/);
    assert.doesNotMatch(line, /SSL routines|openssl/i);
  });

  it("names the file that is not a database, and refuses a directory clearly", async () => {
    const junk = tmp.file("junk.sql");
    fs.writeFileSync(junk, "this is not sqlite ".repeat(400));
    const r = await cli(["status", "--db", junk]);
    assert.equal(r.code, 1);
    const line = assertOneLine(r, "status");
    assert.ok(line.includes(junk), line);
    assert.match(line, /not a SQLite database/);
    const dir = await cli(["status", "--db", tmp.dir]);
    assert.equal(dir.code, 1);
    assert.match(assertOneLine(dir, "status"), /is a directory/);
  });

  it("does not echo a binary proof file's bytes", async () => {
    const file = tmp.file("garbage.json");
    fs.writeFileSync(file, Buffer.from([0x00, 0x1b, 0x5b, 0x32, 0x4a, 0xff, 0xfe, 0x07, 0x7b]));
    const r = await cli(["verify", file]);
    assert.equal(r.code, 1);
    const line = assertOneLine(r, "verify");
    assert.ok(line.includes(file), line);
    assert.match(line, /binary data, not a JSON proof file/);
  });

  it("has one exit-code table, in --help and in the operator guide", async () => {
    const help = await cli(["verify", "--help"]);
    assert.ok(help.out.includes(EXIT_CODES_HELP));
    const guide = fs.readFileSync("docs/operator-guide.md", "utf8");
    const rows = [...guide.matchAll(/^\| (\d) \| (.*) \|$/gm)].map((m) => [Number(m[1]), m[2]]);
    assert.deepEqual(
      rows,
      EXIT_CODE_TABLE.map(([code, meaning]) => [code, meaning]),
    );
  });
});

describe("startMockPoet options", () => {
  it("rejects a genesis that is not a Date with a ConfigError", async () => {
    await assert.rejects(
      startMockPoet({ genesis: 123 as unknown as Date }),
      (err) => err instanceof ConfigError && err.setting === "genesis",
    );
  });
});
