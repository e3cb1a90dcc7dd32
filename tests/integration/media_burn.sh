#!/usr/bin/env bash
# media burn with the real xorriso against its stdio: pseudo-drives (files
# standing in for discs) (issue 21).  Every volume of a two-volume set is
# burned and read back: with a drive per volume; and with one drive on a
# terminal, where it asks for the next blank disc between volumes (the test
# answers on a pseudo-terminal and swaps the "disc").  A byte flipped on a
# disc before its read back is caught; no xorriso, no drive, no terminal
# without --yes, and a USB media are each a clear error, with no disc
# written.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_sets.sh"

for t in xorriso truncate; do
	command -v "$t" >/dev/null || skip "$t is not installed (Debian: xorriso coreutils)"
done
store=$WORK/store
init_store "$store" --site-code PS1
make_two_volume_set "$store" set
mkdir -p "$WORK/exp"
tsm "$store" -q media export set -o "$WORK/exp/"

check "a drive per volume: both volumes burned, each read back and compared"
tsm "$store" media burn set --device "stdio:$WORK/d1.iso" --device "stdio:$WORK/d2.iso" --yes \
	>"$WORK/burn.out" 2>"$WORK/burn.err" || fail "media burn failed: $(tail -5 "$WORK/burn.err")"
# A disc, like a drive reading one, may hold a few blocks after the track
# (xorriso's stdio: drives do): the volume is the first SIZE bytes.
on_disc() { cmp -s -n "$(stat -c %s "$2")" "$1" "$2"; }
for v in 1 2; do
	on_disc "$WORK/d$v.iso" "$WORK/exp/set.$v.iso" || fail "disc $v does not hold volume $v"
	grep -q "^volume $v of 2 (set.$v.iso, $(stat -c %s "$WORK/exp/set.$v.iso") bytes) burned to stdio:$WORK/d$v.iso and read back: SHA-256 $(sha "$WORK/exp/set.$v.iso") matches\$" "$WORK/burn.out" ||
		fail "no verified line for volume $v: $(cat "$WORK/burn.out")"
done
note "$(tr '\n' ' ' <"$WORK/burn.out" | head -c 300)"
xorriso -indev "$WORK/d1.iso" -find /SMS/data -name Manifest.txt >"$WORK/find.out" 2>&1 ||
	fail "xorriso cannot read disc 1: $(tail -3 "$WORK/find.out")"
rm -f "$WORK/d1.iso" "$WORK/d2.iso"

check "one drive on a terminal: it asks for a blank disc before each volume"
python3 - "$TSMEDIA" "$store" "$WORK" <<'PY' || fail "the interactive burn"
import os, pty, re, sys, time
tsmedia, store, work = sys.argv[1:]
disc = f"{work}/disc.iso"
pid, fd = pty.fork()
if pid == 0:
    os.execv(tsmedia, [tsmedia, "--store", store, "media", "burn", "set", "--device", f"stdio:{disc}"])
out = b""
def until(pattern, limit=300):
    global out
    end = time.monotonic() + limit
    while not re.search(pattern, out):
        if time.monotonic() > end:
            sys.exit(f"no {pattern!r} within {limit} s; the terminal shows: {out[-600:]!r}")
        try:
            b = os.read(fd, 4096)
        except OSError:
            b = b""
        if not b:
            sys.exit(f"tsmedia ended before {pattern!r}; the terminal shows: {out[-600:]!r}")
        out += b
until(rb"Put a blank disc for volume 1 of 2 \(set\.1\.iso\) into stdio:" + re.escape(disc.encode()))
if os.path.exists(disc):
    sys.exit("a disc was written before the answer")
os.write(fd, b"\n")
until(rb"volume 1 of 2 .* matches")
until(rb"Put a blank disc for volume 2 of 2")
os.rename(disc, f"{work}/disc-1.iso")   # the burned disc out, a blank one in
os.write(fd, b"\n")
until(rb"volume 2 of 2 .* matches")
_, status = os.waitpid(pid, 0)
if os.waitstatus_to_exitcode(status) != 0:
    sys.exit(f"media burn exited {status}: {out[-600:]!r}")
PY
on_disc "$WORK/disc-1.iso" "$WORK/exp/set.1.iso" || fail "the first disc does not hold volume 1"
on_disc "$WORK/disc.iso" "$WORK/exp/set.2.iso" || fail "the second disc does not hold volume 2"
rm -f "$WORK/disc-1.iso" "$WORK/disc.iso"

check "a byte flipped on the disc before its read back is caught"
TSMEDIA_TEST_BEFORE_VERIFY='f=${TSMEDIA_DEVICE#stdio:}; printf "\377" | dd of="$f" bs=1 seek=40000 conv=notrunc status=none' \
	expect_fail_with "differs from the media from byte 40000 on" -- \
	tsm "$store" media burn set --device "stdio:$WORK/bad.iso" --yes
grep -q "verify failed: the disc in stdio:$WORK/bad.iso reads back SHA-256 [0-9a-f]\{64\}, volume 1 (set.1.iso) is $(sha "$WORK/exp/set.1.iso")" "$LAST_STDERR" ||
	fail "the verify failure does not name both SHA-256s: $(cat "$LAST_STDERR")"
grep -q "volume 2" "$LAST_STDOUT" && fail "volume 2 was burned after volume 1 failed"

check "no burner, no terminal, a USB media: clear errors, no disc written"
mkdir -p "$WORK/empty-bin"
expect_fail_with "no burner: xorriso is not installed \(Debian: apt-get install xorriso\)" -- \
	env PATH="$WORK/empty-bin" "$TSMEDIA" --store "$store" media burn set --device "stdio:$WORK/none.iso" --yes
if ! ls /dev/sr[0-9]* >/dev/null 2>&1; then
	expect_fail_with "no burner: no CD/DVD drive \(/dev/srN\) on this machine; give --device" -- \
		tsm "$store" media burn set --yes
else
	skip_part "this machine has a CD/DVD drive: the no-drive message is not checked"
fi
expect_fail_with "no burner at /dev/nonexistent-sr9" -- tsm "$store" media burn set --device /dev/nonexistent-sr9 --yes
expect_fail_with "standard input is not a terminal.*--yes" -- \
	tsm "$store" media burn set --device "stdio:$WORK/none.iso" </dev/null
mkdir -p "$WORK/u"
echo u >"$WORK/u/u.txt"
idu=$(add_content "$store" --kind package --name U "$WORK/u")
tsm "$store" media create --type data --name stick --content "$idu" --media usb >/dev/null
expect_fail_with "media 'stick' is not a CD/DVD media \(it is stick.img\).*media write stick" -- \
	tsm "$store" media burn stick --device "stdio:$WORK/none.iso" --yes
[[ -e $WORK/none.iso ]] && fail "a refused burn wrote $WORK/none.iso"
pass
