#!/usr/bin/env bash
# The /etc/fstab form (tools/fstab.example, with this test's paths): mount(8)
# runs mount.fuse3, which runs tsmediafs with -o ...,store=DIR.  `mount -T
# FSTAB MOUNTPOINT` (the line as written), `mount -t fuse3` and mount.fuse3
# run directly each give a read-only allow_other mount whose media equal
# `media export`, readable by another user (nobody), while the store is not;
# umount ends the daemon.  Then allow_other for non-root mounts: fusermount3
# refuses it unless /etc/fuse.conf says user_allow_other (tried in a private
# mount namespace), and without allow_other not even root reads a user's mount.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[[ -e /dev/fuse ]] || skip "/dev/fuse is missing"
for t in fusermount3 mount.fuse3 mount umount findmnt setpriv; do
	command -v "$t" >/dev/null || skip "$t is not installed (Debian: fuse3, mount, util-linux)"
done
[[ $(id -u) == 0 ]] || skip "mount from fstab as root: run as root"
TSMEDIAFS=${TSMEDIAFS:-$(dirname "$TSMEDIA")/../fs/tsmediafs}
[[ -x $TSMEDIAFS ]] || fail "tsmediafs not found at $TSMEDIAFS"
TSMEDIAFS=$(cd "$(dirname "$TSMEDIAFS")" && pwd)/$(basename "$TSMEDIAFS")
root=$(cd "$(dirname "$0")/../.." && pwd)

chmod 0711 "$WORK"
store=$WORK/store
mnt=$WORK/srv-tsmedia
mkdir -p "$mnt"
init_store "$store"
mkdir -p "$WORK/c"
randfile "$WORK/c/payload.bin" $((5 << 20))
id=$(add_content "$store" --kind package --name C "$WORK/c")
tsm "$store" media create --type data --name demo --content "$id" >/dev/null
tsm "$store" media export demo -o "$WORK/demo.iso"
at_exit 'umount "$mnt"; fusermount3 -u "$mnt"'
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }

# The daemon of a mount: the tsmediafs process whose arguments name MNT.
daemon_of() { pgrep -f "^$TSMEDIAFS $mnt " || true; }
mounted_right() { # HOW
	local opts pid
	mountpoint -q "$mnt" || fail "$1: $mnt is not mounted"
	opts=$(findmnt -n -o FSTYPE,OPTIONS "$mnt")
	assert_match "$opts" '^fuse\.tsmedia ro,.*allow_other' "$1: the mount's type and options"
	assert_eq "$(as_nobody sha256sum "$mnt/demo.iso" | cut -d' ' -f1)" "$(sha "$WORK/demo.iso")" \
		"$1: demo.iso read by nobody"
	as_nobody ls "$store" >/dev/null 2>&1 && fail "$1: nobody can list the store"
	pid=$(daemon_of)
	[[ -n $pid ]] || fail "$1: no tsmediafs process for $mnt"
	note "$1: fuse.tsmedia, ro, allow_other; daemon: $(tr '\0' ' ' </proc/"${pid%%$'\n'*}"/cmdline)"
	umount "$mnt" || fail "$1: umount failed"
	for _ in $(seq 50); do
		[[ -z $(daemon_of) ]] && return 0
		sleep 0.1
	done
	fail "$1: the daemon is still running after umount"
}

check "mount -T FSTAB MOUNTPOINT with the line of tools/fstab.example"
# mount(8) runs helpers with its own PATH (/usr/local/sbin:/usr/local/bin:
# ...): the test's daemon goes in by its absolute path, the only change
# besides the store and the mount point.
sed -e "s|/srv/tsmedia|$mnt|g" -e "s|/var/lib/tsmedia|$store|g" \
	-e "s|^tsmediafs |$TSMEDIAFS |" "$root/tools/fstab.example" >"$WORK/fstab"
grep -v '^#' "$WORK/fstab" | grep -q "^$TSMEDIAFS  *$mnt  *fuse3 .*store=$store" ||
	fail "tools/fstab.example has no 'tsmediafs /srv/tsmedia fuse3 ...store=/var/lib/tsmedia...' line: $(grep -v '^#' "$WORK/fstab")"
note "$(grep -v '^#' "$WORK/fstab" | grep .)"
mount -T "$WORK/fstab" "$mnt" 2>"$WORK/mount.err" || fail "mount -T: $(cat "$WORK/mount.err")"
mounted_right "mount -T fstab"

check "mount -t fuse3 and mount.fuse3, with the same options"
opts=$(grep -v '^#' "$WORK/fstab" | awk 'NF >= 4 { print $4; exit }')
mount -t fuse3 -o "$opts" "$TSMEDIAFS" "$mnt" 2>"$WORK/mount.err" || fail "mount -t fuse3: $(cat "$WORK/mount.err")"
mounted_right "mount -t fuse3"
# x-* options are mount(8)'s and systemd's: mount(8) keeps them from the
# helper, so mount.fuse3 run by hand is given the others.
helper_opts=$(tr ',' '\n' <<<"$opts" | grep -v '^x-' | paste -sd,)
mount.fuse3 "$TSMEDIAFS" "$mnt" -o "$helper_opts" 2>"$WORK/mount.err" || fail "mount.fuse3 -o $helper_opts: $(cat "$WORK/mount.err")"
mounted_right "mount.fuse3"

