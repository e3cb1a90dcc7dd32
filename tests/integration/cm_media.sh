#!/usr/bin/env bash
# Media a Configuration Manager client can read (issue 13): for each media type and form,
# with and without a password, AES-256 and AES-128, SMS/data is taken out of the file on the
# mount (xorriso for ISOs, mtools for USB images, wimlib for prestaged WIMs) and read by
# ../shared/judges/cmmedia.py, a reader nobody here wrote: the variables are the client's
# with the site's values, `pfx` opens the media certificate with the GUID's characters, the
# policy's TS_Sequence is the imported sequence.  Then: weak passwords refused with their
# estimate (or kept with --allow-weak-password, which `media show` says), a site lacking a
# value its media need, `media edit` keeping the certificate, and `media inspect` of an ISO
# xorriso made from files the judge encrypted.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

JUDGE=$(dirname "$0")/../../../shared/judges/cmmedia.py
FIX=$(dirname "$0")/../../../shared/fixtures/task-sequences
F6=$FIX/mdt-template_autopilot-existing-devices_drfiles.xml
[[ -f $JUDGE ]] || skip "judge missing: $JUDGE (../shared/judges beside the project)"
[[ -f $F6 ]] || skip "task sequence fixture missing: $F6"
PY=/usr/bin/python3
$PY -c 'import cryptography' 2>/dev/null || skip "python3-cryptography is not installed"
for t in xorriso mcopy wimlib-imagex grub-mkstandalone mkfs.fat; do
	command -v "$t" >/dev/null || skip "$t is not installed (Debian: xorriso mtools wimtools grub-common dosfstools)"
done
[[ -f /usr/lib/ISOLINUX/isolinux.bin ]] || skip "isolinux is not installed"
TSMEDIAFS=${TSMEDIAFS:-$(dirname "$TSMEDIA")/../fs/tsmediafs}
[[ -e /dev/fuse && -x $TSMEDIAFS ]] && command -v fusermount3 >/dev/null ||
	skip "the mount is needed (/dev/fuse, fusermount3, tsmediafs)"
root=$(cd "$(dirname "$0")/../.." && pwd)
judge() { $PY "$JUDGE" "$@" 2>"$WORK/judge.err"; }

S=$WORK/store
init_store "$S" --site-code PS1
"$root/tools/make-boot-demo.sh" "$WORK/boot" >/dev/null
BOOT=$(add_content "$S" --kind boot-image --name "boot demo" "$WORK/boot")
BOOTOPTS=(--bios-boot isolinux/isolinux.bin --boot-load-size 4 --boot-info-table --uefi-boot efi/boot.img)
mkdir -p "$WORK/os" "$WORK/pkg"
randfile "$WORK/os/install.wim" 300000
OS=$(add_content "$S" --kind os-image --name "os image" "$WORK/os")
echo "package" >"$WORK/pkg/readme.txt"
PKG=$(add_content "$S" --kind package --name "a package" --id PS100012 "$WORK/pkg")
TS=$(tsm "$S" ts import --boot-image "$BOOT" "$F6")

SIGN=308201A2300D06092A864886F70D01010B0500
X64=a1b2c3d4-0000-4000-8000-000000000064
X86=a1b2c3d4-0000-4000-8000-000000000086
ROOTKEY=0602000000A40000525341310008000001000100
ROOTCAS=MIIBszCCAVmgAwIBAgIUQ
tsm "$S" site add --code PS1 --type primary --mp http://mp1.contoso.com --mp http://mp2.contoso.com \
	--http-port 80 --https-port 443 --iis-ssl-state 448 --signing-certificate "$SIGN" \
	--x64-unknown-guid "$X64" --x86-unknown-guid "$X86" --public-root-key "$ROOTKEY" \
	--root-ca-certs "$ROOTCAS" --use-first-cert 1 >/dev/null
tsm "$S" site show PS1 --json >"$WORK/site.json"
assert_eq "$("${PYHELP[@]}" get "$WORK/site.json" values.iis-ssl-state)" 448 "site show: a site value"

