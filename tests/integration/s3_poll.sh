#!/usr/bin/env bash
# A frontend's catalog polls and its lease, against a real Ceph RADOS Gateway
# (lib_rgw.sh):
#   - the lease is renewed on a thread of its own: while a catalog poll is
#     held up (the switch to a new generation waits for the mirror's
#     gc.lock, which the test holds shared as a long reader would), the
#     lease keeps being renewed and never lapses; once the poll goes
#     through, the lease names the new generation at once; a clean unmount
#     deletes the lease (the thread is stopped first, so nothing writes it
#     again);
#   - a published catalog whose SHA-256 matches catalog/CURRENT but which is
#     a damaged sqlite database is refused (quick_check on a defensive
#     connection): a new frontend does not mount, naming it; a running one
#     keeps the catalog it has and keeps serving.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rgw.sh"

fs_require
command -v curl >/dev/null || fail "curl is not installed"
command -v flock >/dev/null || fail "flock is not installed (Debian: util-linux)"

rgw_start
BUCKET=tsm-lease
URL=s3://$BUCKET/l1
store=$WORK/writer
tsm "$store" -q init --s3 "$URL" --endpoint "$RGW_ENDPOINT" --region "$RGW_REGION"
mkdir -p "$WORK/a"
randfile "$WORK/a/a.bin" $((2 << 20))
ida=$(add_content "$store" --kind package --name A "$WORK/a")
tsm "$store" media create --type data --name alpha --content "$ida" >/dev/null

# lease_field NAME: a field of the frontend's lease object (empty when none).
lease_field() {
	rgw_curl "$RGW_ENDPOINT/$BUCKET/l1/leases/lf" 2>/dev/null | sed -n "s/^$1 //p"
}
# lease_is NAME VALUE: whether the lease's field NAME is VALUE (for wait_until).
lease_is() { [[ $(lease_field "$1") == "$2" ]]; }
lease_has() { [[ -n $(lease_field "$1") ]]; }
current_gen() { rgw_curl "$RGW_ENDPOINT/$BUCKET/l1/catalog/CURRENT" | sed -n 's/^generation //p'; }

mkdir -p "$WORK/fe.mnt"
"$TSMEDIAFS" --remote "$URL" --endpoint "$RGW_ENDPOINT" --region "$RGW_REGION" \
	--cache "$WORK/fe.cache" --frontend-id lf "$WORK/fe.mnt" -f -o poll=1s,lease=3s \
	2>>"$WORK/fe.log" &
fe=$!
at_exit "fusermount3 -u '$WORK/fe.mnt'; kill -9 $fe"
wait_until 30 mountpoint -q "$WORK/fe.mnt" || { cat "$WORK/fe.log" >&2; fail "the frontend did not mount"; }
wait_until 20 lease_has renewed || fail "the frontend wrote no lease"
gen0=$(current_gen)
wait_until 20 lease_is generation "$gen0" || fail "the lease does not name generation $gen0"

check "the lease is renewed while the catalog poll waits (a switch held up for 10 s)"
flock -s "$WORK/fe.cache/store/gc.lock" sleep 10 &
holder=$!
at_exit "kill $holder"
sleep 0.5
mkdir -p "$WORK/b"
randfile "$WORK/b/b.bin" $((1 << 20))
add_content "$store" --kind package --name B "$WORK/b" >/dev/null
gen1=$(current_gen)
assert_eq "$gen1" $((gen0 + 1)) "generation after content add"
sleep 2 # the poller has seen generation $gen1 and waits for gc.lock
r0=$(lease_field renewed)
for i in 1 2 3 4 5; do
	sleep 1
	e=$(lease_field expires)
	now=$(date +%s)
	((e > now)) || fail "the lease expired (at $e, now $now) while the poll was held up"
done
r1=$(lease_field renewed)
((r1 > r0)) || fail "the lease was not renewed while the poll was held up (renewed $r0, then $r1)"
kill -0 "$holder" 2>/dev/null || fail "the test's hold on gc.lock ended too early to mean anything"
assert_eq "$(lease_field generation)" "$gen0" "generation the lease names while the switch waits"
note "renewed at $r0, then at $r1, while the switch to generation $gen1 waited"

check "once the poll goes through, the lease names the new generation"
wait "$holder" 2>/dev/null || true
wait_until 15 lease_is generation "$gen1" ||
	fail "the lease still names generation $(lease_field generation), not $gen1"
grep -q "switched to catalog generation $gen1" "$WORK/fe.log" || fail "the frontend did not switch to $gen1"

check "a damaged catalog behind a matching CURRENT is refused"
tsm "$store" media export alpha -o "$WORK/alpha.iso"
# The newest generation, damaged in its second half (b-tree pages of the
# catalog's tables), published as the next one with its true SHA-256.
rgw_curl -o "$WORK/gen.db" "$RGW_ENDPOINT/$BUCKET/l1/catalog/$(printf %020d "$gen1").db"
size=$(stat -c %s "$WORK/gen.db")
assert_ge "$size" 16384 "bytes of the published catalog"
for ((off = size / 2; off + 512 <= size; off += 4096)); do
	head -c 512 /dev/urandom | dd of="$WORK/gen.db" bs=512 seek=$((off / 512)) conv=notrunc status=none
done
gen2=$((gen1 + 1))
rgw_curl -T "$WORK/gen.db" "$RGW_ENDPOINT/$BUCKET/l1/catalog/$(printf %020d "$gen2").db" >/dev/null
printf 'tsmedia-catalog 1\ngeneration %d\nsha256 %s\nsize %d\n' "$gen2" "$(sha "$WORK/gen.db")" "$size" \
	>"$WORK/CURRENT"
rgw_curl -T "$WORK/CURRENT" "$RGW_ENDPOINT/$BUCKET/l1/catalog/CURRENT" >/dev/null
wait_until 15 grep -q "not a sound sqlite database" "$WORK/fe.log" ||
	fail "the running frontend did not refuse the damaged generation $gen2: $(tail -5 "$WORK/fe.log")"
grep -q "switched to catalog generation $gen2" "$WORK/fe.log" && fail "the frontend switched to the damaged generation"
cmp "$WORK/fe.mnt/alpha.iso" "$WORK/alpha.iso" || fail "the frontend no longer serves alpha.iso as exported"
mkdir -p "$WORK/fe2.mnt"
expect_fail_with "not a sound sqlite database" -- timeout 60 "$TSMEDIAFS" --remote "$URL" \
	--endpoint "$RGW_ENDPOINT" --region "$RGW_REGION" --cache "$WORK/fe2.cache" \
	--frontend-id lf2 "$WORK/fe2.mnt" -f
mountpoint -q "$WORK/fe2.mnt" && fail "a frontend mounted the damaged catalog"

check "a clean unmount deletes the lease, and nothing writes it again"
fusermount3 -u "$WORK/fe.mnt"
wait "$fe" 2>/dev/null || true
sleep 1.5
[[ -z $(lease_field frontend) ]] || fail "the lease is still there after a clean unmount"
pass
