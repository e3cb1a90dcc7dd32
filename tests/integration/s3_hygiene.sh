#!/usr/bin/env bash
# The object-storage store's hygiene, against a real Ceph RADOS Gateway
# (lib_rgw.sh):
#   - one writer per prefix: two different stores pushed to one prefix at
#     once, one publishes and the other is refused (naming the location and
#     the store that has it) and stays local; two pushes of one store to one
#     prefix at once publish once; two stores pushed to two prefixes at once
#     both publish, and each one's `verify` finds its objects whole;
#   - an unmount is not held up by an object store that stopped answering
#     (radosgw stopped with SIGSTOP while a lease renewal and a poll are
#     under way): the frontend exits within a few seconds, saying that its
#     lease is left to expire;
#   - a frontend whose metrics server fails to start after its lease thread
#     stored the lease (a stand-in for libmicrohttpd's MHD_start_daemon,
#     LD_PRELOAD) stops that thread and removes its lease before it exits.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_rgw.sh"

fs_require
command -v curl >/dev/null || fail "curl is not installed"
[[ -n ${FAIL_METRICS_SO:-} && -f $FAIL_METRICS_SO ]] ||
	fail "FAIL_METRICS_SO does not name the fail_metrics module (run through meson test)"

rgw_start
BUCKET=tsm-hyg

# push_bg NAME STORE PREFIX: store push in the background; its output in
# $WORK/NAME.out and .err, its exit code in $WORK/NAME.rc; PUSH_PID.
push_bg() {
	( rc=0
	  "$TSMEDIA" --store "$2" store push "s3://$BUCKET/$3" --endpoint "$RGW_ENDPOINT" \
		--region "$RGW_REGION" >"$WORK/$1.out" 2>"$WORK/$1.err" || rc=$?
	  echo "$rc" >"$WORK/$1.rc" ) &
	PUSH_PID=$!
}
rc_of() { cat "$WORK/$1.rc"; }
remote_meta() { sqlite3 "$1/catalog.db" "SELECT count(*) FROM meta WHERE key IN ('remote_url', 'remote_endpoint')"; }
current_gen() { rgw_curl "$RGW_ENDPOINT/$BUCKET/$1/catalog/CURRENT" | sed -n 's/^generation //p'; }
object_status() { curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:$RGW_REGION:s3" \
	--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
	"$RGW_ENDPOINT/$BUCKET/$1"; }
# object_is KEY STATUS: whether a GET of KEY answers STATUS (for wait_until).
object_is() { [[ $(object_status "$1") == "$2" ]]; }

check "a local store with a media, copied five times"
src=$WORK/src
tsm "$src" -q init --compression none
mkdir -p "$WORK/a"
randfile "$WORK/a/a.bin" $((6 << 20))
ida=$(add_content "$src" --kind package --name A "$WORK/a")
tsm "$src" media create --type data --name alpha --content "$ida" >/dev/null
# Copies made before any push: each gets its own writer id at its push.
# s1 and s2 hold the same packs, so that nothing but the claim can tell
# their pushes apart (each one's upload checks would pass either way).
for s in s1 s2 s3 s4 s5; do cp -a "$src" "$WORK/$s"; done
mkdir -p "$WORK/b"
randfile "$WORK/b/b.bin" $((1 << 20))

check "two stores pushed to one prefix at once: one publishes, the other is refused and stays local"
push_bg one "$WORK/s1" p1
p1=$PUSH_PID
push_bg two "$WORK/s2" p1
p2=$PUSH_PID
wait "$p1" "$p2"
rcs="$(rc_of one) $(rc_of two)"
note "exit codes: $rcs"
case $rcs in
"0 0") fail "both pushes published to s3://$BUCKET/p1 (one writer per prefix)" ;;
"0 "*) win=s1 lose=s2 err=two ;;
*" 0") win=s2 lose=s1 err=one ;;
*) cat "$WORK/one.err" "$WORK/two.err" >&2; fail "neither push published: $rcs" ;;
esac
# Refused by the claim (catalog/WRITER) or, when the other push had
# already finished, by the catalog it published (catalog/CURRENT).
assert_match "$(cat "$WORK/$err.err")" "s3://$BUCKET/p1/ (belongs to another store|already holds a store)" \
	"the refused push's message"
if [[ $(cat "$WORK/$err.err") == *"belongs to another store"* ]]; then
	assert_match "$(cat "$WORK/$err.err")" "$(re_escape "$WORK/$win")" "the refused push names the store that has the prefix"
