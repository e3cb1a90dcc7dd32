#!/usr/bin/env bash
# The demo: installs what tsmedia needs, builds it, creates a demo store in
# build/demo/store, imports sample content (a bootable boot image made from
# Debian's boot loaders, a package in two versions, a driver package),
# defines media, mounts the store at build/demo/mnt and shows the live
# bootable ISO there, with the QEMU command to boot it.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh --for-demo

tsmedia=$PWD/build/tools/tsmedia
tsmediafs=$PWD/build/fs/tsmediafs
demo=$PWD/build/demo
export TSMEDIA_STORE=$demo/store
fusermount3 -u -z "$demo/mnt" 2>/dev/null || true
rm -rf "$demo"
mkdir -p "$demo/src" "$demo/mnt"

# Sample content, made here: deterministic pseudo-random bytes stand in for
# real binaries so the demo needs nothing from outside.
bytes() { { openssl enc -aes-128-ctr -pass "pass:$2" -nosalt -pbkdf2 </dev/zero 2>/dev/null || true; } | head -c "$1"; }

boot=$demo/src/boot-image
tools/make-boot-demo.sh "$boot"
mkdir -p "$boot/sources" "$boot/SMS/data"
bytes 48M wim >"$boot/sources/boot.wim"
printf 'TSMBootstrap.ini sample\r\n' >"$boot/SMS/data/TSMBootstrap.ini"

pkg=$demo/src/package
mkdir -p "$pkg/Scripts"
bytes 24M agent >"$pkg/ccmsetup.msi"
printf '@echo off\r\necho configuring\r\n' >"$pkg/Scripts/configure.cmd"

drivers=$demo/src/drivers
mkdir -p "$drivers/Network" "$drivers/Storage"
bytes 6M net >"$drivers/Network/e1d.sys"
bytes 3M nvme >"$drivers/Storage/stornvme.sys"
printf '[Version]\r\nSignature="$Windows NT$"\r\n' >"$drivers/Network/e1d.inf"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$tsmedia" init --site-code PS1
step "$tsmedia" content add --kind boot-image --name "Boot image (x64)" --version 10.0.22621 "$boot"
step "$tsmedia" content add --kind package --name "Configuration Manager client" --id PS100012 --version 5.00.9128 "$pkg"
# The package's source changes: a new version of the same ID.  Only the
# changed file is stored again.
printf '@echo off\r\necho configuring, v2\r\n' >"$pkg/Scripts/configure.cmd"
step "$tsmedia" content add --kind package --name "Configuration Manager client" --id PS100012 --version 5.00.9128.1 "$pkg"
step "$tsmedia" content add --kind driver-package --name "Dell drivers" "$drivers"
step "$tsmedia" content list
step "$tsmedia" content show PS100012
step "$tsmedia" media create --type data --name demo-boot --content PS100001 --label TSMEDIA_DEMO \
	--bios-boot isolinux/isolinux.bin --boot-load-size 4 --boot-info-table \
	--uefi-boot efi/boot.img --hybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin --hybrid-gpt
step "$tsmedia" media create --type data --name drivers --content PS100002,PS100012
step "$tsmedia" media list
step "$tsmedia" verify
step "$tsmedia" stats
step "$tsmedia" mount "$demo/mnt"
step ls -l "$demo/mnt"

cat <<MSG

The demo store is in $TSMEDIA_STORE, mounted at $demo/mnt: every
media there is a live file assembled on read.  Try:

  export TSMEDIA_STORE=$TSMEDIA_STORE
  # boot the live ISO (BIOS, then UEFI); each prints a banner and powers off
  qemu-system-x86_64 -m 256 -nographic -no-reboot -cdrom $demo/mnt/demo-boot.iso
  qemu-system-x86_64 -m 256 -nographic -no-reboot -bios /usr/share/ovmf/OVMF.fd -cdrom $demo/mnt/demo-boot.iso
  # change content: the media follows on the next open, no command on the media
  echo changed >$pkg/Scripts/configure.cmd
  $tsmedia content add --kind package --name "Configuration Manager client" --id PS100012 $pkg
  sha256sum $demo/mnt/drivers.iso
  $tsmedia gc                       # drops what nothing references any more
  fusermount3 -u $demo/mnt          # unmount
MSG