printf 'pineapple dishwasher orbit galaxy\n' >"$WORK/pw"
printf 'pineapple dishwasher orbit galaxies\n' >"$WORK/wrong"

check "a weak password is refused, with the estimate; nothing is stored"
printf 'Password1\n' >"$WORK/weak"
digest=$(catalog_digest "$S")
expect_fail_with "media password refused: about 2\^[0-9.]+ guesses \(zxcvbn\), found in under a second by one GPU .*hashcat mode 19851" -- \
	tsm "$S" media create --name weak --type bootable --boot-image "$BOOT" "${BOOTOPTS[@]}" \
	--site PS1 --management-point http://mp1.contoso.com --self-signed-certificate --password-file "$WORK/weak"
assert_eq "$(catalog_digest "$S")" "$digest" "a refused media changes nothing"
expect_fail_with "hashcat mode 19850" -- tsm "$S" media create --name weak --type bootable \
	--boot-image "$BOOT" "${BOOTOPTS[@]}" --site PS1 --management-point http://mp1.contoso.com \
	--password-file "$WORK/weak" --media-cipher aes128

check "a site lacking what bootable media carry: refused, every missing value named"
tsm "$S" site add --code PS2 --type primary --mp http://mp9.contoso.com --http-port 80 >/dev/null
expect_fail_with "site PS2 lacks what bootable media carry" -- tsm "$S" media create --name lacking \
	--type bootable --boot-image "$BOOT" "${BOOTOPTS[@]}" --site PS2 \
	--management-point http://mp9.contoso.com --no-password --unknown-computers
for o in --https-port --iis-ssl-state --signing-certificate --x64-unknown-guid --x86-unknown-guid; do
	grep -q -- "$o" "$LAST_STDERR" || fail "the refusal does not name $o: $(cat "$LAST_STDERR")"
done
if grep -q -- '--http-port' "$LAST_STDERR"; then fail "a value the site has is named missing"; fi

# create NAME ARGS...: must succeed; stderr kept in $WORK/NAME.err.
create() {
	local name=$1 rc=0
	shift
	tsm "$S" media create --name "$name" "$@" >/dev/null 2>"$WORK/$name.err" || rc=$?
	((rc == 0)) || fail "media create --name $name $*: exit $rc: $(cat "$WORK/$name.err")"
}
check "create every type and form, with and without a password, AES-256 and AES-128"
NET=(--site PS1 --self-signed-certificate --certificate-valid-from 2025-01-01 --certificate-valid-until 2035-01-01)
create cap --type capture --boot-image "$BOOT" "${BOOTOPTS[@]}" --media-cipher aes128
create bdyn --type bootable --boot-image "$BOOT" "${BOOTOPTS[@]}" "${NET[@]}" --mode dynamic \
	--management-point http://mp1.contoso.com --management-point http://mp2.contoso.com \
	--no-password --unknown-computers --variable OSDComputerName=PC01
create bsite --type bootable --boot-image "$BOOT" "${BOOTOPTS[@]}" "${NET[@]}" --mode site-based \
	--management-point http://mp2.contoso.com --password-file "$WORK/pw" --media-cipher aes128 \
	--media usb
create sa --type standalone --task-sequence "$TS" "${BOOTOPTS[@]}" --package "$PKG" \
	--password-file "$WORK/pw" --variable 'Note=a & b <c>'
create sausb --type standalone --task-sequence "$TS" "${BOOTOPTS[@]}" --package "$PKG" \
	--no-password --media usb --media-cipher aes128
create pre --type prestaged --boot-image "$BOOT" --os-image "$OS" "${NET[@]}" \
	--management-point http://mp1.contoso.com --password-file "$WORK/pw"