fi
assert_eq "$(current_gen p1)" 1 "catalog generations published to p1"
assert_eq "$(remote_meta "$WORK/$lose")" 0 "object storage settings of the refused store"
assert_eq "$(remote_meta "$WORK/$win")" 2 "object storage settings of the store that published"
verify_ok "$WORK/$win"
check "the refused store, pushed to a prefix of its own, publishes"
push_bg three "$WORK/$lose" p1b
wait "$PUSH_PID"
[[ $(rc_of three) == 0 ]] || { cat "$WORK/three.err" >&2; fail "the push to p1b failed"; }
verify_ok "$WORK/$lose"

check "two stores pushed to two prefixes at once: both publish"
push_bg four "$WORK/s3" p2
p1=$PUSH_PID
push_bg five "$WORK/s4" p3
p2=$PUSH_PID
wait "$p1" "$p2"
[[ $(rc_of four) == 0 && $(rc_of five) == 0 ]] ||
	{ cat "$WORK/four.err" "$WORK/five.err" >&2; fail "pushes to two prefixes: $(rc_of four) $(rc_of five)"; }
assert_eq "$(current_gen p2) $(current_gen p3)" "1 1" "generations published to p2 and p3"
verify_ok "$WORK/s3"
verify_ok "$WORK/s4"

check "two pushes of one store to one prefix at once: one publishes"
push_bg six "$WORK/s5" p4
p1=$PUSH_PID
push_bg seven "$WORK/s5" p4
p2=$PUSH_PID
wait "$p1" "$p2"
rcs="$(rc_of six) $(rc_of seven)"
note "exit codes: $rcs"
[[ $rcs == "0 1" || $rcs == "1 0" ]] || { cat "$WORK/six.err" "$WORK/seven.err" >&2; fail "two pushes of one store: $rcs"; }
# Stopped at the write lock of its claim (the store changed since it was
# opened) or at the one of its uploads (moved by the other push meanwhile).
assert_match "$(cat "$WORK/six.err" "$WORK/seven.err")" \
	"(by another push meanwhile|was moved to object storage \(store push\) after this command opened it)" \
	"the second push's message"
assert_eq "$(current_gen p4)" 1 "catalog generations published to p4"

check "two stores made with init --s3 on one prefix at once: one is made, the other is not"
pids=()
for n in i1 i2; do
	( rc=0
	  "$TSMEDIA" --store "$WORK/$n" -q init --s3 "s3://$BUCKET/p5" --endpoint "$RGW_ENDPOINT" \
		--region "$RGW_REGION" >"$WORK/$n.out" 2>"$WORK/$n.err" || rc=$?
	  echo "$rc" >"$WORK/$n.rc" ) &
	pids+=($!)
done
wait "${pids[@]}"
rcs="$(rc_of i1) $(rc_of i2)"
note "exit codes: $rcs"
[[ $rcs == "0 1" || $rcs == "1 0" ]] || { cat "$WORK/i1.err" "$WORK/i2.err" >&2; fail "two init --s3 on one prefix: $rcs"; }
[[ $(rc_of i1) == 0 ]] && lost=i2 || lost=i1
assert_match "$(cat "$WORK/$lost.err")" "s3://$BUCKET/p5/ (belongs to another store|already holds a store)" "the refused init's message"
[[ ! -e $WORK/$lost/catalog.db ]] || fail "the refused init left a catalog in $WORK/$lost"
assert_eq "$(current_gen p5)" 1 "catalog generations published to p5"

check "a writer of the prefix goes on writing there; a change publishes generation 2"
add_content "$WORK/$win" --kind package --name C "$WORK/b" >/dev/null
assert_eq "$(current_gen p1)" 2 "generation of p1 after a change"

check "a writer of before the claim: on its own prefix it claims at its next change"
# s4 as a store made before catalog/WRITER existed: no id, no claim.
sqlite3 "$WORK/s4/catalog.db" "DELETE FROM meta WHERE key = 'remote_writer_id'"
rgw_curl -X DELETE "$RGW_ENDPOINT/$BUCKET/p3/catalog/WRITER"
add_content "$WORK/s4" --kind package --name C "$WORK/b" >/dev/null
assert_eq "$(current_gen p3)" 2 "generation of p3 after a change"
id4=$(sqlite3 "$WORK/s4/catalog.db" "SELECT value FROM meta WHERE key = 'remote_writer_id'")
assert_match "$id4" '^[0-9a-f]{32}$' "the writer id s4 made"
assert_match "$(rgw_curl "$RGW_ENDPOINT/$BUCKET/p3/catalog/WRITER")" "store $id4" "p3's claim"

