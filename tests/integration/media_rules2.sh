#!/usr/bin/env bash
# The wizard's rules, all of them (issue 16), through the CLI: every option either works or
# is refused with the rule that refuses it; every combination Configuration Manager refuses
# is refused, reported together; every setting can be seen again with `media show` (text and
# JSON).  A refused command names the problem and leaves the catalog as it was (the SHA-256
# of its `sqlite3 .dump`).  What reaches the media is judged by ../shared/judges/cmmedia.py
# (Variables.dat) and the ISO by bsdtar; certificates are made with the openssl tool.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

FIX=$(dirname "$0")/../../../shared/fixtures/task-sequences
F1=$FIX/console-object_win10-ipu_drfiles_PS10000E.xml
F4=$FIX/sequence_win10-build-capture_cmhub.xml
F6=$FIX/mdt-template_autopilot-existing-devices_drfiles.xml
JUDGE=$(dirname "$0")/../../../shared/judges/cmmedia.py
for f in "$F1" "$F4" "$F6" "$JUDGE"; do
	[[ -f $f ]] || skip "missing: $f (../shared beside the project)"
done
/usr/bin/python3 -c 'import cryptography' 2>/dev/null || skip "python3-cryptography is not installed"
command -v bsdtar >/dev/null || skip "bsdtar is not installed (Debian: libarchive-tools)"

S=$WORK/store
init_store "$S" --site-code PS1

# ------------------------------------------------------------------ PKI
P=$WORK/pki
pki_init "$P"
ossl() { openssl "$@" 2>>"$WORK/openssl.log" || fail "openssl $* failed: $(tail -5 "$WORK/openssl.log")"; }
for ca in "contoso:Contoso Root CA" "fabrikam:Fabrikam Root CA"; do
	ossl req -x509 -config "$P/openssl.cnf" -extensions v3_ca -newkey rsa:2048 -nodes \
		-keyout "$P/${ca%%:*}.key" -out "$P/${ca%%:*}.pem" -subj "/CN=${ca#*:}" -days 3650
done
cat >>"$P/openssl.cnf" <<'EOF'
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
EOF
printf 'pkcs12 pass\n' >"$P/p12pw"
# issued CA KEY EXT NAME: a certificate NAME.pem issued by CA with extensions EXT, and NAME.p12.
issued() {
	local ca=$1 ext=$2 name=$3
	ossl req -new -config "$P/openssl.cnf" -newkey rsa:2048 -nodes -keyout "$P/$name.key" \
		-out "$P/$name.csr" -subj "/CN=$name.contoso.com"
	ossl x509 -req -in "$P/$name.csr" -CA "$P/$ca.pem" -CAkey "$P/$ca.key" -CAcreateserial \
		-extfile "$P/openssl.cnf" -extensions "$ext" -days 365 -out "$P/$name.pem"
	ossl pkcs12 -export -inkey "$P/$name.key" -in "$P/$name.pem" -certfile "$P/$ca.pem" \
		-passout "file:$P/p12pw" -out "$P/$name.p12"
}
issued contoso v3_client pki         # the good one: client authentication, issued by Contoso
issued contoso v3_server server      # issued by Contoso, server authentication only
issued fabrikam v3_client foreign    # client authentication, issued by Fabrikam
# A self-signed client certificate as PKCS#12.
ossl req -x509 -config "$P/openssl.cnf" -extensions v3_client -newkey rsa:2048 -nodes \
	-keyout "$P/self.key" -out "$P/self.pem" -subj "/CN=self" -days 365
ossl pkcs12 -export -inkey "$P/self.key" -in "$P/self.pem" -passout "file:$P/p12pw" -out "$P/self.p12"
printf 'media password: larch quartz fennel\n' >"$WORK/pw"

# ------------------------------------------------------------------ sites
SITEVALUES=(--http-port 80 --https-port 443 --iis-ssl-state 448 --signing-certificate 3082ABCD
	--x64-unknown-guid a1b2c3d4-0000-4000-8000-000000000064
	--x86-unknown-guid a1b2c3d4-0000-4000-8000-000000000086)
