#!/usr/bin/env bash
# tsmedia store push and multipart uploads, against a real Ceph RADOS Gateway
# started by the test (lib_rgw.sh).  Parts are lowered to 5 MiB (S3's
# smallest; TSMEDIA_S3_PART_SIZE) so that a pack of tens of MiB goes up in
# parts:
#   - a push killed (SIGKILL) in the middle of a multipart upload leaves the
#     store local and unchanged and the bucket without a catalog; run again,
#     it finishes; `verify` compares every object with its pack; a frontend
#     serves the same bytes as `media export`; gc aborts the incomplete
#     upload the kill left (ListMultipartUploads is empty after it);
#   - a pack object already there with the right bytes is checked, not sent
#     again; one with other bytes of the same size is sent again;
#   - a bucket and prefix holding another store's catalog is refused, and
#     bad locations are refused, with the store unchanged;
#   - after the push the store is a writer on object storage: a change is
#     uploaded (in parts, with their size recorded) and published;
#   - listings paged one key at a time (TSMEDIA_S3_LIST_KEYS=1) still see
#     every object (continuation tokens followed).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rgw.sh"

fs_require
command -v curl >/dev/null || fail "curl is not installed"

rgw_start
BUCKET=tsm-push
export TSMEDIA_S3_PART_SIZE=$((5 << 20))

# uploads PREFIX: the incomplete multipart uploads under PREFIX, "KEY" a line.
uploads() {
	rgw_curl "$RGW_ENDPOINT/$BUCKET?prefix=${1//\//%2F}&uploads=" |
		python3 -c 'import sys, xml.etree.ElementTree as E
ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
for u in E.parse(sys.stdin).getroot().iter(ns + "Upload"):
    print(u.find(ns + "Key").text)'
}
remote_meta() { sqlite3 "$1/catalog.db" "SELECT count(*) FROM meta WHERE key IN ('remote_url', 'remote_endpoint')"; }

check "a local store with a media (one pack of about 100 MiB)"
src=$WORK/local
tsm "$src" -q init --compression none
mkdir -p "$WORK/a/sub"
randfile "$WORK/a/big.bin" $((96 << 20))
randfile "$WORK/a/sub/small.bin" $((300 << 10))
ida=$(add_content "$src" --kind package --name A "$WORK/a")
tsm "$src" media create --type data --name alpha --content "$ida" >/dev/null
tsm "$src" media export alpha -o "$WORK/alpha.iso"
npacks=$(ls "$src"/packs/pack-*.pack | wc -l)
assert_ge "$npacks" 1 "packs in the local store"
for s in s1 s2 s3 s4; do cp -a "$src" "$WORK/$s"; done

check "store push refuses bad input and leaves the store unchanged"
refused_unchanged "$WORK/s4" "bad location" "invalid object storage location" -- \
	tsm "$WORK/s4" store push s3://No_Such --endpoint "$RGW_ENDPOINT"
refused_unchanged "$WORK/s4" "no endpoint" "needs --endpoint" -- \
	tsm "$WORK/s4" store push "s3://$BUCKET/p4"
refused_unchanged "$WORK/s4" "bad endpoint" "invalid object storage endpoint" -- \
	tsm "$WORK/s4" store push "s3://$BUCKET/p4" --endpoint ftp://127.0.0.1
refused_unchanged "$WORK/s4" "no credentials" "no object storage credentials" -- \
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$TSMEDIA" --store "$WORK/s4" \
	store push "s3://$BUCKET/p4" --endpoint "$RGW_ENDPOINT"

check "a push killed (SIGKILL) during a multipart upload changes nothing that counts"
s1=$WORK/s1
"$TSMEDIA" --store "$s1" store push "s3://$BUCKET/p1" --endpoint "$RGW_ENDPOINT" \
	--region "$RGW_REGION" >"$WORK/push1.out" 2>"$WORK/push1.err" &
pid=$!
seen=0
for _ in $(seq 600); do
	if [[ -n $(uploads p1/packs/ 2>/dev/null) ]]; then
		kill -9 "$pid"
		seen=1
		break
	fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