# The whole matrix: every type and form, with and without a password (capture media take
# none), AES-256 and AES-128; named x-FORM-PASSWORD-AES, read whole by the judge below.
MATRIX=()
for aes in 256 128; do
	for pw in no yes; do
		pwopt=(--no-password)
		[[ $pw == yes ]] && pwopt=(--password-file "$WORK/pw")
		c=(--media-cipher "aes$aes")
		[[ $pw == no ]] && create "x-cap-$pw-$aes" --type capture --boot-image "$BOOT" "${BOOTOPTS[@]}" "${c[@]}" &&
			MATRIX+=("x-cap-$pw-$aes:iso:CaptureMedia")
		create "x-bdyn-$pw-$aes" --type bootable --boot-image "$BOOT" "${BOOTOPTS[@]}" "${NET[@]}" \
			--mode dynamic --management-point http://mp1.contoso.com "${pwopt[@]}" "${c[@]}"
		create "x-bsite-$pw-$aes" --type bootable --boot-image "$BOOT" "${BOOTOPTS[@]}" "${NET[@]}" \
			--mode site-based --management-point http://mp2.contoso.com --media usb "${pwopt[@]}" "${c[@]}"
		create "x-sa-$pw-$aes" --type standalone --task-sequence "$TS" "${BOOTOPTS[@]}" --package "$PKG" \
			"${pwopt[@]}" "${c[@]}"
		create "x-sausb-$pw-$aes" --type standalone --task-sequence "$TS" "${BOOTOPTS[@]}" --package "$PKG" \
			--media usb "${pwopt[@]}" "${c[@]}"
		create "x-pre-$pw-$aes" --type prestaged --boot-image "$BOOT" --os-image "$OS" "${NET[@]}" \
			--management-point http://mp1.contoso.com "${pwopt[@]}" "${c[@]}"
		MATRIX+=("x-bdyn-$pw-$aes:iso:BootMedia" "x-bsite-$pw-$aes:img:BootMedia" "x-sa-$pw-$aes:iso:FullMedia"
			"x-sausb-$pw-$aes:img:FullMedia" "x-pre-$pw-$aes:wim:OEMMedia")
	done
done
grep -q "media 'bdyn' has no password: anyone holding it can read its variables and the media certificate's private key" "$WORK/bdyn.err" ||
	fail "no exposure warning for bdyn: $(cat "$WORK/bdyn.err")"
grep -q "the task sequence and any credentials in it" "$WORK/sausb.err" ||
	fail "no exposure warning for sausb: $(cat "$WORK/sausb.err")"

mnt=$WORK/mnt
mkdir -p "$mnt"
"$TSMEDIAFS" --store "$S" "$mnt" -f 2>>"$WORK/daemon.log" &
daemon=$!
at_exit 'fusermount3 -u "$mnt" 2>/dev/null; kill $daemon 2>/dev/null'
for _ in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.1; done
mountpoint -q "$mnt" || fail "tsmediafs did not mount: $(cat "$WORK/daemon.log")"

# sms_data NAME FILE: SMS/data out of the mounted file into $WORK/NAME.
sms_data() {
	local name=$1 file=$mnt/$2 out=$WORK/$1
	mkdir -p "$out"
	[[ -f $file ]] || fail "$2 is not on the mount: $(ls "$mnt")"
	case $file in
	*.iso) xorriso -osirrox on -indev "$file" -extract /SMS/data "$out" >/dev/null 2>&1 ||
		fail "xorriso cannot extract SMS/data from $2" ;;
	*.img) mcopy -n -i "$file@@1M" '::/SMS/data/*' "$out/" || fail "mcopy cannot read SMS/data from $2" ;;
	*.wim) wimlib-imagex extract "$file" 1 /SMS/data --dest-dir="$WORK/$name.wimx" --no-acls >/dev/null ||
		fail "wimlib cannot extract SMS/data from $2"
		cp "$WORK/$name.wimx/data/"* "$out/" ;;
	esac
	[[ -f $out/TsmBootstrap.ini && -f $out/Variables.dat ]] || fail "$2: SMS/data lacks TsmBootstrap.ini or Variables.dat: $(ls "$out")"
}

