# shellcheck shell=bash
# A throwaway Ceph cluster with a RADOS Gateway (S3) for the tests, from
# Debian's own packages (ceph-mon ceph-mgr ceph-osd radosgw ceph-common;
# tools/setup.sh --for-tests installs them).  Source it after lib.sh:
#
#   . "$(dirname "$0")/lib_rgw.sh"
#   rgw_start            # one mon, one memstore OSD, radosgw; sets the vars below
#   ... S3 at $RGW_ENDPOINT, keys in $AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY
#   rgw_stop_gateway / rgw_start_gateway   # radosgw alone, for failure tests
#
# Everything lives in $WORK/ceph (config, mon store, logs, sockets) and is
# stopped by lib.sh's at_exit.  The cluster has no authentication between
# its daemons (auth ... = none) and listens on 127.0.0.1 only.  Pitfalls:
# - with auth none, radosgw hangs at start unless it uses "ms mon client
#   mode = crc";
# - a daemon given a port that is already in use does not fail, it may join
#   the other cluster: the ports are checked free first;
# - a deleted object's space comes back only when radosgw's gc runs: its
#   periods are set low.
# A test that cannot start the cluster fails (it does not skip): the
# packages are test dependencies like any other.
#
# Ceph's configuration reference: https://docs.ceph.com/en/pacific/rados/configuration/
# radosgw's: https://docs.ceph.com/en/pacific/radosgw/config-ref/

RGW_DIR=
RGW_ENDPOINT=
RGW_PORT=
RGW_PIDS=()
RGW_GW_PID=
RGW_REGION=default

_rgw_need() {
	local t
	for t in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph-authtool ceph uuidgen; do
		command -v "$t" >/dev/null ||
			fail "$t is not installed (tools/setup.sh --for-tests installs radosgw ceph-mon ceph-osd ceph-common uuid-runtime)"
	done
}

# A TCP port nothing listens on (checked with ss), from a range away from
# the usual services.
_rgw_free_port() {
	local p tries=0
	while ((tries++ < 200)); do
		p=$((20000 + RANDOM % 30000))
		if ! ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	fail "no free TCP port found for the test cluster"
}

# _rgw_alive PID: the daemon runs (a child that exited is a zombie until
# waited for: not alive).
_rgw_alive() {
	local state
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $state && $state != Z ]]
}

