#!/usr/bin/env bash
# Seed corpora for the fuzz harnesses, made by the tools the tests judge
# with: small valid inputs of each kind, one directory per harness.
#
#   tests/fuzz/make-corpus.sh OUTDIR [HARNESS...]
#
# TSMEDIA names the tsmedia binary (default: build/tools/tsmedia, else
# build-fuzz/tools/tsmedia).  The task sequence seeds are the fixtures in
# ../shared/fixtures/task-sequences (skipped loudly when absent; a few
# small documents are written here anyway).  A harness left with no seed is
# an error.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: make-corpus.sh OUTDIR [HARNESS...]}
shift
harnesses=("$@")
((${#harnesses[@]})) || harnesses=(iso wim ts_xml cert inspect)
if [[ -z ${TSMEDIA:-} ]]; then
	for t in "$root/build/tools/tsmedia" "$root/build-fuzz/tools/tsmedia"; do
		[[ -x $t ]] && TSMEDIA=$t && break
	done
fi
[[ -x ${TSMEDIA:-} ]] || { echo "make-corpus: no tsmedia binary (build first, or set TSMEDIA)" >&2; exit 1; }
# A sanitized tsmedia's leak report at exit must not fail the seed making.
export ASAN_OPTIONS=detect_leaks=0
PASSWORD=fuzzpw # the harnesses' password (fuzz_common.h)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tsmedia-corpus.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tsm() { "$TSMEDIA" --store "$tmp/store" -q "$@"; }
have() {
	command -v "$1" >/dev/null && return 0
	echo "make-corpus: SKIPPED seeds that need $1 (Debian: $2)" >&2
	return 1
}

# A small tree: a text file, a binary file over a few sectors, a subdirectory,
# a name that needs Joliet/Rock Ridge, and a non-ASCII (Korean) name.
src=$tmp/src
mkdir -p "$src/sub dir/deeper"
echo "hello from a seed" >"$src/readme.txt"
head -c 5000 /dev/urandom >"$src/sub dir/data.bin"
echo "long name" >"$src/sub dir/a file with a rather long name.txt"
echo "한국어" >"$src/sub dir/deeper/설치.txt"
: >"$src/empty"
tsm init

seeds_iso() {
	local d=$out/iso boot
	mkdir -p "$d"
	tsm mkiso -o "$d/tsmedia-all.iso" -V SEED "$src" 2>/dev/null
	tsm mkiso -o "$d/tsmedia-no-udf.iso" --no-udf "$src" 2>/dev/null
	tsm mkiso -o "$d/tsmedia-plain.iso" --no-udf --no-joliet --no-rock-ridge "$src" 2>/dev/null
	# El Torito: a BIOS no-emulation entry and a UEFI FAT image entry.
	boot=$tmp/boot
	mkdir -p "$boot/isolinux" "$boot/efi"
	head -c 4096 /dev/urandom >"$boot/isolinux/isolinux.bin"
	if have mkfs.fat dosfstools; then
		mkfs.fat -C "$boot/efi/boot.img" 128 >/dev/null
		tsm mkiso -o "$d/tsmedia-boot.iso" --no-udf --bios-boot isolinux/isolinux.bin \
			--boot-info-table --uefi-boot efi/boot.img "$boot" 2>/dev/null
	fi
	if have xorriso xorriso; then
		xorriso -as mkisofs -quiet -no-pad -J -R -V XJR -o "$d/xorriso-jr.iso" "$src" 2>/dev/null
		xorriso -as mkisofs -quiet -no-pad -V XPLAIN -o "$d/xorriso-plain.iso" "$src" 2>/dev/null
	fi
	if have genisoimage genisoimage; then
		genisoimage -quiet -udf -o "$d/genisoimage-udf.iso" "$src" 2>/dev/null
	fi
}

seeds_wim() {
	local d=$out/wim c
	mkdir -p "$d"
	have wimlib-imagex wimtools || return 0
	for c in none xpress lzx lzms; do
		wimlib-imagex capture "$src" "$d/$c.wim" SEED --compress=$c >/dev/null
	done
	wimlib-imagex capture "$src" "$d/solid.wim" SEED --solid >/dev/null
	# (wimlib warns that Windows cannot read a pipable WIM: known, kept quiet)
	wimlib-imagex capture "$src" "$d/pipable.wim" SEED --pipable >/dev/null 2>&1
	# Two images (the second sharing blobs), the second bootable.
	cp "$d/none.wim" "$d/two-images.wim"
	wimlib-imagex append "$src/sub dir" "$d/two-images.wim" SECOND --boot >/dev/null
}

seeds_ts_xml() {
	local d=$out/ts_xml fix=$root/../shared/fixtures/task-sequences
	mkdir -p "$d"
	if [[ -d $fix ]]; then
		cp "$fix"/*.xml "$d/"
	else
		echo "make-corpus: SKIPPED the task sequence fixtures: $fix is absent" >&2
	fi
	# Small documents of each dialect: fuzzing mutates these fastest.
	cat >"$d/small-sequence.xml" <<-'X'
	<?xml version="1.0" encoding="utf-8"?>
	<sequence version="3.10" packageID="PS100001"><referenceList><reference package="PS100002"/><reference package="ScopeId_11111111-2222-3333-4444-555555555555/Application_66666666-7777-8888-9999-000000000000"/></referenceList><group name="Install" description="d"><step type="SMS_TaskSequence_ApplyOperatingSystemAction" name="Apply OS" continueOnError="true"><action>OSDApplyOS.exe /image:PS100003,1</action><defaultVarList><variable name="OSDImageIndex" property="ImageIndex">1</variable></defaultVarList></step><group name="Inner" disable="true"><condition><expression type="SMS_TaskSequence_VariableConditionExpression"><variable name="Operator">equals</variable></expression></condition><step type="SMS_TaskSequence_RunCommandLineAction" name="Run" disable="true"><action>smsswd.exe /pkg:PS100004 /run:cmd</action></step></group><step type="SMS_TaskSequence_AutoApplyAction" name="Drivers"><action>OSDDriverClient.exe</action></step></group></sequence>
	X
	cat >"$d/small-mdt.xml" <<-'X'
	<?xml version="1.0"?>
	<sequence version="3.00" name="Template" description="MDT"><group name="Init" disable="false"><step name="Gather" disable="false" continueOnError="false" successCodeList="0 3010" description=""><action>cscript.exe ZTIGather.wsf</action></step></group></sequence>
	X
	local seq='&lt;sequence version="3.10"&gt;&lt;step type="SMS_TaskSequence_RunCommandLineAction" name="s"&gt;&lt;action&gt;smsswd.exe /pkg:PS100009 /run:x&lt;/action&gt;&lt;/step&gt;&lt;/sequence&gt;'
	cat >"$d/small-object.xml" <<-X
	<?xml version="1.0" encoding="utf-8"?>
	<INSTANCE CLASSNAME="SMS_TaskSequencePackage"><PROPERTY NAME="Name" TYPE="string"><VALUE>Seed</VALUE></PROPERTY><PROPERTY NAME="PackageID" TYPE="string"><VALUE>PS100010</VALUE></PROPERTY><PROPERTY NAME="BootImageID" TYPE="string"><VALUE>PS100011</VALUE></PROPERTY><PROPERTY NAME="Sequence" TYPE="string"><VALUE>$seq</VALUE></PROPERTY></INSTANCE>
	X
}

seeds_cert() {
	local d=$out/cert p=$tmp/pki
	mkdir -p "$d" "$p"
	have openssl openssl || return 0
	# A root CA (RSA), an issued client certificate, an EC self-signed one.
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$p/ca.key" -out "$d/ca.pem" -days 3650 \
		-subj "/CN=Seed Root CA/O=tsmedia" -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	openssl x509 -in "$d/ca.pem" -outform DER -out "$d/ca.der"
	openssl req -newkey rsa:2048 -nodes -keyout "$p/client.key" -out "$p/client.csr" \
		-subj "/CN=Seed client" 2>/dev/null
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >"$p/ext"
	openssl x509 -req -in "$p/client.csr" -CA "$d/ca.pem" -CAkey "$p/ca.key" -CAserial "$p/ca.srl" -CAcreateserial \
		-days 3650 -extfile "$p/ext" -out "$p/client.pem" 2>/dev/null
	cp "$p/client.pem" "$d/client-not-ca.pem"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$p/ca2.key" -out "$p/ca2.pem" -days 3650 \
		-subj "/CN=Seed Second CA" -addext "basicConstraints=critical,CA:TRUE" 2>/dev/null
	cat "$d/ca.pem" "$p/ca2.pem" >"$d/bundle-two-cas.pem"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$p/ec.key" \
		-out "$p/ec.pem" -days 3650 -subj "/CN=Seed EC" 2>/dev/null
	# PKCS#12 as OpenSSL 3 writes it (AES, PBKDF2), as old Windows exports do
	# (RC2-40/3DES: -legacy), and with a chain.  (Not without a MAC: OpenSSL
	# 3.0's PKCS12_parse refuses those whatever the password, so every seed
	# of that kind would be refused.)
	openssl pkcs12 -export -in "$p/client.pem" -inkey "$p/client.key" -passout "pass:$PASSWORD" \
		-out "$d/client.p12"
	openssl pkcs12 -export -in "$p/client.pem" -inkey "$p/client.key" -certfile "$d/ca.pem" \
		-passout "pass:$PASSWORD" -out "$d/client-chain.p12"
	openssl pkcs12 -export -legacy -in "$p/client.pem" -inkey "$p/client.key" \
		-passout "pass:$PASSWORD" -out "$d/client-legacy.p12" 2>/dev/null ||
		echo "make-corpus: SKIPPED the legacy PKCS#12 seed (no legacy provider)" >&2
	openssl pkcs12 -export -in "$p/ec.pem" -inkey "$p/ec.key" -passout "pass:$PASSWORD" \
		-out "$d/ec.p12"
	# tsmedia's own self-signed media certificate.
	printf '%s\n' "$PASSWORD" >"$p/pw"
	tsm cert create --subject "Seed media" --password-file "$p/pw" --out "$d/tsmedia-self-signed.p12" \
		--valid-from 2025-01-01 --valid-until 2045-01-01 >/dev/null
}

seeds_inspect() {
	local d=$out/inspect b m
	mkdir -p "$d"
	# ISO volumes: task sequence media without a password (a protected one
	# costs 600,000 PBKDF2 rounds per run; mode 0x01 below covers decryption).
	mkdir -p "$tmp/bootimg/sources"
	head -c 3000 /dev/urandom >"$tmp/bootimg/sources/boot.wim"
	echo "boot image" >"$tmp/bootimg/readme.txt"
	b=$(tsm content add --kind boot-image --name seedboot "$tmp/bootimg")
	tsm media create --type capture --name seedcap --boot-image "$b" >/dev/null
	tsm media export seedcap -o "$d/capture.iso"
	tsm site add --code PS1 --type primary --mp http://mp1.example.com >/dev/null
	tsm media create --type bootable --name seedboot --boot-image "$b" --no-password \
		--site PS1 --management-point http://mp1.example.com --self-signed-certificate \
		--unknown-computers --variable OSDComputerName=SEED >/dev/null
	tsm media export seedboot -o "$d/bootable.iso"
	tsm media create --type bootable --name seedboot2 --boot-image "$b" --no-password \
		--site PS1 --management-point http://mp1.example.com --no-udf --no-joliet >/dev/null
	tsm media export seedboot2 -o "$d/bootable-plain.iso"
	# Mode 0x01: protected files as crypt.c writes them (TSMENC1, header as
	# AAD), with the fewest iterations it accepts so that runs stay fast.
	python3 - "$d" "$PASSWORD" <<-'PY'
	import os, struct, sys
	from cryptography.hazmat.primitives import hashes
	from cryptography.hazmat.primitives.ciphers.aead import AESGCM
	from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
	out, password = sys.argv[1], sys.argv[2].encode()
	def container(plain, iterations=1000):
	    salt, nonce = os.urandom(16), os.urandom(12)
	    header = b"TSMENC1\0" + struct.pack("<I", iterations) + salt + nonce
	    key = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(password)
	    return header + AESGCM(key).encrypt(nonce, plain, header)
	for name, plain in (("variables", b"<MediaVariables><var name=\"SMSTSMediaType\">FullMedia</var></MediaVariables>"),
	                    ("empty", b"")):
	    with open(f"{out}/decrypt-{name}.bin", "wb") as f:
	        f.write(b"\x01" + container(plain))
	PY
	# Mode 0x02: a manifest for the harness's directory volume (its files'
	# texts are in fuzz_inspect.c).
	m=$d/dir-manifest.txt
	{
		printf '\x02# tsmedia manifest\n'
		printf '%s %s 1 SMS/data/TSMBootstrap.ini\n' \
			"$(printf '[Bootstrap]\nMediaType=FullMedia\n' | sha256sum | cut -c1-64)" 33
		printf '%s %s 1 SMS/data/Variables.dat\n' \
			"$(printf '<MediaVariables/>\n' | sha256sum | cut -c1-64)" 18
		printf -- '- 2048 1 isolinux/isolinux.bin\n'
		printf '%s 5 1 missing.txt\n' "$(printf '%064d' 0)"
		printf '%s 5 2 on-volume-two.txt\n' "$(printf '%064d' 0)"
	} >"$m"
}

for h in "${harnesses[@]}"; do
	rm -rf "${out:?}/$h"
	"seeds_$h"
	n=$(find "$out/$h" -type f | wc -l)
	((n)) || { echo "make-corpus: no seed for $h" >&2; exit 1; }
	echo "make-corpus: $h: $n seeds, $(du -sk "$out/$h" | cut -f1) KB"
done
