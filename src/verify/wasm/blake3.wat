;; BLAKE3 kernels of the PoET membership tree (docs/protocol.md §4.2) and of the proof reference
;; (§4.3).
;;
;; A membership-tree node is BLAKE3(0x01 ‖ left ‖ right): a 65-byte message, so one chunk of two
;; blocks (64 bytes with CHUNK_START, then the last byte with CHUNK_END | ROOT), and the 32-byte
;; digest is the first half of the final state. The nodes of one tree level are independent, so
;; `hash_pairs` runs four of them per 128-bit instruction stream (lane j of every v128 belongs to
;; node j) and `membership_root` folds a whole tree level by level inside the module, padding a
;; missing right sibling with 32 zero bytes as the tree does.
;;
;; `hash` is BLAKE3 of a message of any length (the proof reference hashes a SCALE-encoded proof
;; of some 65 KB): the 1024-byte chunks before the last one are independent, so four of them run
;; per instruction stream, each lane with its own chunk counter; the last chunk runs alone; then
;; the chaining values are folded pairwise, level by level from the left, carrying an odd last
;; one up unchanged, which builds the same left-complete tree BLAKE3 defines. The final parent
;; (or the only chunk's last block) carries the ROOT flag.
;;
;; Memory map (bytes):
;;      0 ..  112  message schedule: for round r, the byte offset (16 · word index) of each of
;;                 the 16 message words, the permutation applied r times
;;    128 ..  160  IV (little-endian i32)
;;    256 ..  512  message words of the current block, one v128 per word
;;    512 ..  640  sink for the outputs of unused lanes
;;    640 ..  704  one zero-padded block of the last chunk
;;   1024 ..       free for the caller (`heap_base`)
(module
  (memory (export "memory") 1)
  (global (export "heap_base") i32 (i32.const 1024))

  (data (i32.const 0)
    "\00\10\20\30\40\50\60\70\80\90\a0\b0\c0\d0\e0\f0"
    "\20\60\30\a0\70\00\40\d0\10\b0\c0\50\90\e0\f0\80"
    "\30\40\a0\c0\d0\20\70\e0\60\50\90\00\b0\f0\80\10"
    "\a0\70\c0\90\e0\30\d0\f0\40\00\b0\20\50\80\10\60"
    "\c0\d0\90\b0\f0\a0\e0\80\70\20\50\30\00\10\60\40"
    "\90\e0\b0\50\80\c0\f0\10\d0\30\00\a0\20\60\40\70"
    "\b0\f0\50\00\10\90\80\60\e0\a0\20\c0\30\40\70\d0")
  (data (i32.const 128)
    "\67\e6\09\6a\85\ae\67\bb\72\f3\6e\3c\3a\f5\4f\a5"
    "\7f\52\0e\51\8c\68\05\9b\ab\d9\83\1f\19\cd\e0\5b")

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

  ;; One BLAKE3 compression in each of four lanes of the message words at 256, from chaining value
  ;; h, with each lane's block counter (low word; the high word is 0) in $counter; returns the
  ;; first half of the output, state[i] ^ state[i + 8].
  (func $compress4
    (param $h0 v128) (param $h1 v128) (param $h2 v128) (param $h3 v128)
    (param $h4 v128) (param $h5 v128) (param $h6 v128) (param $h7 v128)
    (param $block_len i32) (param $flags i32) (param $counter v128)
    (result v128 v128 v128 v128 v128 v128 v128 v128)
    (local $r i32) (local $t v128)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $v4 v128) (local $v5 v128) (local $v6 v128) (local $v7 v128)
    (local $v8 v128) (local $v9 v128) (local $v10 v128) (local $v11 v128)
    (local $v12 v128) (local $v13 v128) (local $v14 v128) (local $v15 v128)
    (local.set $v0 (local.get $h0))
    (local.set $v1 (local.get $h1))
    (local.set $v2 (local.get $h2))
    (local.set $v3 (local.get $h3))
    (local.set $v4 (local.get $h4))
    (local.set $v5 (local.get $h5))
    (local.set $v6 (local.get $h6))
    (local.set $v7 (local.get $h7))
    (local.set $v8 (v128.load32_splat (i32.const 128)))
    (local.set $v9 (v128.load32_splat (i32.const 132)))
    (local.set $v10 (v128.load32_splat (i32.const 136)))
    (local.set $v11 (v128.load32_splat (i32.const 140)))
    (local.set $v12 (local.get $counter))
    (local.set $v13 (v128.const i32x4 0 0 0 0))
    (local.set $v14 (i32x4.splat (local.get $block_len)))
    (local.set $v15 (i32x4.splat (local.get $flags)))
    ;; $r is the byte offset of this round's row of the message schedule
    (local.set $r (i32.const 0))
    (loop $rounds
      ;; G on column 0 4 8 12, message words 0 and 1 of the round
      (local.set $v0 (i32x4.add (i32x4.add (local.get $v0) (local.get $v4)) (v128.load offset=256 (i32.load8_u offset=0 (local.get $r)))))
      (local.set $t (v128.xor (local.get $v12) (local.get $v0)))
      (local.set $v12 (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13 (local.get $t) (local.get $t)))
      (local.set $v8 (i32x4.add (local.get $v8) (local.get $v12)))
      (local.set $t (v128.xor (local.get $v4) (local.get $v8)))
      (local.set $v4 (v128.or (i32x4.shr_u (local.get $t) (i32.const 12)) (i32x4.shl (local.get $t) (i32.const 20))))
      (local.set $v0 (i32x4.add (i32x4.add (local.get $v0) (local.get $v4)) (v128.load offset=256 (i32.load8_u offset=1 (local.get $r)))))
      (local.set $t (v128.xor (local.get $v12) (local.get $v0)))
      (local.set $v12 (i8x16.shuffle 1 2 3 0 5 6 7 4 9 10 11 8 13 14 15 12 (local.get $t) (local.get $t)))
      (local.set $v8 (i32x4.add (local.get $v8) (local.get $v12)))
      (local.set $t (v128.xor (local.get $v4) (local.get $v8)))
      (local.set $v4 (v128.or (i32x4.shr_u (local.get $t) (i32.const 7)) (i32x4.shl (local.get $t) (i32.const 25))))
      ;; G on column 1 5 9 13, message words 2 and 3 of the round
      (local.set $v1 (i32x4.add (i32x4.add (local.get $v1) (local.get $v5)) (v128.load offset=256 (i32.load8_u offset=2 (local.get $r)))))
      (local.set $t (v128.xor (local.get $v13) (local.get $v1)))
      (local.set $v13 (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13 (local.get $t) (local.get $t)))
      (local.set $v9 (i32x4.add (local.get $v9) (local.get $v13)))
      (local.set $t (v128.xor (local.get $v5) (local.get $v9)))
      (local.set $v5 (v128.or (i32x4.shr_u (local.get $t) (i32.const 12)) (i32x4.shl (local.get $t) (i32.const 20))))
      (local.set $v1 (i32x4.add (i32x4.add (local.get $v1) (local.get $v5)) (v128.load offset=256 (i32.load8_u offset=3 (local.get $r)))))
      (local.set $t (v128.xor (local.get $v13) (local.get $v1)))
      (local.set $v13 (i8x16.shuffle 1 2 3 0 5 6 7 4 9 10 11 8 13 14 15 12 (local.get $t) (local.get $t)))
      (local.set $v9 (i32x4.add (local.get $v9) (local.get $v13)))
      (local.set $t (v128.xor (local.get $v5) (local.get $v9)))
      (local.set $v5 (v128.or (i32x4.shr_u (local.get $t) (i32.const 7)) (i32x4.shl (local.get $t) (i32.const 25))))
      ;; G on column 2 6 10 14, message words 4 and 5 of the round
      (local.set $v2 (i32x4.add (i32x4.add (local.get $v2) (local.get $v6)) (v128.load offset=256 (i32.load8_u offset=4 (local.get $r)))))
      (local.set $t (v128.xor (local.get $v14) (local.get $v2)))
      (local.set $v14 (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13 (local.get $t) (local.get $t)))
      (local.set $v10 (i32x4.add (local.get $v10) (local.get $v14)))
      (local.set $t (v128.xor (local.get $v6) (local.get $v10)))
      (local.set $v6 (v128.or (i32x4.shr_u (local.get $t) (i32.const 12)) (i32x4.shl (local.get $t) (i32.const 20))))
      (local.set $v2 (i32x4.add (i32x4.add (local.get $v2) (local.get $v6)) (v128.load offset=256 (i32.load8_u offset=5 (local.get $r)))))
      (local.set $t (v128.xor (local.get $v14) (local.get $v2)))
      (local.set $v14 (i8x16.shuffle 1 2 3 0 5 6 7 4 9 10 11 8 13 14 15 12 (local.get $t) (local.get $t)))
      (local.set $v10 (i32x4.add (local.get $v10) (local.get $v14)))
      (local.set $t (v128.xor (local.get $v6) (local.get $v10)))
      (local.set $v6 (v128.or (i32x4.shr_u (local.get $t) (i32.const 7)) (i32x4.shl (local.get $t) (i32.const 25))))
      ;; G on column 3 7 11 15, message words 6 and 7 of the round
      (local.set $v3 (i32x4.add (i32x4.add (local.get $v3) (local.get $v7)) (v128.load offset=256 (i32.load8_u offset=6 (local.get $r)))))
      (local.set $t (v128.xor (local.get $v15) (local.get $v3)))
      (local.set $v15 (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13 (local.get $t) (local.get $t)))
      (local.set $v11 (i32x4.add (local.get $v11) (local.get $v15)))
      (local.set $t (v128.xor (local.get $v7) (local.get $v11)))
      (local.set $v7 (v128.or (i32x4.shr_u (local.get $t) (i32.const 12)) (i32x4.shl (local.get $t) (i32.const 20))))
      (local.set $v3 (i32x4.add (i32x4.add (local.get $v3) (local.get $v7)) (v128.load offset=256 (i32.load8_u offset=7 (local.get $r)))))
      (local.set $t (v128.xor (local.get $v15) (local.get $v3)))
      (local.set $v15 (i8x16.shuffle 1 2 3 0 5 6 7 4 9 10 11 8 13 14 15 12 (local.get $t) (local.get $t)))
      (local.set $v11 (i32x4.add (local.get $v11) (local.get $v15)))
      (local.set $t (v128.xor (local.get $v7) (local.get $v11)))
      (local.set $v7 (v128.or (i32x4.shr_u (local.get $t) (i32.const 7)) (i32x4.shl (local.get $t) (i32.const 25))))
      ;; G on diagonal 0 5 10 15, message words 8 and 9 of the round
      (local.set $v0 (i32x4.add (i32x4.add (local.get $v0) (local.get $v5)) (v128.load offset=256 (i32.load8_u offset=8 (local.get $r)))))
      (local.set $t (v128.xor (local.get $v15) (local.get $v0)))
      (local.set $v15 (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13 (local.get $t) (local.get $t)))
      (local.set $v10 (i32x4.add (local.get $v10) (local.get $v15)))
      (local.set $t (v128.xor (local.get $v5) (local.get $v10)))
      (local.set $v5 (v128.or (i32x4.shr_u (local.get $t) (i32.const 12)) (i32x4.shl (local.get $t) (i32.const 20))))
      (local.set $v0 (i32x4.add (i32x4.add (local.get $v0) (local.get $v5)) (v128.load offset=256 (i32.load8_u offset=9 (local.get $r)))))
      (local.set $t (v128.xor (local.get $v15) (local.get $v0)))
      (local.set $v15 (i8x16.shuffle 1 2 3 0 5 6 7 4 9 10 11 8 13 14 15 12 (local.get $t) (local.get $t)))
      (local.set $v10 (i32x4.add (local.get $v10) (local.get $v15)))
      (local.set $t (v128.xor (local.get $v5) (local.get $v10)))
      (local.set $v5 (v128.or (i32x4.shr_u (local.get $t) (i32.const 7)) (i32x4.shl (local.get $t) (i32.const 25))))
      ;; G on diagonal 1 6 11 12, message words 10 and 11 of the round
      (local.set $v1 (i32x4.add (i32x4.add (local.get $v1) (local.get $v6)) (v128.load offset=256 (i32.load8_u offset=10 (local.get $r)))))
      (local.set $t (v128.xor (local.get $v12) (local.get $v1)))
      (local.set $v12 (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13 (local.get $t) (local.get $t)))
      (local.set $v11 (i32x4.add (local.get $v11) (local.get $v12)))
      (local.set $t (v128.xor (local.get $v6) (local.get $v11)))
      (local.set $v6 (v128.or (i32x4.shr_u (local.get $t) (i32.const 12)) (i32x4.shl (local.get $t) (i32.const 20))))
      (local.set $v1 (i32x4.add (i32x4.add (local.get $v1) (local.get $v6)) (v128.load offset=256 (i32.load8_u offset=11 (local.get $r)))))
      (local.set $t (v128.xor (local.get $v12) (local.get $v1)))
      (local.set $v12 (i8x16.shuffle 1 2 3 0 5 6 7 4 9 10 11 8 13 14 15 12 (local.get $t) (local.get $t)))
      (local.set $v11 (i32x4.add (local.get $v11) (local.get $v12)))
      (local.set $t (v128.xor (local.get $v6) (local.get $v11)))
      (local.set $v6 (v128.or (i32x4.shr_u (local.get $t) (i32.const 7)) (i32x4.shl (local.get $t) (i32.const 25))))
      ;; G on diagonal 2 7 8 13, message words 12 and 13 of the round
      (local.set $v2 (i32x4.add (i32x4.add (local.get $v2) (local.get $v7)) (v128.load offset=256 (i32.load8_u offset=12 (local.get $r)))))
      (local.set $t (v128.xor (local.get $v13) (local.get $v2)))
      (local.set $v13 (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13 (local.get $t) (local.get $t)))
      (local.set $v8 (i32x4.add (local.get $v8) (local.get $v13)))
      (local.set $t (v128.xor (local.get $v7) (local.get $v8)))
      (local.set $v7 (v128.or (i32x4.shr_u (local.get $t) (i32.const 12)) (i32x4.shl (local.get $t) (i32.const 20))))
      (local.set $v2 (i32x4.add (i32x4.add (local.get $v2) (local.get $v7)) (v128.load offset=256 (i32.load8_u offset=13 (local.get $r)))))
      (local.set $t (v128.xor (local.get $v13) (local.get $v2)))
      (local.set $v13 (i8x16.shuffle 1 2 3 0 5 6 7 4 9 10 11 8 13 14 15 12 (local.get $t) (local.get $t)))
      (local.set $v8 (i32x4.add (local.get $v8) (local.get $v13)))
      (local.set $t (v128.xor (local.get $v7) (local.get $v8)))
      (local.set $v7 (v128.or (i32x4.shr_u (local.get $t) (i32.const 7)) (i32x4.shl (local.get $t) (i32.const 25))))
      ;; G on diagonal 3 4 9 14, message words 14 and 15 of the round
      (local.set $v3 (i32x4.add (i32x4.add (local.get $v3) (local.get $v4)) (v128.load offset=256 (i32.load8_u offset=14 (local.get $r)))))
      (local.set $t (v128.xor (local.get $v14) (local.get $v3)))
      (local.set $v14 (i8x16.shuffle 2 3 0 1 6 7 4 5 10 11 8 9 14 15 12 13 (local.get $t) (local.get $t)))
      (local.set $v9 (i32x4.add (local.get $v9) (local.get $v14)))
      (local.set $t (v128.xor (local.get $v4) (local.get $v9)))
      (local.set $v4 (v128.or (i32x4.shr_u (local.get $t) (i32.const 12)) (i32x4.shl (local.get $t) (i32.const 20))))
      (local.set $v3 (i32x4.add (i32x4.add (local.get $v3) (local.get $v4)) (v128.load offset=256 (i32.load8_u offset=15 (local.get $r)))))
      (local.set $t (v128.xor (local.get $v14) (local.get $v3)))
      (local.set $v14 (i8x16.shuffle 1 2 3 0 5 6 7 4 9 10 11 8 13 14 15 12 (local.get $t) (local.get $t)))
      (local.set $v9 (i32x4.add (local.get $v9) (local.get $v14)))
      (local.set $t (v128.xor (local.get $v4) (local.get $v9)))
      (local.set $v4 (v128.or (i32x4.shr_u (local.get $t) (i32.const 7)) (i32x4.shl (local.get $t) (i32.const 25))))
      (local.set $r (i32.add (local.get $r) (i32.const 16)))
      (br_if $rounds (i32.lt_u (local.get $r) (i32.const 112))))
    (v128.xor (local.get $v0) (local.get $v8))
    (v128.xor (local.get $v1) (local.get $v9))
    (v128.xor (local.get $v2) (local.get $v10))
    (v128.xor (local.get $v3) (local.get $v11))
    (v128.xor (local.get $v4) (local.get $v12))
    (v128.xor (local.get $v5) (local.get $v13))
    (v128.xor (local.get $v6) (local.get $v14))
    (v128.xor (local.get $v7) (local.get $v15)))

  ;; Hashes `pairs` membership-tree nodes: node i is BLAKE3(0x01 ‖ in[64i .. 64i+64)), written to
  ;; out + 32i. `in` must be at least 1 (the byte before each node is read and masked away).
  ;; `out` may equal `in`: a group's outputs land below the inputs of every later group.
  (func $hash_pairs (export "hash_pairs") (param $in i32) (param $pairs i32) (param $out i32)
    (local $g i32) (local $q i32) (local $n i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
    (local $o0 i32) (local $o1 i32) (local $o2 i32) (local $o3 i32)
    (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128)
    (local $h0 v128) (local $h1 v128) (local $h2 v128) (local $h3 v128)
    (local $h4 v128) (local $h5 v128) (local $h6 v128) (local $h7 v128)
    (local.set $g (i32.const 0))
    (block $groups_done
      (loop $groups
        (br_if $groups_done (i32.ge_u (local.get $g) (local.get $pairs)))
        ;; lane j takes node g+j, or repeats node g into the sink when g+j >= pairs
        (local.set $p0 (i32.add (local.get $in) (i32.shl (local.get $g) (i32.const 6))))
        (local.set $o0 (i32.add (local.get $out) (i32.shl (local.get $g) (i32.const 5))))
        (local.set $n (i32.add (local.get $g) (i32.const 1)))
        (local.set $p1 (select (i32.add (local.get $p0) (i32.const 64)) (local.get $p0)
          (i32.lt_u (local.get $n) (local.get $pairs))))
        (local.set $o1 (select (i32.add (local.get $o0) (i32.const 32)) (i32.const 544)
          (i32.lt_u (local.get $n) (local.get $pairs))))
        (local.set $n (i32.add (local.get $g) (i32.const 2)))
        (local.set $p2 (select (i32.add (local.get $p0) (i32.const 128)) (local.get $p0)
          (i32.lt_u (local.get $n) (local.get $pairs))))
        (local.set $o2 (select (i32.add (local.get $o0) (i32.const 64)) (i32.const 576)
          (i32.lt_u (local.get $n) (local.get $pairs))))
        (local.set $n (i32.add (local.get $g) (i32.const 3)))
        (local.set $p3 (select (i32.add (local.get $p0) (i32.const 192)) (local.get $p0)
          (i32.lt_u (local.get $n) (local.get $pairs))))
        (local.set $o3 (select (i32.add (local.get $o0) (i32.const 96)) (i32.const 608)
          (i32.lt_u (local.get $n) (local.get $pairs))))
        ;; first block: message byte k is in[k - 1], so word q of lane j loads from p_j - 1 + 4q
        (local.set $q (i32.const 0))
        (loop $quarters
          (call $transpose
            (v128.load (i32.sub (i32.add (local.get $p0) (local.get $q)) (i32.const 1)))
            (v128.load (i32.sub (i32.add (local.get $p1) (local.get $q)) (i32.const 1)))
            (v128.load (i32.sub (i32.add (local.get $p2) (local.get $q)) (i32.const 1)))
            (v128.load (i32.sub (i32.add (local.get $p3) (local.get $q)) (i32.const 1))))
          (local.set $w3)
          (local.set $w2)
          (local.set $w1)
          (local.set $w0)
          (v128.store offset=256 (i32.shl (local.get $q) (i32.const 2)) (local.get $w0))
          (v128.store offset=272 (i32.shl (local.get $q) (i32.const 2)) (local.get $w1))
          (v128.store offset=288 (i32.shl (local.get $q) (i32.const 2)) (local.get $w2))
          (v128.store offset=304 (i32.shl (local.get $q) (i32.const 2)) (local.get $w3))
          (local.set $q (i32.add (local.get $q) (i32.const 16)))
          (br_if $quarters (i32.lt_u (local.get $q) (i32.const 64))))
        ;; the domain byte 0x01 replaces the byte read from before the node
        (v128.store (i32.const 256)
          (v128.or
            (v128.and (v128.load (i32.const 256)) (i32x4.splat (i32.const 0xffffff00)))
            (i32x4.splat (i32.const 1))))
        (call $compress4
          (v128.load32_splat (i32.const 128)) (v128.load32_splat (i32.const 132))
          (v128.load32_splat (i32.const 136)) (v128.load32_splat (i32.const 140))
          (v128.load32_splat (i32.const 144)) (v128.load32_splat (i32.const 148))
          (v128.load32_splat (i32.const 152)) (v128.load32_splat (i32.const 156))
          (i32.const 64) (i32.const 1) (v128.const i32x4 0 0 0 0))
        (local.set $h7)
        (local.set $h6)
        (local.set $h5)
        (local.set $h4)
        (local.set $h3)
        (local.set $h2)
        (local.set $h1)
        (local.set $h0)
        ;; second block: the last byte alone, CHUNK_END | ROOT
        (v128.store (i32.const 256)
          (i32x4.replace_lane 3
            (i32x4.replace_lane 2
              (i32x4.replace_lane 1
                (i32x4.splat (i32.load8_u offset=63 (local.get $p0)))
                (i32.load8_u offset=63 (local.get $p1)))
              (i32.load8_u offset=63 (local.get $p2)))
            (i32.load8_u offset=63 (local.get $p3))))
        (memory.fill (i32.const 272) (i32.const 0) (i32.const 240))
        (call $compress4 (local.get $h0) (local.get $h1) (local.get $h2) (local.get $h3)
          (local.get $h4) (local.get $h5) (local.get $h6) (local.get $h7)
          (i32.const 1) (i32.const 10) (v128.const i32x4 0 0 0 0))
        (local.set $h7)
        (local.set $h6)
        (local.set $h5)
        (local.set $h4)
        (local.set $h3)
        (local.set $h2)
        (local.set $h1)
        (local.set $h0)
        (call $transpose (local.get $h0) (local.get $h1) (local.get $h2) (local.get $h3))
        (local.set $w3)
        (local.set $w2)
        (local.set $w1)
        (local.set $w0)
        (v128.store (local.get $o0) (local.get $w0))
        (v128.store (local.get $o1) (local.get $w1))
        (v128.store (local.get $o2) (local.get $w2))
        (v128.store (local.get $o3) (local.get $w3))
        (call $transpose (local.get $h4) (local.get $h5) (local.get $h6) (local.get $h7))
        (local.set $w3)
        (local.set $w2)
        (local.set $w1)
        (local.set $w0)
        (v128.store offset=16 (local.get $o0) (local.get $w0))
        (v128.store offset=16 (local.get $o1) (local.get $w1))
        (v128.store offset=16 (local.get $o2) (local.get $w2))
        (v128.store offset=16 (local.get $o3) (local.get $w3))
        (local.set $g (i32.add (local.get $g) (i32.const 4)))
        (br $groups))))

  ;; Folds the `count` 32-byte members at `ptr` (at least 1) into the membership root, level by
  ;; level in place, and leaves it at `ptr`. Needs 32 writable bytes after the members for the
  ;; zero padding of an odd level.
  (func (export "membership_root") (param $ptr i32) (param $count i32)
    (block $done
      (loop $levels
        (br_if $done (i32.le_u (local.get $count) (i32.const 1)))
        (if (i32.and (local.get $count) (i32.const 1))
          (then
            (memory.fill (i32.add (local.get $ptr) (i32.shl (local.get $count) (i32.const 5)))
              (i32.const 0) (i32.const 32))
            (local.set $count (i32.add (local.get $count) (i32.const 1)))))
        (local.set $count (i32.shr_u (local.get $count) (i32.const 1)))
        (call $hash_pairs (local.get $ptr) (local.get $count) (local.get $ptr))
        (br $levels))))

  ;; ---------------------------------------------------------------- BLAKE3 of any message

  ;; Loads one 64-byte block of four messages (little-endian words, lane j from $pj) into 256.
  (func $load_block4 (param $p0 i32) (param $p1 i32) (param $p2 i32) (param $p3 i32)
    (local $q i32) (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128)
    (local.set $q (i32.const 0))
    (loop $quarters
      (call $transpose
        (v128.load (i32.add (local.get $p0) (local.get $q)))
        (v128.load (i32.add (local.get $p1) (local.get $q)))
        (v128.load (i32.add (local.get $p2) (local.get $q)))
        (v128.load (i32.add (local.get $p3) (local.get $q))))
      (local.set $w3)
      (local.set $w2)
      (local.set $w1)
      (local.set $w0)
      (v128.store offset=256 (i32.shl (local.get $q) (i32.const 2)) (local.get $w0))
      (v128.store offset=272 (i32.shl (local.get $q) (i32.const 2)) (local.get $w1))
      (v128.store offset=288 (i32.shl (local.get $q) (i32.const 2)) (local.get $w2))
      (v128.store offset=304 (i32.shl (local.get $q) (i32.const 2)) (local.get $w3))
      (local.set $q (i32.add (local.get $q) (i32.const 16)))
      (br_if $quarters (i32.lt_u (local.get $q) (i32.const 64)))))

  ;; Writes the chaining values of four lanes to $o0 .. $o3 (32 bytes each, little-endian).
  (func $store_cv4
    (param $h0 v128) (param $h1 v128) (param $h2 v128) (param $h3 v128)
    (param $h4 v128) (param $h5 v128) (param $h6 v128) (param $h7 v128)
    (param $o0 i32) (param $o1 i32) (param $o2 i32) (param $o3 i32)
    (local $w0 v128) (local $w1 v128) (local $w2 v128) (local $w3 v128)
    (call $transpose (local.get $h0) (local.get $h1) (local.get $h2) (local.get $h3))
    (local.set $w3)
    (local.set $w2)
    (local.set $w1)
    (local.set $w0)
    (v128.store (local.get $o0) (local.get $w0))
    (v128.store (local.get $o1) (local.get $w1))
    (v128.store (local.get $o2) (local.get $w2))
    (v128.store (local.get $o3) (local.get $w3))
    (call $transpose (local.get $h4) (local.get $h5) (local.get $h6) (local.get $h7))
    (local.set $w3)
    (local.set $w2)
    (local.set $w1)
    (local.set $w0)
    (v128.store offset=16 (local.get $o0) (local.get $w0))
    (v128.store offset=16 (local.get $o1) (local.get $w1))
    (v128.store offset=16 (local.get $o2) (local.get $w2))
    (v128.store offset=16 (local.get $o3) (local.get $w3)))

  ;; Chaining values of `count` whole chunks of 1024 bytes at $in, chunk i with counter i,
  ;; written to $out + 32·i; four chunks per instruction stream (a group's unused lanes repeat its
  ;; first chunk into the sink).
  (func $whole_chunks (param $in i32) (param $count i32) (param $out i32)
    (local $g i32) (local $n i32) (local $b i32) (local $flags i32) (local $counter v128)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
    (local $o0 i32) (local $o1 i32) (local $o2 i32) (local $o3 i32)
    (local $h0 v128) (local $h1 v128) (local $h2 v128) (local $h3 v128)
    (local $h4 v128) (local $h5 v128) (local $h6 v128) (local $h7 v128)
    (local.set $g (i32.const 0))
    (block $groups_done
      (loop $groups
        (br_if $groups_done (i32.ge_u (local.get $g) (local.get $count)))
        (local.set $p0 (i32.add (local.get $in) (i32.shl (local.get $g) (i32.const 10))))
        (local.set $o0 (i32.add (local.get $out) (i32.shl (local.get $g) (i32.const 5))))
        (local.set $n (i32.add (local.get $g) (i32.const 1)))
        (local.set $p1 (select (i32.add (local.get $p0) (i32.const 1024)) (local.get $p0)
          (i32.lt_u (local.get $n) (local.get $count))))
        (local.set $o1 (select (i32.add (local.get $o0) (i32.const 32)) (i32.const 544)
          (i32.lt_u (local.get $n) (local.get $count))))
        (local.set $n (i32.add (local.get $g) (i32.const 2)))
        (local.set $p2 (select (i32.add (local.get $p0) (i32.const 2048)) (local.get $p0)
          (i32.lt_u (local.get $n) (local.get $count))))
        (local.set $o2 (select (i32.add (local.get $o0) (i32.const 64)) (i32.const 576)
          (i32.lt_u (local.get $n) (local.get $count))))
        (local.set $n (i32.add (local.get $g) (i32.const 3)))
        (local.set $p3 (select (i32.add (local.get $p0) (i32.const 3072)) (local.get $p0)
          (i32.lt_u (local.get $n) (local.get $count))))
        (local.set $o3 (select (i32.add (local.get $o0) (i32.const 96)) (i32.const 608)
          (i32.lt_u (local.get $n) (local.get $count))))
        (local.set $counter
          (i32x4.add (i32x4.splat (local.get $g)) (v128.const i32x4 0 1 2 3)))
        (local.set $h0 (v128.load32_splat (i32.const 128)))
        (local.set $h1 (v128.load32_splat (i32.const 132)))
        (local.set $h2 (v128.load32_splat (i32.const 136)))
        (local.set $h3 (v128.load32_splat (i32.const 140)))
        (local.set $h4 (v128.load32_splat (i32.const 144)))
        (local.set $h5 (v128.load32_splat (i32.const 148)))
        (local.set $h6 (v128.load32_splat (i32.const 152)))
        (local.set $h7 (v128.load32_splat (i32.const 156)))
        (local.set $b (i32.const 0))
        (loop $blocks
          (call $load_block4
            (i32.add (local.get $p0) (i32.shl (local.get $b) (i32.const 6)))
            (i32.add (local.get $p1) (i32.shl (local.get $b) (i32.const 6)))
            (i32.add (local.get $p2) (i32.shl (local.get $b) (i32.const 6)))
            (i32.add (local.get $p3) (i32.shl (local.get $b) (i32.const 6))))
          ;; CHUNK_START on the first block, CHUNK_END on the sixteenth
          (local.set $flags
            (i32.or (i32.eqz (local.get $b))
              (i32.shl (i32.eq (local.get $b) (i32.const 15)) (i32.const 1))))
          (call $compress4 (local.get $h0) (local.get $h1) (local.get $h2) (local.get $h3)
            (local.get $h4) (local.get $h5) (local.get $h6) (local.get $h7)
            (i32.const 64) (local.get $flags) (local.get $counter))
          (local.set $h7)
          (local.set $h6)
          (local.set $h5)
          (local.set $h4)
          (local.set $h3)
          (local.set $h2)
          (local.set $h1)
          (local.set $h0)
          (local.set $b (i32.add (local.get $b) (i32.const 1)))
          (br_if $blocks (i32.lt_u (local.get $b) (i32.const 16))))
        (call $store_cv4 (local.get $h0) (local.get $h1) (local.get $h2) (local.get $h3)
          (local.get $h4) (local.get $h5) (local.get $h6) (local.get $h7)
          (local.get $o0) (local.get $o1) (local.get $o2) (local.get $o3))
        (local.set $g (i32.add (local.get $g) (i32.const 4)))
        (br $groups))))

  ;; The chaining value of one chunk of $len bytes (0 to 1024) at $in with counter $index, written
  ;; to $out; with $root set its last block carries ROOT and the value is the digest. It runs in
  ;; every lane alike: each block is copied, zero-padded, to 640 and its words splatted.
  (func $last_chunk (param $in i32) (param $len i32) (param $index i32) (param $root i32)
    (param $out i32)
    (local $blocks i32) (local $b i32) (local $size i32) (local $flags i32) (local $q i32)
    (local $h0 v128) (local $h1 v128) (local $h2 v128) (local $h3 v128)
    (local $h4 v128) (local $h5 v128) (local $h6 v128) (local $h7 v128)
    (local.set $blocks (select (i32.shr_u (i32.add (local.get $len) (i32.const 63)) (i32.const 6))
      (i32.const 1) (local.get $len)))
    (local.set $h0 (v128.load32_splat (i32.const 128)))
    (local.set $h1 (v128.load32_splat (i32.const 132)))
    (local.set $h2 (v128.load32_splat (i32.const 136)))
    (local.set $h3 (v128.load32_splat (i32.const 140)))
    (local.set $h4 (v128.load32_splat (i32.const 144)))
    (local.set $h5 (v128.load32_splat (i32.const 148)))
    (local.set $h6 (v128.load32_splat (i32.const 152)))
    (local.set $h7 (v128.load32_splat (i32.const 156)))
    (local.set $b (i32.const 0))
    (loop $blocks
      (local.set $size (i32.sub (local.get $len) (i32.shl (local.get $b) (i32.const 6))))
      (local.set $size (select (i32.const 64) (local.get $size)
        (i32.gt_u (local.get $size) (i32.const 64))))
      (memory.fill (i32.const 640) (i32.const 0) (i32.const 64))
      (memory.copy (i32.const 640)
        (i32.add (local.get $in) (i32.shl (local.get $b) (i32.const 6))) (local.get $size))
      (local.set $q (i32.const 0))
      (loop $words
        (v128.store offset=256 (i32.shl (local.get $q) (i32.const 2))
          (v128.load32_splat offset=640 (local.get $q)))
        (local.set $q (i32.add (local.get $q) (i32.const 4)))
        (br_if $words (i32.lt_u (local.get $q) (i32.const 64))))
      ;; CHUNK_START on the first block; CHUNK_END, and ROOT when asked, on the last
      (local.set $flags (i32.eqz (local.get $b)))
      (if (i32.eq (local.get $b) (i32.sub (local.get $blocks) (i32.const 1)))
        (then
          (local.set $flags (i32.or (local.get $flags)
            (select (i32.const 10) (i32.const 2) (local.get $root))))))
      (call $compress4 (local.get $h0) (local.get $h1) (local.get $h2) (local.get $h3)
        (local.get $h4) (local.get $h5) (local.get $h6) (local.get $h7)
        (local.get $size) (local.get $flags) (i32x4.splat (local.get $index)))
      (local.set $h7)
      (local.set $h6)
      (local.set $h5)
      (local.set $h4)
      (local.set $h3)
      (local.set $h2)
      (local.set $h1)
      (local.set $h0)
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br_if $blocks (i32.lt_u (local.get $b) (local.get $blocks))))
    (call $store_cv4 (local.get $h0) (local.get $h1) (local.get $h2) (local.get $h3)
      (local.get $h4) (local.get $h5) (local.get $h6) (local.get $h7)
      (local.get $out) (i32.const 544) (i32.const 576) (i32.const 608)))

  ;; Parents of `pairs` pairs of chaining values at $in (64 bytes each: left ‖ right), written to
  ;; $out + 32·i (which may equal $in, as in hash_pairs), with the given flags (PARENT, or
  ;; PARENT | ROOT for the last one); four per instruction stream.
  (func $parents (param $in i32) (param $pairs i32) (param $out i32) (param $flags i32)
    (local $g i32) (local $n i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
    (local $o0 i32) (local $o1 i32) (local $o2 i32) (local $o3 i32)
    (local.set $g (i32.const 0))
    (block $groups_done
      (loop $groups
        (br_if $groups_done (i32.ge_u (local.get $g) (local.get $pairs)))
        (local.set $p0 (i32.add (local.get $in) (i32.shl (local.get $g) (i32.const 6))))
        (local.set $o0 (i32.add (local.get $out) (i32.shl (local.get $g) (i32.const 5))))
        (local.set $n (i32.add (local.get $g) (i32.const 1)))
        (local.set $p1 (select (i32.add (local.get $p0) (i32.const 64)) (local.get $p0)
          (i32.lt_u (local.get $n) (local.get $pairs))))
        (local.set $o1 (select (i32.add (local.get $o0) (i32.const 32)) (i32.const 544)
          (i32.lt_u (local.get $n) (local.get $pairs))))
        (local.set $n (i32.add (local.get $g) (i32.const 2)))
        (local.set $p2 (select (i32.add (local.get $p0) (i32.const 128)) (local.get $p0)
          (i32.lt_u (local.get $n) (local.get $pairs))))
        (local.set $o2 (select (i32.add (local.get $o0) (i32.const 64)) (i32.const 576)
          (i32.lt_u (local.get $n) (local.get $pairs))))
        (local.set $n (i32.add (local.get $g) (i32.const 3)))
        (local.set $p3 (select (i32.add (local.get $p0) (i32.const 192)) (local.get $p0)
          (i32.lt_u (local.get $n) (local.get $pairs))))
        (local.set $o3 (select (i32.add (local.get $o0) (i32.const 96)) (i32.const 608)
          (i32.lt_u (local.get $n) (local.get $pairs))))
        (call $load_block4 (local.get $p0) (local.get $p1) (local.get $p2) (local.get $p3))
        (call $compress4
          (v128.load32_splat (i32.const 128)) (v128.load32_splat (i32.const 132))
          (v128.load32_splat (i32.const 136)) (v128.load32_splat (i32.const 140))
          (v128.load32_splat (i32.const 144)) (v128.load32_splat (i32.const 148))
          (v128.load32_splat (i32.const 152)) (v128.load32_splat (i32.const 156))
          (i32.const 64) (local.get $flags) (v128.const i32x4 0 0 0 0))
        (call $store_cv4 (local.get $o0) (local.get $o1) (local.get $o2) (local.get $o3))
        (local.set $g (i32.add (local.get $g) (i32.const 4)))
        (br $groups))))

  ;; out[0..32) = BLAKE3(memory[in .. in+len)). $work must have room for 32 bytes per chunk
  ;; (ceil(len / 1024), at least one) and must not overlap the input.
  (func (export "hash") (param $in i32) (param $len i32) (param $out i32) (param $work i32)
    (local $chunks i32) (local $count i32) (local $pairs i32)
    (local.set $chunks (select (i32.shr_u (i32.add (local.get $len) (i32.const 1023)) (i32.const 10))
      (i32.const 1) (local.get $len)))
    (if (i32.eq (local.get $chunks) (i32.const 1))
      (then
        (call $last_chunk (local.get $in) (local.get $len) (i32.const 0) (i32.const 1)
          (local.get $out))
        (return)))
    (call $whole_chunks (local.get $in) (i32.sub (local.get $chunks) (i32.const 1))
      (local.get $work))
    (call $last_chunk
      (i32.add (local.get $in) (i32.shl (i32.sub (local.get $chunks) (i32.const 1)) (i32.const 10)))
      (i32.sub (local.get $len) (i32.shl (i32.sub (local.get $chunks) (i32.const 1)) (i32.const 10)))
      (i32.sub (local.get $chunks) (i32.const 1)) (i32.const 0)
      (i32.add (local.get $work) (i32.shl (i32.sub (local.get $chunks) (i32.const 1)) (i32.const 5))))
    ;; fold pairwise from the left, an odd last value moving up unchanged, until two are left
    (local.set $count (local.get $chunks))
    (block $folded
      (loop $levels
        (br_if $folded (i32.le_u (local.get $count) (i32.const 2)))
        (local.set $pairs (i32.shr_u (local.get $count) (i32.const 1)))
        (call $parents (local.get $work) (local.get $pairs) (local.get $work) (i32.const 4))
        (if (i32.and (local.get $count) (i32.const 1))
          (then
            (v128.store (i32.add (local.get $work) (i32.shl (local.get $pairs) (i32.const 5)))
              (v128.load (i32.add (local.get $work) (i32.shl (local.get $pairs) (i32.const 6)))))
            (v128.store offset=16 (i32.add (local.get $work) (i32.shl (local.get $pairs) (i32.const 5)))
              (v128.load offset=16 (i32.add (local.get $work) (i32.shl (local.get $pairs) (i32.const 6)))))))
        (local.set $count (i32.sub (local.get $count) (local.get $pairs)))
        (br $levels)))
    (call $parents (local.get $work) (i32.const 1) (local.get $out) (i32.const 12)))
)
