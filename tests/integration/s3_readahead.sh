#!/usr/bin/env bash
# A frontend's read-ahead against a real Ceph RADOS Gateway (lib_rgw.sh):
#   - a random reader (one read in the middle of a media, on a fresh
#     frontend) makes only windows of at most 4 MiB: what a miss fetches and
#     queues;
#   - a sequential reader gets the media's bytes and is read ahead in larger
#     windows (16 MiB), and no byte of a pack is fetched twice (the cache's
#     windows do not overlap);
#   - a cached window damaged after its chunks were checked (bytes a reply
#     would splice from it) is checked again, dropped and fetched again:
#     the right bytes, never the damaged ones.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rgw.sh"

fs_require
rgw_start
URL=s3://tsm-readahead/site
store=$WORK/writer
tsm "$store" -q init --s3 "$URL" --endpoint "$RGW_ENDPOINT" --region "$RGW_REGION" --compression none
mkdir -p "$WORK/tree"
randfile "$WORK/tree/image.bin" $((64 << 20))
id=$(add_content "$store" --kind package --name Readahead "$WORK/tree")
tsm "$store" media create --type data --name ra --content "$id" >/dev/null
tsm "$store" media export ra -o "$WORK/ra.iso" >/dev/null

mkdir -p "$WORK/fe.mnt"
"$TSMEDIAFS" --remote "$URL" --endpoint "$RGW_ENDPOINT" --region "$RGW_REGION" \
	--cache "$WORK/fe.cache" --frontend-id ra "$WORK/fe.mnt" -f -o poll=1s 2>>"$WORK/fe.log" &
fe=$!
at_exit "fusermount3 -u '$WORK/fe.mnt'; kill -9 $fe"
wait_until 30 mountpoint -q "$WORK/fe.mnt" || { cat "$WORK/fe.log" >&2; fail "the frontend did not mount"; }

# windows: "START END" of each cache window of pack 1 (hex in the names), sorted.
windows() {
	ls "$WORK/fe.cache/chunks" | sed -n 's/^pack-00000001-\([0-9a-f]*\)-\([0-9a-f]*\)$/\1 \2/p' |
		while read -r s e; do echo $((16#$s)) $((16#$e)); done | sort -n
}
largest() { windows | awk '{ if ($2 - $1 > m) m = $2 - $1 } END { print m + 0 }'; }

check "a random reader's miss makes windows of at most 4 MiB"
dd if="$WORK/fe.mnt/ra.iso" of="$WORK/piece" bs=64K skip=480 count=1 status=none
cmp "$WORK/piece" <(dd if="$WORK/ra.iso" bs=64K skip=480 count=1 status=none) ||
	fail "the random read's bytes differ from the export"
sleep 2 # its read-ahead requests end
[[ -n $(windows) ]] || fail "no window in the cache after a read"
assert_le "$(largest)" $((4 << 20)) "largest window after one random read"

check "a sequential reader is read ahead in 16 MiB windows, no byte fetched twice"
cmp "$WORK/fe.mnt/ra.iso" "$WORK/ra.iso" || fail "the frontend's ra.iso differs from the export"
sleep 2
big=$(largest)
assert_ge "$big" $((8 << 20)) "largest window after a sequential read"
assert_le "$big" $((16 << 20)) "largest window after a sequential read"
windows | awk 'NR > 1 && $1 < end { print "windows overlap at " $1; bad = 1 } { end = $2 }
	END { exit bad }' || fail "cache windows overlap: bytes fetched twice"
note "$(windows | wc -l) windows, the largest $big bytes"

check "a checked cache window damaged on disk is checked again and fetched again, never served"
win=$(ls -S "$WORK/fe.cache/chunks" | head -1)
printf '\xff\xfe\xfd' | dd of="$WORK/fe.cache/chunks/$win" bs=1 seek=4096 conv=notrunc status=none
cmp "$WORK/fe.mnt/ra.iso" "$WORK/ra.iso" || fail "the frontend served a damaged cache window"
grep -q "removed, fetched again" "$WORK/fe.log" || fail "the frontend did not report the damaged window"
