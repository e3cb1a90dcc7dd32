#!/usr/bin/env bash
# The Debian package (debian/): built from a copy of this checkout with
# dpkg-buildpackage -us -uc -b, checked by lintian (no errors; warnings
# listed), its systemd unit passed through systemd-analyze verify, then
# installed with apt into a fresh Debian 12 root made by mmdebstrap (so apt
# pulls the declared dependencies from the mirror, as on a new machine) and
# used from the installed paths: tsmedia --version, tsmediafs --version, a
# store, an import, a data media exported as an ISO whose files are read back
# with xorriso and compared.  Then the package is purged and its files must
# be gone.  Without mmdebstrap (or when it cannot reach a mirror) the .deb is
# installed onto this machine instead, when no tsmedia package is installed
# here, and purged afterwards.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$TESTS_DIR/../.." && pwd)
command -v dpkg-buildpackage >/dev/null || skip "dpkg-buildpackage is not installed (Debian: dpkg-dev, debhelper)"
command -v dh >/dev/null || skip "debhelper is not installed (Debian: debhelper)"
[[ -f $ROOT/debian/control ]] || fail "no debian/control in $ROOT"
(($(id -u) == 0)) || skip "installing a package needs root"

check "dpkg-buildpackage -us -uc -b, from a copy of the checkout"
SRC=$WORK/src/tsmedia
mkdir -p "$SRC"
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
	# The files of the checkout as they are now: tracked and new, not ignored,
	# no build directories.
	git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
		grep -zv '^build' | tar -C "$ROOT" --null -T - -cf - | tar -C "$SRC" -xf -
else
	tar -C "$ROOT" --exclude='./build*' -cf - . | tar -C "$SRC" -xf -
fi
start=$SECONDS
(cd "$SRC" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b) \
	>"$WORK/build.log" 2>&1 || fail "dpkg-buildpackage failed: $(tail -c 2000 "$WORK/build.log")"
DEB=$(ls "$WORK"/src/tsmedia_*_amd64.deb 2>/dev/null | head -n 1)
[[ -f $DEB ]] || fail "dpkg-buildpackage made no tsmedia_*.deb: $(ls "$WORK/src")"
note "built $(basename "$DEB") in $((SECONDS - start)) s"
dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's|^\./|/|' >"$WORK/contents"
for f in /usr/bin/tsmedia /usr/bin/tsmediafs /lib/systemd/system/tsmediafs.service \
	/usr/share/man/man1/tsmedia.1.gz /usr/share/man/man8/tsmediafs.8.gz \
	/usr/share/man/man5/tsmedia-store.5.gz /usr/share/bash-completion/completions/tsmedia \
	/usr/share/bash-completion/completions/tsmediafs /usr/share/zsh/vendor-completions/_tsmedia \
	/usr/share/doc/tsmedia/copyright \
	/usr/share/doc/tsmedia/README.md.gz \
	/usr/share/doc/tsmedia/examples/fstab.example /usr/share/doc/tsmedia/examples/nginx/tsmedia.conf \
	/usr/share/doc/tsmedia/examples/samba/smb.conf /usr/share/doc/tsmedia/examples/ipxe/sanboot.ipxe \
	/usr/share/doc/tsmedia/examples/libvirt/tsmedia-demo.xml \
	/usr/share/doc/tsmedia/examples/grafana/tsmediafs.json; do
	grep -qxF "$f" "$WORK/contents" || fail "the package has no $f"
done
depends=$(dpkg-deb -f "$DEB" Depends)
for d in fuse3 libfuse3-3 libsqlite3-0 libssl3 libzstd1 libwim15 libxml2 libiso9660 libudf0 libmicrohttpd12 libjson-c5 libzxcvbn0 libudev1 libmount1; do
	[[ $depends == *"$d"* ]] || fail "Depends does not name $d: $depends"
done
note "Depends: $depends"