# judge_media NAME FILE TYPE ALG PASSWORD(yes|no): the judge reads it all.
judge_media() {
	local name=$1 file=$2 type=$3 alg=$4 pw=$5 d=$WORK/$1 pwargs=() guid
	check "$name ($file): TsmBootstrap.ini, and the judge reads Variables.dat ($alg, password: $pw)"
	sms_data "$name" "$file"
	[[ $pw == yes ]] && pwargs=(--password-file "$WORK/pw")
	tr -d '\r' <"$d/TsmBootstrap.ini" >"$d/ini"
	assert_eq "$(cat "$d/ini")" "[MediaInfo]
MediaType=$type
PasswordRequired=$([[ $pw == yes ]] && echo true || echo false)
Unattended=false" "$name TsmBootstrap.ini"
	judge vars "$d/Variables.dat" "${pwargs[@]}" >"$d/vars.json" || fail "judge vars $name: $(cat "$WORK/judge.err")"
	assert_eq "$("${PYHELP[@]}" get "$d/vars.json" alg)" "$alg" "$name ALG_ID"
	guid=$("${PYHELP[@]}" get "$d/vars.json" vars._SMSMediaGuid)
	assert_match "$guid" '^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$' "$name _SMSMediaGuid without braces"
	assert_eq "{$guid}" "$(tsm "$S" media show "$name" --json | "${PYHELP[@]}" get - media_guid)" "$name GUID against media show"
	assert_eq "$("${PYHELP[@]}" get "$d/vars.json" vars._SMSTSMediaType)" "$type" "$name _SMSTSMediaType"
	if [[ $pw == yes ]]; then
		if judge vars "$d/Variables.dat" >/dev/null; then fail "$name: the fixed key opens a protected Variables.dat"; fi
		if judge vars "$d/Variables.dat" --password-file "$WORK/wrong" >/dev/null; then fail "$name: a wrong password opens it"; fi
		if grep -aqr 'pineapple' "$d" "$S/catalog.db"* "$S/packs"; then fail "$name: the password is on the media or in the store"; fi
	fi
	GUID=$guid
}
# vars_have NAME NAME=VALUE...: the judge's variables hold each.
vars_have() {
	local name=$1
	shift
	$PY - "$WORK/$name/vars.json" "$@" <<'PY' || fail "$name: variables"
import json, sys
v = json.load(open(sys.argv[1]))["vars"]
for kv in sys.argv[2:]:
    k, want = kv.split("=", 1)
    if want == "<absent>":
        assert k not in v, f"{k} should not be there: {v.get(k)!r}"
    elif want == "<present>":
        assert v.get(k), f"{k} is missing"
    else:
        assert v.get(k) == want, f"{k}: {v.get(k)!r}, want {want!r}"
for k in ("_SMSTSMediaPFXPassword", "_SMSTSMediaMode", "_SMSTSMediaLabel"):
    assert k not in v, f"{k}: not a Configuration Manager name, should be gone"
PY
}
pfx_ok() {
	local name=$1
	shift
	judge pfx "$WORK/$name/Variables.dat" "$@" >"$WORK/$name/pfx.json" || fail "judge pfx $name: $(cat "$WORK/judge.err")"
	grep -q '"subject": "CN=' "$WORK/$name/pfx.json" || fail "$name: pfx: $(cat "$WORK/$name/pfx.json")"
	grep -q '"not_after": "2035-01-01' "$WORK/$name/pfx.json" || fail "$name: certificate dates: $(cat "$WORK/$name/pfx.json")"
}
# policy_is NAME KEY-ARGS...: TS_Sequence is the imported sequence (canonical XML), packages.
policy_is() {
	local name=$1 seq=$2
	shift 2
	judge policy "$WORK/$name/Policy.xml" "$@" >"$WORK/$name/policy.json" || fail "judge policy $name: $(cat "$WORK/judge.err")"
	$PY - "$WORK/$name/policy.json" "$seq" "$PKG" <<'PY' || fail "$name: policy"
import json, sys, xml.etree.ElementTree as ET
insts = json.load(open(sys.argv[1]))
ts = insts[0]
assert ts["class"] == "CCM_TaskSequence", ts["class"]
p = ts["properties"]
got = ET.canonicalize(p["TS_Sequence"], strip_text=True)
if sys.argv[2] == "capture":
    assert "SMS_TaskSequence_CaptureSystemImageAction" in got
else:
    want = ET.canonicalize(open(sys.argv[2], encoding="utf-8").read().split("?>", 1)[-1], strip_text=True)
    assert got == want, "TS_Sequence is not the imported sequence"
    assert sys.argv[3] in [i["properties"].get("PKG_PackageID") for i in insts[1:]], "package instance"
assert p["PKG_Name"] and p["ADV_AdvertisementID"], p
PY
}

