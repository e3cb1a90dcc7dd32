#!/usr/bin/env bash
# Samba serving the mount: smbd with tools/samba/smb.conf (only its paths,
# port and listening address changed) on 127.0.0.1, the mount made with
# allow_other.  smbclient downloads each media as the guest user (nobody):
# SHA-256 equal to `media export`.  The share is read-only; a download in
# flight while the media changes gets the old version whole; a damaged chunk
# is an error to the client, never zeros or other wrong bytes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[[ -e /dev/fuse ]] || skip "/dev/fuse is missing"
for t in fusermount3 smbd smbclient setpriv setsid; do
	command -v "$t" >/dev/null || skip "$t is not installed (Debian: fuse3, samba, smbclient, util-linux)"
done
[[ $(id -u) == 0 ]] || skip "smbd must run as root"
TSMEDIAFS=${TSMEDIAFS:-$(dirname "$TSMEDIA")/../fs/tsmediafs}
[[ -x $TSMEDIAFS ]] || fail "tsmediafs not found at $TSMEDIAFS"
root=$(cd "$(dirname "$0")/../.." && pwd)

# The guest account (nobody) and the mount must reach the mount point; the
# store below stays 0700.
chmod 0711 "$WORK"
store=$WORK/store
mnt=$WORK/mnt
mkdir -p "$mnt"
init_store "$store"
daemon_pid=
smbd_pid=
at_exit 'kill $smbd_pid; fusermount3 -u "$mnt"; kill $daemon_pid'

mount_fs() {
	"$TSMEDIAFS" --store "$store" "$mnt" -f -o allow_other 2>>"$WORK/daemon.log" &
	daemon_pid=$!
	for _ in $(seq 100); do
		mountpoint -q "$mnt" && return 0
		sleep 0.1
	done
	cat "$WORK/daemon.log" >&2
	fail "tsmediafs did not mount within 10 s"
}
unmount_fs() {
	fusermount3 -u "$mnt" 2>/dev/null || true
	wait "$daemon_pid" 2>/dev/null || true
	daemon_pid=
}
wait_for() {
	for _ in $(seq 100); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }

make_tree() { # DIR TAG MIB
	mkdir -p "$1/sources/sxs"
	randfile "$1/sources/install.wim" $(($3 << 20))
	randfile "$1/sources/sxs/cab.bin" $((1 << 20))
	echo "$2" >"$1/MediaLabel.txt"
}

make_tree "$WORK/a" alpha 24
make_tree "$WORK/b" beta 8
ida=$(add_content "$store" --kind os-image --name A "$WORK/a")
idb=$(add_content "$store" --kind package --name B "$WORK/b")
tsm "$store" media create --type data --name alpha --content "$ida" >/dev/null
tsm "$store" media create --type data --name beta --content "$idb" >/dev/null
for m in alpha beta; do tsm "$store" media export "$m" -o "$WORK/$m.iso"; done
mount_fs

check "allow_other: another user reads the media, never the store"
assert_eq "$(as_nobody sha256sum "$mnt/alpha.iso" | cut -d' ' -f1)" "$(sha "$WORK/alpha.iso")" \
	"alpha.iso read by nobody"
as_nobody ls "$store" >/dev/null 2>&1 && fail "nobody can list the store $store"
assert_eq "$(stat -c %a "$store")" 700 "store mode"

# ------------------------------------------------------------------ smbd
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
smb=$WORK/smb
mkdir -p "$smb"/{private,lock,state,cache,pid,ncalrpc,log}
# Only paths, the port and the address: everything else as shipped.
sed -e "s|^\[global\]\$|[global]\n   private dir = $smb/private\n   lock directory = $smb/lock\n   state directory = $smb/state\n   cache directory = $smb/cache\n   pid directory = $smb/pid\n   ncalrpc dir = $smb/ncalrpc\n   log file = $smb/log/log.%m\n   interfaces = 127.0.0.1\n   bind interfaces only = yes|" \
	-e "s|^   smb ports = 445\$|   smb ports = $port|" \
	-e "s|^   path = /srv/tsmedia\$|   path = $mnt|" "$root/tools/samba/smb.conf" >"$smb/smb.conf"
