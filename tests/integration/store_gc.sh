#!/usr/bin/env bash
# gc: removed items and superseded versions give their unique bytes back;
# everything still referenced keeps reading correctly.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MiB=$((1024 * 1024))

STORE=$WORK/store
init_store "$STORE" --compression none

A=$WORK/a
B=$WORK/b
mkdir -p "$A/common" "$B/common" "$B/own"
randfile "$A/common/shared1.bin" $((3 * MiB))
randfile "$A/common/shared2.bin" $((2 * MiB + 123))
randfile "$A/unique_a.bin" $((8 * MiB))
printf 'A only\n' >"$A/a.txt"
cp "$A/common/shared1.bin" "$A/common/shared2.bin" "$B/common/"
randfile "$B/own/unique_b.bin" $((1 * MiB))
manifest "$A" "$WORK/a.json" >/dev/null
manifest "$B" "$WORK/b.json" >/dev/null

check "add A, add B sharing two files with A"
ID_A=$(add_content "$STORE" --kind package --name A "$A")
ID_B=$(add_content "$STORE" --kind package --name B "$B")
p1=$(pack_bytes "$STORE")
note "pack bytes with A and B: $p1"

check "content rm A: gone from list and show"
tsm "$STORE" content rm "$ID_A" >/dev/null || fail "content rm $ID_A failed"
json_ids "$STORE" | grep -qx "$ID_A" && fail "content list still shows $ID_A after rm"
expect_fail_with "$ID_A" -- tsm "$STORE" content show "$ID_A"
expect_fail_with "$ID_A" -- tsm "$STORE" content rm "$ID_A"
cat_check "$STORE" "$ID_B" "$WORK/b.json" >/dev/null

check "gc reclaims A's unique bytes (8 MiB + a.txt); B's bytes stay"
tsm "$STORE" gc >"$WORK/gc.out" 2>"$WORK/gc.err" || fail "gc failed: $(head -c 800 "$WORK/gc.err")"
p2=$(pack_bytes "$STORE")
note "pack bytes after gc: $p2 (reclaimed $((p1 - p2)))"
assert_ge $((p1 - p2)) $((8 * MiB * 99 / 100)) "bytes reclaimed by gc after rm A"
b_bytes=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(sum({e["sha256"]: e["size"] for e in m.values() if e["type"]=="file"}.values()))' "$WORK/b.json")
assert_ge "$p2" "$b_bytes" "pack bytes after gc are below B's distinct data: gc dropped live data"
assert_le "$p2" $((b_bytes + b_bytes / 50 + MiB)) "pack bytes after gc vs B's distinct data (+2% +1 MiB)"
assert_eq "$(stat_get "$STORE" pack_bytes)" "$p2" "stats pack_bytes vs packs/*.pack on disk"
assert_eq "$(stat_get "$STORE" content_items)" 1 "content_items after rm + gc"
assert_eq "$(stat_get "$STORE" blobs)" 3 "blobs after rm + gc (B has 3 distinct files)"
assert_eq "$(stat_get "$STORE" logical_bytes)" "$(python3 -c 'import json,sys; print(sum(e["size"] for e in json.load(open(sys.argv[1])).values() if e["type"]=="file"))' "$WORK/b.json")" "logical_bytes after rm + gc"
verify_ok "$STORE"
cat_check "$STORE" "$ID_B" "$WORK/b.json"

check "a second gc changes nothing"
d0=$(catalog_digest "$STORE")
tsm "$STORE" gc >/dev/null 2>"$WORK/gc.err" || fail "second gc failed: $(head -c 800 "$WORK/gc.err")"
assert_eq "$(pack_bytes "$STORE")" "$p2" "pack bytes after a second gc"
assert_eq "$(catalog_digest "$STORE")" "$d0" "catalog after a second gc"

check "a new version via --id, then gc drops the old version's unique data"
C1=$WORK/c1
C2=$WORK/c2
mkdir -p "$C1" "$C2"
randfile "$C1/old_unique.bin" $((6 * MiB))
randfile "$C1/kept.bin" $((1 * MiB))
cp "$C1/kept.bin" "$C2/kept.bin"
randfile "$C2/new_unique.bin" $((4 * MiB))
manifest "$C2" "$WORK/c2.json" >/dev/null
ID_C=$(add_content "$STORE" --kind application --name C --version 1 "$C1")
ID_C2=$(add_content "$STORE" --kind application --name C --version 2 --id "$ID_C" "$C2")
assert_eq "$ID_C2" "$ID_C" "ID printed by add --id"
show_json "$STORE" "$ID_C" "$WORK/c.json"
assert_eq "$("${PYHELP[@]}" get "$WORK/c.json" versions | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" 2 "versions before gc"
p3=$(pack_bytes "$STORE")
tsm "$STORE" gc >/dev/null 2>"$WORK/gc.err" || fail "gc failed: $(head -c 800 "$WORK/gc.err")"
p4=$(pack_bytes "$STORE")
note "pack bytes before gc $p3, after $p4 (reclaimed $((p3 - p4)))"
assert_ge $((p3 - p4)) $((6 * MiB * 99 / 100)) "bytes reclaimed from the superseded version"
assert_le $((p3 - p4)) $((6 * MiB + MiB / 2)) "gc reclaimed more than the old version's unique data"
show_json "$STORE" "$ID_C" "$WORK/c.json"
"${PYHELP[@]}" check-show "$WORK/c.json" "$WORK/c2.json" >/dev/null || fail "show $ID_C after gc must list version 2's files"
nver=$("${PYHELP[@]}" get "$WORK/c.json" versions | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
assert_eq "$nver" 1 "versions of $ID_C after gc (the old version is unreferenced)"
assert_eq "$("${PYHELP[@]}" get "$WORK/c.json" versions.0.label)" 2 "label of the remaining version"
cat_check "$STORE" "$ID_C" "$WORK/c2.json"
cat_check "$STORE" "$ID_B" "$WORK/b.json"
verify_ok "$STORE"

check "rm everything, gc: packs shrink to (almost) nothing"
tsm "$STORE" content rm "$ID_B" --json >"$WORK/rm.json" || fail "content rm $ID_B --json failed"
"${PYHELP[@]}" ids "$WORK/rm.json" | grep -qx "$ID_B" || fail "content rm --json output does not name $ID_B: $(head -c 300 "$WORK/rm.json")"
tsm "$STORE" content rm "$ID_C" >/dev/null || fail "content rm $ID_C failed"
tsm "$STORE" gc >/dev/null 2>"$WORK/gc.err" || fail "gc failed: $(head -c 800 "$WORK/gc.err")"
assert_le "$(packs_dir_bytes "$STORE")" $((64 * 1024)) "bytes under packs/ with no content left"
assert_eq "$(stat_get "$STORE" chunks)" 0 "chunks with no content left"
assert_eq "$(stat_get "$STORE" content_items)" 0 "content_items with no content left"
verify_ok "$STORE"

pass
