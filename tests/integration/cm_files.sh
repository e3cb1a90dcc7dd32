#!/usr/bin/env bash
# Configuration Manager's media files as tsmedia writes and reads them (core/media/cm*.c,
# driven by cm_tool), judged by ../shared/judges/cmmedia.py, an independent reader:
#  - Variables.dat with and without a password, AES-256 and AES-128: the judge reads every
#    variable back (and PXEThief's way of reading, which it checks), its `pfx` opens the
#    media certificate with the first 31 characters of _SMSMediaGuid;
#  - Policy.xml under the media GUID and under a password: the judge finds the task
#    sequence instance and its TS_Sequence is the sequence we gave;
#  - the reverse: files the judge's `encrypt` wrote are read by our reader;
#  - wrong passwords, truncated, tampered and lying files are clear errors.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

JUDGE=$(dirname "$0")/../../../shared/judges/cmmedia.py
[[ -f $JUDGE ]] || skip "judge missing: $JUDGE (../shared/judges beside the project)"
# Debian's python3 and its python3-cryptography, whatever python3 comes first in PATH.
PY=/usr/bin/python3
[[ -x $PY ]] || skip "/usr/bin/python3 is not installed"
$PY -c 'import cryptography' 2>/dev/null || skip "python3-cryptography is not installed"
CM_TOOL=${CM_TOOL:-$(dirname "$0")/../../build/tests/integration/cm_tool}
[[ -x $CM_TOOL ]] || fail "cm_tool not built at $CM_TOOL"
judge() { $PY "$JUDGE" "$@"; }

check "the judge's own known answers"
judge selftest >/dev/null

GUID=8AE6B618-77EC-46CB-B1B5-88F693E0B1C2
cd "$WORK"
printf 'correct horse battery staple\n' >pw
printf 'correct horse battery stapler\n' >wrongpw

check "a media certificate as a user brings it: PKCS#12 under a password of its own"
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 30 \
	-subj "/CN=Media Cert" 2>/dev/null
printf 'pfx secret\n' >pfxpw
openssl pkcs12 -export -inkey key.pem -in cert.pem -out media.pfx -passout "pass:pfx secret"
thumb=$(openssl x509 -in cert.pem -noout -fingerprint -sha1 | cut -d= -f2 | tr -d : | tr A-F a-f)

# Compares the judge's JSON of a Variables.dat with what we put in (NAME=VALUE lines).
same_vars() { # JUDGE_JSON EXPECTED_FILE ALG
	$PY - "$1" "$2" "$3" <<'PY'
import json, sys
got = json.load(open(sys.argv[1]))
want = dict(l.rstrip("\n").split("=", 1) for l in open(sys.argv[2]) if l.strip())
if got["alg"] != sys.argv[3]:
    sys.exit(f"alg {got['alg']}, want {sys.argv[3]}")
if got["bytes_after_ciphertext"] < 8:
    sys.exit("fewer than 8 bytes after the ciphertext: PXEThief's read would lose the end")
v = got["vars"]
for k, val in want.items():
    if v.get(k) != val:
        sys.exit(f"{k}: judge read {v.get(k)!r}, want {val!r}")
PY
}

for aes in 256 128; do
	alg=$([[ $aes == 256 ]] && echo 0x6610 || echo 0x660e)
	for pwmode in none password; do
		check "Variables.dat, AES-$aes, $pwmode: written by us, read by the judge"
		pwargs=()
		[[ $pwmode == password ]] && pwargs=(--password-file pw)
		"$CM_TOOL" vars-seal "v-$aes-$pwmode.dat" --guid "$GUID" --pfx media.pfx \
			--pfx-password-file pfxpw --site PS1 \
			--location-mp http://mp1.contoso.com --location-mp https://mp2.contoso.com \
			--aes "$aes" "${pwargs[@]}" 'OSDComputerName=PC-<01> & "x"' 'Greeting=안녕 ]]> 😀'
		judge vars "v-$aes-$pwmode.dat" "${pwargs[@]}" >"v-$aes-$pwmode.json"
		cat >expected <<EOV
