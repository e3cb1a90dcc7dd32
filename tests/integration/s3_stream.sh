#!/usr/bin/env bash
# A sequential reader's streams (core/store/remote.c, pf_stream: one ranged
# GET received straight into the cache, each chunk checked as its bytes
# arrive) against a real Ceph RADOS Gateway (lib_rgw.sh):
#   - a cold sequential read through a frontend gives the bytes of
#     `media export`, most of them through streams (the frontend's
#     metrics), raw and zstd-compressed chunks alike;
#   - a pack object damaged behind tsmedia's back, in the middle of what a
#     stream reads: the reader gets EIO there and right bytes before it,
#     never wrong ones; the cache then holds no window over the damage and
#     no window whose bytes differ from the writer's pack; a later read
#     there is EIO again (nothing bad was taken for good), and once the
#     object is put back the whole media reads right.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rgw.sh"

fs_require
rgw_start
BUCKET=tsm-stream
URL=s3://$BUCKET/site
store=$WORK/writer
tsm "$store" -q init --s3 "$URL" --endpoint "$RGW_ENDPOINT" --region "$RGW_REGION" --compression zstd
# Two contents, so each has a pack of its own (every session writes fresh
# packs): "big" is random bytes only (raw chunks), "mixed" adds text that
# compresses (zstd chunks).
mkdir -p "$WORK/big" "$WORK/mixed"
randfile "$WORK/big/image.bin" $((128 << 20))
idb=$(add_content "$store" --kind package --name Big "$WORK/big")
randfile "$WORK/mixed/a.bin" $((24 << 20))
seq 1 6000000 >"$WORK/mixed/b.txt"
randfile "$WORK/mixed/c.bin" $((24 << 20))
idm=$(add_content "$store" --kind package --name Mixed "$WORK/mixed")
tsm "$store" media create --type data --name big --content "$idb" >/dev/null
tsm "$store" media create --type data --name mixed --content "$idm" >/dev/null
tsm "$store" media export big -o "$WORK/big.iso" >/dev/null
tsm "$store" media export mixed -o "$WORK/mixed.iso" >/dev/null
bigpack=$(sqlite3 "$store/catalog.db" "SELECT DISTINCT c.pack FROM chunks c JOIN blob_chunks bc ON bc.chunk = c.id
	JOIN blobs b ON b.id = bc.blob WHERE hex(b.sha256) = upper('$(sha "$WORK/big/image.bin")')")
[[ $bigpack =~ ^[0-9]+$ ]] || fail "image.bin is not in exactly one pack: '$bigpack'"
zchunks=$(sqlite3 "$store/catalog.db" "SELECT count(*) FROM chunks WHERE codec != 0")
assert_ge "$zchunks" 1 "zstd-compressed chunks in the store"

# fe_start NAME: a frontend at $WORK/NAME.mnt, cache $WORK/NAME.cache, its
# metrics on a port of its own (FE_METRICS_NAME), messages in $WORK/NAME.log.
fe_start() {
	local name=$1 mnt=$WORK/$1.mnt pid port
	port=$(_rgw_free_port)
	mkdir -p "$mnt"
	"$TSMEDIAFS" --remote "$URL" --endpoint "$RGW_ENDPOINT" --region "$RGW_REGION" \
		--cache "$WORK/$name.cache" --frontend-id "$name" "$mnt" -f \
		-o "poll=1s,metrics=127.0.0.1:$port" 2>>"$WORK/$name.log" &
	pid=$!
	printf -v "FE_METRICS_$name" %s "$port"
	at_exit "fusermount3 -u '$mnt'; kill -9 $pid"
	wait_until 30 mountpoint -q "$mnt" || { cat "$WORK/$name.log" >&2; fail "frontend $name did not mount"; }
}
metric() { # metric FRONTEND NAME
	local port_var=FE_METRICS_$1
	curl -sf "http://127.0.0.1:${!port_var}/metrics" | sed -n "s/^$2 //p"
}

check "a cold sequential read through a frontend is media export's bytes, through streams"
fe_start fe1
cmp "$WORK/fe1.mnt/big.iso" "$WORK/big.iso" || fail "fe1: big.iso differs from media export"
cmp "$WORK/fe1.mnt/mixed.iso" "$WORK/mixed.iso" || fail "fe1: mixed.iso differs from media export"
streams=$(metric fe1 tsmediafs_remote_streams_total)
streamed=$(metric fe1 tsmediafs_remote_streamed_bytes_total)
fetched=$(metric fe1 tsmediafs_remote_fetched_bytes_total)
note "$streams streams, $streamed of $fetched bytes fetched through them"
assert_ge "$streams" 2 "streams of the two sequential reads"
assert_ge "$((streamed * 2))" "$fetched" "twice the bytes streamed, against all fetched"
[[ -z $(ls -A "$WORK/fe1.cache/chunks" | grep '\.tmp$' || true) ]] || fail "a stream left a temporary file"
# Every window the streams made holds exactly the writer's pack bytes.
pack_bytes() { tail -c +$(($2 + 1)) "$1" | head -c $(($3 - $2)); }
windows_check() { # windows_check CACHE-CHUNKS-DIR [DAMAGED-OFFSET]
	local f n s e p
	for f in "$1"/pack-*; do
		[[ -e $f ]] || continue
		n=${f##*/}
		IFS=- read -r _ p s e <<<"$n"
		s=$((16#$s)) e=$((16#$e))
		cmp -s "$f" <(pack_bytes "$store/packs/pack-$p.pack" "$s" "$e") ||
			fail "cache window $n differs from the writer's pack"
		if [[ -n ${2:-} && $((10#$p)) == "$bigpack" ]] && ((s <= $2 && $2 < e)); then
			fail "cache window $n covers the damaged byte at $2"
		fi
	done
	return 0
}
windows_check "$WORK/fe1.cache/chunks"
largest=0
for f in "$WORK/fe1.cache/chunks"/pack-*; do
	IFS=- read -r _ _ s e <<<"${f##*/}"
	((16#$e - 16#$s <= largest)) || largest=$((16#$e - 16#$s))
done
assert_ge "$largest" $((8 << 20)) "largest cache window (a stream's)"
assert_le "$largest" $((16 << 20)) "largest cache window (a stream's)"

check "a pack object damaged in the middle of a stream: EIO there, never wrong bytes, nothing bad cached"
vname=$(printf 'pack-%08d.pack' "$bigpack")
cp "$store/packs/$vname" "$WORK/damaged.pack"
# 60 MiB in: past the first windows a miss fetches (4 MiB, then four more),
# inside the first stream (it starts about 20 MiB in, 128 MiB long).
D=$(((60 << 20) + 12345))
printf '\x00\x01\x02\x03\x04\x05\x06\x07' | dd of="$WORK/damaged.pack" bs=1 seek="$D" conv=notrunc status=none
cmp -s "$WORK/damaged.pack" "$store/packs/$vname" && fail "the damage changed nothing"
rgw_curl -T "$WORK/damaged.pack" "$RGW_ENDPOINT/$BUCKET/site/packs/$vname" >/dev/null
fe_start fe2
read_until_eio() { # read_until_eio FILE REF: prints "eio POS" or "whole"; exit 3 on wrong bytes
	python3 - "$1" "$2" <<'PY'
import os, sys
path, ref = sys.argv[1:]
want = open(ref, 'rb').read()
fd = os.open(path, os.O_RDONLY)
pos = 0
while pos < len(want):
    try:
        b = os.read(fd, 1 << 20)
    except OSError as e:
        if e.errno != 5:
            print("unexpected error", e); sys.exit(2)
        print("eio", pos); sys.exit(0)
    if not b:
        break
    if b != want[pos:pos + len(b)]:
        print("WRONG BYTES at", pos); sys.exit(3)
    pos += len(b)
print("whole")
PY
}
out=$(read_until_eio "$WORK/fe2.mnt/big.iso" "$WORK/big.iso") || fail "reader over the damaged object: $out"
[[ $out == eio* ]] || fail "reading big.iso over a damaged object: $out (no EIO)"
eio=${out#eio }
note "EIO at byte $eio of big.iso (damage at byte $D of its pack)"
assert_ge "$eio" $((24 << 20)) "where the reader met EIO (past the first windows, in a stream)"
assert_le "$eio" $((D + (2 << 20))) "where the reader met EIO (at the damage)"
assert_ge "$(metric fe2 tsmediafs_remote_streams_total)" 1 "streams when the damage was met"
grep -q "checksum mismatch" "$WORK/fe2.log" || fail "fe2 did not log the damage: $(tail -5 "$WORK/fe2.log")"
wait_until 10 bash -c "! ls -A '$WORK/fe2.cache/chunks' | grep -q '\.tmp\$'" ||
	fail "a failed stream left a temporary file: $(ls -A "$WORK/fe2.cache/chunks")"
windows_check "$WORK/fe2.cache/chunks" "$D"
# A later read there takes nothing for good: EIO again, right bytes before.
out=$(read_until_eio "$WORK/fe2.mnt/big.iso" "$WORK/big.iso") || fail "second reader: $out"
[[ $out == "eio $eio" ]] || fail "a second read over the damage: $out (expected EIO at $eio again)"
windows_check "$WORK/fe2.cache/chunks" "$D"

check "the object put back: the whole media reads right on the same frontend"
rgw_curl -T "$store/packs/$vname" "$RGW_ENDPOINT/$BUCKET/site/packs/$vname" >/dev/null
cmp "$WORK/fe2.mnt/big.iso" "$WORK/big.iso" || fail "fe2 after the object was put back: big.iso differs"
windows_check "$WORK/fe2.cache/chunks"

for fe in fe1 fe2; do fusermount3 -u "$WORK/$fe.mnt" 2>/dev/null || true; done
pass