grep -q "^   smb ports = $port\$" "$smb/smb.conf" || fail "no 'smb ports = 445' line to substitute in tools/samba/smb.conf"
grep -q "^   path = $mnt\$" "$smb/smb.conf" || fail "no 'path = /srv/tsmedia' line to substitute in tools/samba/smb.conf"
testparm -s "$smb/smb.conf" >"$smb/testparm.out" 2>&1 || fail "testparm rejects the config: $(tail -5 "$smb/testparm.out")"
if grep -q "Unknown parameter\|Ignoring unknown" "$smb/testparm.out"; then
	fail "testparm: $(grep "Unknown parameter\|Ignoring unknown" "$smb/testparm.out")"
fi
# smbd signals its whole process group when it exits, and with
# --no-process-group that group would be this test's: give it its own.
setsid smbd -F --no-process-group --debug-stdout -s "$smb/smb.conf" >"$smb/smbd.log" 2>&1 &
smbd_pid=$!
smb_up() { python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1).close()" 2>/dev/null; }
wait_for smb_up || fail "smbd does not listen on 127.0.0.1:$port: $(tail -20 "$smb/smbd.log")"
smbc() { timeout -k 5 120 smbclient "//127.0.0.1/tsmedia" -p "$port" -N "$@"; }

check "smbclient lists the share and downloads each media: SHA-256 = media export"
smbc -c ls >"$WORK/ls.out" 2>&1 || fail "smbclient ls failed: $(cat "$WORK/ls.out")"
for m in alpha beta; do
	grep -q " $m.iso  *[A-Z]* *$(stat -c %s "$WORK/$m.iso") " "$WORK/ls.out" ||
		fail "smbclient ls does not show $m.iso with its size: $(cat "$WORK/ls.out")"
done
rates=()
for m in alpha beta; do
	smbc -c "get $m.iso $WORK/got-$m.iso" >"$WORK/get.out" 2>&1 ||
		fail "smbclient get $m.iso failed: $(cat "$WORK/get.out")"
	assert_eq "$(sha "$WORK/got-$m.iso")" "$(sha "$WORK/$m.iso")" "$m.iso over SMB"
	rate=$(grep -o '([0-9.]* KiloBytes/sec)' "$WORK/get.out" | head -n 1 | tr -dc '0-9.')
	note "$m.iso: $(stat -c %s "$WORK/$m.iso") bytes, SHA-256 right, smbclient: $rate KiB/s"
	rates+=("$m.iso ${rate%.*} KiB/s")
done

check "the share is read-only"
echo x >"$WORK/upload.txt"
smbc -c "put $WORK/upload.txt upload.txt" >"$WORK/put.out" 2>&1 || true
grep -Eq 'NT_STATUS_(ACCESS_DENIED|MEDIA_WRITE_PROTECTED|NETWORK_ACCESS_DENIED)' "$WORK/put.out" ||
	fail "a write to the share did not fail with access denied: $(cat "$WORK/put.out")"
smbc -c "del alpha.iso" >"$WORK/del.out" 2>&1 || true
[[ -f $mnt/alpha.iso ]] || fail "alpha.iso went away after an SMB delete"
grep -Eq 'NT_STATUS_(ACCESS_DENIED|MEDIA_WRITE_PROTECTED|NETWORK_ACCESS_DENIED|CANNOT_DELETE)' "$WORK/del.out" ||
	fail "an SMB delete did not fail with access denied: $(cat "$WORK/del.out")"

check "a download in flight keeps its version while the media changes and gc runs"
# smbclient writes into a FIFO: the reader takes 1 MiB, then holds until the
# content is updated and gc has run; smbd keeps the handle it opened.
mkfifo "$WORK/pipe"
python3 - "$WORK/pipe" "$WORK/inflight.iso" "$WORK/inflight.ready" "$WORK/inflight.go" <<'PY' &
import os, sys, time
pipe, out, ready, go = sys.argv[1:]
with open(pipe, 'rb') as f, open(out, 'wb') as o:
    o.write(f.read(1 << 20))
    open(ready, 'w').close()
    while not os.path.exists(go):
        time.sleep(0.05)
    while True:
        b = f.read(1 << 20)
        if not b:
            break
        o.write(b)