judge_media cap cap.iso CaptureMedia 0x660e no
policy_is cap capture --media-guid "$GUID"

judge_media bdyn bdyn.iso BootMedia 0x6610 no
vars_have bdyn _SMSTSSiteCode=PS1 "SMSTSLocationMPs=http://mp1.contoso.com*http://mp2.contoso.com" \
	SMSTSMP="<absent>" _SMSTSHTTPPort=80 _SMSTSHTTPSPort=443 _SMSTSIISSSLState=448 \
	_SMSTSSiteSigningCertificate="$SIGN" _SMSTSx64UnknownMachineGUID="$X64" \
	_SMSTSx86UnknownMachineGUID="$X86" _SMSTSSupportUnknownMachines=true \
	_SMSTSBootMediaPackageID="$BOOT" _SMSTSLaunchMode=DVD OSDComputerName=PC01 \
	_SMSTSMediaPFX="<present>" _SMSTSStandAloneMedia="<absent>"
pfx_ok bdyn
[[ ! -e $WORK/bdyn/Policy.xml ]] || fail "bootable media carries a Policy.xml"

judge_media bsite bsite.img BootMedia 0x660e yes
vars_have bsite SMSTSMP=http://mp2.contoso.com SMSTSLocationMPs="<absent>" _SMSTSLaunchMode=UFD+FORMAT \
	_SMSTSx64UnknownMachineGUID="<absent>"
pfx_ok bsite --password-file "$WORK/pw"

judge_media sa sa.iso FullMedia 0x6610 yes
vars_have sa _SMSTSStandAloneMedia=true "Note=a & b <c>" SMSTSMP="<absent>" _SMSTSHTTPPort="<absent>"
policy_is sa "$F6" --password-file "$WORK/pw"
if judge policy "$WORK/sa/Policy.xml" --media-guid "$GUID" >/dev/null; then fail "sa: the GUID opens a protected policy"; fi

judge_media sausb sausb.img FullMedia 0x660e no
policy_is sausb "$F6" --media-guid "$GUID"

judge_media pre pre.wim OEMMedia 0x6610 yes
vars_have pre _SMSTSLaunchMode=HD SMSTSMP="<absent>" "SMSTSLocationMPs=http://mp1.contoso.com" _SMSTSHTTPPort=80
pfx_ok pre --password-file "$WORK/pw"