tsm "$S" site add --code CAS --type cas --root-ca "$P/contoso.pem" >/dev/null
tsm "$S" site add --code PS1 --type primary --parent CAS --root-ca "$P/contoso.pem" \
	--mp https://mp1.contoso.com --mp http://mp2.contoso.com --mp http://mp3.contoso.com "${SITEVALUES[@]}" >/dev/null
check "site add takes --management-point, the spelling media create documents, as well as --mp"
tsm "$S" site add --code PS2 --type primary --parent CAS --root-ca "$P/contoso.pem" \
	--management-point http://mp.fabrikam.com "${SITEVALUES[@]}" >/dev/null
tsm "$S" site show PS2 --json >"$WORK/ps2.json"
assert_eq "$("${PYHELP[@]}" get "$WORK/ps2.json" management_points.0.url)" http://mp.fabrikam.com "site add --management-point"

# ------------------------------------------------------------------ content
mkdir -p "$WORK/boot/boot" "$WORK/os" "$WORK/pre" "$WORK/app"
randfile "$WORK/boot/boot/etfsboot.com" 4096
randfile "$WORK/boot/sources.wim" 100000
BOOT=$(add_content "$S" --kind boot-image --name "boot image" "$WORK/boot")
randfile "$WORK/os/install.wim" 50000
OS=$(add_content "$S" --kind os-image --name "os image" "$WORK/os")
printf '@echo off\r\necho prestart\r\n' >"$WORK/pre/setup.cmd"
PRE=$(add_content "$S" --kind prestart --name "prestart files" "$WORK/pre")
randfile "$WORK/app/app.msi" 2000
APP=$(add_content "$S" --kind application --name "an application" "$WORK/app")
pkg() { # ID: a small package under that ID
	mkdir -p "$WORK/pkg/$1"
	randfile "$WORK/pkg/$1/file.bin" 3000
	assert_eq "$(add_content "$S" --kind package --name "pkg $1" --id "$1" "$WORK/pkg/$1")" "$1" "content add --id $1"
}
for id in SCB00026 SCB00021 SCB00003 PS10005C PS100241 PS10024D; do pkg "$id"; done
TS4=$(tsm "$S" ts import --name "Build and Capture" --boot-image "$BOOT" "$F4")
TS1=$(tsm "$S" ts import --boot-image "$BOOT" "$F1")
TS6=$(tsm "$S" ts import --name "AutoPilot" --boot-image "$BOOT" "$F6")
assert_eq "$TS1" PS10000E "the console export's own ID"

# ------------------------------------------------------------------ helpers
bad_case() { # DESCRIPTION REGEX -- CMD...: fails naming the problem; catalog unchanged.
	check "refused: $1"
	refused_unchanged "$S" "$@"
	if grep -q 'created media' "$LAST_STDOUT"; then fail "a refused create said it created: $(cat "$LAST_STDOUT")"; fi
}
good_case() { # DESCRIPTION CMD...: must succeed; its stdout/stderr in $WORK/.good.{out,err}.
	local desc=$1 rc=0
	shift
	check "accepted: $desc"
	"$@" >"$WORK/.good.out" 2>"$WORK/.good.err" || rc=$?
	((rc == 0)) || fail "$desc: exit $rc: $*: $(cat "$WORK/.good.err")"
}
mc() { tsm "$S" media create "$@"; }
me() { tsm "$S" media edit "$@"; }
js() { tsm "$S" media show "$1" --json >"$WORK/$1.json" && "${PYHELP[@]}" get "$WORK/$1.json" "$2"; }
cmjudge() { /usr/bin/python3 "$JUDGE" "$@" 2>"$WORK/cmjudge.err"; }
# vars_of NAME [--password-file F]: the media's Variables.dat, as the judge reads it, to $WORK/NAME.vars.
vars_of() {
	local name=$1
	shift
	rm -rf "$WORK/x-$name"
	mkdir -p "$WORK/x-$name"
	tsm "$S" media export "$name" -o "$WORK/$name.iso" >/dev/null 2>"$WORK/export.err" || fail "media export $name: $(cat "$WORK/export.err")"
	bsdtar -xf "$WORK/$name.iso" -C "$WORK/x-$name" SMS/data/Variables.dat || fail "bsdtar: no SMS/data/Variables.dat in $name.iso"
	cmjudge vars "$WORK/x-$name/SMS/data/Variables.dat" "$@" >"$WORK/$name.vars" || fail "judge vars $name: $(cat "$WORK/cmjudge.err")"
}
var() { "${PYHELP[@]}" get "$WORK/$1.vars" "vars.$2"; }