wait "$pid" 2>/dev/null && fail "the push ended before an upload was seen in progress (too fast to kill?)"
((seen)) || fail "no multipart upload was seen during the push: $(cat "$WORK/push1.err")"
note "killed with an upload in progress: $(uploads p1/ | paste -sd' ')"
assert_eq "$(remote_meta "$s1")" 0 "object storage settings in the catalog after a killed push"
rgw_curl -o /dev/null "$RGW_ENDPOINT/$BUCKET/p1/catalog/CURRENT" 2>/dev/null &&
	fail "a killed push published a catalog"
tsm "$s1" verify >/dev/null || fail "verify fails on the store after a killed push"

check "run again, the push finishes: packs checked, catalog published, store switched"
tsm "$s1" store push "s3://$BUCKET/p1" --endpoint "$RGW_ENDPOINT" --region "$RGW_REGION" >"$WORK/push2.out"
cat "$WORK/push2.out"
grep -Eq "^$npacks packs: " "$WORK/push2.out" || fail "push did not account for $npacks packs"
assert_eq "$(remote_meta "$s1")" 2 "object storage settings in the catalog after the push"
for p in "$s1"/packs/pack-*.pack; do
	name=$(basename "$p")
	rgw_curl -o "$WORK/obj" "$RGW_ENDPOINT/$BUCKET/p1/packs/$name" || fail "packs/$name is missing"
	cmp -s "$WORK/obj" "$p" || fail "packs/$name differs from the local pack"
	rgw_curl -I "$RGW_ENDPOINT/$BUCKET/p1/packs/$name" >"$WORK/head"
	grep -Eqi '^etag: "[0-9a-f]{32}-[0-9]+"' "$WORK/head" ||
		fail "packs/$name was not uploaded in parts: $(grep -i etag "$WORK/head")"
	grep -qi "^x-amz-meta-tsmedia-part-size: $TSMEDIA_S3_PART_SIZE" "$WORK/head" ||
		fail "packs/$name does not record its part size"
done
rm -f "$WORK/obj"
tsm "$s1" verify >"$WORK/verify.out" || fail "verify fails after the push: $(cat "$WORK/verify.out")"
grep -q "pack objects on object storage match their packs" "$WORK/verify.out" ||
	fail "verify did not compare the pack objects: $(cat "$WORK/verify.out")"
expect_fail_with "already a store on object storage" -- \
	tsm "$s1" store push "s3://$BUCKET/p1" --endpoint "$RGW_ENDPOINT"

check "a frontend on the pushed store serves the same bytes as media export"
mkdir -p "$WORK/fe.mnt"
"$TSMEDIAFS" --remote "s3://$BUCKET/p1" --endpoint "$RGW_ENDPOINT" --region "$RGW_REGION" \
	--cache "$WORK/fe.cache" --frontend-id pushfe "$WORK/fe.mnt" -f -o poll=1s 2>>"$WORK/fe.log" &
fe=$!
at_exit "fusermount3 -u '$WORK/fe.mnt'; kill -9 $fe"
wait_until 30 mountpoint -q "$WORK/fe.mnt" || { cat "$WORK/fe.log" >&2; fail "the frontend did not mount"; }
cmp "$WORK/fe.mnt/alpha.iso" "$WORK/alpha.iso" || fail "the frontend's alpha.iso differs from the export"

check "gc aborts the upload the kill left once it is older than the grace"
[[ -n $(uploads p1/) ]] || fail "the killed push's upload is not listed any more before gc"
tsm "$s1" gc >/dev/null
[[ -n $(uploads p1/) ]] || fail "gc with the default grace (1 h) aborted a fresh upload"
sleep 2
tsm "$s1" gc --grace 1s >/dev/null 2>"$WORK/gc.err"
grep -q "aborted 1 incomplete uploads" "$WORK/gc.err" || fail "gc did not report the abort: $(cat "$WORK/gc.err")"
assert_eq "$(uploads p1/)" "" "incomplete uploads after gc"
tsm "$s1" verify >/dev/null || fail "verify fails after gc"

