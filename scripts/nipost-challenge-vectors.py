#!/usr/bin/env python3
"""Writes test/fixtures/nipost-challenge.json: NiPoST challenge vectors computed without the library.

Independent of the TypeScript code under test on purpose: the SCALE bytes are assembled here by
hand from go-spacemesh v1.7's `activation/wire` layout (challenge_v1_scale.go, challenge_v2_scale.go,
wire_v1_scale.go PostV1), and BLAKE3 is a plain transcription of the BLAKE3 specification, checked
below against its published test values. Run: python3 scripts/nipost-challenge-vectors.py
"""
import json
import os
import struct

# --- BLAKE3 (hash mode, 32-byte output), from the specification --------------------------------
IV = [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19]
PERM = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8]
CHUNK_START, CHUNK_END, PARENT, ROOT = 1, 2, 4, 8
M32 = 0xFFFFFFFF


def _rotr(x, n):
    return ((x >> n) | (x << (32 - n))) & M32


def _g(s, a, b, c, d, x, y):
    s[a] = (s[a] + s[b] + x) & M32
    s[d] = _rotr(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & M32
    s[b] = _rotr(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b] + y) & M32
    s[d] = _rotr(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & M32
    s[b] = _rotr(s[b] ^ s[c], 7)


def _compress(cv, block_words, counter, block_len, flags):
    s = list(cv) + IV[:4] + [counter & M32, (counter >> 32) & M32, block_len, flags]
    m = list(block_words)
    for r in range(7):
        _g(s, 0, 4, 8, 12, m[0], m[1])
        _g(s, 1, 5, 9, 13, m[2], m[3])
        _g(s, 2, 6, 10, 14, m[4], m[5])
        _g(s, 3, 7, 11, 15, m[6], m[7])
        _g(s, 0, 5, 10, 15, m[8], m[9])
        _g(s, 1, 6, 11, 12, m[10], m[11])
        _g(s, 2, 7, 8, 13, m[12], m[13])
        _g(s, 3, 4, 9, 14, m[14], m[15])
        if r < 6:
            m = [m[PERM[i]] for i in range(16)]
    return [s[i] ^ s[i + 8] for i in range(8)]


def _words(block):
    block = block + bytes(64 - len(block))
    return struct.unpack("<16I", block)


def _chunk_cv(chunk, counter, extra_root):
    """Chaining value of one chunk; extra_root sets ROOT on its last block (single-chunk input)."""
    cv = IV
    blocks = [chunk[i : i + 64] for i in range(0, len(chunk), 64)] or [b""]
    for i, block in enumerate(blocks):
        flags = (CHUNK_START if i == 0 else 0) | (CHUNK_END if i == len(blocks) - 1 else 0)
        if i == len(blocks) - 1 and extra_root:
            flags |= ROOT
        cv = _compress(cv, _words(block), counter, len(block), flags)
    return cv


def blake3(data):
    chunks = [data[i : i + 1024] for i in range(0, len(data), 1024)] or [b""]
    if len(chunks) == 1:
        out = _chunk_cv(chunks[0], 0, True)
        return struct.pack("<8I", *out)
    # Tree of chunk chaining values: left subtrees are the largest power of two of chunks.
    def subtree(start, count, is_root):
        if count == 1:
            return _chunk_cv(chunks[start], start, False)
        left = 1
        while left * 2 < count:
            left *= 2
        lcv = subtree(start, left, False)
        rcv = subtree(start + left, count - left, False)
        return _compress(IV, lcv + rcv, 0, 64, PARENT | (ROOT if is_root else 0))

    return struct.pack("<8I", *subtree(0, len(chunks), True))


# Published BLAKE3 values (BLAKE3 team's test_vectors.json: input byte i = i % 251).
assert blake3(b"").hex() == "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
assert blake3(b"abc").hex() == "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
assert (
    blake3(bytes(i % 251 for i in range(1025))).hex()
    == "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444"
)


# --- SCALE, as go-scale encodes it ---------------------------------------------------------------
def compact(v):
    if v < 1 << 6:
        return bytes([v << 2])
    if v < 1 << 14:
        return struct.pack("<H", (v << 2) | 1)
    if v < 1 << 30:
        return struct.pack("<I", (v << 2) | 2)
    raw = v.to_bytes((v.bit_length() + 7) // 8, "little")
    return bytes([((len(raw) - 4) << 2) | 3]) + raw


def option(value):
    return b"\x00" if value is None else b"\x01" + value


def post_v1(post):
    if post is None:
        return None
    return compact(post["nonce"]) + compact(len(post["indices"])) + post["indices"] + compact(post["pow"])


def challenge_v1(c):
    # PublishEpoch compact32, Sequence compact64, PrevATXID [32], PositioningATXID [32],
    # CommitmentATXID *ATXID (option), InitialPost *PostV1 (option)
    return (
        compact(c["publishEpoch"])
        + compact(c["sequence"])
        + c["prevAtx"]
        + c["positioningAtx"]
        + option(c.get("commitmentAtx"))
        + option(post_v1(c.get("initialPost")))
    )


def challenge_v2(c):
    # PublishEpoch compact32, PrevATXID [32], PositioningATXID [32], InitialPost *PostV1 (option)
    return compact(c["publishEpoch"]) + c["prevAtx"] + c["positioningAtx"] + option(post_v1(c.get("initialPost")))


def filled(seed, n):
    return bytes((seed * 31 + i * 7) % 256 for i in range(n))


V1 = [
    ("zeros-epoch-0", dict(publishEpoch=0, sequence=0, prevAtx=bytes(32), positioningAtx=bytes(32))),
    (
        "mainnet-like-epoch-42-seq-7",
        dict(publishEpoch=42, sequence=7, prevAtx=filled(1, 32), positioningAtx=filled(2, 32)),
    ),
    (
        "initial-atx-with-post",
        dict(
            publishEpoch=3,
            sequence=0,
            prevAtx=bytes(32),
            positioningAtx=filled(3, 32),
            commitmentAtx=filled(4, 32),
            initialPost=dict(nonce=123456, indices=filled(5, 100), pow=0x1122334455),
        ),
    ),
    (
        "compact-boundaries",
        dict(publishEpoch=(1 << 14), sequence=(1 << 30), prevAtx=filled(6, 32), positioningAtx=filled(7, 32)),
    ),
    (
        "u32-u64-maxima",
        dict(
            publishEpoch=(1 << 32) - 1,
            sequence=(1 << 64) - 1,
            prevAtx=filled(8, 32),
            positioningAtx=filled(9, 32),
            commitmentAtx=filled(10, 32),
            initialPost=dict(nonce=(1 << 32) - 1, indices=filled(11, 800), pow=(1 << 64) - 1),
        ),
    ),
    (
        "commitment-only-epoch-63-seq-64",
        dict(publishEpoch=63, sequence=64, prevAtx=filled(12, 32), positioningAtx=filled(13, 32), commitmentAtx=filled(14, 32)),
    ),
]

V2 = [
    ("v2-epoch-42", dict(publishEpoch=42, prevAtx=filled(1, 32), positioningAtx=filled(2, 32))),
    (
        "v2-initial-with-post",
        dict(
            publishEpoch=16384,
            prevAtx=bytes(32),
            positioningAtx=filled(3, 32),
            initialPost=dict(nonce=1, indices=filled(5, 64), pow=64),
        ),
    ),
]


def jsonable(c):
    out = {}
    for k, v in c.items():
        if isinstance(v, bytes):
            out[k] = v.hex()
        elif isinstance(v, dict):
            out[k] = jsonable(v)
        elif k in ("sequence", "pow"):
            out[k] = str(v)
        else:
            out[k] = v
    return out


def vectors(cases, encode):
    out = []
    for name, c in cases:
        enc = encode(c)
        out.append(
            dict(name=name, challenge=jsonable(c), scale=enc.hex(), hash=blake3(b"\x00" + enc).hex())
        )
    return out


doc = {
    "source": "scripts/nipost-challenge-vectors.py (independent SCALE assembly + BLAKE3 from the spec)",
    "layout": "go-spacemesh v1.7.6 activation/wire NIPostChallengeV1 / NIPostChallengeV2, PostV1",
    "hash": "blake3(0x00 || scale)",
    "v1": vectors(V1, challenge_v1),
    "v2": vectors(V2, challenge_v2),
}
here = os.path.dirname(os.path.abspath(__file__))
path = os.path.join(here, "..", "test", "fixtures", "nipost-challenge.json")
with open(path, "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
print("wrote", os.path.normpath(path))
