#!/usr/bin/env bash
# A store on S3-compatible object storage, against a real Ceph RADOS Gateway
# started by the test (lib_rgw.sh):
#   - init --s3, content add and media create upload every pack (the same
#     bytes as the writer's file) and publish the catalog (catalog/CURRENT);
#   - two tsmediafs --remote frontends side by side serve the same bytes as
#     `media export` on the writer; a content change is served by both at
#     their next open within the poll interval;
#   - an open file on a frontend keeps reading its snapshot across a content
#     update and gc;
#   - radosgw killed and restarted during a read: EIO or the right bytes,
#     never wrong ones, and right bytes afterwards;
#   - an object overwritten behind tsmedia's back is EIO on a frontend and
#     named by `verify` on the writer;
#   - SIGKILL of the writer during uploads leaves a store `verify` passes,
#     and gc cleans the pack objects no catalog names (after the grace);
#   - a frontend whose lease expired is forgotten by gc after the grace.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rgw.sh"

fs_require
command -v curl >/dev/null || fail "curl is not installed"

rgw_start
BUCKET=tsm-test
URL=s3://$BUCKET/site1
store=$WORK/writer

# fe_start NAME [ARGS...]: a frontend mounted at $WORK/NAME.mnt with its cache
# in $WORK/NAME.cache, messages in $WORK/NAME.log; sets FE_PID_NAME.
fe_start() {
	local name=$1 mnt=$WORK/$1.mnt pid
	shift
	mkdir -p "$mnt"
	"$TSMEDIAFS" --remote "$URL" --endpoint "$RGW_ENDPOINT" --region "$RGW_REGION" \
		--cache "$WORK/$name.cache" --frontend-id "$name" "$mnt" -f -o poll=1s "$@" \
		2>>"$WORK/$name.log" &
	pid=$!
	printf -v "FE_PID_$name" %s "$pid"
	at_exit "fusermount3 -u '$mnt'; kill -9 $pid"
	wait_until 30 mountpoint -q "$mnt" || {
		cat "$WORK/$name.log" >&2
		fail "frontend $name did not mount within 30 s"
	}
}
fe_stop() {
	local pid_var=FE_PID_$1
	fusermount3 -u "$WORK/$1.mnt" 2>/dev/null || true
	wait "${!pid_var}" 2>/dev/null || true
}
objects() { # objects PREFIX: keys under the store's prefix, one a line
	rgw_curl "$RGW_ENDPOINT/$BUCKET?list-type=2&prefix=site1%2F${1//\//%2F}" |
		python3 -c 'import sys, xml.etree.ElementTree as E
ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
for c in E.parse(sys.stdin).getroot().iter(ns + "Key"):
    print(c.text)'
}

check "init --s3 refuses a world-readable credentials file, with a clear message"
printf 'AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$WORK/creds"
chmod 644 "$WORK/creds"
expect_fail_with "refusing the credentials file .*creds.*private" -- \
	env TSMEDIA_S3_CREDENTIALS="$WORK/creds" "$TSMEDIA" --store "$store" init --s3 "$URL" \
	--endpoint "$RGW_ENDPOINT" --region "$RGW_REGION"
[[ ! -e $store/catalog.db ]] || fail "a refused init left $store/catalog.db"

check "init --s3 with a private credentials file publishes generation 1"
chmod 600 "$WORK/creds"
TSMEDIA_S3_CREDENTIALS=$WORK/creds tsm "$store" init --s3 "$URL" --endpoint "$RGW_ENDPOINT" \
	--region "$RGW_REGION" --compression zstd >/dev/null
rgw_curl "$RGW_ENDPOINT/$BUCKET/site1/catalog/CURRENT" >"$WORK/current"
grep -qx 'generation 1' "$WORK/current" || fail "catalog/CURRENT: $(cat "$WORK/current")"
expect_fail_with "already holds a store" -- tsm "$WORK/other" init --s3 "$URL" --endpoint "$RGW_ENDPOINT"

