#!/usr/bin/env bash
# The demo: installs what tsmedia needs, builds it, creates a demo store in
# build/demo/store, imports sample content (a boot image, a package in two
# versions, a driver package) and shows what the store holds.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh

tsmedia=$PWD/build/tools/tsmedia
demo=$PWD/build/demo
export TSMEDIA_STORE=$demo/store
rm -rf "$demo"
mkdir -p "$demo/src"

# Sample content, made here: deterministic pseudo-random bytes stand in for
# real binaries so the demo needs nothing from outside.
bytes() { { openssl enc -aes-128-ctr -pass "pass:$2" -nosalt -pbkdf2 </dev/zero 2>/dev/null || true; } | head -c "$1"; }

boot=$demo/src/boot-image
mkdir -p "$boot/EFI/BOOT" "$boot/boot" "$boot/sources" "$boot/SMS/data"
bytes 1M efi >"$boot/EFI/BOOT/BOOTX64.EFI"
bytes 256K bcd >"$boot/boot/BCD"
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
step "$tsmedia" verify
step "$tsmedia" stats

cat <<MSG

The demo store is in $TSMEDIA_STORE.  Try:
  export TSMEDIA_STORE=$TSMEDIA_STORE
  $tsmedia content cat PS100012 Scripts/configure.cmd
  $tsmedia gc        # drops PS100012's first version, which nothing references
MSG
