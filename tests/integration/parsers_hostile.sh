#!/usr/bin/env bash
# Hostile input to the parsers of PKCS#12, task sequence XML (libxml2) and
# media inspect: every reproducer of ../shared/findings/{pkcs12,tsxml,inspect}
# (read in place; a missing one skips loudly) and inputs made here.  Each is
# refused with a message naming the problem and the file, under 256 MB of
# RSS, with the catalog unchanged; the task sequences of findings/tsxml are
# valid (only large) and must import and show.  The timeout is a hang guard;
# the time each took is printed, not judged.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

FINDINGS=$(cd "$(dirname "$0")/../../.." && pwd)/shared/findings
RSS_MAX_KB=$((256 * 1024))
GUARD=${PARSERS_HANG_GUARD:-120}

command -v /usr/bin/time >/dev/null || [[ -x /usr/bin/time ]] ||
	skip "/usr/bin/time is not installed (Debian: time)"

S=$WORK/store
init_store "$S" --site-code PS1

# measured NAME CMD...: runs CMD under the hang guard and GNU time; leaves
# its exit status in $RC, output in $LAST_STDOUT/$LAST_STDERR, and checks
# it was neither killed nor over the RSS limit.
measured() {
	local name=$1 tfile=$WORK/.time secs kb
	shift
	RC=0
	timeout -k 5 "$GUARD" /usr/bin/time -f '%e %M' -o "$tfile" "$@" \
		>"$LAST_STDOUT" 2>"$LAST_STDERR" || RC=$?
	((RC == 124 || RC == 137)) && fail "$name: still running after ${GUARD}s (hang): $*"
	[[ -s $tfile ]] || fail "$name: no measurement (exit $RC): $(tail -c 600 "$LAST_STDERR")"
	# GNU time writes "Command exited with non-zero status N" first then.
	read -r secs kb < <(tail -n 1 "$tfile")
	((RC > 128)) && fail "$name: killed by signal $((RC - 128)): $(tail -c 600 "$LAST_STDERR")"
	note "$name: ${secs}s, $((kb / 1024)) MB RSS"
	assert_le "$kb" "$RSS_MAX_KB" "$name: RSS in KB"
}

# refused NAME REGEX CMD...: CMD fails with REGEX on stderr, libxml2 or
# OpenSSL print nothing of their own, the catalog is unchanged.
refused() {
	local name=$1 re=$2 d0
	shift 2
	check "refused: $name"
	d0=$(catalog_digest "$S")
	measured "$name" "$@"
	((RC != 0)) || fail "$name: exit 0, expected a refusal: $(head -c 600 "$LAST_STDOUT")"
	grep -Eq -- "$re" "$LAST_STDERR" ||
		fail "$name: exit $RC but stderr does not match /$re/: $(head -c 1000 "$LAST_STDERR")"
	if grep -v '^tsmedia: ' "$LAST_STDERR" | grep -q .; then
		fail "$name: stderr holds lines that are not tsmedia's: $(grep -v '^tsmedia: ' "$LAST_STDERR" | head -5)"
	fi
	assert_eq "$(catalog_digest "$S")" "$d0" "catalog changed by a refused command ($name)"
	note "$(head -n 1 "$LAST_STDERR" | head -c 240)"
}

have_finding() { # DIR: 0 when ../shared/findings/DIR is there, else a loud skip of that part
	[[ -d $FINDINGS/$1 ]] && return 0
	skip_part "no $FINDINGS/$1: its reproducers were not run"
	return 1
}