_rgw_logs() {
	echo "--- logs of the test cluster ($RGW_DIR/log):" >&2
	tail -n 30 "$RGW_DIR"/log/*.log "$RGW_DIR"/log/*.out >&2 2>/dev/null || true
}

# _rgw_wait SECONDS WHAT CMD...: until CMD succeeds, for SECONDS at most
# (plus one try's own timeout), failing at once when a daemon of the
# cluster exits meanwhile (a monitor that could not bind its port: else
# every try waits for it in vain).
_rgw_wait() {
	local end=$((SECONDS + $1)) what=$2 p
	shift 2
	while ((SECONDS < end)); do
		"$@" >/dev/null 2>&1 && return 0
		for p in "${RGW_PIDS[@]}" ${RGW_GW_PID:+"$RGW_GW_PID"}; do
			_rgw_alive "$p" && continue
			_rgw_logs
			fail "the test cluster: a daemon (pid $p) exited while waiting for $what"
		done
		sleep 0.2
	done
	_rgw_logs
	fail "the test cluster: $what did not come up in $((SECONDS - end + $1))s"
}

# _rgw_kill SIGNAL PID: the daemon stopped and waited for; one that does not
# stop within 10 s of SIGNAL gets SIGKILL (radosgw may ignore SIGTERM once
# its OSD is gone).
_rgw_kill() {
	local i
	kill -"$1" "$2" 2>/dev/null || { wait "$2" 2>/dev/null || true; return 0; }
	for ((i = 0; i < 50; i++)); do _rgw_alive "$2" || break; sleep 0.2; done
	kill -KILL "$2" 2>/dev/null || true
	wait "$2" 2>/dev/null || true
}

_rgw_ceph() { timeout 60 ceph -c "$RGW_DIR/ceph.conf" "$@"; }

rgw_start() {
	_rgw_need
	RGW_DIR=$WORK/ceph
	mkdir -p "$RGW_DIR"/{run,log,mon,osd}
	local mon_port fsid
	mon_port=$(_rgw_free_port)
	RGW_PORT=$(_rgw_free_port)
	while ((RGW_PORT == mon_port)); do RGW_PORT=$(_rgw_free_port); done
	fsid=$(uuidgen)
	cat >"$RGW_DIR/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
ms bind ipv6 = false
ms bind msgr1 = false
run dir = $RGW_DIR/run
admin socket = $RGW_DIR/run/\$name.asok
pid file = $RGW_DIR/run/\$name.pid
log file = $RGW_DIR/log/\$name.log
keyring = $RGW_DIR/keyring
mon data = $RGW_DIR/mon/\$id
osd data = $RGW_DIR/osd/\$id
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = ${RGW_MEMSTORE_BYTES:-6442450944}
osd max object name len = 460
osd max object namespace len = 64
debug ms = 0
[client.rgw.test]
ms mon client mode = crc
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw dns name = 127.0.0.1
rgw gc obj min wait = 2
rgw gc processor period = 5
rgw gc processor max time = 5
rgw init timeout = 120
rgw thread pool size = 64
EOF
	local c=(-c "$RGW_DIR/ceph.conf")
	ceph-authtool --create-keyring "$RGW_DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
	monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$RGW_DIR/monmap" >/dev/null
	ceph-mon "${c[@]}" --mkfs -i a --monmap "$RGW_DIR/monmap" >"$RGW_DIR/log/mkfs-mon.out" 2>&1 ||
		{ cat "$RGW_DIR/log/mkfs-mon.out" >&2; fail "ceph-mon --mkfs failed"; }
	ceph-mon "${c[@]}" -f -i a >"$RGW_DIR/log/mon.out" 2>&1 &
	RGW_PIDS+=($!)
	at_exit rgw_stop
	_rgw_wait 60 "the monitor" _rgw_ceph mon stat
	local osd_uuid id
	osd_uuid=$(uuidgen)
	id=$(_rgw_ceph osd new "$osd_uuid") || fail "ceph osd new failed"
	mkdir -p "$RGW_DIR/osd/$id"
	ceph-osd "${c[@]}" -i "$id" --mkfs --osd-uuid "$osd_uuid" >"$RGW_DIR/log/mkfs-osd.out" 2>&1 ||
		{ cat "$RGW_DIR/log/mkfs-osd.out" >&2; fail "ceph-osd --mkfs failed"; }
	ceph-osd "${c[@]}" -f -i "$id" >"$RGW_DIR/log/osd.out" 2>&1 &
	RGW_PIDS+=($!)
	_rgw_wait 60 "the OSD" bash -c "timeout 20 ceph -c '$RGW_DIR/ceph.conf' osd stat | grep -q '1 up'"
	rgw_start_gateway
	# Keys of one S3 user; radosgw-admin talks to the cluster directly.
	export AWS_ACCESS_KEY_ID=TSMTESTACCESSKEY0001
	export AWS_SECRET_ACCESS_KEY=tsmtestsecretkey00000000000000000000000
	unset AWS_SESSION_TOKEN
	timeout 120 radosgw-admin "${c[@]}" user create --uid=tsm \
		--display-name=tsmedia-tests --access-key="$AWS_ACCESS_KEY_ID" \
		--secret-key="$AWS_SECRET_ACCESS_KEY" >"$RGW_DIR/log/user.out" 2>&1 ||
		{ cat "$RGW_DIR/log/user.out" >&2; fail "radosgw-admin user create failed"; }
	note "test cluster up: S3 at $RGW_ENDPOINT"
}

rgw_start_gateway() {
	radosgw -c "$RGW_DIR/ceph.conf" -f -n client.rgw.test >"$RGW_DIR/log/rgw.out" 2>&1 &
	RGW_GW_PID=$!
	RGW_ENDPOINT=http://127.0.0.1:$RGW_PORT
	_rgw_wait 120 "radosgw" curl -sf -o /dev/null "$RGW_ENDPOINT/"
}

# rgw_stop_gateway [SIGNAL]: radosgw alone (default SIGKILL), waited for.
rgw_stop_gateway() {
	[[ -n $RGW_GW_PID ]] || return 0
	_rgw_kill "${1:-KILL}" "$RGW_GW_PID"
	RGW_GW_PID=
}

rgw_stop() {
	local p
	rgw_stop_gateway TERM
	for p in "${RGW_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${RGW_PIDS[@]}"; do _rgw_kill TERM "$p"; done
	RGW_PIDS=()
}

# rgw_curl ARGS...: curl signed for the test user (SigV4, path-style URLs).
# S3 wants x-amz-content-sha256 on every signed request; curl 7.88 sends it
# only when given (UNSIGNED-PAYLOAD: the body is not part of the signature).
rgw_curl() {
	curl -sS --fail --aws-sigv4 "aws:amz:$RGW_REGION:s3" \
		--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}