_SMSMediaGuid=$GUID
_SMSTSSiteCode=PS1
SMSTSLocationMPs=http://mp1.contoso.com*https://mp2.contoso.com
OSDComputerName=PC-<01> & "x"
Greeting=안녕 ]]> 😀
EOV
		same_vars "v-$aes-$pwmode.json" expected "$alg"
		check "  the judge's pfx opens the media certificate with the GUID's first 31 characters"
		judge pfx "v-$aes-$pwmode.dat" "${pwargs[@]}" >pfx.json 2>/dev/null
		grep -q '"subject": "CN=Media Cert"' pfx.json
		check "  our reader reads it back, the certificate with its key"
		"$CM_TOOL" vars-open "v-$aes-$pwmode.dat" "${pwargs[@]}" >back
		grep -qx "#cipher=aes$aes" back
		grep -qx "#pfx=CN=Media Cert key=1 sha1=$thumb" back
		check "  openssl opens the PFX with the GUID's first 31 characters (as ELEVATE-5 does)"
		grep '^_SMSTSMediaPFX=' back | cut -d= -f2 | xxd -r -p >out.pfx
		openssl pkcs12 -in out.pfx -passin "pass:${GUID:0:31}" -nodes 2>/dev/null | grep -q 'BEGIN PRIVATE KEY'
		! openssl pkcs12 -in out.pfx -passin "pass:pfx secret" -nodes >/dev/null 2>&1 || fail "the PFX still opens with the user's password"
		if [[ $pwmode == password ]]; then
			check "  the fixed key and a wrong password do not open it"
			! judge vars "v-$aes-$pwmode.dat" >/dev/null 2>&1 || fail "the judge read it without the password"
			! "$CM_TOOL" vars-open "v-$aes-$pwmode.dat" 2>err || fail "read without the password"
			grep -q "the password does not open it" err
			! "$CM_TOOL" vars-open "v-$aes-$pwmode.dat" --password-file wrongpw 2>err
			grep -q "the password does not open it" err
		fi
	done
done

check "Policy.xml: under the media GUID (no password) and under a password, read by the judge"
cat >seq.xml <<'EOX'
<?xml version="1.0" encoding="utf-8"?>
<sequence version="3.10"><group name="Install"><step type="SMS_TaskSequence_RunCommandLineAction" name="Say ]]&gt; &amp; 안녕"><action>cmd /c echo hi</action></step></group></sequence>
EOX
for aes in 256 128; do
	"$CM_TOOL" policy-seal "p-$aes-guid.xml" --sequence seq.xml --media-guid "$GUID" --aes "$aes" \
		--package PS100012 --package PS100013
	judge policy "p-$aes-guid.xml" --media-guid "$GUID" >"p-$aes-guid.json"
	"$CM_TOOL" policy-seal "p-$aes-pw.xml" --sequence seq.xml --password-file pw --aes "$aes"
	judge policy "p-$aes-pw.xml" --password-file pw >"p-$aes-pw.json"
	! judge policy "p-$aes-pw.xml" --media-guid "$GUID" >/dev/null 2>&1 || fail "policy opened without its password"
done
$PY - <<'PY'
import json
seq = open("seq.xml", encoding="utf-8").read().split("?>", 1)[1].strip()
for f in ["p-256-guid.json", "p-128-guid.json", "p-256-pw.json", "p-128-pw.json"]:
    insts = json.load(open(f))
    ts = insts[0]
    assert ts["class"] == "CCM_TaskSequence", (f, ts["class"])
    p = ts["properties"]
    assert p["TS_Sequence"] == seq, (f, p["TS_Sequence"])
    assert p["TS_Sequence"].startswith("<sequence"), f
    assert p["PKG_Name"] and p["ADV_AdvertisementID"], f
    pkgs = [i["properties"]["PKG_PackageID"] for i in insts[1:]]
    want = ["PS100012", "PS100013"] if "guid" in f else []
    assert pkgs == want, (f, pkgs)