for m in "${MATRIX[@]}"; do
	IFS=: read -r name ext type <<<"$m"
	pw=$(cut -d- -f3 <<<"$name")
	aes=$(cut -d- -f4 <<<"$name")
	pwargs=()
	[[ $pw == yes ]] && pwargs=(--password-file "$WORK/pw")
	judge_media "$name" "$name.$ext" "$type" "$([[ $aes == 256 ]] && echo 0x6610 || echo 0x660e)" "$pw"
	case $name in
	x-cap-*) policy_is "$name" capture --media-guid "$GUID" ;;
	x-sa-* | x-sausb-*)
		vars_have "$name" _SMSTSStandAloneMedia=true
		if [[ $pw == yes ]]; then policy_is "$name" "$F6" "${pwargs[@]}"; else policy_is "$name" "$F6" --media-guid "$GUID"; fi ;;
	*)
		# Bootable and prestaged: the site's values, the management points as the mode says.
		vars_have "$name" _SMSTSSiteCode=PS1 _SMSTSHTTPPort=80 _SMSTSHTTPSPort=443 _SMSTSIISSSLState=448 \
			_SMSTSSiteSigningCertificate="$SIGN" _SMSTSMediaPFX="<present>" _SMSTSPublicRootKey="$ROOTKEY" \
			_SMSTSRootCACerts="$ROOTCAS" _SMSTSUseFirstCert=1
		case $name in
		x-bsite-*) vars_have "$name" SMSTSMP=http://mp2.contoso.com SMSTSLocationMPs="<absent>" ;;
		*) vars_have "$name" SMSTSLocationMPs=http://mp1.contoso.com SMSTSMP="<absent>" ;;
		esac
		pfx_ok "$name" "${pwargs[@]}"
		[[ ! -e $WORK/$name/Policy.xml ]] || fail "$name: bootable and prestaged media carry no Policy.xml" ;;
	esac
done

check "media show says the cipher and what media without a password expose"
tsm "$S" media show bdyn >"$WORK/bdyn.show"
grep -q "Password:  none: anyone holding it can read its variables and the media certificate's private key" "$WORK/bdyn.show" ||
	fail "media show bdyn: $(cat "$WORK/bdyn.show")"
tsm "$S" media show bsite >"$WORK/bsite.show"
grep -q "Password:  yes: variables and policy are encrypted (AES-128)" "$WORK/bsite.show" || fail "media show bsite: $(cat "$WORK/bsite.show")"

check "--allow-weak-password keeps a weak password; media show records it"
tsm "$S" media create --name weakok --type bootable --boot-image "$BOOT" "${BOOTOPTS[@]}" --site PS1 \
	--management-point http://mp1.contoso.com --password-file "$WORK/weak" --allow-weak-password \
	>/dev/null 2>"$WORK/weakok.err" || fail "--allow-weak-password: $(cat "$WORK/weakok.err")"
grep -q "media password is weak: about 2^" "$WORK/weakok.err" || fail "no weak-password warning: $(cat "$WORK/weakok.err")"
tsm "$S" media show weakok >"$WORK/weakok.show"
grep -q "the password is weak, kept because of --allow-weak-password" "$WORK/weakok.show" || fail "media show weakok: $(cat "$WORK/weakok.show")"
assert_eq "$(tsm "$S" media show weakok --json | "${PYHELP[@]}" get - weak_password_allowed)" true "media show --json weak_password_allowed"

check "media edit keeps the media certificate (judge pfx before and after); without the password it refuses"
before=$(grep -v not_ "$WORK/bsite/pfx.json")
digest=$(catalog_digest "$S")
expect_fail_with "media bsite: its certificate .* give the media password with --password-file" -- \
	tsm "$S" media edit bsite --no-password
assert_eq "$(catalog_digest "$S")" "$digest" "a refused edit changes nothing"
tsm "$S" media edit bsite --password-file "$WORK/pw" --variable OSDComputerName=PC02 >/dev/null 2>"$WORK/edit.err" ||
	fail "media edit bsite: $(cat "$WORK/edit.err")"
mkdir -p "$WORK/bsite2"
mcopy -n -i "$mnt/bsite.img@@1M" '::/SMS/data/Variables.dat' "$WORK/bsite2/" || fail "mcopy after the edit"
judge vars "$WORK/bsite2/Variables.dat" --password-file "$WORK/pw" >"$WORK/bsite2/vars.json" || fail "judge vars after the edit"
vars_have bsite2 OSDComputerName=PC02 _SMSTSMediaPFX="<present>"
judge pfx "$WORK/bsite2/Variables.dat" --password-file "$WORK/pw" >"$WORK/bsite2/pfx.json" || fail "judge pfx after the edit: $(cat "$WORK/judge.err")"
assert_eq "$(grep -v not_ "$WORK/bsite2/pfx.json")" "$before" "the same certificate after the edit"
tsm "$S" media show bsite >"$WORK/bsite.show2"
grep -q '^Certificate: ' "$WORK/bsite.show2" || fail "media show lost the certificate after the edit"

