;; SHA-256 kernels of the proof-of-sequential-work verifier (docs/protocol.md §5.1, §5.2, §5.4).
;;
;; Two engines share one memory:
;;   * a scalar engine (`sha256`) for one message of any length, for callers with a single hash;
;;   * a four-lane 128-bit SIMD engine that hashes four independent messages per instruction
;;     stream (lane j of every v128 belongs to message j): `hash_many` hashes padded messages and
;;     can then re-hash each 32-byte result `depth - 1` more times without leaving the module (the
;;     400-deep label chains, the Fiat–Shamir digests), and `merkle_plan` computes salted Merkle
;;     parents of a partial tree a level at a time, reading and writing 32-byte nodes in an arena
;;     laid out by the validator (docs/protocol.md §5.4), so that thousands of parents cost one
;;     call per tree level instead of one per parent.
;;
;; A chained SHA-256 of a 32-byte value needs no byte shuffling at all: the eight state words are
;; the eight big-endian message words of the next block, and words 8..15 of that block (padding
;; and the 256-bit length) never change, so a chain step is one compression on registers. A salted
;; Merkle parent of 32-byte nodes is two blocks whose words are partly the same in every lane (the
;; statement) or fixed (the padding of a 96-byte message); those are written once per call.
;;
;; Why the compression is written as it is (each alternative was measured on the verifier's own
;; workload, 150 chains of 400 hashes, on a 2-core x64 machine with AVX2, where four lanes cost
;; about 68 ns per hash; there a dependent vector add, logic op or shift takes about 0.5 ns, two
;; cycles, so the rounds are bound by their dependency chain more than by the number of
;; operations):
;;   * The sums of a round are grouped so that the new e is one addition after Σ1(e), five
;;     dependent operations per round where the textbook grouping has seven (see $compress4): 7%
;;     faster for one more addition per round.
;;   * One group of four lanes per instruction stream, not two: interleaving two independent
;;     groups (eight chains per call) so that the processor overlaps their dependency chains ran at
;;     about 105 ns per hash, because sixteen state vectors plus the schedule do not fit the sixteen
;;     128-bit registers V8 uses on x64, and the spills cost more than the overlap gains. Keeping
;;     only a and e in registers and the older words in a ring in memory fits two groups, but the
;;     extra loads and stores made it slower still (75 ns for two groups, 71 ns for one).
;;   * The message schedule is expanded inside the rounds, not in a loop of its own before them:
;;     alone, the rounds leave the vector units idle while they wait on their chain (88 ns per
;;     hash with a separate schedule loop).
;;   * Eight rounds per loop iteration, not all 64 unrolled: unrolling with the schedule in locals
;;     and every padding constant folded (K + W for rounds 8..15, σ0/σ1 of the padding words, round
;;     0 from the IV) saves about 5% of the operations but ran 5–8% slower here: V8's optimizing
;;     compiler schedules the long straight-line body poorly and spills, while the loop keeps
;;     the working set small; the message words go through memory, which the load units serve
;;     without taking vector ALU slots.
;;   * None of SHA-256's rotations (2, 13, 22, 6, 11, 25, 7, 18, 17, 19) is a whole number of bytes,
;;     so every rotation is a shift pair and an or; `i8x16.shuffle` serves only the byte swaps and
;;     transposes at the edges. Multiplying instead of shifting left (to spread the work over other
;;     execution ports) was twice as slow, and composing the three right shifts of a Σ (and the
;;     three left ones) into a chain of shifts and xors, which needs fewer registers, lengthens the
;;     dependency chain and was 8% slower.
;;
;; Memory map (bytes):
;;      0 ..  256  K, the 64 round constants (little-endian i32)
;;    256 ..  288  IV, the initial hash value
;;    320 ..  352  scalar state H
;;    384 ..  512  scalar padding tail (two blocks)
;;    512 ..  768  scalar message schedule W[0..64)
;;   1024 .. 2048  SIMD message schedule A: W[0..64), one v128 per word
;;   2048 .. 3072  SIMD message schedule B: the second block of a Merkle parent
;;   3072 .. 3200  sink for the outputs of unused SIMD lanes
;;   4096 ..       free for the caller (`heap_base`)
(module
  (memory (export "memory") 1)
  (global (export "heap_base") i32 (i32.const 4096))

  (data (i32.const 0)
    "\98\2f\8a\42\91\44\37\71\cf\fb\c0\b5\a5\db\b5\e9"
    "\5b\c2\56\39\f1\11\f1\59\a4\82\3f\92\d5\5e\1c\ab"
    "\98\aa\07\d8\01\5b\83\12\be\85\31\24\c3\7d\0c\55"
    "\74\5d\be\72\fe\b1\de\80\a7\06\dc\9b\74\f1\9b\c1"
    "\c1\69\9b\e4\86\47\be\ef\c6\9d\c1\0f\cc\a1\0c\24"
    "\6f\2c\e9\2d\aa\84\74\4a\dc\a9\b0\5c\da\88\f9\76"
    "\52\51\3e\98\6d\c6\31\a8\c8\27\03\b0\c7\7f\59\bf"
    "\f3\0b\e0\c6\47\91\a7\d5\51\63\ca\06\67\29\29\14"
    "\85\0a\b7\27\38\21\1b\2e\fc\6d\2c\4d\13\0d\38\53"
    "\54\73\0a\65\bb\0a\6a\76\2e\c9\c2\81\85\2c\72\92"
    "\a1\e8\bf\a2\4b\66\1a\a8\70\8b\4b\c2\a3\51\6c\c7"
    "\19\e8\92\d1\24\06\99\d6\85\35\0e\f4\70\a0\6a\10"
    "\16\c1\a4\19\08\6c\37\1e\4c\77\48\27\b5\bc\b0\34"
    "\b3\0c\1c\39\4a\aa\d8\4e\4f\ca\9c\5b\f3\6f\2e\68"
    "\ee\82\8f\74\6f\63\a5\78\14\78\c8\84\08\02\c7\8c"
    "\fa\ff\be\90\eb\6c\50\a4\f7\a3\f9\be\f2\78\71\c6")
  (data (i32.const 256)
    "\67\e6\09\6a\85\ae\67\bb\72\f3\6e\3c\3a\f5\4f\a5"
    "\7f\52\0e\51\8c\68\05\9b\ab\d9\83\1f\19\cd\e0\5b")

  ;; ---------------------------------------------------------------- helpers

  ;; Reverses the bytes of each 32-bit lane: big-endian words <-> little-endian memory.
  (func $bswap4 (param $x v128) (result v128)
    (i8x16.shuffle 3 2 1 0 7 6 5 4 11 10 9 8 15 14 13 12 (local.get $x) (local.get $x)))

  (func $bswap32 (param $x i32) (result i32)
    (i32.or
      (i32.and (i32.rotl (local.get $x) (i32.const 8)) (i32.const 0x00ff00ff))
      (i32.and (i32.rotr (local.get $x) (i32.const 8)) (i32.const 0xff00ff00))))

  ;; Transposes a 4x4 matrix of i32: lane j of result i = lane i of input j.
  (func $transpose (param $r0 v128) (param $r1 v128) (param $r2 v128) (param $r3 v128)
    (result v128 v128 v128 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
      (local.get $r0) (local.get $r1)))
    (local.set $t1 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
      (local.get $r2) (local.get $r3)))
    (local.set $t2 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
      (local.get $r0) (local.get $r1)))
    (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
      (local.get $r2) (local.get $r3)))
    (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1))
    (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1))
    (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t2) (local.get $t3))
    (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t2) (local.get $t3)))


  ;; ---------------------------------------------------------------- scalar engine

  ;; One compression of the 64-byte block at $blk into the state at 320, laid out like the SIMD
  ;; engine's (see $compress4): eight rounds per iteration, message words expanded where used.
  (func $compress1 (param $blk i32)
    (local $p i32) (local $k i32) (local $x i32) (local $y i32) (local $w i32)
    (local $a i32) (local $b i32) (local $c i32) (local $d i32)
    (local $e i32) (local $f i32) (local $g i32) (local $h i32)
    (v128.store (i32.const 512) (call $bswap4 (v128.load (local.get $blk))))
    (v128.store (i32.const 528) (call $bswap4 (v128.load offset=16 (local.get $blk))))
    (v128.store (i32.const 544) (call $bswap4 (v128.load offset=32 (local.get $blk))))
    (v128.store (i32.const 560) (call $bswap4 (v128.load offset=48 (local.get $blk))))
    (local.set $a (i32.load (i32.const 320)))
    (local.set $b (i32.load (i32.const 324)))
    (local.set $c (i32.load (i32.const 328)))
    (local.set $d (i32.load (i32.const 332)))
    (local.set $e (i32.load (i32.const 336)))
    (local.set $f (i32.load (i32.const 340)))
    (local.set $g (i32.load (i32.const 344)))
    (local.set $h (i32.load (i32.const 348)))
    (local.set $p (i32.const 512))
    (local.set $k (i32.const 0))
    (loop $first
      ;; round 8k+0: W from the block
      (local.set $h
        (i32.add
          (i32.add (local.get $h) (i32.add (i32.load offset=0 (local.get $p)) (i32.load offset=0 (local.get $k))))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $e) (i32.const 6)) (i32.rotr (local.get $e) (i32.const 11))) (i32.rotr (local.get $e) (i32.const 25)))
            (i32.xor (local.get $g) (i32.and (local.get $e) (i32.xor (local.get $f) (local.get $g)))))))
      (local.set $d (i32.add (local.get $d) (local.get $h)))
      (local.set $h
        (i32.add (local.get $h)
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $a) (i32.const 2)) (i32.rotr (local.get $a) (i32.const 13))) (i32.rotr (local.get $a) (i32.const 22)))
            (i32.or (i32.and (local.get $a) (local.get $b))
              (i32.and (local.get $c) (i32.or (local.get $a) (local.get $b)))))))
      ;; round 8k+1: W from the block
      (local.set $g
        (i32.add
          (i32.add (local.get $g) (i32.add (i32.load offset=4 (local.get $p)) (i32.load offset=4 (local.get $k))))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $d) (i32.const 6)) (i32.rotr (local.get $d) (i32.const 11))) (i32.rotr (local.get $d) (i32.const 25)))
            (i32.xor (local.get $f) (i32.and (local.get $d) (i32.xor (local.get $e) (local.get $f)))))))
      (local.set $c (i32.add (local.get $c) (local.get $g)))
      (local.set $g
        (i32.add (local.get $g)
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $h) (i32.const 2)) (i32.rotr (local.get $h) (i32.const 13))) (i32.rotr (local.get $h) (i32.const 22)))
            (i32.or (i32.and (local.get $h) (local.get $a))
              (i32.and (local.get $b) (i32.or (local.get $h) (local.get $a)))))))
      ;; round 8k+2: W from the block
      (local.set $f
        (i32.add
          (i32.add (local.get $f) (i32.add (i32.load offset=8 (local.get $p)) (i32.load offset=8 (local.get $k))))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $c) (i32.const 6)) (i32.rotr (local.get $c) (i32.const 11))) (i32.rotr (local.get $c) (i32.const 25)))
            (i32.xor (local.get $e) (i32.and (local.get $c) (i32.xor (local.get $d) (local.get $e)))))))
      (local.set $b (i32.add (local.get $b) (local.get $f)))
      (local.set $f
        (i32.add (local.get $f)
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $g) (i32.const 2)) (i32.rotr (local.get $g) (i32.const 13))) (i32.rotr (local.get $g) (i32.const 22)))
            (i32.or (i32.and (local.get $g) (local.get $h))
              (i32.and (local.get $a) (i32.or (local.get $g) (local.get $h)))))))
      ;; round 8k+3: W from the block
      (local.set $e
        (i32.add
          (i32.add (local.get $e) (i32.add (i32.load offset=12 (local.get $p)) (i32.load offset=12 (local.get $k))))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $b) (i32.const 6)) (i32.rotr (local.get $b) (i32.const 11))) (i32.rotr (local.get $b) (i32.const 25)))
            (i32.xor (local.get $d) (i32.and (local.get $b) (i32.xor (local.get $c) (local.get $d)))))))
      (local.set $a (i32.add (local.get $a) (local.get $e)))
      (local.set $e
        (i32.add (local.get $e)
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $f) (i32.const 2)) (i32.rotr (local.get $f) (i32.const 13))) (i32.rotr (local.get $f) (i32.const 22)))
            (i32.or (i32.and (local.get $f) (local.get $g))
              (i32.and (local.get $h) (i32.or (local.get $f) (local.get $g)))))))
      ;; round 8k+4: W from the block
      (local.set $d
        (i32.add
          (i32.add (local.get $d) (i32.add (i32.load offset=16 (local.get $p)) (i32.load offset=16 (local.get $k))))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $a) (i32.const 6)) (i32.rotr (local.get $a) (i32.const 11))) (i32.rotr (local.get $a) (i32.const 25)))
            (i32.xor (local.get $c) (i32.and (local.get $a) (i32.xor (local.get $b) (local.get $c)))))))
      (local.set $h (i32.add (local.get $h) (local.get $d)))
      (local.set $d
        (i32.add (local.get $d)
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $e) (i32.const 2)) (i32.rotr (local.get $e) (i32.const 13))) (i32.rotr (local.get $e) (i32.const 22)))
            (i32.or (i32.and (local.get $e) (local.get $f))
              (i32.and (local.get $g) (i32.or (local.get $e) (local.get $f)))))))
      ;; round 8k+5: W from the block
      (local.set $c
        (i32.add
          (i32.add (local.get $c) (i32.add (i32.load offset=20 (local.get $p)) (i32.load offset=20 (local.get $k))))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $h) (i32.const 6)) (i32.rotr (local.get $h) (i32.const 11))) (i32.rotr (local.get $h) (i32.const 25)))
            (i32.xor (local.get $b) (i32.and (local.get $h) (i32.xor (local.get $a) (local.get $b)))))))
      (local.set $g (i32.add (local.get $g) (local.get $c)))
      (local.set $c
        (i32.add (local.get $c)
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $d) (i32.const 2)) (i32.rotr (local.get $d) (i32.const 13))) (i32.rotr (local.get $d) (i32.const 22)))
            (i32.or (i32.and (local.get $d) (local.get $e))
              (i32.and (local.get $f) (i32.or (local.get $d) (local.get $e)))))))
      ;; round 8k+6: W from the block
      (local.set $b
        (i32.add
          (i32.add (local.get $b) (i32.add (i32.load offset=24 (local.get $p)) (i32.load offset=24 (local.get $k))))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $g) (i32.const 6)) (i32.rotr (local.get $g) (i32.const 11))) (i32.rotr (local.get $g) (i32.const 25)))
            (i32.xor (local.get $a) (i32.and (local.get $g) (i32.xor (local.get $h) (local.get $a)))))))
      (local.set $f (i32.add (local.get $f) (local.get $b)))
      (local.set $b
        (i32.add (local.get $b)
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $c) (i32.const 2)) (i32.rotr (local.get $c) (i32.const 13))) (i32.rotr (local.get $c) (i32.const 22)))
            (i32.or (i32.and (local.get $c) (local.get $d))
              (i32.and (local.get $e) (i32.or (local.get $c) (local.get $d)))))))
      ;; round 8k+7: W from the block
      (local.set $a
        (i32.add
          (i32.add (local.get $a) (i32.add (i32.load offset=28 (local.get $p)) (i32.load offset=28 (local.get $k))))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $f) (i32.const 6)) (i32.rotr (local.get $f) (i32.const 11))) (i32.rotr (local.get $f) (i32.const 25)))
            (i32.xor (local.get $h) (i32.and (local.get $f) (i32.xor (local.get $g) (local.get $h)))))))
      (local.set $e (i32.add (local.get $e) (local.get $a)))
      (local.set $a
        (i32.add (local.get $a)
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $b) (i32.const 2)) (i32.rotr (local.get $b) (i32.const 13))) (i32.rotr (local.get $b) (i32.const 22)))
            (i32.or (i32.and (local.get $b) (local.get $c))
              (i32.and (local.get $d) (i32.or (local.get $b) (local.get $c)))))))
      (local.set $p (i32.add (local.get $p) (i32.const 32)))
      (local.set $k (i32.add (local.get $k) (i32.const 32)))
      (br_if $first (i32.lt_u (local.get $k) (i32.const 64))))
    (local.set $p (i32.const 512))
    (loop $expanded
      ;; round 8k+0: W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], kept for later rounds
      (local.set $x (i32.load offset=4 (local.get $p)))
      (local.set $y (i32.load offset=56 (local.get $p)))
      (local.set $w
        (i32.add
          (i32.add (i32.load offset=0 (local.get $p)) (i32.load offset=36 (local.get $p)))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $x) (i32.const 7)) (i32.rotr (local.get $x) (i32.const 18))) (i32.shr_u (local.get $x) (i32.const 3)))
            (i32.xor (i32.xor (i32.rotr (local.get $y) (i32.const 17)) (i32.rotr (local.get $y) (i32.const 19))) (i32.shr_u (local.get $y) (i32.const 10))))))
      (i32.store offset=64 (local.get $p) (local.get $w))
      (local.set $h
        (i32.add
          (i32.add (local.get $h) (i32.add (local.get $w) (i32.load offset=0 (local.get $k))))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $e) (i32.const 6)) (i32.rotr (local.get $e) (i32.const 11))) (i32.rotr (local.get $e) (i32.const 25)))
            (i32.xor (local.get $g) (i32.and (local.get $e) (i32.xor (local.get $f) (local.get $g)))))))
      (local.set $d (i32.add (local.get $d) (local.get $h)))
      (local.set $h
        (i32.add (local.get $h)
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $a) (i32.const 2)) (i32.rotr (local.get $a) (i32.const 13))) (i32.rotr (local.get $a) (i32.const 22)))
            (i32.or (i32.and (local.get $a) (local.get $b))
              (i32.and (local.get $c) (i32.or (local.get $a) (local.get $b)))))))
      ;; round 8k+1: W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], kept for later rounds
      (local.set $x (i32.load offset=8 (local.get $p)))
      (local.set $y (i32.load offset=60 (local.get $p)))
      (local.set $w
        (i32.add
          (i32.add (i32.load offset=4 (local.get $p)) (i32.load offset=40 (local.get $p)))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $x) (i32.const 7)) (i32.rotr (local.get $x) (i32.const 18))) (i32.shr_u (local.get $x) (i32.const 3)))
            (i32.xor (i32.xor (i32.rotr (local.get $y) (i32.const 17)) (i32.rotr (local.get $y) (i32.const 19))) (i32.shr_u (local.get $y) (i32.const 10))))))
      (i32.store offset=68 (local.get $p) (local.get $w))
      (local.set $g
        (i32.add
          (i32.add (local.get $g) (i32.add (local.get $w) (i32.load offset=4 (local.get $k))))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $d) (i32.const 6)) (i32.rotr (local.get $d) (i32.const 11))) (i32.rotr (local.get $d) (i32.const 25)))
            (i32.xor (local.get $f) (i32.and (local.get $d) (i32.xor (local.get $e) (local.get $f)))))))
      (local.set $c (i32.add (local.get $c) (local.get $g)))
      (local.set $g
        (i32.add (local.get $g)
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $h) (i32.const 2)) (i32.rotr (local.get $h) (i32.const 13))) (i32.rotr (local.get $h) (i32.const 22)))
            (i32.or (i32.and (local.get $h) (local.get $a))
              (i32.and (local.get $b) (i32.or (local.get $h) (local.get $a)))))))
      ;; round 8k+2: W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], kept for later rounds
      (local.set $x (i32.load offset=12 (local.get $p)))
      (local.set $y (i32.load offset=64 (local.get $p)))
      (local.set $w
        (i32.add
          (i32.add (i32.load offset=8 (local.get $p)) (i32.load offset=44 (local.get $p)))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $x) (i32.const 7)) (i32.rotr (local.get $x) (i32.const 18))) (i32.shr_u (local.get $x) (i32.const 3)))
            (i32.xor (i32.xor (i32.rotr (local.get $y) (i32.const 17)) (i32.rotr (local.get $y) (i32.const 19))) (i32.shr_u (local.get $y) (i32.const 10))))))
      (i32.store offset=72 (local.get $p) (local.get $w))
      (local.set $f
        (i32.add
          (i32.add (local.get $f) (i32.add (local.get $w) (i32.load offset=8 (local.get $k))))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $c) (i32.const 6)) (i32.rotr (local.get $c) (i32.const 11))) (i32.rotr (local.get $c) (i32.const 25)))
            (i32.xor (local.get $e) (i32.and (local.get $c) (i32.xor (local.get $d) (local.get $e)))))))
      (local.set $b (i32.add (local.get $b) (local.get $f)))
      (local.set $f
        (i32.add (local.get $f)
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $g) (i32.const 2)) (i32.rotr (local.get $g) (i32.const 13))) (i32.rotr (local.get $g) (i32.const 22)))
            (i32.or (i32.and (local.get $g) (local.get $h))
              (i32.and (local.get $a) (i32.or (local.get $g) (local.get $h)))))))
      ;; round 8k+3: W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], kept for later rounds
      (local.set $x (i32.load offset=16 (local.get $p)))
      (local.set $y (i32.load offset=68 (local.get $p)))
      (local.set $w
        (i32.add
          (i32.add (i32.load offset=12 (local.get $p)) (i32.load offset=48 (local.get $p)))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $x) (i32.const 7)) (i32.rotr (local.get $x) (i32.const 18))) (i32.shr_u (local.get $x) (i32.const 3)))
            (i32.xor (i32.xor (i32.rotr (local.get $y) (i32.const 17)) (i32.rotr (local.get $y) (i32.const 19))) (i32.shr_u (local.get $y) (i32.const 10))))))
      (i32.store offset=76 (local.get $p) (local.get $w))
      (local.set $e
        (i32.add
          (i32.add (local.get $e) (i32.add (local.get $w) (i32.load offset=12 (local.get $k))))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $b) (i32.const 6)) (i32.rotr (local.get $b) (i32.const 11))) (i32.rotr (local.get $b) (i32.const 25)))
            (i32.xor (local.get $d) (i32.and (local.get $b) (i32.xor (local.get $c) (local.get $d)))))))
      (local.set $a (i32.add (local.get $a) (local.get $e)))
      (local.set $e
        (i32.add (local.get $e)
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $f) (i32.const 2)) (i32.rotr (local.get $f) (i32.const 13))) (i32.rotr (local.get $f) (i32.const 22)))
            (i32.or (i32.and (local.get $f) (local.get $g))
              (i32.and (local.get $h) (i32.or (local.get $f) (local.get $g)))))))
      ;; round 8k+4: W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], kept for later rounds
      (local.set $x (i32.load offset=20 (local.get $p)))
      (local.set $y (i32.load offset=72 (local.get $p)))
      (local.set $w
        (i32.add
          (i32.add (i32.load offset=16 (local.get $p)) (i32.load offset=52 (local.get $p)))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $x) (i32.const 7)) (i32.rotr (local.get $x) (i32.const 18))) (i32.shr_u (local.get $x) (i32.const 3)))
            (i32.xor (i32.xor (i32.rotr (local.get $y) (i32.const 17)) (i32.rotr (local.get $y) (i32.const 19))) (i32.shr_u (local.get $y) (i32.const 10))))))
      (i32.store offset=80 (local.get $p) (local.get $w))
      (local.set $d
        (i32.add
          (i32.add (local.get $d) (i32.add (local.get $w) (i32.load offset=16 (local.get $k))))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $a) (i32.const 6)) (i32.rotr (local.get $a) (i32.const 11))) (i32.rotr (local.get $a) (i32.const 25)))
            (i32.xor (local.get $c) (i32.and (local.get $a) (i32.xor (local.get $b) (local.get $c)))))))
      (local.set $h (i32.add (local.get $h) (local.get $d)))
      (local.set $d
        (i32.add (local.get $d)
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $e) (i32.const 2)) (i32.rotr (local.get $e) (i32.const 13))) (i32.rotr (local.get $e) (i32.const 22)))
            (i32.or (i32.and (local.get $e) (local.get $f))
              (i32.and (local.get $g) (i32.or (local.get $e) (local.get $f)))))))
      ;; round 8k+5: W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], kept for later rounds
      (local.set $x (i32.load offset=24 (local.get $p)))
      (local.set $y (i32.load offset=76 (local.get $p)))
      (local.set $w
        (i32.add
          (i32.add (i32.load offset=20 (local.get $p)) (i32.load offset=56 (local.get $p)))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $x) (i32.const 7)) (i32.rotr (local.get $x) (i32.const 18))) (i32.shr_u (local.get $x) (i32.const 3)))
            (i32.xor (i32.xor (i32.rotr (local.get $y) (i32.const 17)) (i32.rotr (local.get $y) (i32.const 19))) (i32.shr_u (local.get $y) (i32.const 10))))))
      (i32.store offset=84 (local.get $p) (local.get $w))
      (local.set $c
        (i32.add
          (i32.add (local.get $c) (i32.add (local.get $w) (i32.load offset=20 (local.get $k))))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $h) (i32.const 6)) (i32.rotr (local.get $h) (i32.const 11))) (i32.rotr (local.get $h) (i32.const 25)))
            (i32.xor (local.get $b) (i32.and (local.get $h) (i32.xor (local.get $a) (local.get $b)))))))
      (local.set $g (i32.add (local.get $g) (local.get $c)))
      (local.set $c
        (i32.add (local.get $c)
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $d) (i32.const 2)) (i32.rotr (local.get $d) (i32.const 13))) (i32.rotr (local.get $d) (i32.const 22)))
            (i32.or (i32.and (local.get $d) (local.get $e))
              (i32.and (local.get $f) (i32.or (local.get $d) (local.get $e)))))))
      ;; round 8k+6: W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], kept for later rounds
      (local.set $x (i32.load offset=28 (local.get $p)))
      (local.set $y (i32.load offset=80 (local.get $p)))
      (local.set $w
        (i32.add
          (i32.add (i32.load offset=24 (local.get $p)) (i32.load offset=60 (local.get $p)))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $x) (i32.const 7)) (i32.rotr (local.get $x) (i32.const 18))) (i32.shr_u (local.get $x) (i32.const 3)))
            (i32.xor (i32.xor (i32.rotr (local.get $y) (i32.const 17)) (i32.rotr (local.get $y) (i32.const 19))) (i32.shr_u (local.get $y) (i32.const 10))))))
      (i32.store offset=88 (local.get $p) (local.get $w))
      (local.set $b
        (i32.add
          (i32.add (local.get $b) (i32.add (local.get $w) (i32.load offset=24 (local.get $k))))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $g) (i32.const 6)) (i32.rotr (local.get $g) (i32.const 11))) (i32.rotr (local.get $g) (i32.const 25)))
            (i32.xor (local.get $a) (i32.and (local.get $g) (i32.xor (local.get $h) (local.get $a)))))))
      (local.set $f (i32.add (local.get $f) (local.get $b)))
      (local.set $b
        (i32.add (local.get $b)
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $c) (i32.const 2)) (i32.rotr (local.get $c) (i32.const 13))) (i32.rotr (local.get $c) (i32.const 22)))
            (i32.or (i32.and (local.get $c) (local.get $d))
              (i32.and (local.get $e) (i32.or (local.get $c) (local.get $d)))))))
      ;; round 8k+7: W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], kept for later rounds
      (local.set $x (i32.load offset=32 (local.get $p)))
      (local.set $y (i32.load offset=84 (local.get $p)))
      (local.set $w
        (i32.add
          (i32.add (i32.load offset=28 (local.get $p)) (i32.load offset=64 (local.get $p)))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $x) (i32.const 7)) (i32.rotr (local.get $x) (i32.const 18))) (i32.shr_u (local.get $x) (i32.const 3)))
            (i32.xor (i32.xor (i32.rotr (local.get $y) (i32.const 17)) (i32.rotr (local.get $y) (i32.const 19))) (i32.shr_u (local.get $y) (i32.const 10))))))
      (i32.store offset=92 (local.get $p) (local.get $w))
      (local.set $a
        (i32.add
          (i32.add (local.get $a) (i32.add (local.get $w) (i32.load offset=28 (local.get $k))))
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $f) (i32.const 6)) (i32.rotr (local.get $f) (i32.const 11))) (i32.rotr (local.get $f) (i32.const 25)))
            (i32.xor (local.get $h) (i32.and (local.get $f) (i32.xor (local.get $g) (local.get $h)))))))
      (local.set $e (i32.add (local.get $e) (local.get $a)))
      (local.set $a
        (i32.add (local.get $a)
          (i32.add
            (i32.xor (i32.xor (i32.rotr (local.get $b) (i32.const 2)) (i32.rotr (local.get $b) (i32.const 13))) (i32.rotr (local.get $b) (i32.const 22)))
            (i32.or (i32.and (local.get $b) (local.get $c))
              (i32.and (local.get $d) (i32.or (local.get $b) (local.get $c)))))))
      (local.set $p (i32.add (local.get $p) (i32.const 32)))
      (local.set $k (i32.add (local.get $k) (i32.const 32)))
      (br_if $expanded (i32.lt_u (local.get $k) (i32.const 256))))

    (i32.store (i32.const 320) (i32.add (i32.load (i32.const 320)) (local.get $a)))
    (i32.store (i32.const 324) (i32.add (i32.load (i32.const 324)) (local.get $b)))
    (i32.store (i32.const 328) (i32.add (i32.load (i32.const 328)) (local.get $c)))
    (i32.store (i32.const 332) (i32.add (i32.load (i32.const 332)) (local.get $d)))
    (i32.store (i32.const 336) (i32.add (i32.load (i32.const 336)) (local.get $e)))
    (i32.store (i32.const 340) (i32.add (i32.load (i32.const 340)) (local.get $f)))
    (i32.store (i32.const 344) (i32.add (i32.load (i32.const 344)) (local.get $g)))
    (i32.store (i32.const 348) (i32.add (i32.load (i32.const 348)) (local.get $h))))

  ;; out[0..32) = SHA256(memory[ptr .. ptr+len)). `out` may overlap the input.
  (func $sha256 (export "sha256") (param $ptr i32) (param $len i32) (param $out i32)
    (local $full i32) (local $off i32) (local $rest i32) (local $end i32)
    (memory.copy (i32.const 320) (i32.const 256) (i32.const 32))
    (local.set $full (i32.and (local.get $len) (i32.const -64)))
    (local.set $off (i32.const 0))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $off) (local.get $full)))
        (call $compress1 (i32.add (local.get $ptr) (local.get $off)))
        (local.set $off (i32.add (local.get $off) (i32.const 64)))
        (br $blocks)))
    (local.set $rest (i32.sub (local.get $len) (local.get $full)))
    (memory.fill (i32.const 384) (i32.const 0) (i32.const 128))
    (memory.copy (i32.const 384) (i32.add (local.get $ptr) (local.get $full)) (local.get $rest))
    (i32.store8 (i32.add (i32.const 384) (local.get $rest)) (i32.const 0x80))
    (local.set $end
      (select (i32.const 448) (i32.const 512) (i32.lt_u (local.get $rest) (i32.const 56))))
    ;; 64-bit big-endian bit length; lengths here stay far below 2^32 bytes
    (i32.store (i32.sub (local.get $end) (i32.const 8))
      (call $bswap32 (i32.shr_u (local.get $len) (i32.const 29))))
    (i32.store (i32.sub (local.get $end) (i32.const 4))
      (call $bswap32 (i32.shl (local.get $len) (i32.const 3))))
    (call $compress1 (i32.const 384))
    (if (i32.eq (local.get $end) (i32.const 512))
      (then (call $compress1 (i32.const 448))))
    (v128.store (local.get $out) (call $bswap4 (v128.load (i32.const 320))))
    (v128.store offset=16 (local.get $out) (call $bswap4 (v128.load (i32.const 336)))))

  ;; ---------------------------------------------------------------- SIMD engine

  ;; Loads 8 consecutive big-endian words (32 bytes) of four messages, one per lane, into the
  ;; SIMD block words at $w (one v128 per word).
  (func $load8 (param $w i32) (param $p0 i32) (param $p1 i32) (param $p2 i32) (param $p3 i32)
    (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128)
    (call $transpose
      (call $bswap4 (v128.load (local.get $p0)))
      (call $bswap4 (v128.load (local.get $p1)))
      (call $bswap4 (v128.load (local.get $p2)))
      (call $bswap4 (v128.load (local.get $p3))))
    (local.set $w3)
    (local.set $w2)
    (local.set $w1)
    (local.set $w0)
    (v128.store (local.get $w) (local.get $w0))
    (v128.store offset=16 (local.get $w) (local.get $w1))
    (v128.store offset=32 (local.get $w) (local.get $w2))
    (v128.store offset=48 (local.get $w) (local.get $w3))
    (call $transpose
      (call $bswap4 (v128.load offset=16 (local.get $p0)))
      (call $bswap4 (v128.load offset=16 (local.get $p1)))
      (call $bswap4 (v128.load offset=16 (local.get $p2)))
      (call $bswap4 (v128.load offset=16 (local.get $p3))))
    (local.set $w3)
    (local.set $w2)
    (local.set $w1)
    (local.set $w0)
    (v128.store offset=64 (local.get $w) (local.get $w0))
    (v128.store offset=80 (local.get $w) (local.get $w1))
    (v128.store offset=96 (local.get $w) (local.get $w2))
    (v128.store offset=112 (local.get $w) (local.get $w3)))

  ;; Writes the digests of four lanes, big-endian, to $o0 .. $o3.
  (func $store4
    (param $a v128) (param $b v128) (param $c v128) (param $d v128)
    (param $e v128) (param $f v128) (param $g v128) (param $h v128)
    (param $o0 i32) (param $o1 i32) (param $o2 i32) (param $o3 i32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128)
    (call $transpose (local.get $a) (local.get $b) (local.get $c) (local.get $d))
    (local.set $r3)
    (local.set $r2)
    (local.set $r1)
    (local.set $r0)
    (v128.store (local.get $o0) (call $bswap4 (local.get $r0)))
    (v128.store (local.get $o1) (call $bswap4 (local.get $r1)))
    (v128.store (local.get $o2) (call $bswap4 (local.get $r2)))
    (v128.store (local.get $o3) (call $bswap4 (local.get $r3)))
    (call $transpose (local.get $e) (local.get $f) (local.get $g) (local.get $h))
    (local.set $r3)
    (local.set $r2)
    (local.set $r1)
    (local.set $r0)
    (v128.store offset=16 (local.get $o0) (call $bswap4 (local.get $r0)))
    (v128.store offset=16 (local.get $o1) (call $bswap4 (local.get $r1)))
    (v128.store offset=16 (local.get $o2) (call $bswap4 (local.get $r2)))
    (v128.store offset=16 (local.get $o3) (call $bswap4 (local.get $r3))))

  ;; One compression in each of four lanes: block words 0..15 are at $base (one v128 per word;
  ;; words 16..63 of the schedule are written after them, up to $base + 1024), the state comes in
  ;; as parameters and the state plus the result goes out. Eight rounds per loop iteration, so
  ;; that the working variables rotate by name instead of by moves. Each round computes
  ;;   t = h + K + W + Ch(e,f,g),   s = Σ1(e),   d += t + s,   h = t + s + Maj(a,b,c) + Σ0(a)
  ;; with Maj(a,b,c) = (a & (b | c)) | (b & c); d and h are then the round's e and a. The sums are
  ;; grouped so that the new e is one addition after Σ1(e) (five dependent operations per round
  ;; instead of seven): on the machines we measure, a vector add, logic op or shift takes two
  ;; cycles before its result can be used, so the rounds are bound by this chain, and shortening
  ;; it made label chains about 7% faster. Rounds 16..63 expand their own message word right where
  ;; they use it, which gives the processor independent work to overlap with the chain; the words
  ;; are stored for the rounds that read them later.
  ;; $k is the byte address of K[t] for the iteration's first round t; $p is that of W[t] in the
  ;; first loop and of W[t-16] in the second.
  (func $compress4
    (param $a0 v128) (param $b0 v128) (param $c0 v128) (param $d0 v128)
    (param $e0 v128) (param $f0 v128) (param $g0 v128) (param $h0 v128) (param $base i32)
    (result v128 v128 v128 v128 v128 v128 v128 v128)
    (local $p i32) (local $k i32) (local $x v128) (local $y v128) (local $w v128)
    (local $t v128) (local $s v128)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (local $e v128) (local $f v128) (local $g v128) (local $h v128)
    (local.set $a (local.get $a0))
    (local.set $b (local.get $b0))
    (local.set $c (local.get $c0))
    (local.set $d (local.get $d0))
    (local.set $e (local.get $e0))
    (local.set $f (local.get $f0))
    (local.set $g (local.get $g0))
    (local.set $h (local.get $h0))
    (local.set $p (local.get $base))
    (local.set $k (i32.const 0))
    (loop $first
      ;; round 8k+0: W from the block
      (local.set $t
        (i32x4.add
          (i32x4.add (local.get $h) (i32x4.add (v128.load offset=0 (local.get $p)) (v128.load32_splat offset=0 (local.get $k))))
          (v128.bitselect (local.get $f) (local.get $g) (local.get $e))))
      (local.set $s
        (v128.xor
          (v128.xor (v128.or (i32x4.shr_u (local.get $e) (i32.const 6)) (i32x4.shl (local.get $e) (i32.const 26)))
            (v128.or (i32x4.shr_u (local.get $e) (i32.const 11)) (i32x4.shl (local.get $e) (i32.const 21))))
          (v128.or (i32x4.shr_u (local.get $e) (i32.const 25)) (i32x4.shl (local.get $e) (i32.const 7)))))
      (local.set $d (i32x4.add (i32x4.add (local.get $d) (local.get $t)) (local.get $s)))
      (local.set $h
        (i32x4.add
          (i32x4.add
            (i32x4.add (local.get $t) (local.get $s))
            (v128.or (v128.and (local.get $a) (v128.or (local.get $b) (local.get $c))) (v128.and (local.get $b) (local.get $c))))
          (v128.xor
            (v128.xor (v128.or (i32x4.shr_u (local.get $a) (i32.const 2)) (i32x4.shl (local.get $a) (i32.const 30)))
              (v128.or (i32x4.shr_u (local.get $a) (i32.const 13)) (i32x4.shl (local.get $a) (i32.const 19))))
            (v128.or (i32x4.shr_u (local.get $a) (i32.const 22)) (i32x4.shl (local.get $a) (i32.const 10))))))
      ;; round 8k+1: W from the block
      (local.set $t
        (i32x4.add
          (i32x4.add (local.get $g) (i32x4.add (v128.load offset=16 (local.get $p)) (v128.load32_splat offset=4 (local.get $k))))
          (v128.bitselect (local.get $e) (local.get $f) (local.get $d))))
      (local.set $s
        (v128.xor
          (v128.xor (v128.or (i32x4.shr_u (local.get $d) (i32.const 6)) (i32x4.shl (local.get $d) (i32.const 26)))
            (v128.or (i32x4.shr_u (local.get $d) (i32.const 11)) (i32x4.shl (local.get $d) (i32.const 21))))
          (v128.or (i32x4.shr_u (local.get $d) (i32.const 25)) (i32x4.shl (local.get $d) (i32.const 7)))))
      (local.set $c (i32x4.add (i32x4.add (local.get $c) (local.get $t)) (local.get $s)))
      (local.set $g
        (i32x4.add
          (i32x4.add
            (i32x4.add (local.get $t) (local.get $s))
            (v128.or (v128.and (local.get $h) (v128.or (local.get $a) (local.get $b))) (v128.and (local.get $a) (local.get $b))))
          (v128.xor
            (v128.xor (v128.or (i32x4.shr_u (local.get $h) (i32.const 2)) (i32x4.shl (local.get $h) (i32.const 30)))
              (v128.or (i32x4.shr_u (local.get $h) (i32.const 13)) (i32x4.shl (local.get $h) (i32.const 19))))
            (v128.or (i32x4.shr_u (local.get $h) (i32.const 22)) (i32x4.shl (local.get $h) (i32.const 10))))))
      ;; round 8k+2: W from the block
      (local.set $t
        (i32x4.add
          (i32x4.add (local.get $f) (i32x4.add (v128.load offset=32 (local.get $p)) (v128.load32_splat offset=8 (local.get $k))))
          (v128.bitselect (local.get $d) (local.get $e) (local.get $c))))
      (local.set $s
        (v128.xor
          (v128.xor (v128.or (i32x4.shr_u (local.get $c) (i32.const 6)) (i32x4.shl (local.get $c) (i32.const 26)))
            (v128.or (i32x4.shr_u (local.get $c) (i32.const 11)) (i32x4.shl (local.get $c) (i32.const 21))))
          (v128.or (i32x4.shr_u (local.get $c) (i32.const 25)) (i32x4.shl (local.get $c) (i32.const 7)))))
      (local.set $b (i32x4.add (i32x4.add (local.get $b) (local.get $t)) (local.get $s)))
      (local.set $f
        (i32x4.add
          (i32x4.add
            (i32x4.add (local.get $t) (local.get $s))
            (v128.or (v128.and (local.get $g) (v128.or (local.get $h) (local.get $a))) (v128.and (local.get $h) (local.get $a))))
          (v128.xor
            (v128.xor (v128.or (i32x4.shr_u (local.get $g) (i32.const 2)) (i32x4.shl (local.get $g) (i32.const 30)))
              (v128.or (i32x4.shr_u (local.get $g) (i32.const 13)) (i32x4.shl (local.get $g) (i32.const 19))))
            (v128.or (i32x4.shr_u (local.get $g) (i32.const 22)) (i32x4.shl (local.get $g) (i32.const 10))))))
      ;; round 8k+3: W from the block
      (local.set $t
        (i32x4.add
          (i32x4.add (local.get $e) (i32x4.add (v128.load offset=48 (local.get $p)) (v128.load32_splat offset=12 (local.get $k))))
          (v128.bitselect (local.get $c) (local.get $d) (local.get $b))))
      (local.set $s
        (v128.xor
          (v128.xor (v128.or (i32x4.shr_u (local.get $b) (i32.const 6)) (i32x4.shl (local.get $b) (i32.const 26)))
            (v128.or (i32x4.shr_u (local.get $b) (i32.const 11)) (i32x4.shl (local.get $b) (i32.const 21))))
          (v128.or (i32x4.shr_u (local.get $b) (i32.const 25)) (i32x4.shl (local.get $b) (i32.const 7)))))
      (local.set $a (i32x4.add (i32x4.add (local.get $a) (local.get $t)) (local.get $s)))
      (local.set $e
        (i32x4.add
          (i32x4.add
            (i32x4.add (local.get $t) (local.get $s))
            (v128.or (v128.and (local.get $f) (v128.or (local.get $g) (local.get $h))) (v128.and (local.get $g) (local.get $h))))
          (v128.xor
            (v128.xor (v128.or (i32x4.shr_u (local.get $f) (i32.const 2)) (i32x4.shl (local.get $f) (i32.const 30)))
              (v128.or (i32x4.shr_u (local.get $f) (i32.const 13)) (i32x4.shl (local.get $f) (i32.const 19))))
            (v128.or (i32x4.shr_u (local.get $f) (i32.const 22)) (i32x4.shl (local.get $f) (i32.const 10))))))
      ;; round 8k+4: W from the block
      (local.set $t
        (i32x4.add
          (i32x4.add (local.get $d) (i32x4.add (v128.load offset=64 (local.get $p)) (v128.load32_splat offset=16 (local.get $k))))
          (v128.bitselect (local.get $b) (local.get $c) (local.get $a))))
      (local.set $s
        (v128.xor
          (v128.xor (v128.or (i32x4.shr_u (local.get $a) (i32.const 6)) (i32x4.shl (local.get $a) (i32.const 26)))
            (v128.or (i32x4.shr_u (local.get $a) (i32.const 11)) (i32x4.shl (local.get $a) (i32.const 21))))
          (v128.or (i32x4.shr_u (local.get $a) (i32.const 25)) (i32x4.shl (local.get $a) (i32.const 7)))))
      (local.set $h (i32x4.add (i32x4.add (local.get $h) (local.get $t)) (local.get $s)))
      (local.set $d
        (i32x4.add
          (i32x4.add
            (i32x4.add (local.get $t) (local.get $s))
            (v128.or (v128.and (local.get $e) (v128.or (local.get $f) (local.get $g))) (v128.and (local.get $f) (local.get $g))))
          (v128.xor
            (v128.xor (v128.or (i32x4.shr_u (local.get $e) (i32.const 2)) (i32x4.shl (local.get $e) (i32.const 30)))
              (v128.or (i32x4.shr_u (local.get $e) (i32.const 13)) (i32x4.shl (local.get $e) (i32.const 19))))
            (v128.or (i32x4.shr_u (local.get $e) (i32.const 22)) (i32x4.shl (local.get $e) (i32.const 10))))))
      ;; round 8k+5: W from the block
      (local.set $t
        (i32x4.add
          (i32x4.add (local.get $c) (i32x4.add (v128.load offset=80 (local.get $p)) (v128.load32_splat offset=20 (local.get $k))))
          (v128.bitselect (local.get $a) (local.get $b) (local.get $h))))
      (local.set $s
        (v128.xor
          (v128.xor (v128.or (i32x4.shr_u (local.get $h) (i32.const 6)) (i32x4.shl (local.get $h) (i32.const 26)))
            (v128.or (i32x4.shr_u (local.get $h) (i32.const 11)) (i32x4.shl (local.get $h) (i32.const 21))))
          (v128.or (i32x4.shr_u (local.get $h) (i32.const 25)) (i32x4.shl (local.get $h) (i32.const 7)))))
      (local.set $g (i32x4.add (i32x4.add (local.get $g) (local.get $t)) (local.get $s)))
      (local.set $c
        (i32x4.add
          (i32x4.add
            (i32x4.add (local.get $t) (local.get $s))
            (v128.or (v128.and (local.get $d) (v128.or (local.get $e) (local.get $f))) (v128.and (local.get $e) (local.get $f))))
          (v128.xor
            (v128.xor (v128.or (i32x4.shr_u (local.get $d) (i32.const 2)) (i32x4.shl (local.get $d) (i32.const 30)))
              (v128.or (i32x4.shr_u (local.get $d) (i32.const 13)) (i32x4.shl (local.get $d) (i32.const 19))))
            (v128.or (i32x4.shr_u (local.get $d) (i32.const 22)) (i32x4.shl (local.get $d) (i32.const 10))))))
      ;; round 8k+6: W from the block
      (local.set $t
        (i32x4.add
          (i32x4.add (local.get $b) (i32x4.add (v128.load offset=96 (local.get $p)) (v128.load32_splat offset=24 (local.get $k))))
          (v128.bitselect (local.get $h) (local.get $a) (local.get $g))))
      (local.set $s
        (v128.xor
          (v128.xor (v128.or (i32x4.shr_u (local.get $g) (i32.const 6)) (i32x4.shl (local.get $g) (i32.const 26)))
            (v128.or (i32x4.shr_u (local.get $g) (i32.const 11)) (i32x4.shl (local.get $g) (i32.const 21))))
          (v128.or (i32x4.shr_u (local.get $g) (i32.const 25)) (i32x4.shl (local.get $g) (i32.const 7)))))
      (local.set $f (i32x4.add (i32x4.add (local.get $f) (local.get $t)) (local.get $s)))
      (local.set $b
        (i32x4.add
          (i32x4.add
            (i32x4.add (local.get $t) (local.get $s))
            (v128.or (v128.and (local.get $c) (v128.or (local.get $d) (local.get $e))) (v128.and (local.get $d) (local.get $e))))
          (v128.xor
            (v128.xor (v128.or (i32x4.shr_u (local.get $c) (i32.const 2)) (i32x4.shl (local.get $c) (i32.const 30)))
              (v128.or (i32x4.shr_u (local.get $c) (i32.const 13)) (i32x4.shl (local.get $c) (i32.const 19))))
            (v128.or (i32x4.shr_u (local.get $c) (i32.const 22)) (i32x4.shl (local.get $c) (i32.const 10))))))
      ;; round 8k+7: W from the block
      (local.set $t
        (i32x4.add
          (i32x4.add (local.get $a) (i32x4.add (v128.load offset=112 (local.get $p)) (v128.load32_splat offset=28 (local.get $k))))
          (v128.bitselect (local.get $g) (local.get $h) (local.get $f))))
      (local.set $s
        (v128.xor
          (v128.xor (v128.or (i32x4.shr_u (local.get $f) (i32.const 6)) (i32x4.shl (local.get $f) (i32.const 26)))
            (v128.or (i32x4.shr_u (local.get $f) (i32.const 11)) (i32x4.shl (local.get $f) (i32.const 21))))
          (v128.or (i32x4.shr_u (local.get $f) (i32.const 25)) (i32x4.shl (local.get $f) (i32.const 7)))))
      (local.set $e (i32x4.add (i32x4.add (local.get $e) (local.get $t)) (local.get $s)))
      (local.set $a
        (i32x4.add
          (i32x4.add
            (i32x4.add (local.get $t) (local.get $s))
            (v128.or (v128.and (local.get $b) (v128.or (local.get $c) (local.get $d))) (v128.and (local.get $c) (local.get $d))))
          (v128.xor
            (v128.xor (v128.or (i32x4.shr_u (local.get $b) (i32.const 2)) (i32x4.shl (local.get $b) (i32.const 30)))
              (v128.or (i32x4.shr_u (local.get $b) (i32.const 13)) (i32x4.shl (local.get $b) (i32.const 19))))
            (v128.or (i32x4.shr_u (local.get $b) (i32.const 22)) (i32x4.shl (local.get $b) (i32.const 10))))))
      (local.set $p (i32.add (local.get $p) (i32.const 128)))
      (local.set $k (i32.add (local.get $k) (i32.const 32)))
      (br_if $first (i32.lt_u (local.get $k) (i32.const 64))))
    (local.set $p (local.get $base))
    (loop $expanded
      ;; W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], kept for later rounds
      (local.set $x (v128.load offset=16 (local.get $p)))
      (local.set $y (v128.load offset=224 (local.get $p)))
      (local.set $w
        (i32x4.add
          (i32x4.add (v128.load offset=0 (local.get $p)) (v128.load offset=144 (local.get $p)))
          (i32x4.add
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $x) (i32.const 7)) (i32x4.shl (local.get $x) (i32.const 25))) (v128.or (i32x4.shr_u (local.get $x) (i32.const 18)) (i32x4.shl (local.get $x) (i32.const 14))))
              (i32x4.shr_u (local.get $x) (i32.const 3)))
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $y) (i32.const 17)) (i32x4.shl (local.get $y) (i32.const 15))) (v128.or (i32x4.shr_u (local.get $y) (i32.const 19)) (i32x4.shl (local.get $y) (i32.const 13))))
              (i32x4.shr_u (local.get $y) (i32.const 10))))))
      (v128.store offset=256 (local.get $p) (local.get $w))
      ;; round 8k+0: W just expanded
      (local.set $t
        (i32x4.add
          (i32x4.add (local.get $h) (i32x4.add (local.get $w) (v128.load32_splat offset=0 (local.get $k))))
          (v128.bitselect (local.get $f) (local.get $g) (local.get $e))))
      (local.set $s
        (v128.xor
          (v128.xor (v128.or (i32x4.shr_u (local.get $e) (i32.const 6)) (i32x4.shl (local.get $e) (i32.const 26)))
            (v128.or (i32x4.shr_u (local.get $e) (i32.const 11)) (i32x4.shl (local.get $e) (i32.const 21))))
          (v128.or (i32x4.shr_u (local.get $e) (i32.const 25)) (i32x4.shl (local.get $e) (i32.const 7)))))
      (local.set $d (i32x4.add (i32x4.add (local.get $d) (local.get $t)) (local.get $s)))
      (local.set $h
        (i32x4.add
          (i32x4.add
            (i32x4.add (local.get $t) (local.get $s))
            (v128.or (v128.and (local.get $a) (v128.or (local.get $b) (local.get $c))) (v128.and (local.get $b) (local.get $c))))
          (v128.xor
            (v128.xor (v128.or (i32x4.shr_u (local.get $a) (i32.const 2)) (i32x4.shl (local.get $a) (i32.const 30)))
              (v128.or (i32x4.shr_u (local.get $a) (i32.const 13)) (i32x4.shl (local.get $a) (i32.const 19))))
            (v128.or (i32x4.shr_u (local.get $a) (i32.const 22)) (i32x4.shl (local.get $a) (i32.const 10))))))
      ;; W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], kept for later rounds
      (local.set $x (v128.load offset=32 (local.get $p)))
      (local.set $y (v128.load offset=240 (local.get $p)))
      (local.set $w
        (i32x4.add
          (i32x4.add (v128.load offset=16 (local.get $p)) (v128.load offset=160 (local.get $p)))
          (i32x4.add
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $x) (i32.const 7)) (i32x4.shl (local.get $x) (i32.const 25))) (v128.or (i32x4.shr_u (local.get $x) (i32.const 18)) (i32x4.shl (local.get $x) (i32.const 14))))
              (i32x4.shr_u (local.get $x) (i32.const 3)))
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $y) (i32.const 17)) (i32x4.shl (local.get $y) (i32.const 15))) (v128.or (i32x4.shr_u (local.get $y) (i32.const 19)) (i32x4.shl (local.get $y) (i32.const 13))))
              (i32x4.shr_u (local.get $y) (i32.const 10))))))
      (v128.store offset=272 (local.get $p) (local.get $w))
      ;; round 8k+1: W just expanded
      (local.set $t
        (i32x4.add
          (i32x4.add (local.get $g) (i32x4.add (local.get $w) (v128.load32_splat offset=4 (local.get $k))))
          (v128.bitselect (local.get $e) (local.get $f) (local.get $d))))
      (local.set $s
        (v128.xor
          (v128.xor (v128.or (i32x4.shr_u (local.get $d) (i32.const 6)) (i32x4.shl (local.get $d) (i32.const 26)))
            (v128.or (i32x4.shr_u (local.get $d) (i32.const 11)) (i32x4.shl (local.get $d) (i32.const 21))))
          (v128.or (i32x4.shr_u (local.get $d) (i32.const 25)) (i32x4.shl (local.get $d) (i32.const 7)))))
      (local.set $c (i32x4.add (i32x4.add (local.get $c) (local.get $t)) (local.get $s)))
      (local.set $g
        (i32x4.add
          (i32x4.add
            (i32x4.add (local.get $t) (local.get $s))
            (v128.or (v128.and (local.get $h) (v128.or (local.get $a) (local.get $b))) (v128.and (local.get $a) (local.get $b))))
          (v128.xor
            (v128.xor (v128.or (i32x4.shr_u (local.get $h) (i32.const 2)) (i32x4.shl (local.get $h) (i32.const 30)))
              (v128.or (i32x4.shr_u (local.get $h) (i32.const 13)) (i32x4.shl (local.get $h) (i32.const 19))))
            (v128.or (i32x4.shr_u (local.get $h) (i32.const 22)) (i32x4.shl (local.get $h) (i32.const 10))))))
      ;; W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], kept for later rounds
      (local.set $x (v128.load offset=48 (local.get $p)))
      (local.set $y (v128.load offset=256 (local.get $p)))
      (local.set $w
        (i32x4.add
          (i32x4.add (v128.load offset=32 (local.get $p)) (v128.load offset=176 (local.get $p)))
          (i32x4.add
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $x) (i32.const 7)) (i32x4.shl (local.get $x) (i32.const 25))) (v128.or (i32x4.shr_u (local.get $x) (i32.const 18)) (i32x4.shl (local.get $x) (i32.const 14))))
              (i32x4.shr_u (local.get $x) (i32.const 3)))
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $y) (i32.const 17)) (i32x4.shl (local.get $y) (i32.const 15))) (v128.or (i32x4.shr_u (local.get $y) (i32.const 19)) (i32x4.shl (local.get $y) (i32.const 13))))
              (i32x4.shr_u (local.get $y) (i32.const 10))))))
      (v128.store offset=288 (local.get $p) (local.get $w))
      ;; round 8k+2: W just expanded
      (local.set $t
        (i32x4.add
          (i32x4.add (local.get $f) (i32x4.add (local.get $w) (v128.load32_splat offset=8 (local.get $k))))
          (v128.bitselect (local.get $d) (local.get $e) (local.get $c))))
      (local.set $s
        (v128.xor
          (v128.xor (v128.or (i32x4.shr_u (local.get $c) (i32.const 6)) (i32x4.shl (local.get $c) (i32.const 26)))
            (v128.or (i32x4.shr_u (local.get $c) (i32.const 11)) (i32x4.shl (local.get $c) (i32.const 21))))
          (v128.or (i32x4.shr_u (local.get $c) (i32.const 25)) (i32x4.shl (local.get $c) (i32.const 7)))))
      (local.set $b (i32x4.add (i32x4.add (local.get $b) (local.get $t)) (local.get $s)))
      (local.set $f
        (i32x4.add
          (i32x4.add
            (i32x4.add (local.get $t) (local.get $s))
            (v128.or (v128.and (local.get $g) (v128.or (local.get $h) (local.get $a))) (v128.and (local.get $h) (local.get $a))))
          (v128.xor
            (v128.xor (v128.or (i32x4.shr_u (local.get $g) (i32.const 2)) (i32x4.shl (local.get $g) (i32.const 30)))
              (v128.or (i32x4.shr_u (local.get $g) (i32.const 13)) (i32x4.shl (local.get $g) (i32.const 19))))
            (v128.or (i32x4.shr_u (local.get $g) (i32.const 22)) (i32x4.shl (local.get $g) (i32.const 10))))))
      ;; W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], kept for later rounds
      (local.set $x (v128.load offset=64 (local.get $p)))
      (local.set $y (v128.load offset=272 (local.get $p)))
      (local.set $w
        (i32x4.add
          (i32x4.add (v128.load offset=48 (local.get $p)) (v128.load offset=192 (local.get $p)))
          (i32x4.add
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $x) (i32.const 7)) (i32x4.shl (local.get $x) (i32.const 25))) (v128.or (i32x4.shr_u (local.get $x) (i32.const 18)) (i32x4.shl (local.get $x) (i32.const 14))))
              (i32x4.shr_u (local.get $x) (i32.const 3)))
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $y) (i32.const 17)) (i32x4.shl (local.get $y) (i32.const 15))) (v128.or (i32x4.shr_u (local.get $y) (i32.const 19)) (i32x4.shl (local.get $y) (i32.const 13))))
              (i32x4.shr_u (local.get $y) (i32.const 10))))))
      (v128.store offset=304 (local.get $p) (local.get $w))
      ;; round 8k+3: W just expanded
      (local.set $t
        (i32x4.add
          (i32x4.add (local.get $e) (i32x4.add (local.get $w) (v128.load32_splat offset=12 (local.get $k))))
          (v128.bitselect (local.get $c) (local.get $d) (local.get $b))))
      (local.set $s
        (v128.xor
          (v128.xor (v128.or (i32x4.shr_u (local.get $b) (i32.const 6)) (i32x4.shl (local.get $b) (i32.const 26)))
            (v128.or (i32x4.shr_u (local.get $b) (i32.const 11)) (i32x4.shl (local.get $b) (i32.const 21))))
          (v128.or (i32x4.shr_u (local.get $b) (i32.const 25)) (i32x4.shl (local.get $b) (i32.const 7)))))
      (local.set $a (i32x4.add (i32x4.add (local.get $a) (local.get $t)) (local.get $s)))
      (local.set $e
        (i32x4.add
          (i32x4.add
            (i32x4.add (local.get $t) (local.get $s))
            (v128.or (v128.and (local.get $f) (v128.or (local.get $g) (local.get $h))) (v128.and (local.get $g) (local.get $h))))
          (v128.xor
            (v128.xor (v128.or (i32x4.shr_u (local.get $f) (i32.const 2)) (i32x4.shl (local.get $f) (i32.const 30)))
              (v128.or (i32x4.shr_u (local.get $f) (i32.const 13)) (i32x4.shl (local.get $f) (i32.const 19))))
            (v128.or (i32x4.shr_u (local.get $f) (i32.const 22)) (i32x4.shl (local.get $f) (i32.const 10))))))
      ;; W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], kept for later rounds
      (local.set $x (v128.load offset=80 (local.get $p)))
      (local.set $y (v128.load offset=288 (local.get $p)))
      (local.set $w
        (i32x4.add
          (i32x4.add (v128.load offset=64 (local.get $p)) (v128.load offset=208 (local.get $p)))
          (i32x4.add
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $x) (i32.const 7)) (i32x4.shl (local.get $x) (i32.const 25))) (v128.or (i32x4.shr_u (local.get $x) (i32.const 18)) (i32x4.shl (local.get $x) (i32.const 14))))
              (i32x4.shr_u (local.get $x) (i32.const 3)))
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $y) (i32.const 17)) (i32x4.shl (local.get $y) (i32.const 15))) (v128.or (i32x4.shr_u (local.get $y) (i32.const 19)) (i32x4.shl (local.get $y) (i32.const 13))))
              (i32x4.shr_u (local.get $y) (i32.const 10))))))
      (v128.store offset=320 (local.get $p) (local.get $w))
      ;; round 8k+4: W just expanded
      (local.set $t
        (i32x4.add
          (i32x4.add (local.get $d) (i32x4.add (local.get $w) (v128.load32_splat offset=16 (local.get $k))))
          (v128.bitselect (local.get $b) (local.get $c) (local.get $a))))
      (local.set $s
        (v128.xor
          (v128.xor (v128.or (i32x4.shr_u (local.get $a) (i32.const 6)) (i32x4.shl (local.get $a) (i32.const 26)))
            (v128.or (i32x4.shr_u (local.get $a) (i32.const 11)) (i32x4.shl (local.get $a) (i32.const 21))))
          (v128.or (i32x4.shr_u (local.get $a) (i32.const 25)) (i32x4.shl (local.get $a) (i32.const 7)))))
      (local.set $h (i32x4.add (i32x4.add (local.get $h) (local.get $t)) (local.get $s)))
      (local.set $d
        (i32x4.add
          (i32x4.add
            (i32x4.add (local.get $t) (local.get $s))
            (v128.or (v128.and (local.get $e) (v128.or (local.get $f) (local.get $g))) (v128.and (local.get $f) (local.get $g))))
          (v128.xor
            (v128.xor (v128.or (i32x4.shr_u (local.get $e) (i32.const 2)) (i32x4.shl (local.get $e) (i32.const 30)))
              (v128.or (i32x4.shr_u (local.get $e) (i32.const 13)) (i32x4.shl (local.get $e) (i32.const 19))))
            (v128.or (i32x4.shr_u (local.get $e) (i32.const 22)) (i32x4.shl (local.get $e) (i32.const 10))))))
      ;; W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], kept for later rounds
      (local.set $x (v128.load offset=96 (local.get $p)))
      (local.set $y (v128.load offset=304 (local.get $p)))
      (local.set $w
        (i32x4.add
          (i32x4.add (v128.load offset=80 (local.get $p)) (v128.load offset=224 (local.get $p)))
          (i32x4.add
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $x) (i32.const 7)) (i32x4.shl (local.get $x) (i32.const 25))) (v128.or (i32x4.shr_u (local.get $x) (i32.const 18)) (i32x4.shl (local.get $x) (i32.const 14))))
              (i32x4.shr_u (local.get $x) (i32.const 3)))
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $y) (i32.const 17)) (i32x4.shl (local.get $y) (i32.const 15))) (v128.or (i32x4.shr_u (local.get $y) (i32.const 19)) (i32x4.shl (local.get $y) (i32.const 13))))
              (i32x4.shr_u (local.get $y) (i32.const 10))))))
      (v128.store offset=336 (local.get $p) (local.get $w))
      ;; round 8k+5: W just expanded
      (local.set $t
        (i32x4.add
          (i32x4.add (local.get $c) (i32x4.add (local.get $w) (v128.load32_splat offset=20 (local.get $k))))
          (v128.bitselect (local.get $a) (local.get $b) (local.get $h))))
      (local.set $s
        (v128.xor
          (v128.xor (v128.or (i32x4.shr_u (local.get $h) (i32.const 6)) (i32x4.shl (local.get $h) (i32.const 26)))
            (v128.or (i32x4.shr_u (local.get $h) (i32.const 11)) (i32x4.shl (local.get $h) (i32.const 21))))
          (v128.or (i32x4.shr_u (local.get $h) (i32.const 25)) (i32x4.shl (local.get $h) (i32.const 7)))))
      (local.set $g (i32x4.add (i32x4.add (local.get $g) (local.get $t)) (local.get $s)))
      (local.set $c
        (i32x4.add
          (i32x4.add
            (i32x4.add (local.get $t) (local.get $s))
            (v128.or (v128.and (local.get $d) (v128.or (local.get $e) (local.get $f))) (v128.and (local.get $e) (local.get $f))))
          (v128.xor
            (v128.xor (v128.or (i32x4.shr_u (local.get $d) (i32.const 2)) (i32x4.shl (local.get $d) (i32.const 30)))
              (v128.or (i32x4.shr_u (local.get $d) (i32.const 13)) (i32x4.shl (local.get $d) (i32.const 19))))
            (v128.or (i32x4.shr_u (local.get $d) (i32.const 22)) (i32x4.shl (local.get $d) (i32.const 10))))))
      ;; W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], kept for later rounds
      (local.set $x (v128.load offset=112 (local.get $p)))
      (local.set $y (v128.load offset=320 (local.get $p)))
      (local.set $w
        (i32x4.add
          (i32x4.add (v128.load offset=96 (local.get $p)) (v128.load offset=240 (local.get $p)))
          (i32x4.add
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $x) (i32.const 7)) (i32x4.shl (local.get $x) (i32.const 25))) (v128.or (i32x4.shr_u (local.get $x) (i32.const 18)) (i32x4.shl (local.get $x) (i32.const 14))))
              (i32x4.shr_u (local.get $x) (i32.const 3)))
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $y) (i32.const 17)) (i32x4.shl (local.get $y) (i32.const 15))) (v128.or (i32x4.shr_u (local.get $y) (i32.const 19)) (i32x4.shl (local.get $y) (i32.const 13))))
              (i32x4.shr_u (local.get $y) (i32.const 10))))))
      (v128.store offset=352 (local.get $p) (local.get $w))
      ;; round 8k+6: W just expanded
      (local.set $t
        (i32x4.add
          (i32x4.add (local.get $b) (i32x4.add (local.get $w) (v128.load32_splat offset=24 (local.get $k))))
          (v128.bitselect (local.get $h) (local.get $a) (local.get $g))))
      (local.set $s
        (v128.xor
          (v128.xor (v128.or (i32x4.shr_u (local.get $g) (i32.const 6)) (i32x4.shl (local.get $g) (i32.const 26)))
            (v128.or (i32x4.shr_u (local.get $g) (i32.const 11)) (i32x4.shl (local.get $g) (i32.const 21))))
          (v128.or (i32x4.shr_u (local.get $g) (i32.const 25)) (i32x4.shl (local.get $g) (i32.const 7)))))
      (local.set $f (i32x4.add (i32x4.add (local.get $f) (local.get $t)) (local.get $s)))
      (local.set $b
        (i32x4.add
          (i32x4.add
            (i32x4.add (local.get $t) (local.get $s))
            (v128.or (v128.and (local.get $c) (v128.or (local.get $d) (local.get $e))) (v128.and (local.get $d) (local.get $e))))
          (v128.xor
            (v128.xor (v128.or (i32x4.shr_u (local.get $c) (i32.const 2)) (i32x4.shl (local.get $c) (i32.const 30)))
              (v128.or (i32x4.shr_u (local.get $c) (i32.const 13)) (i32x4.shl (local.get $c) (i32.const 19))))
            (v128.or (i32x4.shr_u (local.get $c) (i32.const 22)) (i32x4.shl (local.get $c) (i32.const 10))))))
      ;; W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], kept for later rounds
      (local.set $x (v128.load offset=128 (local.get $p)))
      (local.set $y (v128.load offset=336 (local.get $p)))
      (local.set $w
        (i32x4.add
          (i32x4.add (v128.load offset=112 (local.get $p)) (v128.load offset=256 (local.get $p)))
          (i32x4.add
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $x) (i32.const 7)) (i32x4.shl (local.get $x) (i32.const 25))) (v128.or (i32x4.shr_u (local.get $x) (i32.const 18)) (i32x4.shl (local.get $x) (i32.const 14))))
              (i32x4.shr_u (local.get $x) (i32.const 3)))
            (v128.xor (v128.xor (v128.or (i32x4.shr_u (local.get $y) (i32.const 17)) (i32x4.shl (local.get $y) (i32.const 15))) (v128.or (i32x4.shr_u (local.get $y) (i32.const 19)) (i32x4.shl (local.get $y) (i32.const 13))))
              (i32x4.shr_u (local.get $y) (i32.const 10))))))
      (v128.store offset=368 (local.get $p) (local.get $w))
      ;; round 8k+7: W just expanded
      (local.set $t
        (i32x4.add
          (i32x4.add (local.get $a) (i32x4.add (local.get $w) (v128.load32_splat offset=28 (local.get $k))))
          (v128.bitselect (local.get $g) (local.get $h) (local.get $f))))
      (local.set $s
        (v128.xor
          (v128.xor (v128.or (i32x4.shr_u (local.get $f) (i32.const 6)) (i32x4.shl (local.get $f) (i32.const 26)))
            (v128.or (i32x4.shr_u (local.get $f) (i32.const 11)) (i32x4.shl (local.get $f) (i32.const 21))))
          (v128.or (i32x4.shr_u (local.get $f) (i32.const 25)) (i32x4.shl (local.get $f) (i32.const 7)))))
      (local.set $e (i32x4.add (i32x4.add (local.get $e) (local.get $t)) (local.get $s)))
      (local.set $a
        (i32x4.add
          (i32x4.add
            (i32x4.add (local.get $t) (local.get $s))
            (v128.or (v128.and (local.get $b) (v128.or (local.get $c) (local.get $d))) (v128.and (local.get $c) (local.get $d))))
          (v128.xor
            (v128.xor (v128.or (i32x4.shr_u (local.get $b) (i32.const 2)) (i32x4.shl (local.get $b) (i32.const 30)))
              (v128.or (i32x4.shr_u (local.get $b) (i32.const 13)) (i32x4.shl (local.get $b) (i32.const 19))))
            (v128.or (i32x4.shr_u (local.get $b) (i32.const 22)) (i32x4.shl (local.get $b) (i32.const 10))))))
      (local.set $p (i32.add (local.get $p) (i32.const 128)))
      (local.set $k (i32.add (local.get $k) (i32.const 32)))
      (br_if $expanded (i32.lt_u (local.get $k) (i32.const 256))))

    (i32x4.add (local.get $a0) (local.get $a))
    (i32x4.add (local.get $b0) (local.get $b))
    (i32x4.add (local.get $c0) (local.get $c))
    (i32x4.add (local.get $d0) (local.get $d))
    (i32x4.add (local.get $e0) (local.get $e))
    (i32x4.add (local.get $f0) (local.get $f))
    (i32x4.add (local.get $g0) (local.get $g))
    (i32x4.add (local.get $h0) (local.get $h)))

  ;; Hashes `count` padded messages and then each digest `depth - 1` more times.
  ;; `desc` holds `count` pairs of i32: the message address and its number of 64-byte blocks
  ;; (at least 1; the caller has applied SHA-256 padding). Digest i goes to out + 32·i.
  ;; Four messages share each instruction stream; lanes of a short message keep their state
  ;; while longer ones finish their blocks.
  (func $hash_many (export "hash_many")
    (param $desc i32) (param $count i32) (param $depth i32) (param $out i32)
    (local $g i32) (local $i i32) (local $blk i32) (local $blocks i32) (local $k i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
    (local $n0 i32) (local $n1 i32) (local $n2 i32) (local $n3 i32)
    (local $o0 i32) (local $o1 i32) (local $o2 i32) (local $o3 i32)
    (local $q0 i32) (local $q1 i32) (local $q2 i32) (local $q3 i32)
    (local $lanes v128) (local $mask v128) (local $r0 v128)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (local $e v128) (local $f v128) (local $g2 v128) (local $h v128)
    (local $na v128) (local $nb v128) (local $nc v128) (local $nd v128)
    (local $ne v128) (local $nf v128) (local $ng v128) (local $nh v128)
    (local.set $g (i32.const 0))
    (block $groups_done
      (loop $groups
        (br_if $groups_done (i32.ge_u (local.get $g) (local.get $count)))
        ;; lane j takes message g+j, or repeats message g into the sink when g+j >= count
        (local.set $i (local.get $g))
        (local.set $p0 (i32.load (i32.add (local.get $desc) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $n0 (i32.load offset=4 (i32.add (local.get $desc) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $o0 (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 5))))
        (local.set $i (select (i32.add (local.get $g) (i32.const 1)) (local.get $g)
          (i32.lt_u (i32.add (local.get $g) (i32.const 1)) (local.get $count))))
        (local.set $p1 (i32.load (i32.add (local.get $desc) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $n1 (i32.load offset=4 (i32.add (local.get $desc) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $o1 (select (i32.add (local.get $out) (i32.shl (i32.add (local.get $g) (i32.const 1)) (i32.const 5)))
          (i32.const 3104)
          (i32.lt_u (i32.add (local.get $g) (i32.const 1)) (local.get $count))))
        (local.set $i (select (i32.add (local.get $g) (i32.const 2)) (local.get $g)
          (i32.lt_u (i32.add (local.get $g) (i32.const 2)) (local.get $count))))
        (local.set $p2 (i32.load (i32.add (local.get $desc) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $n2 (i32.load offset=4 (i32.add (local.get $desc) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $o2 (select (i32.add (local.get $out) (i32.shl (i32.add (local.get $g) (i32.const 2)) (i32.const 5)))
          (i32.const 3136)
          (i32.lt_u (i32.add (local.get $g) (i32.const 2)) (local.get $count))))
        (local.set $i (select (i32.add (local.get $g) (i32.const 3)) (local.get $g)
          (i32.lt_u (i32.add (local.get $g) (i32.const 3)) (local.get $count))))
        (local.set $p3 (i32.load (i32.add (local.get $desc) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $n3 (i32.load offset=4 (i32.add (local.get $desc) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $o3 (select (i32.add (local.get $out) (i32.shl (i32.add (local.get $g) (i32.const 3)) (i32.const 5)))
          (i32.const 3168)
          (i32.lt_u (i32.add (local.get $g) (i32.const 3)) (local.get $count))))
        (local.set $lanes
          (i32x4.replace_lane 3
            (i32x4.replace_lane 2
              (i32x4.replace_lane 1 (i32x4.splat (local.get $n0)) (local.get $n1))
              (local.get $n2))
            (local.get $n3)))
        (local.set $blocks
          (i32x4.extract_lane 0
            (i32x4.max_u
              (local.tee $r0 (i32x4.max_u (local.get $lanes)
                (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $lanes) (local.get $lanes))))
              (i8x16.shuffle 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 (local.get $r0) (local.get $r0)))))
        (local.set $a (v128.load32_splat (i32.const 256)))
        (local.set $b (v128.load32_splat (i32.const 260)))
        (local.set $c (v128.load32_splat (i32.const 264)))
        (local.set $d (v128.load32_splat (i32.const 268)))
        (local.set $e (v128.load32_splat (i32.const 272)))
        (local.set $f (v128.load32_splat (i32.const 276)))
        (local.set $g2 (v128.load32_splat (i32.const 280)))
        (local.set $h (v128.load32_splat (i32.const 284)))
        (local.set $blk (i32.const 0))
        (loop $message_blocks
          ;; a lane past its last block re-reads that block; its result is masked out
          (local.set $q0 (i32.add (local.get $p0) (i32.shl
            (select (local.get $blk) (i32.sub (local.get $n0) (i32.const 1))
              (i32.lt_u (local.get $blk) (local.get $n0))) (i32.const 6))))
          (local.set $q1 (i32.add (local.get $p1) (i32.shl
            (select (local.get $blk) (i32.sub (local.get $n1) (i32.const 1))
              (i32.lt_u (local.get $blk) (local.get $n1))) (i32.const 6))))
          (local.set $q2 (i32.add (local.get $p2) (i32.shl
            (select (local.get $blk) (i32.sub (local.get $n2) (i32.const 1))
              (i32.lt_u (local.get $blk) (local.get $n2))) (i32.const 6))))
          (local.set $q3 (i32.add (local.get $p3) (i32.shl
            (select (local.get $blk) (i32.sub (local.get $n3) (i32.const 1))
              (i32.lt_u (local.get $blk) (local.get $n3))) (i32.const 6))))
          (call $load8 (i32.const 1024)
            (local.get $q0) (local.get $q1) (local.get $q2) (local.get $q3))
          (call $load8 (i32.const 1152)
            (i32.add (local.get $q0) (i32.const 32)) (i32.add (local.get $q1) (i32.const 32))
            (i32.add (local.get $q2) (i32.const 32)) (i32.add (local.get $q3) (i32.const 32)))
          (call $compress4 (local.get $a) (local.get $b) (local.get $c) (local.get $d)
            (local.get $e) (local.get $f) (local.get $g2) (local.get $h) (i32.const 1024))
          (local.set $nh)
          (local.set $ng)
          (local.set $nf)
          (local.set $ne)
          (local.set $nd)
          (local.set $nc)
          (local.set $nb)
          (local.set $na)
          (local.set $mask (i32x4.gt_u (local.get $lanes) (i32x4.splat (local.get $blk))))
          (local.set $a (v128.bitselect (local.get $na) (local.get $a) (local.get $mask)))
          (local.set $b (v128.bitselect (local.get $nb) (local.get $b) (local.get $mask)))
          (local.set $c (v128.bitselect (local.get $nc) (local.get $c) (local.get $mask)))
          (local.set $d (v128.bitselect (local.get $nd) (local.get $d) (local.get $mask)))
          (local.set $e (v128.bitselect (local.get $ne) (local.get $e) (local.get $mask)))
          (local.set $f (v128.bitselect (local.get $nf) (local.get $f) (local.get $mask)))
          (local.set $g2 (v128.bitselect (local.get $ng) (local.get $g2) (local.get $mask)))
          (local.set $h (v128.bitselect (local.get $nh) (local.get $h) (local.get $mask)))
          (local.set $blk (i32.add (local.get $blk) (i32.const 1)))
          (br_if $message_blocks (i32.lt_u (local.get $blk) (local.get $blocks))))
        ;; chained re-hashing: block = digest ‖ 0x80 ‖ 0… ‖ BE64(256)
        (if (i32.gt_u (local.get $depth) (i32.const 1))
          (then
            (v128.store (i32.const 1152) (i32x4.splat (i32.const 0x80000000)))
            (v128.store (i32.const 1168) (v128.const i32x4 0 0 0 0))
            (v128.store (i32.const 1184) (v128.const i32x4 0 0 0 0))
            (v128.store (i32.const 1200) (v128.const i32x4 0 0 0 0))
            (v128.store (i32.const 1216) (v128.const i32x4 0 0 0 0))
            (v128.store (i32.const 1232) (v128.const i32x4 0 0 0 0))
            (v128.store (i32.const 1248) (v128.const i32x4 0 0 0 0))
            (v128.store (i32.const 1264) (i32x4.splat (i32.const 256)))
            (local.set $k (i32.const 1))
            (loop $chain
              (v128.store (i32.const 1024) (local.get $a))
              (v128.store (i32.const 1040) (local.get $b))
              (v128.store (i32.const 1056) (local.get $c))
              (v128.store (i32.const 1072) (local.get $d))
              (v128.store (i32.const 1088) (local.get $e))
              (v128.store (i32.const 1104) (local.get $f))
              (v128.store (i32.const 1120) (local.get $g2))
              (v128.store (i32.const 1136) (local.get $h))
              (call $compress4
                (v128.load32_splat (i32.const 256)) (v128.load32_splat (i32.const 260))
                (v128.load32_splat (i32.const 264)) (v128.load32_splat (i32.const 268))
                (v128.load32_splat (i32.const 272)) (v128.load32_splat (i32.const 276))
                (v128.load32_splat (i32.const 280)) (v128.load32_splat (i32.const 284))
                (i32.const 1024))
              (local.set $h)
              (local.set $g2)
              (local.set $f)
              (local.set $e)
              (local.set $d)
              (local.set $c)
              (local.set $b)
              (local.set $a)
              (local.set $k (i32.add (local.get $k) (i32.const 1)))
              (br_if $chain (i32.lt_u (local.get $k) (local.get $depth))))))
        (call $store4
          (local.get $a) (local.get $b) (local.get $c) (local.get $d)
          (local.get $e) (local.get $f) (local.get $g2) (local.get $h)
          (local.get $o0) (local.get $o1) (local.get $o2) (local.get $o3))
        (local.set $g (i32.add (local.get $g) (i32.const 4)))
        (br $groups))))

  ;; Salted Merkle parents SHA256(statement ‖ left ‖ right) of 32-byte nodes, as planned by the
  ;; partial-tree validator: `ops` holds `count` triples of i32 slot numbers (left, right, parent),
  ;; node s being arena + 32·s, and the parents of one call must not be inputs of the same call
  ;; (the caller passes one level at a time). The statement is 32 bytes, so a parent is two blocks:
  ;; block A is the statement (the same words in every lane, set once) then the left node, block B
  ;; the right node then the fixed padding of a 96-byte message (set once).
  (func $merkle_plan (export "merkle_plan")
    (param $statement i32) (param $arena i32) (param $ops i32) (param $count i32)
    (local $g i32) (local $word i32) (local $op i32)
    (local $l0 i32) (local $l1 i32) (local $l2 i32) (local $l3 i32)
    (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $r3 i32)
    (local $o0 i32) (local $o1 i32) (local $o2 i32) (local $o3 i32)
    (local.set $word (i32.const 0))
    (loop $statement_words
      (v128.store (i32.add (i32.const 1024) (i32.shl (local.get $word) (i32.const 4)))
        (i32x4.splat (call $bswap32
          (i32.load (i32.add (local.get $statement) (i32.shl (local.get $word) (i32.const 2)))))))
      (local.set $word (i32.add (local.get $word) (i32.const 1)))
      (br_if $statement_words (i32.lt_u (local.get $word) (i32.const 8))))
    (v128.store (i32.const 2176) (i32x4.splat (i32.const 0x80000000)))
    (v128.store (i32.const 2192) (v128.const i32x4 0 0 0 0))
    (v128.store (i32.const 2208) (v128.const i32x4 0 0 0 0))
    (v128.store (i32.const 2224) (v128.const i32x4 0 0 0 0))
    (v128.store (i32.const 2240) (v128.const i32x4 0 0 0 0))
    (v128.store (i32.const 2256) (v128.const i32x4 0 0 0 0))
    (v128.store (i32.const 2272) (v128.const i32x4 0 0 0 0))
    (v128.store (i32.const 2288) (i32x4.splat (i32.const 768)))
    (local.set $g (i32.const 0))
    (block $groups_done
      (loop $groups
        (br_if $groups_done (i32.ge_u (local.get $g) (local.get $count)))
        ;; lane j takes operation g+j, or repeats operation g into the sink when g+j >= count
        (local.set $op (i32.add (local.get $ops) (i32.mul (local.get $g) (i32.const 12))))
        (local.set $l0 (i32.add (local.get $arena) (i32.shl (i32.load (local.get $op)) (i32.const 5))))
        (local.set $r0 (i32.add (local.get $arena) (i32.shl (i32.load offset=4 (local.get $op)) (i32.const 5))))
        (local.set $o0 (i32.add (local.get $arena) (i32.shl (i32.load offset=8 (local.get $op)) (i32.const 5))))
        (local.set $op (i32.add (local.get $ops) (i32.mul
          (select (i32.add (local.get $g) (i32.const 1)) (local.get $g)
            (i32.lt_u (i32.add (local.get $g) (i32.const 1)) (local.get $count)))
          (i32.const 12))))
        (local.set $l1 (i32.add (local.get $arena) (i32.shl (i32.load (local.get $op)) (i32.const 5))))
        (local.set $r1 (i32.add (local.get $arena) (i32.shl (i32.load offset=4 (local.get $op)) (i32.const 5))))
        (local.set $o1 (select (i32.add (local.get $arena) (i32.shl (i32.load offset=8 (local.get $op)) (i32.const 5)))
          (i32.const 3104)
          (i32.lt_u (i32.add (local.get $g) (i32.const 1)) (local.get $count))))
        (local.set $op (i32.add (local.get $ops) (i32.mul
          (select (i32.add (local.get $g) (i32.const 2)) (local.get $g)
            (i32.lt_u (i32.add (local.get $g) (i32.const 2)) (local.get $count)))
          (i32.const 12))))
        (local.set $l2 (i32.add (local.get $arena) (i32.shl (i32.load (local.get $op)) (i32.const 5))))
        (local.set $r2 (i32.add (local.get $arena) (i32.shl (i32.load offset=4 (local.get $op)) (i32.const 5))))
        (local.set $o2 (select (i32.add (local.get $arena) (i32.shl (i32.load offset=8 (local.get $op)) (i32.const 5)))
          (i32.const 3136)
          (i32.lt_u (i32.add (local.get $g) (i32.const 2)) (local.get $count))))
        (local.set $op (i32.add (local.get $ops) (i32.mul
          (select (i32.add (local.get $g) (i32.const 3)) (local.get $g)
            (i32.lt_u (i32.add (local.get $g) (i32.const 3)) (local.get $count)))
          (i32.const 12))))
        (local.set $l3 (i32.add (local.get $arena) (i32.shl (i32.load (local.get $op)) (i32.const 5))))
        (local.set $r3 (i32.add (local.get $arena) (i32.shl (i32.load offset=4 (local.get $op)) (i32.const 5))))
        (local.set $o3 (select (i32.add (local.get $arena) (i32.shl (i32.load offset=8 (local.get $op)) (i32.const 5)))
          (i32.const 3168)
          (i32.lt_u (i32.add (local.get $g) (i32.const 3)) (local.get $count))))
        (call $load8 (i32.const 1152) (local.get $l0) (local.get $l1) (local.get $l2) (local.get $l3))
        (call $load8 (i32.const 2048) (local.get $r0) (local.get $r1) (local.get $r2) (local.get $r3))
        (call $compress4
          (v128.load32_splat (i32.const 256)) (v128.load32_splat (i32.const 260))
          (v128.load32_splat (i32.const 264)) (v128.load32_splat (i32.const 268))
          (v128.load32_splat (i32.const 272)) (v128.load32_splat (i32.const 276))
          (v128.load32_splat (i32.const 280)) (v128.load32_splat (i32.const 284))
          (i32.const 1024))
        (call $compress4 (i32.const 2048))
        (call $store4 (local.get $o0) (local.get $o1) (local.get $o2) (local.get $o3))
        (local.set $g (i32.add (local.get $g) (i32.const 4)))
        (br $groups))))
)