HTTP=(--type bootable --boot-image "$BOOT" --site PS1 --management-point http://mp2.contoso.com --no-password)
HTTPS=(--type bootable --boot-image "$BOOT" --site PS1 --mode site-based --management-point https://mp1.contoso.com --no-password)
PKI=(--certificate "$P/pki.p12" --certificate-password-file "$P/p12pw")
PRESTAGED=(--type prestaged --boot-image "$BOOT" --os-image "$OS" --site PS1 --management-point http://mp2.contoso.com --no-password)
STANDALONE=(--type standalone --task-sequence "$TS6" --no-password)

# ================================================================== accepted and ignored
bad_case "--certificate-valid-from/until without --self-signed-certificate (they date only it)" \
	"--certificate-valid-from/--certificate-valid-until date a self-signed certificate: give --self-signed-certificate" -- \
	mc --name a1 "${HTTP[@]}" --certificate-valid-from 2025-01-01 --certificate-valid-until 2035-01-01
bad_case "--certificate-valid-until with an imported certificate" \
	"date a self-signed certificate" -- \
	mc --name a1 "${HTTPS[@]}" "${PKI[@]}" --certificate-valid-until 2035-01-01
bad_case "--self-signed-certificate together with --certificate FILE.p12" \
	"--self-signed-certificate and --certificate contradict each other" -- \
	mc --name a2 "${HTTP[@]}" --self-signed-certificate "${PKI[@]}"
bad_case "--size on prestaged media (one WIM, never spanned)" \
	"--size belongs to CD/DVD media sets; prestaged media is one WIM file" -- \
	mc --name a3 "${PRESTAGED[@]}" --size 8.5gb
bad_case "--autorun: dropped (what Configuration Manager writes in autorun.inf is not published)" \
	"unknown option or missing value in '--autorun'" -- \
	mc --name a4 "${STANDALONE[@]}" --autorun
bad_case "--include-dependencies is untouched here (issue 17), but --autorun is gone from --help too" \
	"unknown option" -- mc --name a4 --type standalone --autorun
if tsm "$S" media create --help | grep -q -- --autorun; then fail "media create --help still offers --autorun"; fi

check "the site's root CAs reach the media: _SMSTSRootCACerts is the DER of each, as the judge reads Variables.dat"
good_case "bootable media for PS1 (trusts Contoso)" mc --name roots "${HTTP[@]}"
vars_of roots
want=$(openssl x509 -in "$P/contoso.pem" -outform DER | xxd -p -u | tr -d '\n')
assert_eq "$(var roots _SMSTSRootCACerts)" "$want" "_SMSTSRootCACerts of media for PS1"
check "the site's own --root-ca-certs value (copied from its media) wins"
tsm "$S" site edit PS2 --root-ca-certs 0A0B0C >/dev/null
good_case "bootable media for PS2" mc --name roots2 --type bootable --boot-image "$BOOT" --site PS2 \
	--management-point http://mp.fabrikam.com --no-password
vars_of roots2
assert_eq "$(var roots2 _SMSTSRootCACerts)" 0A0B0C "_SMSTSRootCACerts from the site value"

# ================================================================== combinations CM refuses
bad_case "site-based media for PS1 with PS2's management point" \
	"site-based media for site PS1 names management point http://mp.fabrikam.com, which is site PS2's, not PS1's" -- \
	mc --name b1 --type bootable --boot-image "$BOOT" --site PS1 --mode site-based \
	--management-point http://mp.fabrikam.com --no-password
bad_case "a management point that belongs to no site" \
	"management point http://nowhere.contoso.com belongs to no site" -- \
	mc --name b1 "${HTTP[@]}" --management-point http://nowhere.contoso.com
bad_case "the same management point twice (any case)" \
	"management point HTTP://MP2.contoso.com is given twice" -- \
	mc --name b1 "${HTTP[@]}" --management-point HTTP://MP2.contoso.com
bad_case "two management points on site-based media" \
	"site-based media names exactly one management point; 2 given" -- \
	mc --name b1 "${HTTPS[@]}" "${PKI[@]}" --management-point http://mp2.contoso.com
bad_case "a certificate without the Client Authentication purpose" \
	"server\.p12: the certificate's Enhanced Key Usage lacks Client Authentication \(1\.3\.6\.1\.5\.5\.7\.3\.2\)" -- \
	mc --name b2 "${HTTPS[@]}" --certificate "$P/server.p12" --certificate-password-file "$P/p12pw"
bad_case "a self-signed .p12 as --certificate for an HTTPS management point" \
	"self\.p12 is self-signed: HTTPS management points need a certificate issued by a CA the site trusts" -- \
	mc --name b2 "${HTTPS[@]}" --certificate "$P/self.p12" --certificate-password-file "$P/p12pw"
bad_case "a certificate issued by a CA the media's site does not trust (Fabrikam, for PS1)" \
	"foreign\.p12 is issued by CN=Fabrikam Root CA, which no root CA of site PS1 vouches for" -- \
	mc --name b2 "${HTTPS[@]}" --certificate "$P/foreign.p12" --certificate-password-file "$P/p12pw"
good_case "the Contoso-issued client certificate for PS1 over HTTPS" mc --name pkimedia "${HTTPS[@]}" "${PKI[@]}"
check "with --no-password and a PKI certificate the warning says its private key is readable"
grep -q "media 'pkimedia' has no password: anyone holding it can read its variables and the private key of its PKI certificate" \
	"$WORK/.good.err" || fail "no PKI key warning: $(cat "$WORK/.good.err")"

check "bootable media with neither certificate option: the wizard's default, a self-signed certificate, and it says so"
good_case "bootable media, no certificate option" mc --name defcert "${HTTP[@]}"
grep -q "media 'defcert': no certificate option: it carries a self-signed media certificate (CN=defcert, self-signed" "$WORK/.good.err" ||
	fail "the default certificate is not said: $(cat "$WORK/.good.err")"
assert_eq "$(js defcert certificate_details.self_signed)" true "media show: the default certificate is self-signed"
vars_of defcert
cmjudge pfx "$WORK/x-defcert/SMS/data/Variables.dat" >"$WORK/defcert.pfx" || fail "judge pfx: $(cat "$WORK/cmjudge.err")"
grep -q 'defcert' "$WORK/defcert.pfx" || fail "the media certificate is not the default one: $(cat "$WORK/defcert.pfx")"

bad_case "a package as --application" "--application SCB00026 is a package, not a application" -- \
	mc --name b3 "${STANDALONE[@]}" --application SCB00026
bad_case "a boot image as --package" "--package $BOOT is a boot-image, not a package" -- \
	mc --name b3 "${STANDALONE[@]}" --package "$BOOT"
bad_case "an application as --driver-package" "--driver-package $APP is a application, not a driver-package" -- \
	mc --name b3 "${STANDALONE[@]}" --driver-package "$APP"
bad_case "a package as --os-image" "--os-image SCB00026 is a package, not a os-image" -- \
	mc --name b3 --type prestaged --boot-image "$BOOT" --os-image SCB00026 --site PS1 \
	--management-point http://mp2.contoso.com --no-password
bad_case "a boot image as --os-image" "--os-image $BOOT is a boot-image, not a os-image" -- \
	mc --name b3 --type prestaged --boot-image "$BOOT" --os-image "$BOOT" --site PS1 \
	--management-point http://mp2.contoso.com --no-password
bad_case "an OS image as --boot-image" "--boot-image $OS is a os-image, not a boot-image" -- \
	mc --name b3 --type bootable --boot-image "$OS" --site PS1 --management-point http://mp2.contoso.com --no-password
bad_case "an OS image as --prestart-files" "--prestart-files $OS is a os-image, not a prestart or package" -- \
	mc --name b3 "${STANDALONE[@]}" --prestart-command "cmd.exe /c echo" --prestart-files "$OS"
bad_case "--os-image-index 0" "invalid --os-image-index '0': the image's number in the WIM, from 1" -- \
	mc --name b3 "${PRESTAGED[@]}" --os-image-index 0
bad_case "--os-image-index abc" "invalid --os-image-index 'abc'" -- mc --name b3 "${PRESTAGED[@]}" --os-image-index abc

bad_case "--variable with a name the media sets (_SMSTSMediaType)" \
	"--variable _SMSTSMediaType: names beginning with '_' are Configuration Manager's read-only built-in variables" -- \
	mc --name b4 "${STANDALONE[@]}" --variable _SMSTSMediaType=OEMMedia
bad_case "--variable SMSTSMP, which bootable media set themselves" "--variable smstsmp: the media sets SMSTSMP itself" -- \
	mc --name b4 "${HTTP[@]}" --variable smstsmp=http://evil
bad_case "--variable given twice (names are not case-sensitive)" \
	"--variable osdcomputername is given twice" -- \
	mc --name b4 "${STANDALONE[@]}" --variable OSDComputerName=A --variable osdcomputername=B
bad_case "--variable with a space in its name" "a name is 1 to 255 printable ASCII characters without spaces" -- \
	mc --name b4 "${STANDALONE[@]}" --variable 'My Var=1'
bad_case "--user-device-affinity on stand-alone media" \
	"--user-device-affinity is not supported on stand-alone media" -- \
	mc --name b4 "${STANDALONE[@]}" --user-device-affinity auto
good_case "stand-alone media whose --valid-until is already past: made, with a warning" \
	mc --name pastmedia "${STANDALONE[@]}" --valid-from 2020-01-01 --valid-until 2021-01-01
grep -q "media 'pastmedia' (standalone): --valid-until is already past: the media will not run" "$WORK/.good.err" ||
	fail "no warning for a past --valid-until: $(cat "$WORK/.good.err")"

bad_case "a prestart command whose script is not in the prestart files" \
	"the prestart command runs scripts/run.cmd, which is not in the prestart files $PRE" -- \
	mc --name b5 "${STANDALONE[@]}" --prestart-command 'cmd.exe /c "scripts\run.cmd" /q' --prestart-files "$PRE"
bad_case "a prestart command that runs a script with no prestart files at all" \
	"the prestart command runs setup.cmd, which is not on the media: give the files it needs with --prestart-files ID" -- \
	mc --name b5 "${STANDALONE[@]}" --prestart-command 'setup.cmd'
good_case "a prestart command whose script is in the prestart files (any case)" \
	mc --name prestart "${STANDALONE[@]}" --prestart-command 'cmd.exe /c SETUP.CMD' --prestart-files "$PRE"

check "content and task sequences share one set of IDs"
bad_case "content add --id of an existing task sequence" \
	"ID PS10000E is task sequence PS10000E's: content and task sequences share one set of IDs" -- \
	tsm "$S" content add --kind package --name clash --id PS10000E "$WORK/app"
ids=()
for i in $(seq 1 16); do
	mkdir -p "$WORK/many/$i"
	printf '%s' "$i" >"$WORK/many/$i/f"
	ids+=("$(add_content "$S" --kind package --name "many $i" "$WORK/many/$i")")
done
for id in "${ids[@]}"; do
	[[ $id != PS10000E ]] || fail "a new package was given PS10000E, the task sequence's ID"
done
note "16 new IDs, none a task sequence's: ${ids[0]} .. ${ids[15]}"

check "stand-alone: a step whose condition keeps it off stand-alone media does not block it"
good_case "fixture 4 (Apply Device Drivers: _SMSTSMediaType notEquals FullMedia)" \
	mc --name capture4 --type standalone --task-sequence "$TS4" --no-password
tsm "$S" ts show "$TS4" --json >"$WORK/ts4.json"
grep -q 'Apply Device Drivers' "$WORK/ts4.json" || fail "ts show no longer lists the site-bound step (it needs a site; only its condition keeps it off stand-alone media)"
bad_case "fixture 1's steps that need a site, with the override named" \
	"step '[^']*Download Drivers/Dell Latitude E7270[^']*' needs a site and cannot run from stand-alone media \(--allow-step NAME to keep it\)" -- \
	mc --name ipu --type standalone --task-sequence "$TS1" --no-password
mapfile -t blockers < <(tsm "$S" ts show "$TS1" --json | /usr/bin/python3 -c '
import json, sys
for b in json.load(sys.stdin)["standalone_blockers"]:
    print(b.rsplit(" (", 1)[0])')
((${#blockers[@]} >= 2)) || fail "fixture 1 has fewer blockers than expected: ${blockers[*]}"
allow=()
for b in "${blockers[@]}"; do allow+=(--allow-step "$b"); done
bad_case "--allow-step naming a step the task sequence does not have" \
	"--allow-step 'No Such Step': task sequence PS10000E has no step of that name" -- \
	mc --name ipu --type standalone --task-sequence "$TS1" --no-password "${allow[@]}" --allow-step "No Such Step"
bad_case "--allow-step on bootable media" "--allow-step belongs to stand-alone media" -- \
	mc --name ipu "${HTTP[@]}" --allow-step "Download Drivers"
good_case "every blocker allowed by name: made, and recorded" \
	mc --name ipu --type standalone --task-sequence "$TS1" --no-password "${allow[@]}"
tsm "$S" media show ipu --json >"$WORK/ipu.json"
/usr/bin/python3 - "$WORK/ipu.json" "${blockers[@]}" <<'EOF' || fail "media show --json does not record --allow-step"
import json, sys
d = json.load(open(sys.argv[1]))
assert d['allowed_steps'] == sys.argv[2:], (d['allowed_steps'], sys.argv[2:])
EOF

# ================================================================== seeing and editing
check "media show shows every setting: stand-alone media (text and JSON)"
good_case "stand-alone media with every setting it takes" \
	mc --name full --type STAND-ALONE --task-sequence "$TS6" --password-file "$WORK/pw" --size 4.7GB \
	--media-cipher AES128 --unattended --variable OSDComputerName=PC01 --variable OSDJoinPassword=S3cret! \
	--valid-from 2025-01-01 --valid-until 2035-06-30T12:00:00Z --prestart-command 'cmd.exe /c setup.cmd' \
	--prestart-files "$PRE" --package SCB00026 --application "$APP" --label FULL
tsm "$S" media show full >"$WORK/full.txt"
for line in "Type:      standalone" "Cipher:    aes128" "Task sequence: $TS6" \
	"More content: SCB00026, $APP" "Variables: OSDComputerName=PC01, OSDJoinPassword=********" \
	"Unattended: yes" "Prestart:  cmd.exe /c setup.cmd, files $PRE" \
	"Valid from: 2025-01-01T00:00:00Z" "Valid until: 2035-06-30T12:00:00Z" "Label:     FULL"; do
	grep -qxF -- "$line" "$WORK/full.txt" || fail "media show full lacks the line '$line': $(cat "$WORK/full.txt")"
done
if grep -q 'S3cret' "$WORK/full.txt"; then fail "media show prints a secret variable's value"; fi
tsm "$S" media show full --json >"$WORK/full.json"
/usr/bin/python3 - "$WORK/full.json" "$TS6" "$PRE" "$APP" <<'EOF' || fail "media show --json full"
import json, sys
d = json.load(open(sys.argv[1]))
want = {
    'type': 'standalone', 'task_sequence': sys.argv[2], 'media_cipher': 'aes128',
    'unattended': True, 'variables': ['OSDComputerName=PC01', 'OSDJoinPassword=********'],
    'valid_from': '2025-01-01T00:00:00Z', 'valid_until': '2035-06-30T12:00:00Z',
    'prestart_command': 'cmd.exe /c setup.cmd', 'prestart_files': sys.argv[3],
    'extra_content': ['SCB00026', sys.argv[4]], 'size': 2295104 * 2048, 'label': 'FULL',
    'password_protected': True, 'user_device_affinity': None, 'allowed_steps': [],
}
for k, v in want.items():
    assert d[k] == v, (k, d[k], v)
assert 'S3cret' not in open(sys.argv[1]).read()
EOF

check "media show shows every setting: bootable media with a PKI certificate (subject, issuer, dates, thumbprint)"
tsm "$S" media show pkimedia >"$WORK/pkimedia.txt"
sha1=$(openssl x509 -in "$P/pki.pem" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g' | tr A-F a-f)
grep -q "^  subject CN=pki.contoso.com, issuer CN=Contoso Root CA, valid .* SHA-1 $sha1\$" "$WORK/pkimedia.txt" ||
	fail "media show pkimedia: certificate details: $(cat "$WORK/pkimedia.txt")"
for line in "Site:      PS1, site-based" "Management points: https://mp1.contoso.com" "Unknown computers: no" \
	"Unattended: no"; do
	grep -qxF -- "$line" "$WORK/pkimedia.txt" || fail "media show pkimedia lacks '$line': $(cat "$WORK/pkimedia.txt")"
done
assert_eq "$(js pkimedia certificate_details.issuer)" "CN=Contoso Root CA" "JSON certificate issuer"
assert_eq "$(js pkimedia certificate_details.sha1)" "$sha1" "JSON certificate thumbprint"
assert_eq "$(js pkimedia certificate_details.not_after)" \
	"$(date -u -d "$(openssl x509 -in "$P/pki.pem" -noout -enddate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)" "JSON certificate not_after"

check "media show shows every setting: prestaged media (index, texts, UDA, unknown computers)"
good_case "prestaged media with its settings (values in any case)" \
	mc --name pre "${PRESTAGED[@]}" --os-image-index 1 --created-by "Ops team" --version 1.2 \
	--comment "for the factory" --user-device-affinity Admin --unknown-computers --mode Dynamic --mp http://mp3.contoso.com
tsm "$S" media show pre >"$WORK/pre.txt"
for line in "OS image:  $OS (index 1)" "Created by: Ops team" "Prestaged version: 1.2" "Comment:   for the factory" \
	"User device affinity: admin" "Unknown computers: yes" "Management points: http://mp2.contoso.com, http://mp3.contoso.com"; do
	grep -qxF -- "$line" "$WORK/pre.txt" || fail "media show pre lacks '$line': $(cat "$WORK/pre.txt")"
done
assert_eq "$(js pre os_image_index)" 1 "JSON os_image_index"
assert_eq "$(js pre prestaged_version)" 1.2 "JSON prestaged_version"
assert_eq "$(js pre user_device_affinity)" admin "JSON user_device_affinity"

check "media edit changes only what it is given: a label needs no password, and the encrypted files carry over"
tsm "$S" media export full -o "$WORK/full1.iso" >/dev/null
mkdir -p "$WORK/full1" "$WORK/full2"
bsdtar -xf "$WORK/full1.iso" -C "$WORK/full1" SMS/data
good_case "media edit full --label FULL2 (no password given)" me full --label FULL2
tsm "$S" media export full -o "$WORK/full2.iso" >/dev/null
bsdtar -xf "$WORK/full2.iso" -C "$WORK/full2" SMS/data
for f in Variables.dat Policy.xml TsmBootstrap.ini; do
	assert_eq "$(sha "$WORK/full2/SMS/data/$f")" "$(sha "$WORK/full1/SMS/data/$f")" "$f after a label edit"
done
isoinfo -d -i "$WORK/full2.iso" | grep -q 'Volume id: FULL2' || fail "the edited label is not the volume's"
cmjudge vars "$WORK/full2/SMS/data/Variables.dat" --password-file "$WORK/pw" >/dev/null || fail "judge: the carried-over variables"
bad_case "an edit that changes the encrypted variables of a protected media, without the password" \
	"media full: this change rewrites its encrypted variables and policy: give the media password with --password-file" -- \
	me full --variable OSDComputerName=PC02
good_case "the same edit with the password" me full --variable OSDComputerName=PC02 --password-file "$WORK/pw"
assert_eq "$(js full variables.0)" OSDComputerName=PC02 "--variable on edit replaces the list"
good_case "editing PKI media's label does not ask for the certificate (or a password)" me pkimedia --label PKI2
assert_eq "$(js pkimedia certificate_details.sha1)" "$sha1" "the PKI certificate kept by the edit"
bad_case "media edit --type (the type does not change)" "the type of a media does not change" -- \
	me pkimedia --type capture

check "content add --id EXISTING takes kind and name from the item"
good_case "content add --id $APP without --kind and --name" tsm "$S" content add --id "$APP" "$WORK/app"
tsm "$S" content show "$APP" --json >"$WORK/app.json"
assert_eq "$("${PYHELP[@]}" get "$WORK/app.json" kind)" application "kind kept"
assert_eq "$("${PYHELP[@]}" get "$WORK/app.json" name)" "an application" "name kept"
bad_case "content add --id EXISTING with another kind names both kinds" \
	"content $APP is a application, not a package" -- \
	tsm "$S" content add --id "$APP" --kind package "$WORK/app"

check "content add --kind in any case"
mkdir -p "$WORK/drv"
randfile "$WORK/drv/d.inf" 100
DRV=$(add_content "$S" --kind Driver-Package --name drivers "$WORK/drv")
tsm "$S" content show "$DRV" --json >"$WORK/drv.json"
assert_eq "$("${PYHELP[@]}" get "$WORK/drv.json" kind)" driver-package "--kind Driver-Package"

check "help: every type in the usage and the group's summary; show and export have their own help"
tsm "$S" media create --help >"$WORK/create.help"
grep -q -- "--type capture|bootable|prestaged|standalone" "$WORK/create.help" || fail "media create --help: $(head -5 "$WORK/create.help")"
tsm "$S" media --help >"$WORK/media.help" || true
grep -q "data, capture, bootable, prestaged, standalone" "$WORK/media.help" || fail "tsmedia media --help: $(cat "$WORK/media.help")"
tsm "$S" media show --help | head -1 | grep -q "^Usage: tsmedia \[--store DIR\] media show NAME" || fail "media show --help is not its own"
tsm "$S" media export --help | head -1 | grep -q "media export" || fail "media export --help is not its own"
bad_case "a stray positional argument is named as such" "unexpected argument 'oops'" -- \
	mc --type capture oops --name x --boot-image "$BOOT"

check "certificate problems: a missing password file is 'cannot open', and they come with the site rules, all at once"
bad_case "--certificate-password-file that does not exist" "cannot open password file $WORK/nope" -- \
	mc --name c1 "${HTTPS[@]}" --certificate "$P/pki.p12" --certificate-password-file "$WORK/nope"
if grep -q 'wrong password' "$LAST_STDERR"; then fail "a missing file is called a wrong password"; fi
printf 'not it\n' >"$WORK/wrongpw"
bad_case "a wrong PKCS#12 password and a management point of another site" "pki\.p12: wrong password" -- \
	mc --name c1 --type bootable --boot-image "$BOOT" --site PS1 --mode site-based \
	--management-point http://mp.fabrikam.com --certificate "$P/pki.p12" --certificate-password-file "$WORK/wrongpw" --no-password
grep -q "which is site PS2's, not PS1's" "$LAST_STDERR" || fail "the site rule is not reported with the certificate's: $(cat "$LAST_STDERR")"
bad_case "--certificate without --certificate-password-file" "--certificate .*pki\.p12 needs --certificate-password-file FILE" -- \
	mc --name c1 "${HTTPS[@]}" --certificate "$P/pki.p12"

check "tsmediafs starts without libfuse's invalid max threads warning"
if [[ -e /dev/fuse ]] && command -v fusermount3 >/dev/null; then
	fs_require
	fs_start "$S" "$WORK/mnt"
	ls "$WORK/mnt" >/dev/null
	fs_stop "$WORK/mnt"
	if grep -q "Ignoring invalid max threads" "$WORK/daemon.log"; then fail "tsmediafs: $(cat "$WORK/daemon.log")"; fi
	dups=$(sort "$WORK/daemon.log" | uniq -d | grep -v '^$' || true)
	[[ -z $dups ]] || fail "tsmediafs repeats messages: $dups"
else
	skip_part "no /dev/fuse or fusermount3: tsmediafs's start-up messages not checked"
fi

pass