check "content add and media create upload the packs and publish the catalog"
mkdir -p "$WORK/a/sub"
randfile "$WORK/a/big.bin" $((24 << 20))
randfile "$WORK/a/sub/mid.bin" $((3 << 20))
seq 1 200000 >"$WORK/a/sub/text.txt" # compressible: zstd chunks too
ida=$(add_content "$store" --kind package --name A "$WORK/a")
tsm "$store" media create --type data --name alpha --content "$ida" >/dev/null
tsm "$store" media export alpha -o "$WORK/alpha.1.iso"
npacks=0
for p in "$store"/packs/pack-*.pack; do
	name=$(basename "$p")
	rgw_curl -o "$WORK/obj" "$RGW_ENDPOINT/$BUCKET/site1/packs/$name" ||
		fail "pack object packs/$name is missing"
	cmp -s "$WORK/obj" "$p" || fail "pack object packs/$name differs from the writer's pack"
	npacks=$((npacks + 1))
done
((npacks >= 1)) || fail "no packs in the writer's store"
gen=$(rgw_curl "$RGW_ENDPOINT/$BUCKET/site1/catalog/CURRENT" | sed -n 's/^generation //p')
assert_ge "$gen" 3 "catalog generation after init, content add and media create"
rgw_curl -o "$WORK/published.db" "$RGW_ENDPOINT/$BUCKET/site1/catalog/$(printf %020d "$gen").db"
want=$(rgw_curl "$RGW_ENDPOINT/$BUCKET/site1/catalog/CURRENT" | sed -n 's/^sha256 //p')
assert_eq "$(sha "$WORK/published.db")" "$want" "published catalog's SHA-256"
assert_eq "$(sqlite3 "$WORK/published.db" "SELECT name FROM media")" "alpha" "media in the published catalog"
assert_eq "$(sqlite3 "$WORK/published.db" "SELECT count(*) FROM meta WHERE key LIKE 'remote%'")" 0 \
	"the writer's object storage settings in the published catalog"
note "$npacks packs uploaded and identical; generation $gen published"

check "two frontends side by side serve the same bytes as media export"
fe_start fe1 -o lease=6s
fe_start fe2 -o lease=6s
cmp "$WORK/fe1.mnt/alpha.iso" "$WORK/alpha.1.iso" || fail "fe1: alpha.iso differs from the export"
# fe2's cache is cold: two readers at once (their requests for the same
# windows are coalesced), both must get the export's bytes.
cmp "$WORK/fe2.mnt/alpha.iso" "$WORK/alpha.1.iso" & r1=$!
cmp "$WORK/fe2.mnt/alpha.iso" "$WORK/alpha.1.iso" & r2=$!
wait "$r1" || fail "fe2, first of two concurrent readers: alpha.iso differs from the export"
wait "$r2" || fail "fe2, second of two concurrent readers: alpha.iso differs from the export"

check "a cached window damaged on the frontend's disk is checked, dropped and fetched again"
win=$(ls "$WORK/fe1.cache/chunks" | head -1)
[[ -n $win ]] || fail "no window in fe1's cache"
printf '\xff\xfe\xfd' | dd of="$WORK/fe1.cache/chunks/$win" bs=1 seek=100 conv=notrunc status=none
cmp "$WORK/fe1.mnt/alpha.iso" "$WORK/alpha.1.iso" || fail "fe1 served a damaged cache window"
grep -q "removed, fetched again" "$WORK/fe1.log" || fail "fe1 did not report the damaged cache window"
fetched=$(du -sb "$WORK/fe1.cache/chunks" | cut -f1)
assert_ge "$fetched" $((20 << 20)) "bytes in fe1's chunk cache after one read"

check "tsmedia frontends lists both, with their generation"
# frontend_ids: the first column of `tsmedia frontends`, one a line.
frontend_ids() { tsm "$store" frontends | awk 'NR > 1 { print $1 }' | sort; }
wait_until 20 bash -c "'$TSMEDIA' --store '$store' frontends | awk 'NR > 1 { print \$1 }' | sort | paste -sd, | grep -qx fe1,fe2" ||
	fail "frontends does not list fe1 and fe2: $(tsm "$store" frontends 2>&1)"
tsm "$store" frontends

check "an open file keeps its snapshot across a content update and gc"
python3 - "$WORK/fe1.mnt/alpha.iso" "$WORK/old.sha" "$WORK/reader.ready" "$WORK/reader.go" <<'PY' &
import hashlib, os, sys, time
path, out, ready, go = sys.argv[1:]
h = hashlib.sha256()
with open(path, 'rb') as f:
    h.update(f.read(1 << 20))
    open(ready, 'w').close()
    while not os.path.exists(go):
        time.sleep(0.05)
    while True:
        b = f.read(1 << 20)
        if not b:
            break
        h.update(b)
