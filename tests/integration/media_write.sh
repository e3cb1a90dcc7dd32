#!/usr/bin/env bash
# media write to loop devices (issue 21).  Refused, each with a clear
# message and the device unchanged: a disk the kernel does not call
# removable (a loop device is not) without --force-fixed-disk, a mounted
# one, one smaller than the image, no terminal to ask and no --yes, a media
# that is not a USB image.  A write with --force-fixed-disk --yes reads back
# the export's bytes and SHA-256; a byte flipped on the device between the
# write and the read back (a second writer, through the test hook) is
# caught: exit 1, naming the offset.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[[ $(id -u) == 0 ]] || skip "loop devices need root"
for t in losetup mke2fs mount umount truncate; do
	command -v "$t" >/dev/null || skip "$t is not installed (Debian: util-linux e2fsprogs mount coreutils)"
done
[[ -e /dev/loop-control ]] || skip "no /dev/loop-control (loop devices)"

store=$WORK/store
init_store "$store"
mkdir -p "$WORK/src"
randfile "$WORK/src/tool.bin" $((3 << 20))
echo hello >"$WORK/src/readme.txt"
id=$(add_content "$store" --kind package --name tools "$WORK/src")
tsm "$store" media create --type data --name stick --content "$id" --media usb >/dev/null
tsm "$store" media create --type data --name disc --content "$id" >/dev/null
tsm "$store" media export stick -o "$WORK/stick.img"
size=$(stat -c %s "$WORK/stick.img")
note "stick.img: $size bytes"

# loopdev FILE BYTES: a loop device on a new FILE whose first MiB is random
# (so "nothing was written" can be checked); prints the device.  The caller
# registers its detach (a $(...) subshell's at_exit would be lost).
loopdev() {
	truncate -s "$2" "$1"
	randfile "$WORK/.mark" $((1 << 20))
	dd if="$WORK/.mark" of="$1" conv=notrunc status=none
	losetup -f --show "$1" || fail "losetup $1 failed"
}
big=$(loopdev "$WORK/big.bin" $((size + (8 << 20))))
at_exit "losetup -d $big"
small=$(loopdev "$WORK/small.bin" $((size / 2)))
at_exit "losetup -d $small"
note "devices: $big ($((size + (8 << 20))) bytes), $small ($((size / 2)) bytes)"
unchanged() { # unchanged FILE SHA: the device's backing file still has SHA
	sync
	assert_eq "$(sha "$1")" "$2" "$1 was written to"
}
big_sha=$(sha "$WORK/big.bin")
small_sha=$(sha "$WORK/small.bin")

check "a disk the kernel does not call removable is refused without --force-fixed-disk"
expect_fail_with "$big \(loop device on .*big.bin\) is not a removable disk.*--force-fixed-disk.*nothing was written" -- \
	tsm "$store" media write stick --device "$big" --yes
unchanged "$WORK/big.bin" "$big_sha"

check "a device smaller than the image is refused"
expect_fail_with "$small holds $((size / 2)) bytes, stick.img needs $size; nothing was written" -- \
	tsm "$store" media write stick --device "$small" --yes --force-fixed-disk
unchanged "$WORK/small.bin" "$small_sha"

check "a mounted device is refused, naming where it is mounted"
mke2fs -q -F "$small" || fail "mke2fs $small"
mkdir -p "$WORK/m"
sync
small_sha=$(sha "$WORK/small.bin")
# Read-only, so the mount itself writes nothing (the check below is ours).
mount -o ro "$small" "$WORK/m" || fail "mount $small"
at_exit "umount '$WORK/m'"
expect_fail_with "$small is mounted: .* on $WORK/m; unmount it first \(nothing was written\)" -- \
	tsm "$store" media write stick --device "$small" --yes --force-fixed-disk
umount "$WORK/m"
unchanged "$WORK/small.bin" "$small_sha"

check "no terminal to ask and no --yes: refused; a CD/DVD media is not written; nor a file"
expect_fail_with "standard input is not a terminal.*--yes" -- \
	tsm "$store" media write stick --device "$big" --force-fixed-disk </dev/null