PY

check "the reverse: files the judge's encrypt wrote, read by our reader"
cat >judge-vars.xml <<'EOX'
<?xml version="1.0" encoding="utf-16"?>
<MediaVarList Version="4.00.5345.0000">
  <var name="_SMSMediaGuid"><![CDATA[11111111-2222-3333-4444-555555555555]]></var>
  <var name="SMSTSMP"><![CDATA[https://mp.contoso.com]]></var>
  <var name="Note">a &amp; b &lt;c&gt; 😀</var>
</MediaVarList>
EOX
for aes in 256 128; do
	judge encrypt judge-vars.xml "jv-$aes.dat" --aes "$aes"
	"$CM_TOOL" vars-open "jv-$aes.dat" >back
	grep -qx "#cipher=aes$aes" back
	grep -qx "SMSTSMP=https://mp.contoso.com" back
	grep -qx "Note=a & b <c> 😀" back
	judge encrypt judge-vars.xml "jvp-$aes.dat" --aes "$aes" --password-file pw
	"$CM_TOOL" vars-open "jvp-$aes.dat" --password-file pw >back
	grep -qx "_SMSMediaGuid=11111111-2222-3333-4444-555555555555" back
done
cat >judge-policy.xml <<'EOX'
<Policy PolicyID="X"><PolicyRule PolicyRuleID="R"><PolicyAction PolicyActionType="WMI-XML">
<instance class="CCM_TaskSequence"><property name="PKG_Name" type="8"><value><![CDATA[From the judge]]></value></property>
<property name="TS_Sequence" type="8"><value><![CDATA[<sequence version="3.10"/>]]></value></property></instance>
</PolicyAction></PolicyRule></Policy>
EOX
judge encrypt judge-policy.xml jp.xml --media-guid "$GUID"
"$CM_TOOL" policy-open jp.xml --media-guid "$GUID" >back
grep -qx 'CCM_TaskSequence.PKG_Name=From the judge' back
grep -qx 'CCM_TaskSequence.TS_Sequence=<sequence version="3.10"/>' back

check "hostile files: truncated, tampered, lying headers; each a clear error"
f=v-256-password.dat
size=$(stat -c %s "$f")
for cut in 0 10 23 24 40 $((size - 9)); do
	head -c "$cut" "$f" >cut.dat
	rc=0
	"$CM_TOOL" vars-open cut.dat --password-file pw 2>err || rc=$?
	[[ $rc == 1 ]] || fail "a file cut to $cut bytes: exit $rc, want 1"
	grep -Eq "cut.dat: .*(shorter than the 24-byte header|bytes of ciphertext, the file has)" err ||
		fail "a file cut to $cut bytes: $(cat err)"
done
$PY - "$f" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
c = struct.unpack_from("<I", b, 12)[0]
t = bytearray(b); t[24 + c - 17] ^= 0x80; open("tampered.dat", "wb").write(t)
p = struct.unpack_from("<I", b, 8)[0]
l = bytearray(b); struct.pack_into("<II", l, 8, p + 4096, c + 4096); open("lying.dat", "wb").write(l)
m = bytearray(b); struct.pack_into("<I", m, 8, c); open("nopad.dat", "wb").write(m)
PY
! "$CM_TOOL" vars-open tampered.dat --password-file pw 2>err
grep -q "tampered.dat: the password does not open it" err
! "$CM_TOOL" vars-open lying.dat --password-file pw 2>err
grep -Eq "lying.dat: header says [0-9]+ bytes of ciphertext, the file has [0-9]+ after the header" err
! "$CM_TOOL" vars-open nopad.dat --password-file pw 2>err
grep -q "cannot give" err
check "  the judge agrees that they are broken"
for x in tampered lying nopad; do
	! judge vars "$x.dat" --password-file pw >/dev/null 2>&1 || fail "the judge read $x.dat"
done

pass
