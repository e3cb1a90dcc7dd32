#!/usr/bin/env bash
# USB media holding a 5 GB OS image: FAT32 keeps files under 4 GiB, so the
# OS image is on the stick as a split WIM (install.swm, install2.swm) that
# wimlib-imagex verifies as a set; the image itself is clean for fsck.fat.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

for t in wimlib-imagex mcopy fsck.fat; do
	command -v "$t" >/dev/null || skip "$t is not installed"
done
root=$(cd "$(dirname "$0")/../.." && pwd)
store=$WORK/store
init_store "$store" --compression none

"$root/tools/make-boot-demo.sh" "$WORK/boot"
boot=$(add_content "$store" --kind boot-image --name boot "$WORK/boot")
# 5 GB in three different files (a random start, then zeros), so the store
# stays small while the WIM, which keeps one copy per distinct file, is as
# large as a real install.wim.
mkdir -p "$WORK/os/Windows"
for i in 1 2 3; do
	randfile "$WORK/os/Windows/part$i.bin" $((1 << 20))
	truncate -s 1700M "$WORK/os/Windows/part$i.bin"
done
os=$(add_content "$store" --kind os-image --name "big OS" "$WORK/os")
cat >"$WORK/ts.xml" <<XML
<sequence version="3.10">
  <step type="SMS_TaskSequence_ApplyOperatingSystemAction" name="Apply Operating System">
    <action>osdapplyos.exe /image:$os,1</action>
  </step>
</sequence>
XML
ts=$(tsm "$store" ts import --name "apply" --boot-image "$boot" "$WORK/ts.xml" | grep -E "$ID_RE")
tsm "$store" media create --type standalone --name stick --media usb --task-sequence "$ts" \
	--no-password >/dev/null 2>&1

check "the stick holds the OS image as a split WIM, each part under 4 GiB"
tsm "$store" media export stick -o "$WORK/stick.img"
mkdir -p "$WORK/x"
MTOOLS_SKIP_CHECK=1 mcopy -s -n -i "$WORK/stick.img@@1M" "::/SMS/PKG/$os" "$WORK/x/" ||
	fail "mcopy could not read the OS image's folder"
ls -la "$WORK/x/$os"
[[ -f $WORK/x/$os/install.swm && -f $WORK/x/$os/install2.swm ]] || fail "no install.swm set"
for f in "$WORK/x/$os"/*.swm; do
	assert_le "$(stat -c %s "$f")" 4294967295 "$(basename "$f") size"
done
check "wimlib-imagex verifies the set"
wimlib-imagex verify "$WORK/x/$os/install.swm" --ref="$WORK/x/$os/install*.swm" >/dev/null ||
	fail "wimlib-imagex verify rejects the split set"
rm -rf "$WORK/x"

check "fsck.fat is clean on the stick's partition"
dd if="$WORK/stick.img" of="$WORK/part.img" bs=1M skip=1 status=none
fsck.fat -n "$WORK/part.img" >"$WORK/fsck.log" 2>&1 || fail "fsck.fat: $(tail -5 "$WORK/fsck.log")"
pass
