#!/usr/bin/env bash
# Deduplication: the same bytes are stored once, and content-defined chunking
# survives an insertion at the start of a large file.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MiB=$((1024 * 1024))

# ------------------------------------------------------------------ same tree twice
SRC=$WORK/tree
mkdir -p "$SRC/big" "$SRC/small"
check "building a ~60 MB tree of random data"
for i in 1 2 3; do randfile "$SRC/big/file$i.bin" $((15 * MiB + i * 777)); done
"${PYHELP[@]}" gen-small "$SRC/small" 120 1 250000 7 >/dev/null
read -r nfiles nbytes < <(manifest "$SRC" "$WORK/tree.json")
note "$nfiles files, $nbytes bytes"

STORE=$WORK/store
init_store "$STORE" --compression none
ID1=$(add_content "$STORE" --kind package --name first "$SRC")
s1=$(stat_get "$STORE" stored_bytes)
p1=$(pack_bytes "$STORE")
l1=$(stat_get "$STORE" logical_bytes)
note "after first import: logical $l1, stored $s1, packs on disk $p1"

check "first import of random data (no compression) stores all of it: stored_bytes >= logical"
assert_eq "$l1" "$nbytes" "logical_bytes after one import"
assert_ge "$s1" "$nbytes" "stored_bytes of incompressible data with --compression none"
assert_le "$s1" $((nbytes + nbytes / 50)) "stored_bytes more than 2% above the data"
assert_ge "$p1" "$s1" "pack bytes on disk are less than stored_bytes"

check "re-importing the same tree grows stored_bytes by < 1%"
ID2=$(add_content "$STORE" --kind package --name second "$SRC")
assert_ne "$ID2" "$ID1" "two adds gave the same ID"
s2=$(stat_get "$STORE" stored_bytes)
p2=$(pack_bytes "$STORE")
l2=$(stat_get "$STORE" logical_bytes)
note "after second import: logical $l2, stored $s2 (+$((s2 - s1))), packs on disk $p2 (+$((p2 - p1)))"
assert_le $(((s2 - s1) * 100)) "$s1" "stored_bytes growth on re-import (x100) vs stored_bytes"
assert_le $(((p2 - p1) * 100)) "$p1" "pack bytes growth on re-import (x100) vs pack bytes"
assert_eq "$l2" $((2 * nbytes)) "logical_bytes after two imports of the same tree"
ratio=$(stat_get "$STORE" dedup_ratio)
python3 -c 'import sys; r=float(sys.argv[1]); sys.exit(0 if 1.9 <= r <= 2.1 else 1)' "$ratio" ||
	fail "dedup_ratio is $ratio after importing the same tree twice, expected ~2"
assert_eq "$(stat_get "$STORE" content_items)" 2 "content_items"
cat_check "$STORE" "$ID2" "$WORK/tree.json"

# ------------------------------------------------------------------ shifted big file
check "256 MiB random file, then the same with 1 byte inserted at the start: stored bytes grow < 1 MiB"
rm -rf "$SRC"
BIG=$WORK/big
mkdir -p "$BIG/a" "$BIG/b"
head -c $((256 * MiB)) /dev/urandom >"$BIG/a/disk.img"
{
	printf 'X'
	cat "$BIG/a/disk.img"
} >"$BIG/b/disk.img"
STORE2=$WORK/store2
init_store "$STORE2" --compression none
IDA=$(add_content "$STORE2" --kind os-image --name original "$BIG/a/disk.img")
sa=$(stat_get "$STORE2" stored_bytes)
pa=$(pack_bytes "$STORE2")
chunks=$(stat_get "$STORE2" chunks)
note "original: stored $sa, packs $pa, $chunks chunks"
assert_ge "$sa" $((256 * MiB)) "stored_bytes of a 256 MiB random file"

check "chunk count fits FastCDC 16/64/256 KiB: between 1024 (all 256 KiB) and 16384 (all 16 KiB), average 32..128 KiB"
assert_ge "$chunks" 2048 "chunks of 256 MiB (average chunk above 128 KiB)"
assert_le "$chunks" 8192 "chunks of 256 MiB (average chunk below 32 KiB)"

IDB=$(add_content "$STORE2" --kind os-image --name shifted "$BIG/b/disk.img")
sb=$(stat_get "$STORE2" stored_bytes)
pb=$(pack_bytes "$STORE2")
note "shifted: stored $sb (+$((sb - sa))), packs $pb (+$((pb - pa)))"
assert_le $((sb - sa)) $((1 * MiB)) "stored_bytes growth after a 1-byte insertion"
assert_le $((pb - pa)) $((1 * MiB)) "pack bytes growth after a 1-byte insertion"

check "both 256 MiB files read back byte-identical"
got=$(tsm "$STORE2" content cat "$IDB" disk.img | sha256sum | cut -d' ' -f1)
assert_eq "$got" "$(sha "$BIG/b/disk.img")" "sha256 of the shifted file read back"
got=$(tsm "$STORE2" content cat "$IDA" disk.img | sha256sum | cut -d' ' -f1)
assert_eq "$got" "$(sha "$BIG/a/disk.img")" "sha256 of the original file read back"
verify_ok "$STORE2"

pass