check "media inspect reads an ISO tsmedia did not make: xorriso, files the judge's encrypt wrote"
J=$WORK/foreign
mkdir -p "$J/SMS/data"
FG=0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9
printf '[MediaInfo]\r\nMediaType=FullMedia\r\nPasswordRequired=true\r\nUnattended=false\r\n' >"$J/SMS/data/TsmBootstrap.ini"
cat >"$WORK/fv.xml" <<EOX
<?xml version="1.0" encoding="utf-16"?>
<MediaVarList Version="4.00.5345.0000"><var name="_SMSMediaGuid"><![CDATA[$FG]]></var><var name="_SMSTSSiteCode"><![CDATA[XYZ]]></var><var name="OSDJoinPassword"><![CDATA[S3cret!]]></var></MediaVarList>
EOX
cat >"$WORK/fp.xml" <<'EOX'
<Policy><PolicyRule><PolicyAction><instance class="CCM_TaskSequence"><property name="PKG_PackageID"><value>XYZ00042</value></property><property name="PKG_Name"><value>Foreign sequence</value></property><property name="ADV_AdvertisementID"><value>XYZ20042</value></property><property name="TS_Sequence"><value><![CDATA[<sequence version="3.10"><step name="Join"><variable name="OSDJoinPassword">S3cret!</variable></step></sequence>]]></value></property></instance></PolicyAction></PolicyRule></Policy>
EOX
$PY "$JUDGE" encrypt "$WORK/fv.xml" "$J/SMS/data/Variables.dat" --password-file "$WORK/pw" --aes 128
$PY "$JUDGE" encrypt "$WORK/fp.xml" "$J/SMS/data/Policy.xml" --password-file "$WORK/pw" --aes 256
xorriso -as mkisofs -quiet -J -R -o "$WORK/foreign.iso" "$J" 2>/dev/null || fail "xorriso could not make the ISO"
tsm "$S" media inspect "$WORK/foreign.iso" --password-file "$WORK/pw" >"$WORK/foreign.out" 2>&1 ||
	fail "inspect of the foreign ISO: $(cat "$WORK/foreign.out")"
for want in "Media:     FullMedia, protected by a password" "_SMSTSSiteCode=XYZ" "OSDJoinPassword=\*\*\*\*\*\*\*\*" \
	'task sequence XYZ00042 "Foreign sequence", advertisement XYZ20042' "no SMS/data/Manifest.txt"; do
	grep -q -- "$want" "$WORK/foreign.out" || fail "inspect of the foreign ISO lacks '$want': $(cat "$WORK/foreign.out")"
done
if grep -q 'S3cret!' "$WORK/foreign.out"; then fail "inspect shows a secret without --show-secrets"; fi
tsm "$S" media inspect "$WORK/foreign.iso" --password-file "$WORK/pw" --show-secrets --json >"$WORK/foreign.json"
$PY - "$WORK/foreign.json" <<'PY' || fail "inspect --json of the foreign ISO"
import json, sys
d = json.load(open(sys.argv[1]))
v = {x["name"]: x for x in d["variables"]}
assert d["cipher"] == "aes128" and d["policy"]["cipher"] == "aes256", (d["cipher"], d["policy"])
assert v["OSDJoinPassword"]["value"] == "S3cret!" and v["OSDJoinPassword"]["secret"]
assert d["policy"]["task_sequence"] == "XYZ00042" and "S3cret!" in d["policy"]["sequence"]
assert d["manifest"] is None and d["password_required"]
PY
expect_fail_with "foreign.iso: SMS/data/Variables.dat: the password does not open it" -- \
	tsm "$S" media inspect "$WORK/foreign.iso" --password-file "$WORK/wrong"
