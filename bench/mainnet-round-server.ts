/**
 * The PoETs of the mainnet-round bench, in a process of their own so that the client's peak RSS
 * is the client's: a loopback HTTP server per PoET that answers info, PoW parameters and submit
 * like the REST gateway, and serves `/v1/proofs/0` as a real proof (the TS prover) over the
 * membership root of N members, in the gateway's JSON shape. Prints `{"ports":[…]}` when ready.
 *
 *   node --import tsx bench/mainnet-round-server.ts <members> <poets> <untilRoundEndMs>
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { prove } from "../src/testing/index.js";
import { packedMembers, packedRoot, SERVICE_KEY, schedule } from "./mainnet-round-data.js";

const N = Number(process.argv[2]);
const POETS = Number(process.argv[3] ?? 1);
const UNTIL_ROUND_END_MS = Number(process.argv[4]);

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const members = packedMembers(N);
const root = packedRoot(members);

// `"<base64>",` per member, the separator left off the last one: one buffer for every PoET.
const membersJson = Buffer.alloc(47 * N - 1);
for (let i = 0; i < N; i++) {
  const at = 47 * i;
  membersJson[at] = 0x22;
  membersJson.write(Buffer.from(members.buffer, 32 * i, 32).toString("base64"), at + 1, "latin1");
  membersJson[at + 45] = 0x22;
  if (i < N - 1) membersJson[at + 46] = 0x2c;
}

const info = JSON.stringify({
  servicePubkey: b64(SERVICE_KEY),
  phaseShift: `${schedule.phaseShiftMs / 1000}s`,
  cycleGap: `${schedule.cycleGapMs / 1000}s`,
  certifier: null,
});
const powParams = JSON.stringify({
  powParams: { challenge: b64(new Uint8Array(32)), difficulty: 0 },
});
const submit = JSON.stringify({ roundId: "0", roundEnd: `${UNTIL_ROUND_END_MS / 1000}s` });

function serve(leaves: number): Promise<number> {
  const proof = prove(root, leaves);
  const head = Buffer.from(
    `{"proof":{"proof":{"root":"${b64(proof.root)}","provenLeaves":${JSON.stringify(proof.provenLeaves.map(b64))},"proofNodes":${JSON.stringify(proof.proofNodes.map(b64))}},"members":[`,
  );
  const tail = Buffer.from(`],"leaves":"${proof.leaves}"},"pubkey":"${b64(SERVICE_KEY)}"}`);
  const length = head.length + membersJson.length + tail.length;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const json = (body: string) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(body);
      };
      if (req.url === "/v1/info") return json(info);
      if (req.url === "/v1/pow_params") return json(powParams);
      if (req.url === "/v1/submit") return json(submit);
      if (req.url === "/v1/proofs/0") {
        res.writeHead(200, { "content-type": "application/json", "content-length": length });
        res.write(head);
        res.write(membersJson);
        res.end(tail);
        return;
      }
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ code: 5, message: "not found", details: [] }));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
}

const ports: number[] = [];
for (let i = 0; i < POETS; i++) ports.push(await serve(1000 + 100 * i));
process.stdout.write(`${JSON.stringify({ ports, bodyBytes: 47 * N + 500 })}\n`);
