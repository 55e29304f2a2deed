/**
 * @module auth/signer
 *
 * A node identity as the PoET client sees it: its node id (the 32-byte ed25519 public key) and a
 * way to sign. A Submit carries `signature = ed25519(prefix ‖ challenge)` (docs/protocol.md §2.2),
 * and nothing else is signed, so the interface is one method. It may be asynchronous so that a
 * key kept in a hardware module or another process can be used; {@link createEd25519Signer} is the
 * in-process implementation on `node:crypto` (RFC 8032 signatures, the ones the PoET checks).
 */
import { createPrivateKey, type KeyObject, sign } from "node:crypto";
import { ConfigError } from "../errors.js";

/** A node identity that can sign. */
export interface Signer {
  /** The node id: the ed25519 public key (32 bytes). */
  readonly nodeId: Uint8Array;
  /** The 64-byte ed25519 signature of `message`. */
  sign(message: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

// PKCS #8 wrapping of a raw ed25519 seed (RFC 8410), the slow way in (see privateKeyFromSeed).
// biome-ignore format: one DER header
const PKCS8_ED25519_PREFIX = Uint8Array.of(
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
);

/**
 * A JWK's `x` for the import of a private key: OpenSSL builds the key from the seed (`d`) alone
 * and derives the public key itself, but Node asks for an `x` of the right length.
 */
const PLACEHOLDER_X = Buffer.alloc(32).toString("base64url");

/**
 * The private key of `seed`, and its public key (the node id). The key object API takes no raw
 * seeds: the seed goes in as a JWK (`kty: "OKP"`), which OpenSSL imports about ten times faster
 * than the same seed wrapped in PKCS #8 DER (0.07 against 0.6–1 ms: ten thousand identities were
 * six seconds of the event loop). Should a Node version refuse the placeholder `x`, the DER way is
 * taken; either way the public key is the one OpenSSL derives from the seed.
 */
function keyFromSeed(seed: Uint8Array): { key: KeyObject; nodeId: Uint8Array } {
  const d = Buffer.from(seed.buffer, seed.byteOffset, 32).toString("base64url");
  let key: KeyObject;
  try {
    key = createPrivateKey({
      key: { kty: "OKP", crv: "Ed25519", d, x: PLACEHOLDER_X },
      format: "jwk",
    });
  } catch {
    key = privateKeyFromDer(seed);
  }
  const { x } = key.export({ format: "jwk" });
  if (typeof x !== "string") throw new ConfigError("seed", "no ed25519 public key for this seed");
  return { key, nodeId: new Uint8Array(Buffer.from(x, "base64url")) };
}

function privateKeyFromDer(seed: Uint8Array): KeyObject {
  const der = new Uint8Array(PKCS8_ED25519_PREFIX.length + 32);
  der.set(PKCS8_ED25519_PREFIX);
  der.set(seed, PKCS8_ED25519_PREFIX.length);
  return createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });
}

/**
 * An ed25519 {@link Signer} from a 32-byte seed (the first half of a Go `ed25519.PrivateKey`).
 *
 * @throws {ConfigError} when the seed is not 32 bytes.
 * @example
 * ```ts
 * const signer = createEd25519Signer(seed);
 * const signature = await signer.sign(concat(prefix, challenge));
 * ```
 */
export function createEd25519Signer(seed: Uint8Array): Signer {
  if (seed.length !== 32) {
    throw new ConfigError("seed", `an ed25519 seed is 32 bytes, got ${seed.length}`);
  }
  const { key, nodeId } = keyFromSeed(seed);
  return {
    nodeId,
    sign: (message) => new Uint8Array(sign(null, message, key)),
  };
}
