/**
 * @module schedule/mainnet
 *
 * The Spacemesh mainnet preset: the network clock, the phase of the public PoETs, their URLs and
 * service keys, the genesis id that prefixes every PoET signature, and the tick size that turns
 * leaves into ATX weight (docs/protocol.md §2.2, §3.6; docs/node-client.md §3). The values are
 * those of go-spacemesh's mainnet configuration; they are constants because a mismatch with the
 * network is not something a node can negotiate.
 */
import { RoundSchedule } from "./round-schedule.js";

const HOUR_MS = 3_600_000;

/** A PoET server as a node configures it: its base URL and, optionally, its service key. */
export interface PoetServerConfig {
  /** Base URL, for example `https://mainnet-poet-0.spacemesh.network`. */
  url: string;
  /** Wire protocol; public PoETs serve only the REST gateway. */
  protocol?: "rest" | "grpc" | "connect";
  /** The PoET's 32-byte ed25519 service key; when set, `info()` and proofs must carry it. */
  pubkey?: Uint8Array;
}

/** Everything a node needs to know about one Spacemesh network to talk to its PoETs. */
export interface NetworkPreset {
  /** The network's round calendar. */
  schedule: RoundSchedule;
  /** First 20 bytes of blake3(decimal genesis seconds ‖ extra data): the signing prefix. */
  genesisId: Uint8Array;
  /** The genesis extra data string that went into the genesis id. */
  genesisExtraData: string;
  /** The public PoETs of the network's phase. */
  poets: PoetServerConfig[];
  /** Leaves per tick: ticks = leaves / tickSize (integer division). */
  tickSize: bigint;
  /** Layer length in ms. */
  layerDurationMs: number;
  /** Layers per epoch. */
  layersPerEpoch: number;
  /** How long before a round start the node starts building its challenge, in ms. */
  gracePeriodMs: number;
  /** The go-spacemesh proof request timeout, in ms. */
  poetRequestTimeoutMs: number;
}

function base64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "base64"));
}

function hex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "hex"));
}

/**
 * Spacemesh mainnet: genesis 2023-07-14T08:00:00Z, 336 h epochs (4032 layers of 5 min), phase
 * shift 240 h, cycle gap 12 h, tick size 9,331,200 and the five public PoETs.
 *
 * @example
 * ```ts
 * import { MAINNET } from "spacemesh-poet-client";
 * MAINNET.schedule.roundEnd(30).toISOString(); // "2024-09-29T20:00:00.000Z"
 * MAINNET.poets.map((p) => p.url);
 * ```
 */
export const MAINNET: NetworkPreset = Object.freeze({
  schedule: new RoundSchedule({
    genesis: new Date("2023-07-14T08:00:00Z"),
    epochDurationMs: 336 * HOUR_MS,
    phaseShiftMs: 240 * HOUR_MS,
    cycleGapMs: 12 * HOUR_MS,
  }),
  genesisId: hex("9eebff023abb17ccb775c602daade8ed708f0a50"),
  genesisExtraData: "00000000000000000001a6bc150307b5c1998045752b3c87eccf3c013036f3cc",
  poets: [
    {
      url: "https://mainnet-poet-0.spacemesh.network",
      pubkey: base64("cFnqCS5oER7GOX576oPtahlxB/1y95aDibdK7RHQFVg="),
    },
    {
      url: "https://mainnet-poet-1.spacemesh.network",
      pubkey: base64("Qh1efxY4YhoYBEXKPTiHJ/a7n1GsllRSyweQKO3j7m0="),
    },
    {
      url: "https://poet-110.spacemesh.network",
      pubkey: base64("8Qqgid+37eyY7ik+EA47Nd5TrQjXolbv2Mdgir243No="),
    },
    {
      url: "https://poet-111.spacemesh.network",
      pubkey: base64("caIV0Ym59L3RqbVAL6UrCPwr+z+lwe2TBj57QWnAgtM="),
    },
    {
      url: "https://poet-112.spacemesh.network",
      pubkey: base64("5p/mPvmqhwdvf8U0GVrNq/9IN/HmZj5hCkFLAN04g1E="),
    },
  ],
  tickSize: 9_331_200n,
  layerDurationMs: 5 * 60_000,
  layersPerEpoch: 4032,
  gracePeriodMs: HOUR_MS,
  poetRequestTimeoutMs: 1_100_000,
});
