#!/usr/bin/env bash
# gc of a store on object storage deletes only keys it made, against a real
# Ceph RADOS Gateway (lib_rgw.sh).  Other objects under packs/ and catalog/
# whose names only start like a pack or a generation ("pack-00000099.pack.keep",
# "00000000000000000001.db.old": a copy someone keeps, another tool's file)
# are left alone, while an orphan pack object and an old generation, which
# the store did make, are deleted once older than the grace.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rgw.sh"

command -v curl >/dev/null || fail "curl is not installed"

rgw_start
BUCKET=tsm-gckeys
URL=s3://$BUCKET/g1
store=$WORK/writer
tsm "$store" -q init --s3 "$URL" --endpoint "$RGW_ENDPOINT" --region "$RGW_REGION"
mkdir -p "$WORK/a"
randfile "$WORK/a/a.bin" $((1 << 20))
add_content "$store" --kind package --name A "$WORK/a" >/dev/null
gen=$(rgw_curl "$RGW_ENDPOINT/$BUCKET/g1/catalog/CURRENT" | sed -n 's/^generation //p')
assert_ge "$gen" 2 "generation after content add"

exists() { rgw_curl -o /dev/null -I "$RGW_ENDPOINT/$BUCKET/g1/$1" 2>/dev/null; }
put() { printf '%s\n' "$1" >"$WORK/obj" && rgw_curl -T "$WORK/obj" "$RGW_ENDPOINT/$BUCKET/g1/$1" >/dev/null; }

check "objects gc must not touch, and ones it must delete"
gen1=catalog/$(printf %020d 1).db
exists "$gen1" || fail "generation 1 ($gen1) is not there before gc"
foreign=(packs/pack-00000099.pack.keep packs/pack-00000099.pack-old packs/pack-00000099.pack.d/x
	"$gen1.keep" "$gen1.old" catalog/1.dbx)
for k in "${foreign[@]}"; do put "$k"; done
# An orphan pack object of this store's own naming: gc deletes it.
put packs/pack-00000099.pack

# An incomplete multipart upload under a key with a dot segment (sent
# as is: curl would fold it): not a key this store makes, so gc leaves it,
# and goes on (its abort would be refused before any request).
rgw_curl --path-as-is -X POST "$RGW_ENDPOINT/$BUCKET/g1/packs/./x.pack?uploads=" >"$WORK/mpu.xml" ||
	fail "the gateway refused to start an upload under packs/./x.pack"
listed_uploads() {
	rgw_curl "$RGW_ENDPOINT/$BUCKET?prefix=g1%2F&uploads=" | grep -o '<Key>[^<]*</Key>' || true
}
note "incomplete uploads: $(listed_uploads | paste -sd' ')"
listed_uploads | grep -q '<Key>g1/packs/./x.pack</Key>' ||
	fail "the gateway does not list the upload as g1/packs/./x.pack: $(listed_uploads)"

check "gc with a grace of 1 s, twice (an orphan is deleted a grace after it was first seen)"
sleep 2
tsm "$store" gc --grace 1s >/dev/null
sleep 2
tsm "$store" gc --grace 1s >/dev/null
exists packs/pack-00000099.pack && fail "gc left the orphan pack object packs/pack-00000099.pack"
exists "$gen1" && fail "gc left the old generation $gen1"
for k in "${foreign[@]}"; do
	exists "$k" || fail "gc deleted $k, an object this store did not make"
done
listed_uploads | grep -q '<Key>g1/packs/./x.pack</Key>' ||
	fail "gc aborted the upload of packs/./x.pack, not a key this store makes"
tsm "$store" verify >/dev/null || fail "verify fails after gc"
pass
