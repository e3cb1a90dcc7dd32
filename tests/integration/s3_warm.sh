#!/usr/bin/env bash
# A frontend's warm reads (core/store/remote.c, win_checked) against a real
# Ceph RADOS Gateway (lib_rgw.sh):
#   - after a cold sequential read, reading the media again hashes no
#     cached chunk: every chunk the fetches and streams checked is known
#     checked in its window's file as it is now, however many chunks the
#     cache holds (a direct-mapped table of checked chunks lost the chunks
#     that shared a slot, and each warm read hashed them again);
#   - a frontend started on that cache (windows found at start) hashes the
#     chunks it reads, and gives the same bytes;
#   - a window changed on disk after its check is hashed again and fetched
#     again, never served.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rgw.sh"

fs_require
rgw_start
URL=s3://tsm-warm/site
store=$WORK/writer
tsm "$store" -q init --s3 "$URL" --endpoint "$RGW_ENDPOINT" --region "$RGW_REGION" --compression none
mkdir -p "$WORK/tree"
# 64 MiB of random bytes: about a thousand chunks (64 KiB on average),
# enough that some would share a slot of a 65536-slot table.
randfile "$WORK/tree/image.bin" $((64 << 20))
id=$(add_content "$store" --kind package --name Warm "$WORK/tree")
tsm "$store" media create --type data --name warm --content "$id" >/dev/null
tsm "$store" media export warm -o "$WORK/warm.iso" >/dev/null
nchunks=$(sqlite3 "$store/catalog.db" "SELECT count(*) FROM chunks")
note "$nchunks chunks"

# fe_start: the frontend at $WORK/fe.mnt, its metrics port in FE_PORT.  A
# port found free can be taken by another process before the frontend
# listens there: then the frontend exits at once and is started again on
# another port.
fe_start() {
	local pid try
	mkdir -p "$WORK/fe.mnt"
	for try in 1 2 3; do
		FE_PORT=$(_rgw_free_port)
		"$TSMEDIAFS" --remote "$URL" --endpoint "$RGW_ENDPOINT" --region "$RGW_REGION" \
			--cache "$WORK/fe.cache" --frontend-id warm "$WORK/fe.mnt" -f \
			-o "poll=1s,metrics=127.0.0.1:$FE_PORT" 2>>"$WORK/fe.log" &
		pid=$!
		FE_PID=$pid
		at_exit "fusermount3 -u '$WORK/fe.mnt' 2>/dev/null; kill -9 $pid 2>/dev/null"
		wait_until 30 bash -c "mountpoint -q '$WORK/fe.mnt' || ! kill -0 $pid 2>/dev/null" || true
		mountpoint -q "$WORK/fe.mnt" && return 0
		kill -0 "$pid" 2>/dev/null || ! grep -q "cannot listen there" "$WORK/fe.log" || continue
		break
	done
	cat "$WORK/fe.log" >&2
	fail "the frontend did not mount"
}
fe_stop() {
	fusermount3 -u "$WORK/fe.mnt"
	wait_until 30 bash -c "! kill -0 $FE_PID 2>/dev/null" || fail "the frontend did not exit"
}
metric() { curl -sf "http://127.0.0.1:$FE_PORT/metrics" | sed -n "s/^$1 //p"; }
# Reads through the frontend's own reads: the kernel's page cache of the
# file is dropped first (keep_cache would serve a second read from it).
read_cmp() {
	python3 -c "import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)" "$WORK/fe.mnt/warm.iso"
	cmp "$WORK/fe.mnt/warm.iso" "$WORK/warm.iso" || fail "$1: warm.iso differs from media export"
}

check "a warm read after a cold one hashes no cached chunk and gives media export's bytes"
fe_start
read_cmp "cold read"
hits0=$(metric tsmediafs_cache_hits_total)
re0=$(metric tsmediafs_cache_rechecks_total)
read_cmp "warm read 1"
read_cmp "warm read 2"
hits1=$(metric tsmediafs_cache_hits_total)
re1=$(metric tsmediafs_cache_rechecks_total)
note "cache hits $hits0 -> $hits1, rechecks $re0 -> $re1"
[[ $re0 =~ ^[0-9]+$ && $re1 =~ ^[0-9]+$ ]] || fail "no tsmediafs_cache_rechecks_total in the metrics"
assert_ge "$((hits1 - hits0))" "$nchunks" "cache hits of the two warm reads"
assert_eq "$re1" "$re0" "cached chunks hashed again by the warm reads"
fe_stop

check "a frontend started on that cache hashes the chunks it reads, and gives the same bytes"
fe_start
read_cmp "read after a restart"
re2=$(metric tsmediafs_cache_rechecks_total)
note "rechecks after a restart: $re2"
assert_ge "$re2" 1 "cached chunks hashed by the first read after a restart"
assert_eq "$(metric tsmediafs_cache_misses_total)" 0 "cache misses after a restart"
fe_stop

check "a window changed on disk after its check is hashed again and fetched again, never served"
fe_start
read_cmp "read before the damage"
win=$(ls -S "$WORK/fe.cache/chunks" | head -1)
printf '\xff\xfe\xfd' | dd of="$WORK/fe.cache/chunks/$win" bs=1 seek=4096 conv=notrunc status=none
read_cmp "read after the damage"
grep -q "removed, fetched again" "$WORK/fe.log" || fail "the frontend did not report the damaged window"
fe_stop
