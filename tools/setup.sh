#!/usr/bin/env bash
# Installs what tsmedia needs on Debian 12 (as root, with apt-get), then
# builds it into build/.  Used by tools/demo.sh and tools/test.sh.
#
#   tools/setup.sh [--for-tests | --for-demo]
#
# --for-tests also installs the outside tools the tests judge our output
# with; --for-demo the boot loaders and QEMU the demo uses.  Packages
# already present are not reinstalled; without root the missing ones are
# listed and setup stops.
set -euo pipefail
cd "$(dirname "$0")/.."

build_packages=(meson ninja-build pkg-config gcc libc6-dev libsqlite3-dev libssl-dev
	libzstd-dev libcmocka-dev libfuse3-dev libcdio-dev libiso9660-dev libudf-dev libxml2-dev
	libwim-dev libzxcvbn-dev libudev-dev libmount-dev scdoc libmicrohttpd-dev libjson-c-dev
	libisofs-dev zlib1g-dev gettext)
run_packages=(sqlite3 fuse3 libisofs6)
test_packages=(python3 time grub-pc-bin python3-cryptography openssl casync xxd procps psmisc util-linux xorriso genisoimage libcdio-utils p7zip-full libarchive-tools udftools qemu-system-x86 ovmf isolinux syslinux-common grub-efi-amd64-bin grub-common mtools dosfstools samba smbclient nginx-light curl qemu-block-extra ipxe-qemu libvirt-clients gdisk fdisk wimtools ntfs-3g
	clang libclang-rt-14-dev nasm man-db bsdextrautils bash-completion
	dpkg-dev debhelper lintian mmdebstrap systemd prometheus locales zsh)

demo_packages=(openssl isolinux syslinux-common grub-efi-amd64-bin grub-common mtools dosfstools
	qemu-system-x86 ovmf wimtools nasm)

packages=("${build_packages[@]}" "${run_packages[@]}")
case ${1:-} in
--for-tests) packages+=("${test_packages[@]}") ;;
--for-demo) packages+=("${demo_packages[@]}") ;;
esac

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "tsmedia setup: missing Debian packages: ${missing[*]}" >&2
		echo "install them as root: apt-get install ${missing[*]}" >&2
		exit 1
	fi
	echo "tsmedia setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# tests/integration/messages_ko.sh runs the CLI under ko_KR.UTF-8: make that
# locale once (uncomment its line in /etc/locale.gen; locale-gen only when it
# is not there yet).
if [[ ${1:-} == --for-tests && $(id -u) -eq 0 ]] &&
	! locale -a 2>/dev/null | grep -qix 'ko_KR\.utf-\?8'; then
	sed -i 's/^# *\(ko_KR\.UTF-8 UTF-8\)/\1/' /etc/locale.gen
	grep -qx 'ko_KR.UTF-8 UTF-8' /etc/locale.gen || echo 'ko_KR.UTF-8 UTF-8' >>/etc/locale.gen
	locale-gen >/dev/null
fi

if [[ ! -f build/build.ninja ]]; then
	meson setup build -Dwerror=true >/dev/null
fi
ninja -C build >/dev/null
echo "tsmedia setup: built build/tools/tsmedia"