open(out, 'w').write(h.hexdigest())
PY
reader=$!
wait_until 20 test -e "$WORK/reader.ready" || fail "reader did not start"
# The lease names the open file's versions within a third of its life.
sleep 3
rm -rf "$WORK/fe1.cache/chunks"/* # the rest of the old bytes must come from object storage
mkdir -p "$WORK/a2/sub"
randfile "$WORK/a2/big.bin" $((20 << 20))
echo two >"$WORK/a2/sub/tag.txt"
t0=$(date +%s.%N)
add_content "$store" --kind package --name A --id "$ida" "$WORK/a2" >/dev/null
tsm "$store" media export alpha -o "$WORK/alpha.2.iso"

check "the change is served by both frontends at their next open, within the poll interval"
for fe in fe1 fe2; do
	wait_until 20 cmp -s "$WORK/$fe.mnt/alpha.iso" "$WORK/alpha.2.iso" ||
		fail "$fe still serves the old alpha.iso 20 s after the change"
done
t1=$(date +%s.%N)
note "content add -> readable on both frontends: $(python3 -c "print(round($t1 - $t0, 1))") s (poll 1 s)"
tsm "$store" gc --grace 1s >/dev/null
sleep 2
tsm "$store" gc --grace 1s >"$WORK/gc.out"
cat "$WORK/gc.out"
touch "$WORK/reader.go"
wait "$reader" || fail "the reader holding the old snapshot failed"
assert_eq "$(cat "$WORK/old.sha")" "$(sha "$WORK/alpha.1.iso")" "bytes of the snapshot held open across update and gc"
verify_ok "$store"

check "radosgw killed and restarted during a read: EIO or the right bytes, never wrong ones"
mport=$(_rgw_free_port)
fe_start fe3 -o lease=6s,timeout=5s,metrics=127.0.0.1:$mport
python3 - "$WORK/fe3.mnt/alpha.iso" "$WORK/alpha.2.iso" "$WORK/kill.ready" "$WORK/kill.done" >"$WORK/kill.out" <<'PY' &
import os, sys, time
path, ref, ready, done = sys.argv[1:]
want = open(ref, 'rb').read()
got, errors = bytearray(), 0
with open(path, 'rb', buffering=0) as f:
    pos = 0
    while pos < len(want):
        if pos >= (2 << 20) and not os.path.exists(ready):
            open(ready, 'w').close()
            while not os.path.exists(done):
                time.sleep(0.05)
        try:
            f.seek(pos)
            b = f.read(1 << 20)
        except OSError as e:
            errors += 1
            if e.errno != 5:
                print("unexpected error", e); sys.exit(2)
            time.sleep(0.2)
            if errors > 200:
                print("EIO for good"); sys.exit(0)
            continue
        if b != want[pos:pos + len(b)]:
            print("WRONG BYTES at", pos); sys.exit(3)
        if not b:
            break
        pos += len(b)
print("read whole, right bytes; EIO seen", errors, "times")
PY
kreader=$!
wait_until 30 test -e "$WORK/kill.ready" || fail "the reader did not get going"
rgw_stop_gateway KILL
touch "$WORK/kill.done"
sleep 4
rgw_start_gateway
wait "$kreader" || fail "reader across the radosgw restart: $(cat "$WORK/kill.out")"
note "$(cat "$WORK/kill.out")"
grep -q "WRONG" "$WORK/kill.out" && fail "wrong bytes"
cmp "$WORK/fe3.mnt/alpha.iso" "$WORK/alpha.2.iso" || fail "fe3 after radosgw came back: alpha.iso differs"

check "a frontend's metrics: its generation, cache use, hits, misses and bytes fetched"
curl -sf "http://127.0.0.1:$mport/metrics" >"$WORK/fe3.metrics" || fail "no metrics from fe3"
metric() { sed -n "s/^$1 //p" "$WORK/fe3.metrics"; }
gen_now=$(rgw_curl "$RGW_ENDPOINT/$BUCKET/site1/catalog/CURRENT" | sed -n 's/^generation //p')
assert_eq "$(metric tsmediafs_remote_generation)" "$gen_now" "tsmediafs_remote_generation"
assert_ge "$(metric tsmediafs_cache_hits_total)" 1 "tsmediafs_cache_hits_total"
assert_ge "$(metric tsmediafs_cache_misses_total)" 1 "tsmediafs_cache_misses_total"
assert_ge "$(metric tsmediafs_remote_fetched_bytes_total)" "$(stat -c %s "$WORK/a2/big.bin")" \
	"tsmediafs_remote_fetched_bytes_total after reading alpha.iso"
assert_eq "$(metric tsmediafs_cache_bytes)" "$(du -sb --apparent-size "$WORK/fe3.cache/chunks" |
	cut -f1 | xargs -I{} expr {} - "$(stat -c %s "$WORK/fe3.cache/chunks")")" "tsmediafs_cache_bytes"
assert_eq "$(metric tsmediafs_cache_limit_bytes)" $((10 << 30)) "tsmediafs_cache_limit_bytes (the default)"

check "an object overwritten behind tsmedia's back: EIO on a frontend, named by verify"
# The pack that holds the start of a2/big.bin, which alpha.iso serves now.
victim=$(sqlite3 "$store/catalog.db" "SELECT c.pack FROM chunks c JOIN blob_chunks bc ON bc.chunk = c.id
	JOIN blobs b ON b.id = bc.blob WHERE hex(b.sha256) = upper('$(sha "$WORK/a2/big.bin")')
	ORDER BY bc.seq LIMIT 1")
[[ -n $victim ]] || fail "no pack holds a2/big.bin"
vname=$(printf 'pack-%08d.pack' "$victim")
vsize=$(stat -c %s "$store/packs/$vname")
head -c "$vsize" /dev/zero >"$WORK/zeros"
rgw_curl -T "$WORK/zeros" "$RGW_ENDPOINT/$BUCKET/site1/packs/$vname" >/dev/null
fe_start fe4 -o lease=6s
rc=0
cat "$WORK/fe4.mnt/alpha.iso" >"$WORK/fe4.out" 2>"$WORK/fe4.err" || rc=$?
((rc != 0)) || fail "reading alpha.iso over a damaged object succeeded"
grep -q "Input/output error" "$WORK/fe4.err" || fail "not EIO: $(cat "$WORK/fe4.err")"
grep -q "checksum mismatch" "$WORK/fe4.log" || fail "fe4 did not log the damage: $(tail -5 "$WORK/fe4.log")"
expect_fail_with "packs/$vname differs from the pack it was uploaded from" -- tsm "$store" verify
# Put it back from the writer's pack (tsmedia never rewrites an object).
rgw_curl -T "$store/packs/$vname" "$RGW_ENDPOINT/$BUCKET/site1/packs/$vname" >/dev/null
verify_ok "$store"
cmp "$WORK/fe4.mnt/alpha.iso" "$WORK/alpha.2.iso" || fail "fe4 after the object was put back"
fe_stop fe4

check "SIGKILL of the writer during uploads: verify passes, gc cleans the objects"
randfile "$WORK/big3.bin" $((96 << 20))
for delay in 0.5 1.0 1.5 2.5; do
	"$TSMEDIA" --store "$store" content add --kind package --name "K$delay" "$WORK/big3.bin" \
		>/dev/null 2>&1 &
	w=$!
	sleep "$delay"
	kill -9 "$w" 2>/dev/null || true
	wait "$w" 2>/dev/null || true
	verify_ok "$store"
done
# For certain during an upload: radosgw stopped (SIGSTOP), the writer's
# import done and its PUT of the pack under way (its connection to radosgw
# is open), then SIGKILL; radosgw continues.
# catalog_dump STORE OUT: the catalog's rows (a copy is read; packs.verified,
# which verify may note, left out).
catalog_dump() {
	rm -rf "$WORK/dump" && mkdir "$WORK/dump"
	cp "$1/catalog.db" "$WORK/dump/"
	[[ ! -f $1/catalog.db-wal ]] || cp "$1/catalog.db-wal" "$WORK/dump/"
	{
		sqlite3 "$WORK/dump/catalog.db" .dump | grep -v '^INSERT INTO packs'
		sqlite3 "$WORK/dump/catalog.db" "SELECT id, created FROM packs ORDER BY id"
	} >"$2"
}
catalog_dump "$store" "$WORK/before.sql"
# New bytes (an import of bytes the store has makes no pack to upload).
randfile "$WORK/big4.bin" $((48 << 20))
kill -STOP "$RGW_GW_PID"
"$TSMEDIA" --store "$store" content add --kind package --name Kup "$WORK/big4.bin" >/dev/null 2>&1 &
w=$!
wait_until 60 bash -c "ss -Htnp state established '( dport = :$RGW_PORT )' | grep -q 'pid=$w,'" ||
	{ kill -CONT "$RGW_GW_PID"; fail "the writer never connected to radosgw"; }
sleep 0.5
kill -9 "$w"
wait "$w" 2>/dev/null || true
kill -CONT "$RGW_GW_PID"
catalog_dump "$store" "$WORK/after.sql"
diff "$WORK/before.sql" "$WORK/after.sql" >"$WORK/dump.diff" ||
	fail "the catalog changed after a writer killed during its upload: $(head -c 1500 "$WORK/dump.diff")"
verify_ok "$store"
[[ $(tsm "$store" content list) != *Kup* ]] || fail "content of the killed upload is in the catalog"
# What a writer killed between its upload and its commit leaves: a pack
# object no catalog row names (made here by copying a pack to an unused
# number; the race itself is too narrow to hit on purpose).
stray=$(printf 'pack-%08d.pack' 99999)
rgw_curl -T "$(ls "$store"/packs/pack-*.pack | head -1)" "$RGW_ENDPOINT/$BUCKET/site1/packs/$stray" >/dev/null
tsm "$store" gc --grace 30s >/dev/null
[[ $(objects packs/) == *"$stray"* ]] || fail "gc deleted an unnamed pack object before the grace period"
known=$(sqlite3 "$store/catalog.db" "SELECT printf('packs/pack-%08d.pack', id) FROM packs ORDER BY id")
unnamed=$(comm -13 <(echo "$known") <(objects packs/ | sed 's|^site1/||' | sort) | grep -c . || true)
note "pack objects no catalog row names after the kills: $unnamed; local orphan packs: $(comm -13 \
	<(echo "$known" | sed 's|^packs/||') <(ls "$store/packs" | sort) | grep -c . || true)"
tsm "$store" gc --grace 1s >/dev/null
sleep 2
tsm "$store" gc --grace 1s >/dev/null
known=$(sqlite3 "$store/catalog.db" "SELECT printf('packs/pack-%08d.pack', id) FROM packs ORDER BY id")
remote=$(objects packs/ | sed 's|^site1/||' | sort)
assert_eq "$remote" "$known" "pack objects after gc (must be exactly the packs the catalog names)"
verify_ok "$store"

check "a frontend whose lease expired is forgotten by gc after the grace period"
fe_start fe5 -o lease=3s
wait_until 20 bash -c "'$TSMEDIA' --store '$store' frontends | awk '{ print \$1 }' | grep -qx fe5" ||
	fail "fe5 is not listed"
kill -9 "$FE_PID_fe5"
wait "$FE_PID_fe5" 2>/dev/null || true
fusermount3 -u "$WORK/fe5.mnt" 2>/dev/null || true
tsm "$store" gc --grace 4s >/dev/null
[[ $'\n'$(frontend_ids)$'\n' == *$'\n'fe5$'\n'* ]] || fail "gc forgot fe5 before its lease expired and the grace passed"
sleep 8 # the lease (3 s) expires, then the grace (4 s) passes
tsm "$store" gc --grace 4s >/dev/null
if [[ $'\n'$(frontend_ids)$'\n' == *$'\n'fe5$'\n'* ]]; then
	fail "gc did not forget fe5 after its lease expired and the grace passed"
fi
[[ $'\n'$(frontend_ids)$'\n' == *$'\n'fe1$'\n'* ]] || fail "gc forgot fe1, whose lease is live"

check "gc deletes published catalogs no live lease names, older than the grace"
cur=$(rgw_curl "$RGW_ENDPOINT/$BUCKET/site1/catalog/CURRENT" | sed -n 's/^generation //p')
[[ $(objects catalog/) == *"catalog/$(printf %020d "$cur").db"* ]] || fail "gc deleted the current catalog"
left=$(objects catalog/ | grep -c '\.db$')
note "catalog generations: $cur published, $left kept"
assert_le "$left" 3 "published catalogs kept after gc"

for fe in fe1 fe2 fe3; do fe_stop "$fe"; done
pass
