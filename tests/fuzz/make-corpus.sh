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
((${#harnesses[@]})) || harnesses=(iso sysarea wim ts_xml app_xml cert inspect cmdata remote winpe)
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
	seeds_iso_classes "$d"
}

# Rock Ridge relocation (a tree deeper than 8 levels, no -D), continuation
# areas (200+ byte names), symlinks, hard links, zisofs (xorriso and
# mkzftree), El Torito floppy and hard-disk emulation: the classes of
# tests/integration/iso_classes.sh, small.
seeds_iso_classes() {
	local d=$1 rr=$tmp/rr p long
	p=$rr
	for i in 1 2 3 4 5 6 7 8 9 10; do p=$p/d$i; done
	mkdir -p "$p"
	echo deep >"$p/f"
	long=$(printf 'n%.0s' $(seq 210))
	echo long >"$rr/$long"
	ln -s /tmp "$rr/abs"
	ln -s d1/d2 "$rr/rel"
	echo linked >"$rr/a"
	ln "$rr/a" "$rr/b"
	seq 1 20000 >"$rr/numbers.txt"
	if have genisoimage genisoimage; then
		genisoimage -quiet -R -o "$d/genisoimage-rr-relocated.iso" "$rr" 2>/dev/null
		mkdir -p "$tmp/fd" "$tmp/hd" "$tmp/zf"
		head -c 1474560 /dev/zero >"$tmp/fd/floppy.img"
		genisoimage -quiet -R -b floppy.img -c boot.cat -o "$d/genisoimage-floppy.iso" "$tmp/fd" 2>/dev/null
		python3 -c 'import struct,sys; d=bytearray(1048576); d[446:462]=struct.pack("<B3sB3sII",0x80,b"\0\2\0",6,b"\xfe\xff\xff",1,2047); d[510:512]=b"\x55\xaa"; open(sys.argv[1],"wb").write(d)' "$tmp/hd/disk.img"
		genisoimage -quiet -R -hard-disk-boot -b disk.img -c boot.cat -o "$d/genisoimage-harddisk.iso" "$tmp/hd" 2>/dev/null
		if command -v mkzftree >/dev/null; then
			cp "$rr/numbers.txt" "$tmp/zf/"
			mkzftree "$tmp/zf" "$tmp/zf.out" && genisoimage -quiet -R -z -o "$d/mkzftree.iso" "$tmp/zf.out" 2>/dev/null
		fi
	fi
	if have xorriso xorriso; then
		xorriso -no_rc -outdev "$d/xorriso-zisofs.iso" -blank as_needed -map "$rr" / \
			-find / -type f -exec set_filter --zisofs -- >/dev/null 2>&1
	fi
}

# The system area reader (fuzz_sysarea.c): xorriso's hybrids (isohybrid MBR,
# GPT, GPT + APM), each as its 24-byte head (image size, the BIOS and EFI
# boot images' sectors and sizes from xorriso's El Torito report) and its
# first 32 KiB.
seeds_sysarea() {
	local d=$out/sysarea t=$tmp/sysarea n
	mkdir -p "$d" "$t/src/isolinux"
	have xorriso xorriso || return 0
	have mkfs.fat dosfstools || return 0
	[[ -f /usr/lib/ISOLINUX/isohdpfx.bin ]] || { echo "make-corpus: SKIPPED sysarea seeds (Debian: isolinux)" >&2; return 0; }
	head -c 2048 /dev/urandom >"$t/src/isolinux/isolinux.bin"
	head -c 300000 /dev/urandom >"$t/src/file.bin"
	dd if=/dev/zero of="$t/src/efi.img" bs=1k count=1440 status=none
	mkfs.fat "$t/src/efi.img" >/dev/null
	for n in mbr gpt apm; do
		local extra=()
		[[ $n != mbr ]] && extra+=(-isohybrid-gpt-basdat)
		[[ $n == apm ]] && extra+=(-isohybrid-apm-hfsplus)
		xorriso -as mkisofs -quiet -R -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin \
			-b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 \
			-eltorito-alt-boot -e efi.img -no-emul-boot "${extra[@]}" -o "$t/$n.iso" "$t/src" 2>/dev/null
		xorriso -no_rc -indev "$t/$n.iso" -report_el_torito plain 2>/dev/null >"$t/$n.report"
		/usr/bin/python3 - "$t/$n.iso" "$t/$n.report" "$d/xorriso-$n.bin" <<-'PY'
		import os, re, struct, sys
		iso, rep, out = sys.argv[1:]
		lba = {}
		for l in open(rep):
		    m = re.match(r"El Torito boot img :\s+\d+\s+(\S+)\s.*\s(\d+)$", l.strip())
		    if m and m.group(1) not in lba:
		        lba[m.group(1)] = int(m.group(2))
		head = struct.pack("<QIIII", os.path.getsize(iso), lba["BIOS"], 2048, lba["UEFI"], 1474560)
		open(out, "wb").write(head + open(iso, "rb").read(32768))
		PY
	done
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
	# A blob over 1 MiB, which the importer reads through its chunk table a
	# stretch at a time (store/wim_resource.h, tsm_wim_res_stream; smaller
	# blobs are read whole): text that compresses to a few KiB, so the seed
	# stays small.
	mkdir -p "$tmp/big"
	cp "$src/readme.txt" "$tmp/big/"
	head -c 1500000 < <(yes "a line of a log that repeats") >"$tmp/big/big.log"
	for c in xpress lzx; do
		wimlib-imagex capture "$tmp/big" "$d/big-$c.wim" SEED --compress=$c >/dev/null
	done
}

# WinPE-shaped boot images (tools/make-winpe-demo.sh) in each compression
# whose boot files are read out of the WIM's bytes, and solid (stored apart).
seeds_winpe() {
	local d=$out/winpe c
	mkdir -p "$d"
	for c in wimlib-imagex:wimtools nasm:nasm grub-mkstandalone:grub-common mkfs.fat:dosfstools \
		mcopy:mtools; do
		have "${c%%:*}" "${c#*:}" || return 0
	done
	for c in none xpress lzx lzms; do
		"$root/tools/make-winpe-demo.sh" "$d/winpe-$c.wim" --compress "$c"
	done
	wimlib-imagex export "$d/winpe-lzx.wim" 1 "$d/winpe-solid.wim" --solid --boot >/dev/null
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

seeds_app_xml() {
	local d=$out/app_xml
	local scope=ScopeId_0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9
	mkdir -p "$d"
	# Written to the digest's published shape (core/import/app_xml.c): an
	# application with two deployment types, a dependency group and a
	# supersedence; the same inside a console export's object.xml.
	cat >"$d/digest-two-dts.xml" <<-X
	<?xml version="1.0" encoding="utf-16"?>
	<AppMgmtDigest xmlns="http://schemas.microsoft.com/SystemCenterConfigurationManager/2009/AppMgmtDigest"><Application AuthoringScopeId="$scope" LogicalName="Application_11111111-2222-3333-4444-555555555555" Version="3"><DisplayInfo DefaultLanguage="en-US"><Info Language="en-US"><Title>Seed App</Title></Info></DisplayInfo><DeploymentTypes><DeploymentType AuthoringScopeId="$scope" LogicalName="DeploymentType_aaaaaaaa-0000-0000-0000-000000000001" Version="1"/><DeploymentType AuthoringScopeId="$scope" LogicalName="DeploymentType_aaaaaaaa-0000-0000-0000-000000000002" Version="1"/></DeploymentTypes><Title ResourceId="Res_1">Seed App</Title><Publisher ResourceId="Res_2">Seed</Publisher><SoftwareVersion ResourceId="Res_3">1.0</SoftwareVersion></Application><DeploymentType AuthoringScopeId="$scope" LogicalName="DeploymentType_aaaaaaaa-0000-0000-0000-000000000001" Version="1"><Title ResourceId="Res_4">MSI x64</Title><DeploymentTechnology>GLOBAL/MSIDeploymentTechnology</DeploymentTechnology><Technology>MSI</Technology><Hosting>Native</Hosting><Installer Technology="MSI"><Contents><Content ContentId="Content_bbbbbbbb-0000-0000-0000-000000000001" Version="1"><File Name="seed.msi" Size="12"/><File Name="setup.cmd" Size="3"/><Location>\\server\share\</Location></Content></Contents><CustomData><InstallCommandLine>msiexec /i seed.msi /qn</InstallCommandLine></CustomData></Installer><Dependencies><DeploymentTypeRule xmlns="http://schemas.microsoft.com/SystemsCenterConfigurationManager/2009/06/14/Rules" id="DTRule_1" Severity="Critical"><Annotation><DisplayName Text="Runtime"/></Annotation><DeploymentTypeExpression><Operator>Or</Operator><Operands><DeploymentTypeIntentExpression DesiredState="Required"><DeploymentTypeApplicationReference AuthoringScopeId="$scope" LogicalName="Application_99999999-2222-3333-4444-555555555555" Version="1"/><DeploymentTypeReference AuthoringScopeId="$scope" LogicalName="DeploymentType_99999999-0000-0000-0000-000000000001" Version="1"/></DeploymentTypeIntentExpression></Operands></DeploymentTypeExpression></DeploymentTypeRule></Dependencies><Supersedes><DeploymentTypeRule xmlns="http://schemas.microsoft.com/SystemsCenterConfigurationManager/2009/06/14/Rules" id="DTRule_2"><DeploymentTypeIntentExpression DesiredState="Prohibited"><DeploymentTypeApplicationReference AuthoringScopeId="$scope" LogicalName="Application_88888888-2222-3333-4444-555555555555" Version="1"/><DeploymentTypeReference AuthoringScopeId="$scope" LogicalName="DeploymentType_88888888-0000-0000-0000-000000000001" Version="1"/></DeploymentTypeIntentExpression></DeploymentTypeRule></Supersedes></DeploymentType><DeploymentType AuthoringScopeId="$scope" LogicalName="DeploymentType_aaaaaaaa-0000-0000-0000-000000000002" Version="1"><Title ResourceId="Res_5">Script</Title><Technology>Script</Technology><Installer Technology="Script"><Contents><Content ContentId="Content_bbbbbbbb-0000-0000-0000-000000000002" Version="2"><File Name="install.ps1" Size="40"/></Content></Contents><InstallAction><Provider>Script</Provider><Args><Arg Name="InstallCommandLine" Type="String">powershell -File install.ps1</Arg></Args></InstallAction></Installer></DeploymentType></AppMgmtDigest>
	X
	{
		printf '<?xml version="1.0" encoding="utf-8"?>\n<INSTANCE CLASSNAME="SMS_Application"><PROPERTY NAME="LocalizedDisplayName" TYPE="string"><VALUE>Seed App</VALUE></PROPERTY><PROPERTY NAME="SDMPackageXML" TYPE="string"><VALUE>'
		sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' "$d/digest-two-dts.xml"
		printf '</VALUE></PROPERTY></INSTANCE>\n'
	} >"$d/object-two-dts.xml"
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

# Task sequence media of each type made by tsmedia and exported as ISOs
# (cm/NAME.iso), their SMS/data taken out (cm/NAME/): for the inspect and
# cmdata seeds.  The site has the values bootable media carry; "fuzzpw" is
# weak, so the protected media keep it with --allow-weak-password.
cm_media_made=
cm_media() {
	local b ts n
	[[ -n $cm_media_made ]] && return 0
	cm_media_made=1
	mkdir -p "$tmp/bootimg/sources" "$tmp/bootimg/boot" "$tmp/cm"
	head -c 3000 /dev/urandom >"$tmp/bootimg/sources/boot.wim"
	# A boot image must give media a boot entry: an ADK-shaped tree's BIOS
	# El Torito image (its bytes do not matter to the SMS/data readers).
	head -c 2048 /dev/zero >"$tmp/bootimg/boot/etfsboot.com"
	echo "boot image" >"$tmp/bootimg/readme.txt"
	b=$(tsm content add --kind boot-image --name seedboot "$tmp/bootimg")
	printf '<sequence version="3.10"><step type="SMS_TaskSequence_RunCommandLineAction" name="Join"><action>cmd /c echo</action><defaultVarList><variable name="OSDJoinPassword" property="JoinPassword">secret</variable></defaultVarList></step></sequence>\n' >"$tmp/seq.xml"
	ts=$(tsm ts import --name "Seed sequence" --boot-image "$b" "$tmp/seq.xml")
	tsm site add --code PS1 --type primary --mp http://mp1.example.com --http-port 80 \
		--https-port 443 --iis-ssl-state 448 --signing-certificate 308201A2300D06092A864886F70D01010B0500 \
		--x64-unknown-guid a1b2c3d4-0000-4000-8000-000000000064 \
		--x86-unknown-guid a1b2c3d4-0000-4000-8000-000000000086 >/dev/null
	printf '%s\n' "$PASSWORD" >"$tmp/pw"
	tsm media create --type capture --name capture --boot-image "$b" >/dev/null
	tsm media create --type bootable --name bootable --boot-image "$b" --no-password \
		--site PS1 --management-point http://mp1.example.com --self-signed-certificate \
		--unknown-computers --variable OSDComputerName=SEED >/dev/null 2>&1
	tsm media create --type bootable --name bootable-plain --boot-image "$b" --no-password \
		--site PS1 --mode site-based --management-point http://mp1.example.com --no-udf --no-joliet \
		--media-cipher aes128 >/dev/null 2>&1
	tsm media create --type bootable --name bootable-password --boot-image "$b" \
		--password-file "$tmp/pw" --allow-weak-password --site PS1 \
		--management-point http://mp1.example.com --self-signed-certificate >/dev/null 2>&1
	tsm media create --type standalone --name standalone --task-sequence "$ts" --no-password \
		--variable 'Note=a & b <c>' >/dev/null 2>&1
	tsm media create --type standalone --name standalone-password --task-sequence "$ts" \
		--password-file "$tmp/pw" --allow-weak-password --media-cipher aes128 >/dev/null 2>&1
	for n in capture bootable bootable-plain bootable-password standalone standalone-password; do
		tsm media export "$n" -o "$tmp/cm/$n.iso"
		if have xorriso xorriso; then
			xorriso -osirrox on -indev "$tmp/cm/$n.iso" -extract /SMS/data "$tmp/cm/$n" >/dev/null 2>&1
			chmod -R u+w "$tmp/cm/$n"
		fi
	done
}

seeds_inspect() {
	local d=$out/inspect n m
	mkdir -p "$d"
	# ISO volumes: task sequence media tsmedia made, with and without a password.
	cm_media
	for n in capture bootable bootable-plain bootable-password standalone; do
		cp "$tmp/cm/$n.iso" "$d/$n.iso"
	done
	# Mode 0x01: files in Configuration Manager's container that open with the
	# harness's password: tsmedia's, and the judge's (AES-256 and AES-128).
	for n in bootable-password standalone-password; do
		[[ -f $tmp/cm/$n/Variables.dat ]] && { printf '\x01'; cat "$tmp/cm/$n/Variables.dat"; } >"$d/open-$n-variables.bin"
	done
	[[ -f $tmp/cm/standalone-password/Policy.xml ]] &&
		{ printf '\x01'; cat "$tmp/cm/standalone-password/Policy.xml"; } >"$d/open-standalone-password-policy.bin"
	if judge_ok; then
		printf '<MediaVarList Version="4.00.5345.0000"><var name="_SMSTSMediaType"><![CDATA[BootMedia]]></var></MediaVarList>' >"$tmp/judge-vars.xml"
		for aes in 128 256; do
			judge encrypt "$tmp/judge-vars.xml" "$tmp/j.dat" --aes "$aes" --password-file "$tmp/pw"
			{ printf '\x01'; cat "$tmp/j.dat"; } >"$d/open-judge-aes$aes.bin"
		done
	fi
	# Mode 0x02: a manifest for the harness's directory volume (its files'
	# texts are in fuzz_inspect.c; its Variables.dat is VARIABLES_TEXT and a
	# UTF-16 NUL under the fixed key, which the judge writes byte for byte
	# as tsmedia does).
	local boot_text vars_sha='' vars_size=0
	boot_text=$(printf '[MediaInfo]\r\nMediaType=FullMedia\r\nPasswordRequired=false\r\nUnattended=false\r\n_')
	boot_text=${boot_text%_}
	if judge_ok; then
		printf '<MediaVarList Version="4.00.5345.0000"><var name="_SMSTSMediaType"><![CDATA[FullMedia]]></var></MediaVarList>\0' >"$tmp/dir-vars.xml"
		judge encrypt "$tmp/dir-vars.xml" "$tmp/dir-vars.dat" --aes 256
		vars_sha=$(sha256sum <"$tmp/dir-vars.dat" | cut -c1-64)
		vars_size=$(stat -c %s "$tmp/dir-vars.dat")
	fi
	m=$d/dir-manifest.txt
	{
		printf '\x02# tsmedia manifest\n'
		printf '%s %s 1 SMS/data/TsmBootstrap.ini\n' \
			"$(printf '%s' "$boot_text" | sha256sum | cut -c1-64)" "${#boot_text}"
		[[ -n $vars_sha ]] && printf '%s %s 1 SMS/data/Variables.dat\n' "$vars_sha" "$vars_size"
		printf -- '- 2048 1 isolinux/isolinux.bin\n'
		printf '%s 5 1 missing.txt\n' "$(printf '%064d' 0)"
		printf '%s 5 2 on-volume-two.txt\n' "$(printf '%064d' 0)"
	} >"$m"
}

JUDGE=$root/../shared/judges/cmmedia.py
judge() { /usr/bin/python3 "$JUDGE" "$@"; }
judge_ok() {
	[[ -f $JUDGE ]] && /usr/bin/python3 -c 'import cryptography' 2>/dev/null && return 0
	echo "make-corpus: SKIPPED seeds the judge writes: $JUDGE or python3-cryptography is absent" >&2
	return 1
}

# The SMS/data readers (fuzz_cmdata.c: the first byte says which one):
# the files of the media tsmedia made, their decrypted texts and media
# certificates (the judge decrypts them), and files the judge encrypted.
seeds_cmdata() {
	local d=$out/cmdata n f
	mkdir -p "$d"
	cm_media
	for n in capture bootable bootable-plain bootable-password standalone standalone-password; do
		f=$tmp/cm/$n
		[[ -d $f ]] || continue
		{ printf '\x01'; cat "$f/TsmBootstrap.ini"; } >"$d/bootstrap-$n.bin"
		case $n in
		*-password) { printf '\x03'; cat "$f/Variables.dat"; } >"$d/vars-$n.bin" ;;
		*) { printf '\x02'; cat "$f/Variables.dat"; } >"$d/vars-$n.bin" ;;
		esac
	done
	[[ -f $tmp/cm/standalone-password/Policy.xml ]] &&
		{ printf '\x05'; cat "$tmp/cm/standalone-password/Policy.xml"; } >"$d/policy-standalone-password.bin"
	judge_ok || return 0
	# Through the judge: the media GUID and its Policy.xml (0x04), the decrypted
	# Variables.dat and Policy.xml (0x06, 0x07), the media certificate (0x08).
	/usr/bin/python3 - "$JUDGE" "$tmp/cm" "$d" "$PASSWORD" <<-'PY'
	import json, os, sys
	sys.path.insert(0, os.path.dirname(sys.argv[1]))
	import cmmedia  # the judge, read-only: its header-driven decrypt
	cm, out, password = sys.argv[2], sys.argv[3], sys.argv[4]
	def write(name, first, body):
	    with open(os.path.join(out, name), "wb") as f:
	        f.write(bytes([first]) + body)
	for n in sorted(os.listdir(cm)):
	    d = os.path.join(cm, n)
	    if not os.path.isdir(d):
	        continue
	    key = password if n.endswith("-password") else cmmedia.NO_PASSWORD
	    text, _ = cmmedia.decrypt(open(os.path.join(d, "Variables.dat"), "rb").read(), key)
	    write(f"plain-vars-{n}.bin", 0x06, (text + "\0").encode("utf-16-le"))
	    v = cmmedia.parse_xml(text, "Variables.dat")
	    vars = {e.get("name"): (e.text or "") for e in v.iter("var")}
	    guid = vars["_SMSMediaGuid"]
	    if vars.get("_SMSTSMediaPFX"):
	        write(f"pfx-{n}.bin", 0x08, guid.encode() + bytes.fromhex(vars["_SMSTSMediaPFX"]))
	    policy = os.path.join(d, "Policy.xml")
	    if os.path.exists(policy):
	        blob = open(policy, "rb").read()
	        ptext, _ = cmmedia.decrypt(blob, password if n.endswith("-password") else guid)
	        write(f"plain-policy-{n}.bin", 0x07, (ptext + "\0").encode("utf-16-le"))
	        if not n.endswith("-password"):
	            write(f"policy-{n}.bin", 0x04, guid.encode() + blob)
	PY
	# Files the judge encrypted as Configuration Manager does, AES-128 and 256.
	local guid=8AE6B618-77EC-46CB-B1B5-88F693E0B1C2 aes
	printf '<?xml version="1.0" encoding="utf-16"?>\n<MediaVarList Version="4.00.5345.0000"><var name="_SMSMediaGuid"><![CDATA[%s]]></var><var name="SMSTSLocationMPs"><![CDATA[http://mp1.example.com*https://mp2.example.com]]></var><var name="Note">a &amp; b &lt;c&gt;</var></MediaVarList>\n' "$guid" >"$tmp/jv.xml"
	printf '<Policy PolicyID="X"><PolicyRule PolicyRuleID="R"><PolicyAction PolicyActionType="WMI-XML"><instance class="CCM_TaskSequence"><property name="PKG_Name" type="8"><value><![CDATA[From the judge]]></value></property><property name="TS_Sequence" type="8"><value><![CDATA[<sequence version="3.10"><step name="s" type="SMS_TaskSequence_JoinDomainWorkgroupAction"><defaultVarList><variable name="OSDJoinPassword">p</variable></defaultVarList></step></sequence>]]></value></property></instance></PolicyAction></PolicyRule></Policy>\n' >"$tmp/jp.xml"
	for aes in 128 256; do
		judge encrypt "$tmp/jv.xml" "$tmp/j.dat" --aes "$aes"
		{ printf '\x02'; cat "$tmp/j.dat"; } >"$d/judge-vars-aes$aes.bin"
		judge encrypt "$tmp/jv.xml" "$tmp/j.dat" --aes "$aes" --password-file "$tmp/pw"
		{ printf '\x03'; cat "$tmp/j.dat"; } >"$d/judge-vars-password-aes$aes.bin"
		judge encrypt "$tmp/jp.xml" "$tmp/j.dat" --aes "$aes" --media-guid "$guid"
		{ printf '\x04%s' "$guid"; cat "$tmp/j.dat"; } >"$d/judge-policy-aes$aes.bin"
		judge encrypt "$tmp/jp.xml" "$tmp/j.dat" --aes "$aes" --password-file "$tmp/pw"
		{ printf '\x05'; cat "$tmp/j.dat"; } >"$d/judge-policy-password-aes$aes.bin"
	done
}

# What a store on object storage reads from its bucket: catalog/CURRENT and
# a lease as tsmedia writes them, and ListObjectsV2 and ListMultipartUploads
# answers in the shape of the examples in Amazon's API reference.
seeds_remote() {
	local d=$out/remote
	mkdir -p "$d"
	printf '\x01tsmedia-catalog 1\ngeneration 7\nsha256 %s\nsize 118784\n' \
		"$(printf x | sha256sum | cut -d' ' -f1)" >"$d/current.bin"
	printf '\x05tsmedia-writer 1\nstore 27d4ce3008348c670dbcab99e438601b\nhost site-server\ndir /var/lib/tsmedia\nsince 1764680000\n' >"$d/writer.bin"
	printf '\x02tsmedia-lease 1\nfrontend dp-01.example\ngeneration 7\nrenewed 1764680000\nexpires 1764680060\ncache-bytes 1048576\ncache-limit 10737418240\nmedia-version 3\ncontent-version 12\ncontent-version 14\n' >"$d/lease.bin"
	printf '\x03<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bucket</Name><Prefix>site1/packs/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><Contents><Key>site1/packs/pack-00000001.pack</Key><LastModified>2026-12-02T13:00:00.000Z</LastModified><ETag>&quot;0f343b0931126a20f133d67c2b018a3b&quot;</ETag><Size>1048576</Size><StorageClass>STANDARD</StorageClass></Contents><Contents><Key>site1/packs/pack-00000002.pack</Key><LastModified>2026-12-02T13:01:00.000Z</LastModified><Size>4096</Size></Contents></ListBucketResult>\n' >"$d/list.bin"
	printf '\x03<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken><Contents><Key>site1/leases/fe1</Key><Size>200</Size></Contents></ListBucketResult>\n' >"$d/list-truncated.bin"
	# ListMultipartUploads, the shape of the example in API_ListMultipartUploads.html.
	printf '\x04<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>bucket</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><NextKeyMarker>site1/packs/pack-00000002.pack</NextKeyMarker><NextUploadIdMarker>2~xyz</NextUploadIdMarker><MaxUploads>2</MaxUploads><IsTruncated>true</IsTruncated><Upload><Key>site1/packs/pack-00000001.pack</Key><UploadId>2~abc</UploadId><Initiated>2026-12-02T13:00:00.000Z</Initiated></Upload><Upload><Key>site1/packs/pack-00000002.pack</Key><UploadId>2~xyz</UploadId><Initiated>2026-12-02T13:00:01.000Z</Initiated></Upload></ListMultipartUploadsResult>\n' >"$d/uploads.bin"
}

for h in "${harnesses[@]}"; do
	rm -rf "${out:?}/$h"
	"seeds_$h"
	n=$(find "$out/$h" -type f | wc -l)
	((n)) || { echo "make-corpus: no seed for $h" >&2; exit 1; }
	echo "make-corpus: $h: $n seeds, $(du -sk "$out/$h" | cut -f1) KB"
done