check "a bad store= is an error at mount time, and nothing is mounted"
expect_fail_with "no store at $WORK/nothere" -- mount.fuse3 "$TSMEDIAFS" "$mnt" -o "ro,allow_other,store=$WORK/nothere"
mountpoint -q "$mnt" && fail "mounted although the store does not exist"

check "allow_other: a non-root mount needs user_allow_other in /etc/fuse.conf; root's does not"
# A user's mount goes through fusermount3 (setuid root), which reads
# /etc/fuse.conf.  In a private mount namespace (nothing outside changes):
# /dev/fuse open to users as on a normal system (a container may have it
# 0600), and /etc/fuse.conf without, then with user_allow_other.
nstore=$WORK/nobody-store
nmnt=$WORK/nobody-mnt
mkdir -p "$nmnt"
cp -a "$store" "$nstore"
chown -R nobody:nogroup "$nstore" "$nmnt"
grep -Ev '^[[:space:]]*user_allow_other' /etc/fuse.conf >"$WORK/fuse.conf.without" 2>/dev/null || true
{ cat "$WORK/fuse.conf.without"; echo user_allow_other; } >"$WORK/fuse.conf.with"
cat >"$WORK/nonroot.sh" <<NONROOT
set -u
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "\$@"; }
mknod "$WORK/fusedev" c 10 229 && chmod 0666 "$WORK/fusedev" && mount --bind "$WORK/fusedev" /dev/fuse ||
	{ echo "SETUP: cannot give users a /dev/fuse in a private namespace"; exit 0; }
mount --bind "$WORK/fuse.conf.without" /etc/fuse.conf || { echo "SETUP: cannot bind /etc/fuse.conf"; exit 0; }
if as_nobody "$TSMEDIAFS" --store "$nstore" "$nmnt" -o allow_other 2>"$WORK/nr1.err"; then
	echo "WRONG: nobody mounted with allow_other without user_allow_other"; as_nobody fusermount3 -u "$nmnt"
else
	echo "refused: \$(grep -m1 user_allow_other "$WORK/nr1.err")"
fi
as_nobody "$TSMEDIAFS" --store "$nstore" "$nmnt" 2>"$WORK/nr2.err" || echo "WRONG: nobody cannot mount without allow_other: \$(cat "$WORK/nr2.err")"
as_nobody sha256sum "$nmnt/demo.iso" | sed 's/^/owner reads: /'
sha256sum "$nmnt/demo.iso" >/dev/null 2>&1 && echo "WRONG: root reads a user's mount made without allow_other" || echo "root denied without allow_other"
as_nobody fusermount3 -u "$nmnt"
umount /etc/fuse.conf; mount --bind "$WORK/fuse.conf.with" /etc/fuse.conf
as_nobody "$TSMEDIAFS" --store "$nstore" "$nmnt" -o allow_other 2>"$WORK/nr3.err" || echo "WRONG: refused with user_allow_other: \$(cat "$WORK/nr3.err")"
sha256sum "$nmnt/demo.iso" | sed 's/^/root reads with allow_other: /'
setpriv --reuid=www-data --regid=www-data --clear-groups ls "$nstore" >/dev/null 2>&1 && echo "WRONG: www-data lists nobody's store"
as_nobody fusermount3 -u "$nmnt"
NONROOT
if ! unshare -m --propagation private bash "$WORK/nonroot.sh" >"$WORK/nonroot.out" 2>&1; then
	skip_part "non-root mounts: no private mount namespace here: $(tail -n 2 "$WORK/nonroot.out")"
elif grep -q '^SETUP:' "$WORK/nonroot.out"; then
	skip_part "non-root mounts: $(grep '^SETUP:' "$WORK/nonroot.out")"
else
	! grep -q '^WRONG' "$WORK/nonroot.out" || fail "$(grep '^WRONG' "$WORK/nonroot.out")"
	want=$(sha "$WORK/demo.iso")
	grep -q "^refused: .*allow_other only allowed if 'user_allow_other' is set in /etc/fuse.conf" "$WORK/nonroot.out" ||
		fail "a non-root allow_other mount was not refused as expected: $(cat "$WORK/nonroot.out")"
	grep -q "^owner reads: $want " "$WORK/nonroot.out" || fail "the owner cannot read its mount: $(cat "$WORK/nonroot.out")"
	grep -q "^root denied without allow_other" "$WORK/nonroot.out" || fail "$(cat "$WORK/nonroot.out")"
	grep -q "^root reads with allow_other: $want " "$WORK/nonroot.out" ||
		fail "with user_allow_other, another user cannot read nobody's allow_other mount: $(cat "$WORK/nonroot.out")"
	note "nobody: -o allow_other refused without user_allow_other, allowed with it; without allow_other even root is denied"
fi
pass
