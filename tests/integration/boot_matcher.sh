#!/usr/bin/env bash
# The boot checks' matcher and runner (lib.sh: strip_terminal_codes,
# banner_in_log, boot_check, expect_boot), judged on serial logs with the
# escape sequences seen from SeaBIOS, isolinux, GRUB and OVMF, on logs
# without the banner, and with a stand-in for QEMU that prints a banner late,
# never, or exits: the banner is found through the codes, a missing one is a
# failure at the deadline, and QEMU is stopped as soon as the answer is known.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

bios="tsmedia-demo: booted under BIOS by isolinux"
log=$WORK/serial.log

has() { # NAME PRINTF-FORMAT: the banner must be found in the log
	printf "$2" >"$log"
	banner_in_log "$log" "$bios" || fail "$1: the banner is not found in $(od -c "$log" | head -5)"
}
hasnt() { # NAME PRINTF-FORMAT: the banner must not be found
	printf "$2" >"$log"
	! banner_in_log "$log" "$bios" || fail "$1: a banner is found in a log without it: $(od -c "$log" | head -5)"
}

check "the banner is found through the console's escape sequences"
# The log that made media_types flaky: cursor moves inside the banner.
has "cursor moves mid-banner (seen here)" 'Loading ldlinux.sys...\r\ntsmedia-demo: booted und\033[17;24H\033[17;25Her BIOS by isolinux\r\n'
has "SeaBIOS/OVMF clear and colours" '\033[2J\033[01;01H\033[=3h\033[2J\033[01;01HBdsDxe: loading Boot0001\r\n\033[0m\033[37m\033[40mtsmedia-demo: \033[1;37;40mbooted under BIOS\033[0m by isolinux\r\n'
has "GRUB cursor hide/show and erase" '\033[?25l\033[H\033[Jtsmedia-demo: booted under \033[K\033[?25hBIOS by isolinux\n'
has "OSC title and charset switches" '\033]0;tsmedia\007tsmedia-demo: boo\033(Bted und\033)0er BI\033]2;x\033\\OS by \0337\0338isolinux'
has "wrapped at the last column (CR LF inside the banner)" 'tsmedia-demo: booted under BI\r\nOS by isolinux\r\n'
has "shift-out/in and bell" 'tsmedia-demo: booted\016 under\017 BIOS\007 by isolinux'
has "bytes that are not UTF-8 around it" '\377\376\200tsmedia-demo: booted under BIOS by isolinux\351\r\n'

check "a log without the banner is not taken for one"
hasnt "empty" ''
hasnt "cut short" 'tsmedia-demo: booted und\033[17;24H'
hasnt "the other firmware's banner" 'tsmedia-demo: booted under UEFI by GRUB\r\n'
hasnt "a different word between codes" 'tsmedia-demo: booted und\033[17;24Hxer BIOS by isolinux'
banner_in_log "$WORK/no-such-log" "$bios" && fail "a missing log holds a banner"

# A stand-in for QEMU: finds -serial file:PATH, records its pid and
# arguments, then does what FAKE_QEMU_MODE says.
fake=$WORK/fake-qemu
cat >"$fake" <<'SH'
#!/usr/bin/env bash
serial=
while (($#)); do
	[[ $1 == -serial ]] && serial=${2#file:}
	shift
done
echo $$ >"$FAKE_DIR/pid"
case $FAKE_QEMU_MODE in
late) # the banner in pieces, with codes between them, after a while; then runs on
	sleep 1; printf 'SeaBIOS\r\n\033[2J' >>"$serial"
	sleep 1; printf 'tsmedia-demo: booted und\033[17;24H' >>"$serial"
	sleep 1; printf '\033[17;25Her BIOS by isolinux\r\n' >>"$serial"
	exec sleep 600 ;;
never) printf 'SeaBIOS\r\nNo bootable device.\r\n' >>"$serial"; exec sleep 600 ;;
exits) printf 'SeaBIOS\r\nBoot failed\r\n' >>"$serial"; exit 0 ;;
last-words) printf 'tsmedia-demo: booted under BIOS by isolinux\r\n' >>"$serial"; exit 0 ;;
esac
SH
chmod +x "$fake"
export FAKE_DIR=$WORK
gone() { ! kill -0 "$(cat "$WORK/pid")" 2>/dev/null; }

check "boot_check returns at the banner and stops QEMU, long before the deadline"
start=$SECONDS
FAKE_QEMU_MODE=late QEMU=$fake BOOT_TIMEOUT=300 boot_check late "$bios" -cdrom x.iso ||
	fail "the late banner was not seen: $(od -c "$WORK/boot.late.serial" | head)"
assert_le $((SECONDS - start)) 60 "boot_check waited for the deadline instead of the banner"
gone || fail "QEMU still runs after the banner was seen"

check "no banner: boot_check fails at the deadline and stops QEMU"
start=$SECONDS
if FAKE_QEMU_MODE=never QEMU=$fake BOOT_TIMEOUT=3 boot_check never "$bios" -cdrom x.iso; then
	fail "boot_check passed without a banner"
fi
assert_ge $((SECONDS - start)) 3 "boot_check gave up before its deadline"
gone || fail "QEMU still runs after the deadline"

check "QEMU exits without the banner: a failure at once; with it in its last words: a pass"
start=$SECONDS
if FAKE_QEMU_MODE=exits QEMU=$fake BOOT_TIMEOUT=300 boot_check exits "$bios"; then
	fail "boot_check passed when QEMU exited without a banner"
fi
assert_le $((SECONDS - start)) 60 "boot_check waited for the deadline after QEMU had exited"
FAKE_QEMU_MODE=last-words QEMU=$fake BOOT_TIMEOUT=300 boot_check last-words "$bios" ||
	fail "the banner written just before QEMU exited was missed"

check "expect_boot fails the test naming the boot, with the serial log as text"
rc=0
(FAKE_QEMU_MODE=exits QEMU=$fake expect_boot exits-2 "$bios" -cdrom x.iso) >"$WORK/eb.out" 2>"$WORK/eb.err" || rc=$?
assert_eq "$rc" 1 "expect_boot's exit status without a banner"
grep -q "exits-2: no '$bios' on the serial console" "$WORK/eb.err" || fail "expect_boot's message: $(cat "$WORK/eb.err")"
grep -q "SeaBIOSBoot failed" "$WORK/eb.err" || fail "expect_boot's message lacks the serial log as text: $(cat "$WORK/eb.err")"
pass