PY
reader=$!
smbc -c "get alpha.iso $WORK/pipe" >"$WORK/inflight.out" 2>&1 &
getter=$!
wait_for test -e "$WORK/inflight.ready" || fail "the in-flight download did not start: $(cat "$WORK/inflight.out")"
make_tree "$WORK/a2" alpha-2 24
add_content "$store" --kind os-image --name A --id "$ida" "$WORK/a2" >/dev/null
tsm "$store" media export alpha -o "$WORK/alpha.2.iso"
tsm "$store" gc >/dev/null
touch "$WORK/inflight.go"
wait "$getter" || fail "the in-flight smbclient get failed: $(cat "$WORK/inflight.out")"
wait "$reader" || fail "the FIFO reader failed"
assert_eq "$(sha "$WORK/inflight.iso")" "$(sha "$WORK/alpha.iso")" "in-flight download (old version, whole)"
fresh_is_new() {
	smbc -c "get alpha.iso $WORK/got-alpha2.iso" >/dev/null 2>&1 &&
		[[ $(sha "$WORK/got-alpha2.iso") == $(sha "$WORK/alpha.2.iso") ]]
}
wait_for fresh_is_new || fail "a new SMB download does not get the new version of alpha"
note "old download: the old version whole; a new download: the new version"

check "a damaged chunk is an error to the SMB client, never wrong bytes"
kill "$smbd_pid" 2>/dev/null || true
wait "$smbd_pid" 2>/dev/null || true
unmount_fs
tsm "$store" gc >/dev/null
pack=$(ls -S "$store"/packs/*.pack | head -n 1)
python3 - "$pack" <<'PY'
import sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(0, 2)
    n = f.tell()
    f.seek(n // 2)
    b = f.read(1)
    f.seek(n // 2)
    f.write(bytes([b[0] ^ 0xff]))
PY
mount_fs
setsid smbd -F --no-process-group --debug-stdout -s "$smb/smb.conf" >>"$smb/smbd.log" 2>&1 &
smbd_pid=$!
wait_for smb_up || fail "smbd did not come back"
failed=0
for m in alpha.2 beta; do
	name=${m%.2}
	rm -f "$WORK/dmg-$name.iso"
	if smbc -c "get $name.iso $WORK/dmg-$name.iso" >"$WORK/dmg.out" 2>&1 &&
		! grep -q NT_STATUS "$WORK/dmg.out"; then
		assert_eq "$(sha "$WORK/dmg-$name.iso")" "$(sha "$WORK/$m.iso")" "$name.iso (said it succeeded)"
		continue
	fi
	grep -q NT_STATUS_IO_DEVICE_ERROR "$WORK/dmg.out" ||
		fail "$name.iso over a damaged chunk: not an I/O error: $(cat "$WORK/dmg.out")"
	# What arrived before the error must be the right bytes.
	cmp -s -n "$(stat -c %s "$WORK/dmg-$name.iso" 2>/dev/null || echo 0)" "$WORK/dmg-$name.iso" "$WORK/$m.iso" ||
		fail "$name.iso: the bytes before the error are wrong"
	note "$name.iso: NT_STATUS_IO_DEVICE_ERROR after $(stat -c %s "$WORK/dmg-$name.iso" 2>/dev/null || echo 0) right bytes"
	failed=$((failed + 1))
done
((failed >= 1)) || fail "no download saw the damaged chunk"
if grep -q 'filling truncated file' "$smb/smbd.log"; then
	fail "smbd padded a short read with zeros: $(grep 'filling truncated' "$smb/smbd.log" | head -n 2)"
fi

note "smbclient rates: ${rates[*]}"
pass