expect_fail_with "foreign.iso: the media is protected by a password .* --password-file" -- \
	tsm "$S" media inspect "$WORK/foreign.iso"

check "media inspect of our own media on the mount: variables, policy, certificate, manifest"
tsm "$S" media inspect "$mnt/sa.iso" --password-file "$WORK/pw" >"$WORK/sa.inspect" || fail "inspect sa.iso: $(cat "$WORK/sa.inspect")"
grep -Eq -- '--- manifest: ([0-9]+) files, ([0-9]+) match .*, 0 differ, 0 missing' "$WORK/sa.inspect" || fail "inspect sa manifest: $(cat "$WORK/sa.inspect")"
grep -q "Note=a & b <c>" "$WORK/sa.inspect" || fail "inspect sa variables: $(cat "$WORK/sa.inspect")"
tsm "$S" media inspect "$mnt/bdyn.iso" >"$WORK/bdyn.inspect" || fail "inspect bdyn.iso: $(cat "$WORK/bdyn.inspect")"
grep -q -- "--- media certificate: CN=bdyn" "$WORK/bdyn.inspect" || fail "inspect bdyn certificate: $(cat "$WORK/bdyn.inspect")"
grep -q "_SMSTSMediaPFX=\*\*\*\*\*\*\*\*" "$WORK/bdyn.inspect" || fail "inspect shows the media certificate unmasked"

check "media inspect by NAME of a USB image and a prestaged WIM: SMS/data read from the store"
for m in bsite pre; do
	tsm "$S" media inspect "$m" --password-file "$WORK/pw" --json >"$WORK/$m.inspect.json" ||
		fail "inspect $m: $(cat "$WORK/$m.inspect.json")"
done
assert_eq "$("${PYHELP[@]}" get "$WORK/bsite.inspect.json" media_type)" BootMedia "inspect bsite media type"
assert_eq "$("${PYHELP[@]}" get "$WORK/bsite.inspect.json" cipher)" aes128 "inspect bsite cipher"
assert_eq "$("${PYHELP[@]}" get "$WORK/pre.inspect.json" media_type)" OEMMedia "inspect pre media type"
grep -q '"private_key":true' "$WORK/pre.inspect.json" || fail "inspect pre: no certificate with its key"
expect_fail_with "pre: SMS/data/Variables.dat: the password does not open it" -- \
	tsm "$S" media inspect pre --password-file "$WORK/wrong"
check "media inspect of the prestaged WIM on the mount, by its path (wimlib)"
tsm "$S" media inspect "$mnt/pre.wim" --password-file "$WORK/pw" >"$WORK/prewim.inspect" ||
	fail "inspect pre.wim: $(cat "$WORK/prewim.inspect")"
grep -q 'Media:     OEMMedia, protected by a password' "$WORK/prewim.inspect" || fail "inspect pre.wim: $(cat "$WORK/prewim.inspect")"
grep -q '_SMSTSLaunchMode=HD' "$WORK/prewim.inspect" || fail "inspect pre.wim variables: $(cat "$WORK/prewim.inspect")"
expect_fail_with "reading a USB disk image by its path is not supported" -- tsm "$S" media inspect "$mnt/bsite.img"

check "hostile SMS/data on an ISO: truncated and lying files are clear errors"
cp -r "$J" "$WORK/hostile"
head -c 40 "$J/SMS/data/Variables.dat" >"$WORK/hostile/SMS/data/Variables.dat"
xorriso -as mkisofs -quiet -J -R -o "$WORK/hostile.iso" "$WORK/hostile" 2>/dev/null
expect_fail_with "hostile.iso: SMS/data/Variables.dat: header says [0-9]+ bytes of ciphertext, the file has 16 after the header" -- \
	tsm "$S" media inspect "$WORK/hostile.iso" --password-file "$WORK/pw"

pass
