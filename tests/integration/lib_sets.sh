# shellcheck shell=bash
# Sourced after lib.sh by the tests of versioned sets (sets_versions.sh,
# media_burn.sh): a stand-alone media that spans two 650 MB CDs, cheaply
# (the large files are mostly holes, which the store keeps once).

MiB=$((1024 * 1024))

# sparse_file PATH BYTES: mostly a hole, with a random first 64 KiB so each differs.
sparse_file() {
	truncate -s "$2" "$1"
	randfile "$WORK/.head" 65536
	dd if="$WORK/.head" of="$1" conv=notrunc status=none
}

# set_package DIR MB: a package tree of about MB megabytes.
set_package() {
	mkdir -p "$1/data"
	sparse_file "$1/data/big.bin" $(($2 * MiB))
	randfile "$1/data/random.bin" $((2 * MiB))
	printf '@echo off\r\nsetup.exe /quiet\r\n' >"$1/install.cmd"
}

# make_two_volume_set STORE NAME: packages PS100B0A (300 MB, volume 1) and
# PS100B0B (400 MB, volume 2) on stand-alone media NAME (--size 650mb);
# fails unless it spans exactly two volumes.  Sets SET_PW (the password file).
make_two_volume_set() {
	local store=$1 name=$2 ts nvol
	mkdir -p "$WORK/set/boot/boot"
	randfile "$WORK/set/boot/boot/etfsboot.com" 4096
	randfile "$WORK/set/boot/sources.wim" $((2 * MiB))
	local boot
	boot=$(add_content "$store" --kind boot-image --name "boot image" "$WORK/set/boot")
	set_package "$WORK/set/A" 300
	set_package "$WORK/set/B" 400
	add_content "$store" --kind package --name "package A" --id PS100B0A "$WORK/set/A" >/dev/null
	add_content "$store" --kind package --name "package B" --id PS100B0B "$WORK/set/B" >/dev/null
	cat >"$WORK/set/ts.xml" <<-'EOF'
	<sequence version="3.10">
	  <referenceList>
	    <reference package="PS100B0A" />
	    <reference package="PS100B0B" />
	  </referenceList>
	  <group name="Install" description="">
	    <step type="SMS_TaskSequence_RunCommandLineAction" name="Install A" description="" runIn="WinPEandFullOS" successCodeList="0 3010" retryCount="0" runFromNet="false">
	      <action>smsswd.exe /run:PS100B0A install.cmd</action>
	      <defaultVarList>
	        <variable name="CommandLine" property="CommandLine" hidden="true">install.cmd</variable>
	        <variable name="PackageID" property="PackageID" hidden="true">PS100B0A</variable>
	      </defaultVarList>
	    </step>
	    <step type="SMS_TaskSequence_RunCommandLineAction" name="Install B" description="" runIn="WinPEandFullOS" successCodeList="0 3010" retryCount="0" runFromNet="false">
	      <action>smsswd.exe /run:PS100B0B install.cmd</action>
	      <defaultVarList>
	        <variable name="CommandLine" property="CommandLine" hidden="true">install.cmd</variable>
	        <variable name="PackageID" property="PackageID" hidden="true">PS100B0B</variable>
	      </defaultVarList>
	    </step>
	  </group>
	</sequence>
	EOF
	ts=$(tsm "$store" ts import --name "Two discs" --boot-image "$boot" "$WORK/set/ts.xml")
	SET_PW=$WORK/set/pw
	printf 'two discs: larch quartz fennel\n' >"$SET_PW"
	tsm "$store" media create --type standalone --name "$name" --task-sequence "$ts" --size 650mb \
		--media cd-dvd --password-file "$SET_PW" >/dev/null 2>"$WORK/set/create.err" ||
		fail "media create of the two-volume set failed: $(cat "$WORK/set/create.err")"
	nvol=$(tsm "$store" media show "$name" --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["volumes"]))')
	assert_eq "$nvol" 2 "volumes of the set"
}

# update_package_b STORE: a new version of PS100B0B (volume 2's package),
# the same size, other bytes.
update_package_b() {
	randfile "$WORK/set/B/data/random.bin" $((2 * MiB))
	add_content "$1" --kind package --name "package B" --id PS100B0B "$WORK/set/B" >/dev/null
}

# manifest_check MANIFEST VOLUME ISO: every file the manifest puts on
# VOLUME has its SHA-256 and size in ISO (read by xorriso, a judge).
manifest_check() {
	local man=$1 vol=$2 iso=$3 x=$WORK/mcheck
	rm -rf "$x"
	mkdir -p "$x"
	xorriso -osirrox on -indev "$iso" -extract / "$x/tree" >"$x/log" 2>&1 ||
		{ echo "xorriso cannot extract $iso: $(tail -3 "$x/log")"; return 1; }
	python3 - "$man" "$vol" "$x/tree" <<-'EOF'
	import hashlib, os, sys
	man, vol, tree = sys.argv[1], sys.argv[2], sys.argv[3]
	n = bad = 0
	for line in open(man, encoding="utf-8"):
	    parts = line.rstrip("\r\n").split(" ", 3)
	    if len(parts) != 4 or parts[2] != vol or parts[0] == "-":
	        continue
	    sha, size, _, path = parts
	    p = os.path.join(tree, path.replace("\\", "/").lstrip("/"))
	    h = hashlib.sha256()
	    with open(p, "rb") as f:
	        for b in iter(lambda: f.read(1 << 20), b""):
	            h.update(b)
	    n += 1
	    if h.hexdigest() != sha or os.path.getsize(p) != int(size):
	        bad += 1
	        print(f"{path}: the manifest says {sha} ({size} bytes), the volume has {h.hexdigest()} ({os.path.getsize(p)} bytes)")
	if n == 0:
	    sys.exit(f"the manifest puts no file on volume {vol}")
	sys.exit(1 if bad else 0)
	EOF
}
