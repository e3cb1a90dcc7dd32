#!/usr/bin/env bash
# findings/mount/fs_blob_reuse.sh: after media rm, content rm, gc and content
# add, a new media's file reads its own bytes (never the removed item's),
# and once gc has removed a pack the mount no longer holds it open.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
fs_require
command -v xorriso >/dev/null || skip "xorriso is not installed (Debian: xorriso)"

store=$WORK/store
mnt=$WORK/mnt
mkdir -p "$WORK/a" "$WORK/b"
randfile "$WORK/a/f.bin" 300000
randfile "$WORK/b/f.bin" 300000
init_store "$store"
ida=$(add_content "$store" --kind package --name a "$WORK/a")
tsm "$store" -q media create --type data --name m1 --content "$ida" --no-udf >/dev/null
# One worker thread, as in the finding: its blob readers and pack
# descriptors are the ones that served m1.
fs_start "$store" "$mnt" -s
wait_until 5 test -e "$mnt/m1.iso" || fail "m1.iso is not listed"

extract() { # ISO OUT
	rm -f "$2"
	xorriso -osirrox on -indev "$1" -extract /f.bin "$2" >"$WORK/xorriso.log" 2>&1 ||
		fail "xorriso could not extract f.bin from $1: $(grep -i 'fail\|sorry' "$WORK/xorriso.log" | head -3)"
}
deleted_packs() { ls -l "/proc/$FS_PID/fd" 2>/dev/null | grep -c 'pack.*(deleted)' || true; }
no_deleted_packs() { [[ $(deleted_packs) == 0 ]]; }

check "m1.iso's f.bin is a's"
extract "$mnt/m1.iso" "$WORK/x1.bin"
assert_eq "$(sha "$WORK/x1.bin")" "$(sha "$WORK/a/f.bin")" "m1.iso f.bin"
old_blobs=$(sqlite3 "$store/catalog.db" "SELECT group_concat(id) FROM blobs")
packs_before=$(ls "$store/packs")

check "media rm, content rm, gc, content add, media create: m2.iso's f.bin is b's"
tsm "$store" -q media rm m1
tsm "$store" -q content rm "$ida"
tsm "$store" -q gc >/dev/null
idb=$(add_content "$store" --kind package --name b "$WORK/b")
tsm "$store" -q media create --type data --name m2 --content "$idb" --no-udf >/dev/null
wait_until 5 test -e "$mnt/m2.iso" || fail "m2.iso is not listed"
extract "$mnt/m2.iso" "$WORK/x2.bin"
[[ $(sha "$WORK/x2.bin") != "$(sha "$WORK/a/f.bin")" ]] || fail "m2.iso f.bin holds the removed item's bytes"
assert_eq "$(sha "$WORK/x2.bin")" "$(sha "$WORK/b/f.bin")" "m2.iso f.bin"
b_blob=$(sqlite3 "$store/catalog.db" "SELECT blob FROM tree_entries WHERE path LIKE '%f.bin'")
[[ ",$old_blobs," != *",$b_blob,"* ]] || fail "b's blob got id $b_blob, which named a blob before ($old_blobs)"

check "gc has removed the pack m1 was read from; the mount lets go of it and reads m2 right"
wait_until 5 bash -c "! test -e '$mnt/m1.iso'" || fail "m1.iso is still listed"
tsm "$store" -q gc >/dev/null
packs_after=$(ls "$store/packs")
gone=$(comm -23 <(echo "$packs_before") <(echo "$packs_after") | tr '\n' ' ')
[[ -n $gone ]] || fail "gc removed no pack (before: $packs_before; after: $packs_after)"
note "gc removed: $gone"
wait_until 5 no_deleted_packs ||
	fail "tsmediafs still holds $(deleted_packs) removed pack(s) open: $(ls -l "/proc/$FS_PID/fd" | grep deleted || true)"
extract "$mnt/m2.iso" "$WORK/x3.bin"
assert_eq "$(sha "$WORK/x3.bin")" "$(sha "$WORK/b/f.bin")" "m2.iso f.bin after compaction"
assert_eq "$(deleted_packs)" 0 "removed packs held open after reading again"
fs_stop "$mnt"
pass