check "lintian: no errors"
if command -v lintian >/dev/null; then
	lintian --fail-on error -I -E --pedantic "$WORK"/src/tsmedia_*_amd64.changes >"$WORK/lintian.out" 2>&1 ||
		fail "lintian found errors: $(grep '^E:' "$WORK/lintian.out" | head -n 20)"
	! grep -q '^E:' "$WORK/lintian.out" || fail "lintian: $(grep '^E:' "$WORK/lintian.out")"
	note "lintian: $(grep -c '^W:' "$WORK/lintian.out" || true) warnings, $(grep -c '^[IPX]:' "$WORK/lintian.out" || true) info/pedantic/experimental tags"
	grep -E '^[WIPX]:' "$WORK/lintian.out" | sed 's/^/      /' || true
else
	skip_part "lintian is not installed (Debian: lintian)"
fi

# install_root: a Debian 12 root with the package installed by apt, or "".
ROOTFS=$WORK/rootfs
ON_HOST=0
check "apt installs the .deb and what it depends on into a fresh Debian 12 root"
if command -v mmdebstrap >/dev/null &&
	timeout -k 10 300 mmdebstrap --variant=apt --mode=root \
		--hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
		--include="$DEB" --include=systemd bookworm "$ROOTFS" >"$WORK/mmdebstrap.log" 2>&1; then
	in_root() { chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
	note "mmdebstrap root at $ROOTFS ($(du -sm "$ROOTFS" | cut -f1) MiB)"
else
	[[ -f $WORK/mmdebstrap.log ]] && note "mmdebstrap failed: $(tail -n 3 "$WORK/mmdebstrap.log" | tr '\n' ' ')"
	skip_part "no fresh root from mmdebstrap (Debian: mmdebstrap, and a reachable mirror): installed onto this machine instead"
	if dpkg-query -W -f='${Status}' tsmedia 2>/dev/null | grep -q "install ok installed"; then
		fail "a tsmedia package is already installed on this machine; not replacing it"
	fi
	apt-get install -y -qq "$DEB" >"$WORK/apt.log" 2>&1 || fail "apt-get install $DEB: $(tail -n 20 "$WORK/apt.log")"
	at_exit "apt-get purge -y -qq tsmedia"
	ON_HOST=1
	ROOTFS=
	in_root() { env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
fi
status=$(in_root dpkg-query -W -f='${Status} ${Version}' tsmedia)
assert_match "$status" "^install ok installed " "tsmedia's package status"
note "dpkg: $status"

check "tsmedia and tsmediafs run from the installed paths"
v=$(in_root /usr/bin/tsmedia --version)
assert_eq "$v" "tsmedia $(dpkg-deb -f "$DEB" Version)" "tsmedia --version"
in_root /usr/bin/tsmediafs --version | grep -q "^tsmediafs $(dpkg-deb -f "$DEB" Version) (FUSE 3" ||
	fail "tsmediafs --version: $(in_root /usr/bin/tsmediafs --version 2>&1)"
in_root test -x /usr/bin/fusermount3 || fail "fuse3 was not pulled in (no /usr/bin/fusermount3)"

check "a data media end to end from the installed tsmedia"
# E2E: the directory as the installed tsmedia sees it; $ROOTFS$E2E from here.
if [[ -n $ROOTFS ]]; then E2E=/tmp/e2e; else E2E=$WORK/e2e; fi
mkdir -p "$ROOTFS$E2E/src/sub"
randfile "$ROOTFS$E2E/src/big.bin" $((3 << 20))
echo "tsmedia from a .deb" >"$ROOTFS$E2E/src/sub/readme.txt"
in_root sh -ec '
	export TSMEDIA_STORE=$1/store
	tsmedia init --site-code PS1 >/dev/null
	id=$(tsmedia content add --kind package --name Payload "$1/src")
	tsmedia media create --type data --name debtest --content "$id"
	tsmedia media export debtest -o "$1/debtest.iso"
	tsmedia verify' sh "$E2E" >"$WORK/e2e.log" 2>&1 || fail "the installed tsmedia failed: $(tail -c 1500 "$WORK/e2e.log")"
ISO=$ROOTFS$E2E/debtest.iso
[[ $(dd if="$ISO" bs=1 skip=$((16 * 2048 + 1)) count=5 status=none) == CD001 ]] ||
	fail "the exported media has no ISO 9660 volume descriptor"
if command -v xorriso >/dev/null; then
	mkdir -p "$WORK/x"
	xorriso -osirrox on -indev "$ISO" -extract / "$WORK/x" >"$WORK/xorriso.log" 2>&1 ||
		fail "xorriso could not read the media: $(tail -n 5 "$WORK/xorriso.log")"
	chmod -R u+w "$WORK/x"
	diff -r "$ROOTFS$E2E/src" "$WORK/x" >"$WORK/diff.log" 2>&1 ||
		fail "the media's files differ from the source: $(head -n 5 "$WORK/diff.log")"
	note "xorriso reads $(find "$WORK/x" -type f | wc -l) files, all equal to the source"
else
	skip_part "xorriso is not installed (Debian: xorriso): media checked for CD001 only"
fi

check "systemd-analyze verify on the packaged unit"
if command -v systemd-analyze >/dev/null; then
	unit=/lib/systemd/system/tsmediafs.service
	grep -q '^ExecStart=/usr/bin/tsmediafs ' "${ROOTFS:-}$unit" || fail "the packaged unit does not run /usr/bin/tsmediafs: $(grep ^ExecStart "${ROOTFS:-}$unit")"
	grep -q '^Documentation=man:tsmediafs(8)' "${ROOTFS:-}$unit" || fail "the packaged unit does not name man:tsmediafs(8)"
	if [[ -n $ROOTFS ]]; then
		# The unit's programs must exist: check it against the root it was
		# installed into (with systemd there for the targets it names).  Its
		# man: link is checked with man -l below, against the root's page.
		systemd-analyze verify --man=no --root="$ROOTFS" "$unit" >"$WORK/verify.log" 2>&1 ||
			fail "systemd-analyze verify: $(cat "$WORK/verify.log")"
	else
		systemd-analyze verify "$unit" >"$WORK/verify.log" 2>&1 ||
			fail "systemd-analyze verify: $(cat "$WORK/verify.log")"
	fi
	! grep -q tsmediafs.service "$WORK/verify.log" || fail "systemd-analyze verify warns: $(cat "$WORK/verify.log")"
	note "systemd-analyze verify: clean"
	if command -v man >/dev/null; then
		man -l "${ROOTFS:-}/usr/share/man/man8/tsmediafs.8.gz" >"$WORK/man.out" 2>&1 ||
			fail "man -l on the installed tsmediafs(8): $(head -c 500 "$WORK/man.out")"
		grep -q 'tsmediafs - ' "$WORK/man.out" || fail "the installed tsmediafs(8) does not render its NAME"
	fi
	# Installed, neither enabled nor started: a store must be made first.
	[[ ! -e ${ROOTFS:-}/etc/systemd/system/multi-user.target.wants/tsmediafs.service ]] ||
		fail "the package enabled tsmediafs.service"
else
	skip_part "systemd-analyze is not installed (Debian: systemd)"
fi

check "purging the package removes its files"
if ((ON_HOST)); then
	apt-get purge -y -qq tsmedia >"$WORK/purge.log" 2>&1 || fail "apt-get purge: $(tail "$WORK/purge.log")"
else
	in_root apt-get purge -y -qq tsmedia >"$WORK/purge.log" 2>&1 || fail "apt-get purge: $(tail "$WORK/purge.log")"
fi
for f in /usr/bin/tsmedia /usr/bin/tsmediafs /lib/systemd/system/tsmediafs.service /usr/share/man/man1/tsmedia.1.gz; do
	[[ ! -e ${ROOTFS:-}$f ]] || fail "$f is left after purge"
done
note "purged"

pass
