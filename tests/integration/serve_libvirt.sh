#!/usr/bin/env bash
# tools/libvirt/tsmedia-demo.xml: valid against libvirt's domain schema
# (virt-xml-validate), accepted by libvirt (virsh define on the test driver,
# no daemon), and its disks are files on the mount; QEMU, given the disks as
# the domain describes them (the CD NAME.iso, the USB stick NAME.img, both
# read-only), boots the boot demo: banner on the serial console.  Only paths
# change (and the domain type kvm -> qemu where /dev/kvm is missing).
# libvirtd itself is not run: it needs the libvirt-qemu user and a system
# daemon (libvirt-daemon-system).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[[ -e /dev/fuse ]] || skip "/dev/fuse is missing"
for t in fusermount3 virt-xml-validate virsh qemu-system-x86_64 grub-mkstandalone mkfs.fat mcopy; do
	command -v "$t" >/dev/null || skip "$t is not installed (Debian: fuse3, libvirt-clients, qemu-system-x86, grub-common, dosfstools, mtools)"
done
[[ -f /usr/lib/ISOLINUX/isolinux.bin ]] || skip "isolinux is not installed"
TSMEDIAFS=${TSMEDIAFS:-$(dirname "$TSMEDIA")/../fs/tsmediafs}
[[ -x $TSMEDIAFS ]] || fail "tsmediafs not found at $TSMEDIAFS"
root=$(cd "$(dirname "$0")/../.." && pwd)

chmod 0711 "$WORK"
store=$WORK/store
mnt=$WORK/mnt
mkdir -p "$mnt"
init_store "$store"
"$root/tools/make-boot-demo.sh" "$WORK/boot"
id=$(add_content "$store" --kind boot-image --name "boot demo" "$WORK/boot")
tsm "$store" media create --type data --name boot --content "$id" \
	--bios-boot isolinux/isolinux.bin --boot-load-size 4 --boot-info-table \
	--uefi-boot efi/boot.img --hybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin --hybrid-gpt >/dev/null
have_img=1
if ! tsm "$store" media create --type data --name boot-usb --media usb --content "$id" \
	--bios-boot isolinux/isolinux.bin >/dev/null 2>"$WORK/usb.err"; then
	grep -q 'not supported yet' "$WORK/usb.err" || fail "media create --media usb: $(cat "$WORK/usb.err")"
	have_img=0
	skip_part "NAME.img on the domain's USB stick: $(cat "$WORK/usb.err")"
fi
"$TSMEDIAFS" --store "$store" "$mnt" -f -o allow_other 2>>"$WORK/daemon.log" &
daemon=$!
at_exit 'fusermount3 -u "$mnt"; kill $daemon'
for _ in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.1; done
[[ -f $mnt/boot.iso ]] || fail "boot.iso is not on the mount"

# The domain with this test's paths: the mount, NAME (boot and boot-usb),
# the serial log.
xml=$WORK/tsmedia-demo.xml
sed -e "s|/srv/tsmedia/boot.iso|$mnt/boot.iso|" -e "s|/srv/tsmedia/boot.img|$mnt/boot-usb.img|" \
	-e "s|/var/log/libvirt/qemu/tsmedia-demo-serial.log|$WORK/serial.log|" \
	"$root/tools/libvirt/tsmedia-demo.xml" >"$xml"
[[ -e /dev/kvm ]] || sed -i "s|<domain type='kvm'>|<domain type='qemu'>|" "$xml"
grep -q "$mnt/boot.iso" "$xml" || fail "the domain has no /srv/tsmedia/boot.iso to substitute"

check "the domain is valid (libvirt's schema) and libvirt defines it"
virt-xml-validate "$xml" domain >"$WORK/validate.out" 2>&1 || fail "virt-xml-validate: $(cat "$WORK/validate.out")"
virsh -q -c test:///default define --validate "$xml" >"$WORK/define.out" 2>&1 ||
	fail "virsh define: $(cat "$WORK/define.out")"

check "its disks: NAME.iso as a read-only CD, NAME.img as a read-only USB disk, both on the mount"
python3 - "$xml" "$mnt" >"$WORK/disks" <<'PY'
import sys, xml.etree.ElementTree as ET
xml, mnt = sys.argv[1:]
d = ET.parse(xml).getroot()
disks = d.findall("./devices/disk")
seen = {}
for disk in disks:
    src = disk.find("source").get("file")
    ro = disk.find("readonly") is not None
    dev, bus = disk.get("device"), disk.find("target").get("bus")
    if not src.startswith(mnt + "/"):
        sys.exit(f"disk {src} is not on the mount")
    if not ro:
        sys.exit(f"disk {src} is not <readonly/>: the mount is read-only, and QEMU would fail to open it")
    seen[dev] = (src, bus)
if "cdrom" not in seen or not seen["cdrom"][0].endswith(".iso"):
    sys.exit("no CD with NAME.iso")
if "disk" not in seen or not seen["disk"][0].endswith(".img"):
    sys.exit("no disk with NAME.img")
if seen["disk"][1] != "usb":
    sys.exit("NAME.img is not on USB")
print(seen["cdrom"][0]); print(seen["disk"][0])
PY
iso=$(sed -n 1p "$WORK/disks")
img=$(sed -n 2p "$WORK/disks")
[[ -f $iso ]] || fail "$iso is not on the mount"
if ((have_img)); then
	for _ in $(seq 50); do [[ -f $img ]] && break; sleep 0.1; done
	[[ -f $img ]] || fail "$img is not on the mount: $(ls "$mnt")"
fi
note "CD $iso, USB disk $img"

check "QEMU opens both disks from the mount and boots the CD: banner on the serial console"
# The disks as the domain gives them to QEMU (read-only, raw, IDE CD, USB
# storage on an xHCI controller).
usb=()
if ((have_img)); then
	usb=(-device qemu-xhci -drive "if=none,id=stick,file=$img,format=raw,readonly=on"
		-device usb-storage,drive=stick,removable=on)
fi
expect_boot libvirt-cd "booted under BIOS by isolinux" -m 512 \
	-drive "file=$iso,format=raw,media=cdrom,readonly=on,if=ide,index=2" "${usb[@]}" -boot order=dc
pass