grep -q "^Serial: " "$LAST_STDERR" || fail "the device's serial was not shown before asking"
grep -q "^Model:     loop device on $WORK/big.bin" "$LAST_STDERR" || fail "the device's model was not shown before asking"
grep -q "^Size:      $((size + (8 << 20))) bytes" "$LAST_STDERR" || fail "the device's size was not shown before asking"
expect_fail_with "media 'disc' is not a USB media \(it is disc.iso\).*media burn disc" -- \
	tsm "$store" media write disc --device "$big" --yes --force-fixed-disk
expect_fail_with "$WORK/stick.img is not a block device" -- \
	tsm "$store" media write stick --device "$WORK/stick.img" --yes --force-fixed-disk
unchanged "$WORK/big.bin" "$big_sha"

check "on a terminal it asks: an answer other than yes writes nothing"
# ask_on_tty ANSWER: media write on a pseudo-terminal, answering ANSWER to
# its question; prints what the terminal showed.
ask_on_tty() {
	python3 - "$TSMEDIA" "$store" "$big" "$1" <<'PY'
import os, pty, re, sys, time
tsmedia, store, dev, answer = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(tsmedia, [tsmedia, "--store", store, "media", "write", "stick", "--device", dev, "--force-fixed-disk"])
out, end, asked = b"", time.monotonic() + 120, False
while True:
    try:
        b = os.read(fd, 4096)
    except OSError:
        b = b""
    if not b:
        break
    out += b
    if not asked and b"Type yes to write:" in out:
        os.write(fd, answer.encode() + b"\n")
        asked = True
    if time.monotonic() > end:
        sys.exit("media write did not finish on the terminal")
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(0 if asked and os.waitstatus_to_exitcode(status) == 0 else 1)
PY
}
ask_on_tty no >"$WORK/tty-no.out" && fail "media write went on after the answer 'no': $(cat "$WORK/tty-no.out")"
grep -q "Serial:" "$WORK/tty-no.out" || fail "the terminal did not show the device: $(cat "$WORK/tty-no.out")"
grep -q "not confirmed: nothing was written to $big" "$WORK/tty-no.out" || fail "no refusal after 'no': $(cat "$WORK/tty-no.out")"
unchanged "$WORK/big.bin" "$big_sha"
ask_on_tty yes >"$WORK/tty-yes.out" || fail "media write on a terminal, answered yes: $(tail -5 "$WORK/tty-yes.out")"
grep -q "matches" "$WORK/tty-yes.out" || fail "no verified write after 'yes': $(cat "$WORK/tty-yes.out")"
cmp -n "$size" "$WORK/big.bin" "$WORK/stick.img" || fail "the device does not hold the image after 'yes'"
dd if="$WORK/.mark" of="$WORK/big.bin" conv=notrunc status=none # a first MiB the next write must replace

check "--force-fixed-disk --yes writes the image and reads it back"
tsm "$store" media write stick --device "$big" --yes --force-fixed-disk >"$WORK/write.out" 2>"$WORK/write.err" ||
	fail "media write failed: $(cat "$WORK/write.err")"
grep -q "read it back: SHA-256 $(sha "$WORK/stick.img") matches" "$WORK/write.out" ||
	fail "media write did not report the export's SHA-256 as read back: $(cat "$WORK/write.out")"
cmp -n "$size" "$WORK/big.bin" "$WORK/stick.img" || fail "the device does not hold the image"
note "$(tail -1 "$WORK/write.out")"

check "a byte flipped between the write and the read back is caught"
export TSMEDIA_TEST_BEFORE_VERIFY='printf "\377" | dd of="$TSMEDIA_DEVICE" bs=1 seek=1000000 conv=notrunc,fsync status=none'
expect_fail_with "differs from the media from byte 1000000 on" -- \
	tsm "$store" media write stick --device "$big" --yes --force-fixed-disk
grep -q "verify failed: $big reads back SHA-256 [0-9a-f]\{64\}, the media is $(sha "$WORK/stick.img")" "$LAST_STDERR" ||
	fail "the verify failure does not name both SHA-256s: $(cat "$LAST_STDERR")"
unset TSMEDIA_TEST_BEFORE_VERIFY
pass
