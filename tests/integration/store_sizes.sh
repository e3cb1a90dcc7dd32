#!/usr/bin/env bash
# Sizes the store reads from its catalog (a file like any other) are checked
# before use: a chunk size past TSM_CHUNK_MAX that a 32-bit cast would have
# wrapped to a plausible one, negative sizes, an offset whose end overflows,
# a negative blob size and a malformed next_pack_id each give a clear error
# naming the thing, and never bytes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

store=$WORK/store
init_store "$store" --compression none
mkdir -p "$WORK/src"
randfile "$WORK/src/f.bin" 200000
id=$(add_content "$store" --kind package --name sizes "$WORK/src")
tsm "$store" content cat "$id" f.bin >"$WORK/out.bin"
cmp -s "$WORK/out.bin" "$WORK/src/f.bin" || fail "content cat of an intact store differs"
q() { sqlite3 "$store/catalog.db" "$1"; }
read -r cid csize cstored coff < <(q "SELECT id, size, stored_size, offset FROM chunks ORDER BY id LIMIT 1" | tr '|' ' ')

# bad SQL-SET WHAT REGEX: with the change, cat and verify fail naming it.
bad() {
	q "UPDATE chunks SET $1 WHERE id = $cid"
	expect_fail_with "$3" -- tsm "$store" content cat "$id" f.bin
	expect_fail_with "$3" -- tsm "$store" verify
	q "UPDATE chunks SET size = $csize, stored_size = $cstored, offset = $coff WHERE id = $cid"
	note "$2: refused"
}

check "chunk sizes and offsets from the catalog are checked before use"
bad "size = $((csize + (1 << 32))), stored_size = $((cstored + (1 << 32)))" \
	"a size that wraps to the right one in 32 bits" "chunk $cid has a size out of range"
bad "stored_size = -1" "a negative stored size" "chunk $cid has a size out of range"
bad "offset = 9223372036854775800" "an offset whose end overflows" "chunk $cid has an offset out of range"
bad "offset = -5" "a negative offset" "chunk $cid has an offset out of range"
tsm "$store" content cat "$id" f.bin >"$WORK/out.bin"
cmp -s "$WORK/out.bin" "$WORK/src/f.bin" || fail "content cat after restoring the rows differs"

check "a negative blob size is refused"
bid=$(q "SELECT blob FROM tree_entries WHERE path LIKE '%f.bin'")
bsize=$(q "SELECT size FROM blobs WHERE id = $bid")
q "UPDATE blobs SET size = -1 WHERE id = $bid"
expect_fail_with "blob $bid has a negative size" -- tsm "$store" content cat "$id" f.bin
q "UPDATE blobs SET size = $bsize WHERE id = $bid"

check "a malformed next_pack_id is refused and the catalog left as it was"
store2=$WORK/store2
init_store "$store2"
for v in 12abc '' -3 99999999999999999999; do
	sqlite3 "$store2/catalog.db" "UPDATE meta SET value = '$v' WHERE key = 'next_pack_id'"
	before=$(catalog_digest "$store2")
	expect_fail_with "next_pack_id '$v' is not a pack number" -- \
		tsm "$store2" content add --kind package --name x "$WORK/src"
	assert_eq "$(catalog_digest "$store2")" "$before" "catalog after a refused import"
	assert_eq "$(ls "$store2/packs" | wc -l)" 0 "packs after a refused import"
done
pass