check "a writer of before the claim on a prefix another store claimed uploads nothing"
sqlite3 "$WORK/s4/catalog.db" "DELETE FROM meta WHERE key = 'remote_writer_id';
	UPDATE meta SET value = 's3://$BUCKET/p1' WHERE key = 'remote_url'"
before=$(rgw_curl "$RGW_ENDPOINT/$BUCKET?list-type=2&prefix=p1%2Fpacks%2F" | md5sum)
mkdir -p "$WORK/d"
randfile "$WORK/d/d.bin" $((1 << 20))
expect_fail_with "belongs to another store" tsm "$WORK/s4" content add --kind package --name D "$WORK/d"
assert_eq "$(rgw_curl "$RGW_ENDPOINT/$BUCKET?list-type=2&prefix=p1%2Fpacks%2F" | md5sum)" "$before" "p1's packs after the refused change"
assert_eq "$(current_gen p1)" 2 "generation of p1 after the refused change"

check "an unmount with the object store stopped (SIGSTOP) ends within a few seconds"
mkdir -p "$WORK/fe.mnt"
"$TSMEDIAFS" --remote "s3://$BUCKET/p1" --endpoint "$RGW_ENDPOINT" --region "$RGW_REGION" \
	--cache "$WORK/fe.cache" --frontend-id hy1 "$WORK/fe.mnt" -f \
	-o poll=1s,lease=3s,timeout=30s 2>>"$WORK/fe.log" &
fe=$!
at_exit "fusermount3 -u '$WORK/fe.mnt'; kill -9 $fe"
wait_until 30 mountpoint -q "$WORK/fe.mnt" || { cat "$WORK/fe.log" >&2; fail "the frontend did not mount"; }
wait_until 20 object_is p1/leases/hy1 200 || fail "the frontend wrote no lease"
kill -STOP "$RGW_GW_PID"
at_exit "kill -CONT $RGW_GW_PID"
# Renewed every second (a third of 3 s), polled every second: both are
# waiting for radosgw by now.
sleep 2.5
t0=$(date +%s%N)
fusermount3 -u "$WORK/fe.mnt"
wait_until 90 bash -c "! kill -0 $fe 2>/dev/null" || true
t1=$(date +%s%N)
kill -CONT "$RGW_GW_PID"
kill -0 "$fe" 2>/dev/null && fail "the frontend still runs 90 s after its unmount"
ms=$(((t1 - t0) / 1000000))
note "the frontend exited $ms ms after fusermount3 -u (its timeout: 30 s)"
assert_le "$ms" 8000 "milliseconds from the unmount to the frontend's exit"
assert_match "$(cat "$WORK/fe.log")" "leases/hy1 was not removed: it expires at" "the frontend's last words"
wait_until 60 curl -sf -o /dev/null "$RGW_ENDPOINT/" || fail "radosgw does not answer after SIGCONT"

check "a frontend whose metrics server fails to start stops its lease thread and removes its lease"
port=$(_rgw_free_port)
mkdir -p "$WORK/fm.mnt"
set +e
FAIL_METRICS_DELAY_MS=6000 LD_PRELOAD=$FAIL_METRICS_SO "$TSMEDIAFS" --remote "s3://$BUCKET/p1" \
	--endpoint "$RGW_ENDPOINT" --region "$RGW_REGION" --cache "$WORK/fm.cache" \
	--frontend-id hy2 "$WORK/fm.mnt" -f -o "poll=1s,lease=60s,metrics=127.0.0.1:$port" \
	2>>"$WORK/fm.log" &
fm=$!
set -e
at_exit "fusermount3 -u '$WORK/fm.mnt'; kill -9 $fm"
# Its lease is stored while the metrics server's start is held up.
wait_until 6 object_is p1/leases/hy2 200 || { cat "$WORK/fm.log" >&2; fail "the frontend wrote no lease before its metrics server failed"; }
rc=0
wait "$fm" || rc=$?
assert_ne "$rc" 0 "the exit code of a frontend whose metrics server did not start"
assert_match "$(cat "$WORK/fm.log")" "cannot start the HTTP server" "the frontend's message"
assert_eq "$(object_status p1/leases/hy2)" 404 "the lease of the frontend that did not start (HTTP status)"
mountpoint -q "$WORK/fm.mnt" && fail "the mount of the frontend that did not start is still there"

pass