# ------------------------------------------------------------------ WIM given to media inspect
# media inspect PATH.wim opens a WIM from anywhere with wimlib, as an import
# does: the same structure check must come first (before it, the oom-0435...
# input took 9.7 s and 6 GB of RSS here).
if have_finding wim; then
	for f in "$FINDINGS"/wim/*; do
		n=$(basename "$f")
		cp "$f" "$WORK/$n.wim"
		refused "media inspect of the hostile WIM $n" "$n\.wim: (not a usable WIM|not a WIM wimlib reads|no SMS/data)" \
			"$TSMEDIA" --store "$S" media inspect "$WORK/$n.wim"
	done
fi

# ------------------------------------------------------------------ PKCS#12
if have_finding pkcs12; then
	P12=$FINDINGS/pkcs12/hang-crafted-mac-iter-2147483647.p12
	PW=$FINDINGS/pkcs12/password.txt
	ITER_RE="hang-crafted-mac-iter-2147483647\.p12: the integrity check \(MAC\) asks for 2147483647 key-derivation iterations, more than the 600000 Windows accepts"
	refused "cert check of a PKCS#12 asking for 2^31-1 MAC iterations" "$ITER_RE" \
		"$TSMEDIA" --store "$S" cert check "$P12" --password-file "$PW"

	# The same file given to media create.
	P=$WORK/pki
	mkdir -p "$P" "$WORK/boot/boot"
	pki_init "$P"
	openssl req -x509 -config "$P/openssl.cnf" -extensions v3_ca -newkey rsa:2048 -nodes \
		-keyout "$P/ca.key" -out "$P/ca.pem" -subj "/CN=Contoso Root CA" -days 3650 \
		2>"$WORK/openssl.log" || fail "openssl req: $(tail -3 "$WORK/openssl.log")"
	tsm "$S" site add --code PS1 --type primary --root-ca "$P/ca.pem" \
		--mp https://mp1.contoso.com >/dev/null
	randfile "$WORK/boot/boot/etfsboot.com" 4096
	randfile "$WORK/boot/sources.wim" 100000
	BOOT=$(add_content "$S" --kind boot-image --name "boot image" "$WORK/boot")
	refused "media create --certificate with that PKCS#12" "$ITER_RE" \
		"$TSMEDIA" --store "$S" media create --name hostile --type bootable --boot-image "$BOOT" \
		--certificate "$P12" --certificate-password-file "$PW" --no-password --site PS1 \
		--mode site-based --management-point https://mp1.contoso.com
	tsm "$S" media list >"$WORK/media.list"
	if grep -q hostile "$WORK/media.list"; then fail "a refused media create left a media: $(cat "$WORK/media.list")"; fi

	# The same file as the media certificate of a media someone else made
	# (_SMSTSMediaPFX in hex, in a Variables.dat the judge encrypted under
	# the fixed key): media inspect refuses it before any derivation runs.
	JUDGE=$(dirname "$0")/../../../shared/judges/cmmedia.py
	if [[ -f $JUDGE ]]; then
		vol=$WORK/pfx-stick
		mkdir -p "$vol/SMS/data"
		printf '[MediaInfo]\r\nMediaType=BootMedia\r\nPasswordRequired=false\r\n' >"$vol/SMS/data/TsmBootstrap.ini"
		printf '<MediaVarList Version="4.00.5345.0000"><var name="_SMSMediaGuid"><![CDATA[8AE6B618-77EC-46CB-B1B5-88F693E0B1C2]]></var><var name="_SMSTSMediaPFX"><![CDATA[%s]]></var></MediaVarList>' \
			"$(od -An -v -tx1 "$P12" | tr -d ' \n')" >"$WORK/pfx-vars.xml"
		/usr/bin/python3 "$JUDGE" encrypt "$WORK/pfx-vars.xml" "$vol/SMS/data/Variables.dat" ||
			fail "the judge could not write a Variables.dat"
		refused "media inspect of a media whose certificate asks for 2^31-1 MAC iterations" \
			"pfx-stick: SMS/data/Variables\.dat: the integrity check \(MAC\) asks for 2147483647 key-derivation iterations" \
			"$TSMEDIA" --store "$S" media inspect "$vol"
	else
		skip_part "the judge ($JUDGE) to write a media whose certificate is that PKCS#12"
	fi
fi

# ------------------------------------------------------------------ task sequence XML
if have_finding tsxml; then
	for gz in "$FINDINGS"/tsxml/*.xml.gz; do
		[[ -e $gz ]] || { skip_part "no task sequence reproducers in $FINDINGS/tsxml"; break; }
		name=$(basename "$gz" .xml.gz)
		xml=$WORK/$name.xml
		gzip -dc "$gz" >"$xml"
		# The number of distinct IDs, counted here with grep (not by tsmedia).
		want=$(grep -oE '(/image:|package=")P[0-9A-F]{7}' "$xml" | sed 's/.*P/P/' | sort -u | wc -l)
		((want > 10000)) || fail "$name: expected thousands of package IDs, counted $want"
		check "task sequence with $want package IDs ($name): import, show, show --json, list"
		measured "ts import $name" "$TSMEDIA" --store "$S" ts import --name "$name" "$xml"
		((RC == 0)) || fail "ts import $name exited $RC: $(head -c 800 "$LAST_STDERR")"
		id=$(grep -E "$ID_RE" "$LAST_STDOUT" | head -n 1)
		[[ -n $id ]] || fail "ts import $name printed no ID: $(cat "$LAST_STDOUT")"
		measured "ts show $name" "$TSMEDIA" --store "$S" ts show "$id"
		((RC == 0)) || fail "ts show $id exited $RC: $(head -c 800 "$LAST_STDERR")"
		grep -q "^Packages ($want, in the order" "$LAST_STDOUT" ||
			fail "ts show $id does not list $want packages: $(grep '^Packages' "$LAST_STDOUT")"
		measured "ts show --json $name" "$TSMEDIA" --store "$S" ts show "$id" --json
		((RC == 0)) || fail "ts show --json $id exited $RC"
		got=$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["packages"]))' <"$LAST_STDOUT")
		assert_eq "$got" "$want" "packages in ts show --json $id"
		measured "ts list" "$TSMEDIA" --store "$S" ts list
		((RC == 0)) || fail "ts list exited $RC"
	done
fi

# ------------------------------------------------------------------ libxml2's own messages
# A document that says Shift_JIS and holds a lead byte without its trail
# byte: libxml2 2.9.14 printed "encoding error : input conversion failed"
# and "I/O error : encoder error" to stderr by itself.
printf '<?xml version="1.0" encoding="Shift_JIS"?>\n<sequence version="3.10"><step name="\x81"/></sequence>\n' \
	>"$WORK/sjis.xml"
refused "bad Shift_JIS bytes: one tsmedia message, nothing printed by libxml2" \
	'sjis\.xml: nothing was imported: not well-formed XML \(at or after line 1\): input conversion failed' \
	"$TSMEDIA" --store "$S" ts import --name sjis "$WORK/sjis.xml"
printf '<?xml version="1.0" encoding="UTF-8"?>\n<sequence>\n<step name="caf\xe9"/></sequence>\n' \
	>"$WORK/latin1.xml"
refused "Latin-1 bytes in a UTF-8 document, with the line" \
	'latin1\.xml: nothing was imported: not well-formed XML \(line 3\): Input is not proper UTF-8' \
	"$TSMEDIA" --store "$S" ts import --name latin1 "$WORK/latin1.xml"
# One start tag with 100,000 attributes (1 MB): six minutes of libxml2 before.
python3 -c 'import sys; sys.stdout.write("<sequence version=\"3.10\" " + " ".join("a%d=\"\"" % i for i in range(100000)) + "/>")' \
	>"$WORK/attrs.xml"
refused "a start tag with 100,000 attributes" 'attrs\.xml: nothing was imported: a start tag at line 1 is longer than 65536 bytes' \
	"$TSMEDIA" --store "$S" ts import --name attrs "$WORK/attrs.xml"

# ------------------------------------------------------------------ media inspect
if have_finding inspect; then
	HEAD=$FINDINGS/inspect/oom-crafted-variables-4GiB.iso-head
	if [[ -f $HEAD ]]; then
		cp "$HEAD" "$WORK/big.iso"
		chmod u+w "$WORK/big.iso"
		truncate -s 4300000000 "$WORK/big.iso"
		used=$(du -k "$WORK/big.iso" | cut -f1)
		((used < 1024 * 1024)) || fail "the extended image is not sparse on this file system ($used KB used)"
		refused "media inspect of an ISO whose Variables.dat claims 4 GiB" \
			'big\.iso: SMS/data/Variables\.dat claims 4294963200 bytes, more than the 32 MiB' \
			"$TSMEDIA" --store "$S" media inspect "$WORK/big.iso"
		rm -f "$WORK/big.iso"
	else
		skip_part "no $HEAD"
	fi
	n=0
	for bin in "$FINDINGS"/inspect/timeout-pbkdf2-*; do
		[[ -f $bin ]] || continue
		n=$((n + 1))
		# The fuzzing harness's first byte (0x01) chose "a protected file";
		# the rest is Variables.dat.
		vol=$WORK/pbkdf2-$n
		mkdir -p "$vol/SMS/data"
		printf '[MediaInfo]\r\nMediaType=BootMedia\r\n' >"$vol/SMS/data/TSMBootstrap.ini"
		tail -c +2 "$bin" >"$vol/SMS/data/Variables.dat"
		printf 'a media password\n' >"$WORK/media.pw"
		# tsmedia's own format (and its PBKDF2) is gone (issue 13): the file is
		# refused at once as not Configuration Manager's container.
		refused "media inspect of $(basename "$bin")" \
			"pbkdf2-$n: SMS/data/Variables\.dat: magic 0x[0-9a-f]+, not an encrypted media file" \
			"$TSMEDIA" --store "$S" media inspect "$vol" --password-file "$WORK/media.pw"
	done
	((n > 0)) || skip_part "no timeout-pbkdf2-* reproducer in $FINDINGS/inspect"
fi

# Manifest paths that leave the volume: each refused, naming its line;
# nothing outside is read (the decoy's hash is the manifest's, so reading
# it would count as a match).
VOL=$WORK/stick
mkdir -p "$VOL/SMS/data" "$VOL/sources"
printf '[MediaInfo]\r\nMediaType=BootMedia\r\n' >"$VOL/SMS/data/TsmBootstrap.ini"
# Variables.dat in Configuration Manager's format (issue 13), under the fixed key of media
# without a password, written by the judge.
JUDGE=$(dirname "$0")/../../../shared/judges/cmmedia.py
[[ -f $JUDGE ]] || skip "judge missing: $JUDGE"
printf '<MediaVarList Version="4.00.5345.0000"/>' >"$WORK/vars.xml"
/usr/bin/python3 "$JUDGE" encrypt "$WORK/vars.xml" "$VOL/SMS/data/Variables.dat" ||
	fail "the judge could not write a Variables.dat"
printf 'outside the volume\n' >"$WORK/decoy.txt"
DECOY_SHA=$(sha "$WORK/decoy.txt")
DECOY_SIZE=$(stat -c %s "$WORK/decoy.txt")
for bad in "../decoy.txt" "sources/../../decoy.txt" "$WORK/decoy.txt" '..\decoy.txt' "sources/./a"; do
	printf '# tsmedia manifest\r\n%s %s 1 %s\r\n' "$DECOY_SHA" "$DECOY_SIZE" "$bad" >"$VOL/SMS/data/Manifest.txt"
	refused "a manifest path '$bad'" \
		"stick: SMS/data/Manifest\\.txt line 2 names '$(re_escape "$bad")', a path that leaves the volume" \
		"$TSMEDIA" --store "$S" media inspect "$VOL"
done
# A link on the stick that points out of it: a bad file, not a match.
ln -s "$WORK/decoy.txt" "$VOL/sources/link.txt"
printf '# tsmedia manifest\r\n%s %s 1 sources/link.txt\r\n' "$DECOY_SHA" "$DECOY_SIZE" >"$VOL/SMS/data/Manifest.txt"
check "a link out of the volume is a bad file"
measured "media inspect with a link out" "$TSMEDIA" --store "$S" media inspect "$VOL"
((RC == 1)) || fail "media inspect of a volume with a link out exited $RC, expected 1 (files differ)"
grep -q 'sources/link.txt: a link out of volume 1' "$LAST_STDOUT" ||
	fail "inspect did not name the link: $(cat "$LAST_STDOUT")"
grep -Eq -- '--- manifest: 1 files, 0 match' "$LAST_STDOUT" ||
	fail "inspect counted the link as a match: $(grep -- '--- manifest' "$LAST_STDOUT")"

pass
