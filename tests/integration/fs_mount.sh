#!/usr/bin/env bash
# tsmediafs: the mounted file equals `media export`; snapshots per open;
# gc during reads; damage is EIO on the affected range only; concurrent
# readers; media appearing, changing and going away; kill -9 and restart.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[[ -e /dev/fuse ]] || skip "/dev/fuse is missing"
command -v fusermount3 >/dev/null || skip "fusermount3 is not installed (Debian: fuse3)"
TSMEDIAFS=${TSMEDIAFS:-$(dirname "$TSMEDIA")/../fs/tsmediafs}
[[ -x $TSMEDIAFS ]] || fail "tsmediafs not found at $TSMEDIAFS"

store=$WORK/store
mnt=$WORK/mnt
mkdir -p "$mnt"
init_store "$store" --compression none

# The mount of this test's store, through lib.sh's fs_start/fs_stop.
mount_fs() { fs_start "$store" "$mnt"; }
unmount_fs() { fs_stop "$mnt"; }

# same_bytes A B: the two files hold the same bytes (read now).
same_bytes() { cmp -s "$1" "$2"; }

# wait_for CMD...: retry for up to 10 s (the daemon polls the catalog).
wait_for() {
	for _ in $(seq 100); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

make_tree() { # DIR TAG
	mkdir -p "$1/sub/deeper"
	randfile "$1/big.bin" $((12 << 20))
	randfile "$1/sub/mid.bin" $((3 << 20))
	echo "$2" >"$1/sub/deeper/tag.txt"
}

check "a media's mounted file equals its export"
make_tree "$WORK/a" one
ida=$(add_content "$store" --kind package --name A "$WORK/a")
tsm "$store" media create --type data --name alpha --content "$ida" >/dev/null
tsm "$store" media export alpha -o "$WORK/alpha.1.iso"
mount_fs
[[ -f $mnt/alpha.iso ]] || fail "alpha.iso is not on the mount: $(ls -la "$mnt")"
assert_eq "$(stat -c %s "$mnt/alpha.iso")" "$(stat -c %s "$WORK/alpha.1.iso")" "mounted size"
assert_eq "$(sha "$mnt/alpha.iso")" "$(sha "$WORK/alpha.1.iso")" "mounted bytes"
size=$(tsm "$store" media show alpha --json | "${PYHELP[@]}" get - volumes.0.size)
assert_eq "$size" "$(stat -c %s "$WORK/alpha.1.iso")" "media show --json size"

check "an open handle keeps its snapshot; a new open sees the new content"
python3 - "$mnt/alpha.iso" "$WORK/old.sha" "$WORK/reader.ready" "$WORK/reader.go" <<'PY' &
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
wait_for test -e "$WORK/reader.ready" || fail "reader did not start"
make_tree "$WORK/a2" two
add_content "$store" --kind package --name A --id "$ida" "$WORK/a2" >/dev/null
tsm "$store" media export alpha -o "$WORK/alpha.2.iso"
assert_ne "$(sha "$WORK/alpha.2.iso")" "$(sha "$WORK/alpha.1.iso")" "export after the content update"
check "gc while the old reader is mid-file"
tsm "$store" gc >/dev/null
touch "$WORK/reader.go"
wait "$reader" || fail "the old reader failed"
assert_eq "$(cat "$WORK/old.sha")" "$(sha "$WORK/alpha.1.iso")" "old handle's bytes"
same_bytes "$mnt/alpha.iso" "$WORK/alpha.2.iso" ||
	fail "the next open does not see the new content"
tsm "$store" gc >/dev/null
verify_ok "$store"

check "media created, changed and removed while mounted"
make_tree "$WORK/b" bee
idb=$(add_content "$store" --kind package --name B "$WORK/b")
tsm "$store" media create --type data --name beta --content "$idb" >/dev/null
wait_for test -f "$mnt/beta.iso" || fail "beta.iso did not appear"
tsm "$store" media export beta -o "$WORK/beta.iso"
assert_eq "$(sha "$mnt/beta.iso")" "$(sha "$WORK/beta.iso")" "beta bytes"
tsm "$store" media edit beta --label BETA2 >/dev/null
tsm "$store" media export beta -o "$WORK/beta2.iso"
same_bytes "$mnt/beta.iso" "$WORK/beta2.iso" ||
	fail "beta's edit is not live at the next open: $(ls -li "$mnt"; tail -5 "$WORK/daemon.log")"
tsm "$store" media rm beta >/dev/null
wait_for test ! -e "$mnt/beta.iso" || fail "beta.iso did not go away"
ls "$mnt" | grep -qx alpha.iso || fail "alpha.iso went away with beta"

check "16 concurrent readers over 4 media"
for m in m1 m2 m3 m4; do
	make_tree "$WORK/src-$m" "$m"
	id=$(add_content "$store" --kind package --name "$m" "$WORK/src-$m")
	tsm "$store" media create --type data --name "$m" --content "$id" >/dev/null
	tsm "$store" media export "$m" -o "$WORK/$m.iso"
done
wait_for test -f "$mnt/m4.iso" || fail "m4.iso did not appear"
pids=()
for r in $(seq 16); do
	m=m$(((r - 1) % 4 + 1))
	(test "$(sha "$mnt/$m.iso")" = "$(sha "$WORK/$m.iso")") &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || fail "a concurrent reader got wrong bytes"
done

check "kill -9, fusermount3 -u, restart"
kill -9 "$FS_PID"
wait "$FS_PID" 2>/dev/null || true
FS_PID=
fusermount3 -u "$mnt" || fail "fusermount3 -u did not clear the dead mount"
mount_fs
assert_eq "$(sha "$mnt/alpha.iso")" "$(sha "$WORK/alpha.2.iso")" "after restart"
unmount_fs

check "a corrupted pack byte is EIO on the affected range only"
# Only served content left in the packs: then flip a byte in the middle of
# the largest pack.  A fresh daemon has checked nothing yet.
tsm "$store" content rm "$idb" >/dev/null
tsm "$store" gc >/dev/null
pack=$(ls -S "$store"/packs/*.pack | head -n 1)
python3 - "$pack" <<'PY'
import sys
p = sys.argv[1]
with open(p, 'r+b') as f:
    f.seek(0, 2)
    n = f.tell()
    f.seek(n // 2)
    b = f.read(1)
    f.seek(n // 2)
    f.write(bytes([b[0] ^ 0xff]))
PY
mount_fs
python3 - "$WORK" "$mnt" <<'PY'
import os, sys
work, mnt = sys.argv[1:]
bad_total = 0
for m in ("alpha", "m1", "m2", "m3", "m4"):
    exp = open(os.path.join(work, (m + ".iso") if m != "alpha" else "alpha.2.iso"), "rb").read()
    fd = os.open(os.path.join(mnt, m + ".iso"), os.O_RDONLY)
    bs, bad = 65536, 0
    for off in range(0, len(exp), bs):
        try:
            got = os.pread(fd, bs, off)
        except OSError as e:
            if e.errno != 5:
                sys.exit(f"{m}: offset {off}: {e} (expected EIO)")
            bad += 1
            continue
        want = exp[off:off + bs]
        if len(got) < len(want):
            # A read stops short where the damage starts: what came must
            # be right, and the rest must fail.
            if got != want[:len(got)]:
                sys.exit(f"{m}: wrong bytes in a short read at offset {off}")
            try:
                os.pread(fd, bs - len(got), off + len(got))
                sys.exit(f"{m}: short read at {off + len(got)} but no error after it")
            except OSError as e:
                if e.errno != 5:
                    sys.exit(f"{m}: offset {off + len(got)}: {e} (expected EIO)")
            bad += 1
            continue
        if got != want:
            sys.exit(f"{m}: wrong bytes at offset {off}")
    os.close(fd)
    bad_total += bad
# One chunk is damaged (at most 256 KiB): a few 64 KiB blocks, no more.
if not 1 <= bad_total <= 6:
    sys.exit(f"{bad_total} blocks failed; expected 1 to 6")
print(f"  ... {bad_total} blocks of 64 KiB gave EIO, every other byte was right")
PY
grep -q "checksum mismatch" "$WORK/daemon.log" || fail "the daemon did not log the damaged chunk"
unmount_fs
pass