check "after the push, a change is uploaded in parts and published"
gen0=$(rgw_curl "$RGW_ENDPOINT/$BUCKET/p1/catalog/CURRENT" | sed -n 's/^generation //p')
mkdir -p "$WORK/b"
randfile "$WORK/b/b.bin" $((12 << 20))
idb=$(add_content "$s1" --kind package --name B "$WORK/b")
gen1=$(rgw_curl "$RGW_ENDPOINT/$BUCKET/p1/catalog/CURRENT" | sed -n 's/^generation //p')
assert_eq "$gen1" $((gen0 + 1)) "generation after content add on the pushed store"
newest=$(ls "$s1"/packs/pack-*.pack | tail -1)
rgw_curl -o "$WORK/obj" "$RGW_ENDPOINT/$BUCKET/p1/packs/$(basename "$newest")"
cmp -s "$WORK/obj" "$newest" || fail "the new pack's object differs from the pack"
tsm "$s1" verify >/dev/null || fail "verify fails after a change on the pushed store"
tsm "$s1" content show "$idb" >/dev/null || fail "content $idb is not in the pushed store"

check "an object already holding a pack's bytes is checked, not uploaded again"
s2=$WORK/s2
for p in "$s2"/packs/pack-*.pack; do
	rgw_curl -T "$p" "$RGW_ENDPOINT/$BUCKET/p2/packs/$(basename "$p")" >/dev/null
done
tsm "$s2" store push "s3://$BUCKET/p2" --endpoint "$RGW_ENDPOINT" --region "$RGW_REGION" >"$WORK/push.out"
grep -q "^$npacks packs: 0 uploaded (0 bytes), $npacks already there and checked" "$WORK/push.out" ||
	fail "push of a store whose packs are there: $(cat "$WORK/push.out")"
tsm "$s2" verify >/dev/null || fail "verify fails on s2"

check "an object of the same size but other bytes is uploaded again"
s3=$WORK/s3
for p in "$s3"/packs/pack-*.pack; do
	head -c "$(stat -c %s "$p")" /dev/zero >"$WORK/zeros"
	rgw_curl -T "$WORK/zeros" "$RGW_ENDPOINT/$BUCKET/p3/packs/$(basename "$p")" >/dev/null
done
rm -f "$WORK/zeros"
tsm "$s3" -v store push "s3://$BUCKET/p3" --endpoint "$RGW_ENDPOINT" --region "$RGW_REGION" \
	>"$WORK/push.out" 2>"$WORK/push.err"
grep -q "differs from .*uploading it again" "$WORK/push.err" || fail "push did not name the differing object"
grep -q "^$npacks packs: $npacks uploaded" "$WORK/push.out" || fail "push of s3: $(cat "$WORK/push.out")"
for p in "$s3"/packs/pack-*.pack; do
	rgw_curl -o "$WORK/obj" "$RGW_ENDPOINT/$BUCKET/p3/packs/$(basename "$p")"
	cmp -s "$WORK/obj" "$p" || fail "packs/$(basename "$p") on p3 still differs"
done

check "a prefix holding another store's catalog is refused"
refused_unchanged "$WORK/s4" "another store's prefix" "already holds a store" -- \
	tsm "$WORK/s4" store push "s3://$BUCKET/p1" --endpoint "$RGW_ENDPOINT"

check "listings paged one key at a time see every object"
# Three generations at least under p1/catalog/ and several keys under p1/:
# gc and frontends list with continuation tokens.
TSMEDIA_S3_LIST_KEYS=1 tsm "$s1" frontends >"$WORK/fronts"
grep -q "^pushfe " "$WORK/fronts" || fail "frontends (paged) does not list pushfe: $(cat "$WORK/fronts")"
TSMEDIA_S3_LIST_KEYS=1 tsm "$s1" verify >/dev/null || fail "verify (paged listing) fails"
gens() { rgw_curl "$RGW_ENDPOINT/$BUCKET?list-type=2&prefix=p1%2Fcatalog%2F" | grep -o '<Key>[^<]*\.db</Key>' | wc -l; }
ngen=$(gens)
assert_ge "$ngen" 3 "published generations under p1/catalog/ before gc"
# The frontend stops (its lease goes): no lease keeps an old generation.
fusermount3 -u "$WORK/fe.mnt"
wait "$fe" 2>/dev/null || true
sleep 2
TSMEDIA_S3_LIST_KEYS=1 tsm "$s1" gc --grace 1s >/dev/null || fail "gc (paged listing) fails"
# Every generation but the current one is older than the grace: a gc that
# read only the first page of catalog/ would leave some.
assert_eq "$(gens)" 1 "published generations left by a gc whose listings were paged"
tsm "$s1" verify >/dev/null || fail "verify fails after a paged gc"
pass
